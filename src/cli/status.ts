// syncd status [DIR] [--json]  and  syncd wait [DIR] [--timeout S]: their
// arguments; the work is in status-report.ts, imported when they run.

import type { Command } from 'commander';

const work = () => import('./status-report.js');

export function register(program: Command): void {
  program
    .command('status')
    .description('how far behind is this folder, and why (exact lag in journal entries)')
    .argument('[dir]', 'the folder (default: current directory)')
    .option('--json', 'machine-readable output (stable fields, see docs/status.md)')
    .action(async (dir: string | undefined, o: { json?: boolean }) => (await work()).runStatus(dir, o));

  program
    .command('wait')
    .description('exit 0 once the running agent has applied the head the server had when `wait` started and has nothing pending')
    .argument('[dir]', 'the folder (default: current directory)')
    .option('--timeout <s>', 'give up after this many seconds', '60')
    .action(async (dir: string | undefined, o: { timeout: string }) => (await work()).runWait(dir, o));
}
