// The CLI entry: parses arguments with commander and hands each command to
// its own module. Exit codes: 0 ok, 1 runtime error, 2 usage error.

import { Command, CommanderError } from 'commander';
import { SyncdError, UsageError } from '../protocol/errors.js';
import { commands } from './commands.js';
import { VERSION } from '../version.js';
import { setWasmTiering } from './wasm-tiering.js';

export function buildProgram(): Command {
  const program = new Command();
  program
    .name('syncd')
    .description('Two-way folder sync: a journaled namespace server and a watching agent.')
    .version(VERSION)
    .option('--debug', 'print stack traces on errors')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  for (const register of commands) register(program);
  return program;
}

export async function main(argv: string[]): Promise<void> {
  setWasmTiering();
  // `syncd … | head`: a closed pipe ends output quietly instead of a stack trace
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw err;
  });
  const program = buildProgram();
  const debug = argv.includes('--debug');
  try {
    await program.parseAsync(argv);
  } catch (err) {
    process.exitCode = reportError(err, debug);
  }
}

/** Prints one clear line (or the stack with --debug) and returns the exit code. */
export function reportError(err: unknown, debug: boolean): number {
  if (err instanceof CommanderError) {
    // commander already printed its message; help/version exit 0
    return err.exitCode === 0 ? 0 : 2;
  }
  if (err instanceof UsageError) {
    process.stderr.write(`syncd: ${err.message}\n`);
    return 2;
  }
  if (debug && err instanceof Error) {
    process.stderr.write(`${err.stack ?? err.message}\n`);
  } else if (err instanceof SyncdError) {
    process.stderr.write(`syncd: ${err.message}\n`);
  } else if (err instanceof Error) {
    process.stderr.write(`syncd: ${err.message} (run with --debug for details)\n`);
  } else {
    process.stderr.write(`syncd: ${String(err)}\n`);
  }
  return 1;
}
