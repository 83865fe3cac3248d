// Where `syncd init` takes the device token from, and whether the server
// URL sends it in clear over a network. A token on the command line is
// readable in /proc/*/cmdline and lands in shell history: `--token-file`,
// `SYNCD_TOKEN` or `--token -` (stdin) keep it out of both.

import { SyncdError, UsageError } from '../protocol/errors.js';

export interface TokenSources {
  /** --token: the token itself, or "-" for one line of stdin */
  token?: string;
  /** --token-file: a file holding the token (surrounding whitespace ignored) */
  tokenFile?: string;
}

export interface TokenIo {
  env: NodeJS.ProcessEnv;
  readFile(path: string): string;
  readStdin(): Promise<string>;
}

/** The token from exactly one source: --token, --token-file, or else SYNCD_TOKEN. */
export async function resolveToken(o: TokenSources, io: TokenIo): Promise<string> {
  if (o.token !== undefined && o.tokenFile !== undefined) throw new UsageError('--token and --token-file are exclusive');
  let raw: string;
  let from: string;
  if (o.token === '-') {
    raw = await io.readStdin();
    from = 'stdin';
  } else if (o.token !== undefined) {
    raw = o.token;
    from = '--token';
  } else if (o.tokenFile !== undefined) {
    try {
      raw = io.readFile(o.tokenFile);
    } catch (err) {
      throw new SyncdError('token_file', `cannot read the token file ${o.tokenFile}: ${(err as Error).message}`);
    }
    from = `--token-file ${o.tokenFile}`;
  } else if (io.env.SYNCD_TOKEN !== undefined && io.env.SYNCD_TOKEN !== '') {
    raw = io.env.SYNCD_TOKEN;
    from = 'SYNCD_TOKEN';
  } else {
    throw new UsageError('a device token is required: --token-file FILE, SYNCD_TOKEN, --token - (stdin) or --token T');
  }
  const token = raw.trim();
  if (token === '' || /\s/.test(token)) throw new UsageError(`the token from ${from} is empty or has whitespace inside`);
  return token;
}

/** True for names and addresses that never leave the machine. */
export function isLoopbackHost(hostname: string): boolean {
  const h = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h.endsWith('.localhost') || /^127(\.\d{1,3}){3}$/.test(h) || h === '::1' || h === '0:0:0:0:0:0:0:1';
}

/** A warning when `server` would carry the token in clear beyond this machine, else null. */
export function cleartextWarning(server: string): string | null {
  let u: URL;
  try {
    u = new URL(server);
  } catch {
    return null; // the URL check elsewhere reports it
  }
  if (u.protocol !== 'http:' || isLoopbackHost(u.hostname)) return null;
  return `warning: ${u.origin} is plain http:// to another machine: the device token and every file travel unencrypted; put the server behind TLS (https://)`;
}
