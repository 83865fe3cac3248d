// `syncd server add-device|revoke-device|new-epoch|trim|gc|status --data DIR | --db URL …`:
// admin straight on the store, safe while `syncd serve` runs on it. The
// store's modules are imported when a command runs.

import type { Command } from 'commander';
import { UsageError } from '../protocol/errors.js';
import { parseDaysOption, parseIntOption, storeOptions, storeTarget } from './serve.js';

const admin = () => import('../server/admin.js');

export function register(program: Command): void {
  const server = program
    .command('server')
    .description('administer a server store: --data DIR or --db postgres://… (works while servers run)');

  storeOptions(server.command('add-device').description('create a device (and its namespace if needed); prints the new token alone'))
    .requiredOption('--namespace <ns>', 'namespace the device syncs')
    .requiredOption('--label <name>', 'a name for the device, shown in status')
    .action(async (o: { data?: string; db?: string; namespace: string; label: string }) => {
      const { token } = await (await admin()).addDevice(await storeTarget(o), o.namespace, o.label);
      process.stdout.write(`${token}\n`);
    });

  storeOptions(server.command('revoke-device').description('revoke a device token (its requests get 401 from now on)'))
    .requiredOption('--device <id>', 'device id (d_…), as shown by `syncd server status`')
    .action(async (o: { data?: string; db?: string; device: string }) => {
      await (await admin()).revokeDevice(await storeTarget(o), o.device);
      process.stdout.write(`revoked ${o.device}\n`);
    });

  storeOptions(server.command('new-epoch').description('give namespaces a new epoch (after restoring a backup): old cursors get reset/epoch'))
    .option('--namespace <ns>', 'only this namespace (default: all)')
    .action(async (o: { data?: string; db?: string; namespace?: string }) => {
      const n = await (await admin()).renewEpoch(await storeTarget(o), o.namespace ?? null);
      process.stdout.write(`new epoch for ${n} namespace(s)\n`);
    });

  storeOptions(server.command('gc').description('run one content collection pass now: delete stored content no namespace needs (after the grace periods)'))
    .option('--blobs <dir>', 'with --db: the shared blob folder')
    .option('--upload-grace <seconds>', 'keep uploads not yet committed this long (default 86400)')
    .option('--orphan-grace <seconds>', 'delete content only after it has been unneeded this long (default 86400)')
    .option('--json', 'print the report as JSON')
    .action(async (o: { data?: string; db?: string; blobs?: string; uploadGrace?: string; orphanGrace?: string; json?: boolean }) => {
      const blobsDir = o.blobs ?? o.data;
      if (blobsDir === undefined) throw new Error('gc needs the blob folder: --data DIR, or --db URL with --blobs DIR');
      const upload = parseIntOption(o.uploadGrace, '--upload-grace');
      const orphan = parseIntOption(o.orphanGrace, '--orphan-grace');
      const report = await (await admin()).gc(await storeTarget(o), blobsDir, {
        ...(upload !== undefined ? { uploadGraceMs: upload * 1000 } : {}),
        ...(orphan !== undefined ? { orphanGraceMs: orphan * 1000 } : {}),
      });
      if (o.json) {
        process.stdout.write(`${JSON.stringify(report)}\n`);
        return;
      }
      process.stdout.write(
        `dropped ${report.droppedRefs} refs and ${report.droppedFiles} chunk lists; scanned ${report.scanned} stored items, ` +
          `deleted ${report.deleted} (${report.deletedBytes} bytes), ${report.orphans} unneeded ones still in their grace period\n`,
      );
    });

  storeOptions(server.command('trim').description('run one retention trim now, with the policy stored in the store'))
    .option('--retention-entries <n>', 'store this count cap first (0 = unlimited)')
    .option('--retention-age <seconds>', 'store this age limit first (0 = unlimited)')
    .option('--keep-versions-days <days>', 'store this version period first (0 = versions only back to the journal floor)')
    .option('--json', 'print the report as JSON')
    .action(async (o: { data?: string; db?: string; retentionEntries?: string; retentionAge?: string; keepVersionsDays?: string; json?: boolean }) => {
      const maxEntries = parseIntOption(o.retentionEntries, '--retention-entries');
      const maxAgeS = parseIntOption(o.retentionAge, '--retention-age');
      const keepDays = parseDaysOption(o.keepVersionsDays, '--keep-versions-days');
      const keepVersionsS = keepDays === undefined ? undefined : Math.round(keepDays * 86_400);
      const { setRetention, trim } = await admin();
      if (maxEntries !== undefined || maxAgeS !== undefined || keepVersionsS !== undefined) {
        await setRetention(await storeTarget(o), { maxEntries, maxAgeS, keepVersionsS });
      }
      const report = await trim(await storeTarget(o));
      if (o.json) {
        process.stdout.write(`${JSON.stringify(report)}\n`);
        return;
      }
      for (const n of report.namespaces) {
        process.stdout.write(
          `${n.name}: floor ${n.oldFloor} → ${n.newFloor} (head ${n.head}), dropped ${n.dropped} entries` +
            (n.misses > 0 ? `, ${n.misses} active device(s) now behind the floor` : '') +
            '\n',
        );
      }
      if (report.namespaces.length === 0) process.stdout.write('no namespaces\n');
    });

  storeOptions(server.command('fsck').description('re-hash every blob and check that every referenced blob exists with its size; exit 1 on problems'))
    .option('--blobs <dir>', 'with --db: the shared blob folder')
    .option('--repair', 'move damaged blobs aside (the next upload stores them afresh) and make modes owner-only')
    .option('--json', 'print the report as JSON')
    .action(async (o: { data?: string; db?: string; blobs?: string; repair?: boolean; json?: boolean }) => {
      const target = await storeTarget(o);
      const blobsDir = 'dataDir' in target ? target.dataDir : o.blobs;
      if (blobsDir === undefined) throw new UsageError('--db needs --blobs DIR: the blob folder to check');
      if ('dataDir' in target && o.blobs !== undefined) throw new UsageError('--blobs goes with --db; a data folder keeps its blobs inside');
      const log = (line: string): void => void process.stderr.write(`${line}\n`);
      const report = await (await admin()).fsck(target, blobsDir, { repair: o.repair === true, log });
      if (o.json) process.stdout.write(`${JSON.stringify(report)}\n`);
      else {
        const out = (line: string): void => void process.stdout.write(`${line}\n`);
        out(`checked ${report.checked} blob(s)`);
        for (const d of report.damaged) out(`damaged: ${d.hash} (content hashes to ${d.actual})${d.movedTo ? `, moved to ${d.movedTo}` : ''}`);
        for (const m of report.missing) out(`missing: ${m.hash} (${m.size} bytes), referenced by ${m.namespaces.join(', ')}`);
        for (const w of report.wrongSize) out(`wrong size: ${w.hash} is ${w.actual} bytes, referenced as ${w.size}, by ${w.namespaces.join(', ')}`);
        for (const p of report.stray) out(`stray file: ${p}`);
        if (report.badModes > 0) out(`${report.badModes} file(s)/folder(s) not owner-only${o.repair ? ' (fixed)' : ' (--repair fixes)'}`);
        out(report.ok ? 'ok' : 'problems found');
      }
      if (!report.ok) process.exitCode = 1;
    });

  storeOptions(server.command('status').description('namespaces, heads, floors, devices and the retention policy'))
    .option('--json', 'print JSON')
    .action(async (o: { data?: string; db?: string; json?: boolean }) => {
      const st = await (await admin()).serverStatus(await storeTarget(o));
      if (o.json) {
        process.stdout.write(`${JSON.stringify(st, null, 2)}\n`);
        return;
      }
      const fmt = (v: number | null, unit = ''): string => (v === null ? 'unlimited' : `${v}${unit}`);
      process.stdout.write(`retention: max entries ${fmt(st.retention.maxEntries)}, max age ${fmt(st.retention.maxAgeS, ' s')}\n`);
      process.stdout.write(`versions kept: ${st.keepVersionsS / 86_400} days\n`);
      for (const n of st.namespaces) {
        process.stdout.write(`namespace ${n.name}: head ${n.head}, floor ${n.floor}, epoch ${n.epoch}\n`);
        for (const d of n.devices) {
          const seen = d.lastSeen === null ? 'never' : new Date(d.lastSeen).toISOString();
          const lag = d.cursorSeq === null ? '-' : String(n.head - d.cursorSeq);
          process.stdout.write(
            `  ${d.id}  ${d.label}${d.revoked ? ' (revoked)' : ''}  cursor ${d.cursorSeq ?? '-'}  lag ${lag}  last seen ${seen}\n`,
          );
        }
      }
    });
}
