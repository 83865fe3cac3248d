// syncd revert [DIR]  and  syncd override [DIR]: their arguments; the work
// is in mode-commands.ts, imported when they run.

import type { Command } from 'commander';

const work = () => import('./mode-commands.js');

const REQUESTS = [
  ['revert', 'receive-only folder: put the server\'s version back over every local difference'],
  ['override', 'send-only folder: push the folder\'s state over the server\'s (uploads, and server deletes of what the folder lacks)'],
] as const;

export function register(program: Command): void {
  for (const [request, description] of REQUESTS) {
    program
      .command(request)
      .description(description)
      .argument('[dir]', 'the folder (default: current directory)')
      .option('--timeout <s>', 'with a running agent: wait this many seconds for it to finish', '60')
      .action(async (dir: string | undefined, o: { timeout: string }) => (await work()).runModeRequest(dir, request, o));
  }
}
