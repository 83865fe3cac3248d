// `syncd service install [DIR] [--print]` and `syncd service uninstall [DIR]`:
// argument parsing and output only; src/service/ does the work.

import { Command, Option } from 'commander';
import type { ServiceOptions } from '../service/install.js';
import { SERVICE_PLATFORMS, type ServicePlatform } from '../service/target.js';
import { UsageError } from '../protocol/errors.js';

function platformOf(flag: string | undefined): ServicePlatform {
  const p = flag ?? process.platform;
  if ((SERVICE_PLATFORMS as readonly string[]).includes(p)) return p as ServicePlatform;
  throw new UsageError(
    `syncd service knows systemd (Linux) and launchd (macOS), not ${p}; run \`syncd watch DIR\` under your own service manager`,
  );
}

/** the installer's modules, imported when a service command runs */
const install = () => import('../service/install.js');

const platformOption = (): Option =>
  new Option('--platform <platform>', 'generate for this platform instead of this machine\'s').choices(SERVICE_PLATFORMS).hideHelp();

export function register(program: Command): void {
  const service = program
    .command('service')
    .description('run a folder\'s agent as a user service: systemd on Linux, launchd on macOS')
    .addHelpText('after', '\nSee docs/service.md for logs, lingering sessions and troubleshooting.');

  service
    .command('install')
    .description('write the service for a linked folder and start it (restarts on failure, starts at login)')
    .argument('[dir]', 'the folder (default: current directory)')
    .option('--print', 'print the unit (or plist) instead of installing it; changes nothing')
    .addOption(platformOption())
    .action(async (dir: string | undefined, o: { print?: boolean; platform?: string }) => {
      const opts: ServiceOptions = { platform: platformOf(o.platform) };
      if (o.print) {
        process.stdout.write((await install()).previewService(dir ?? '.', opts).content);
        return;
      }
      const r = await (await install()).installService(dir ?? '.', opts);
      const out = process.stdout;
      out.write(`${r.replaced ? 'updated' : 'wrote'} ${r.file.path}\n`);
      if (r.started) {
        out.write(`started ${r.file.name} for ${r.file.target.folder}\n`);
        out.write(`logs: ${r.logs}\n`);
        return;
      }
      out.write(`not started here: ${r.reason ?? 'unknown reason'}. To start it, run:\n`);
      for (const c of r.manual) out.write(`  ${c}\n`);
      out.write(`logs: ${r.logs}\n`);
    });

  service
    .command('uninstall')
    .description('stop the folder\'s service (best effort) and remove its file')
    .argument('[dir]', 'the folder (default: current directory)')
    .addOption(platformOption())
    .action(async (dir: string | undefined, o: { platform?: string }) => {
      const r = await (await install()).uninstallService(dir ?? '.', { platform: platformOf(o.platform) });
      const out = process.stdout;
      if (!r.removed) {
        out.write(`no service installed for this folder (no ${r.path}); nothing to do\n`);
        return;
      }
      out.write(`removed ${r.path}\n`);
      if (r.manual.length > 0) {
        out.write(`not stopped here: ${r.reason ?? 'unknown reason'}. If it is running, run:\n`);
        for (const c of r.manual) out.write(`  ${c}\n`);
      }
    });
}
