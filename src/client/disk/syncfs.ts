// syncfs(2) for fsys.ts, through coreutils `sync -f` (node has no
// binding). Starting a process from the agent copies the agent's page
// tables: ~15 ms of its main thread each time at 200 MiB of RSS, once per
// batch of placed files. So one small shell is started once and runs
// `sync -f` for each directory written to it, one per line, answering each
// with the exit status; the shell ends when the agent does (its input
// closes). A directory whose name holds a line break goes the old way, a
// `sync` of its own.

import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { isAbsolute } from 'node:path';

const LOOP = 'while IFS= read -r d; do sync -f -- "$d" 2>/dev/null; echo $?; done';

interface Request {
  left: number;
  ok: boolean;
  done(ok: boolean): void;
}

export class SyncfsRunner {
  #child: ChildProcess | null = null;
  #waiting: Request[] = [];
  #out = '';

  /** syncfs of the file systems holding `dirs` (one directory per file system); false if it could not be done. */
  run(dirs: readonly string[]): Promise<boolean> {
    if (dirs.length === 0) return Promise.resolve(true);
    if (dirs.some((d) => d.includes('\n') || d.includes('\r') || !isAbsolute(d))) return once(dirs);
    return new Promise<boolean>((resolve) => {
      const child = this.#start();
      if (child === null) {
        void once(dirs).then(resolve);
        return;
      }
      this.#waiting.push({ left: dirs.length, ok: true, done: resolve });
      this.#ref(true);
      child.stdin!.write(dirs.map((d) => `${d}\n`).join(''));
    });
  }

  #start(): ChildProcess | null {
    if (this.#child) return this.#child;
    let child: ChildProcess;
    try {
      child = spawn('sh', ['-c', LOOP], { stdio: ['pipe', 'pipe', 'ignore'], windowsHide: true });
    } catch {
      return null;
    }
    this.#child = child;
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (s: string) => this.#answers(s));
    const gone = (): void => {
      if (this.#child !== child) return;
      this.#child = null;
      this.#out = '';
      // what was asked and not answered is not known to be durable
      for (const r of this.#waiting.splice(0)) r.done(false);
    };
    child.on('error', gone);
    child.on('exit', gone);
    child.stdin!.on('error', gone);
    return child;
  }

  #answers(s: string): void {
    this.#out += s;
    let nl: number;
    while ((nl = this.#out.indexOf('\n')) >= 0) {
      const status = this.#out.slice(0, nl).trim();
      this.#out = this.#out.slice(nl + 1);
      const r = this.#waiting[0];
      if (!r) continue;
      if (status !== '0') r.ok = false;
      if (--r.left === 0) {
        this.#waiting.shift();
        r.done(r.ok);
      }
    }
    if (this.#waiting.length === 0) this.#ref(false);
  }

  /** The shell holds the process open only while a request waits for it. */
  #ref(on: boolean): void {
    const c = this.#child;
    if (!c) return;
    for (const h of [c, c.stdin, c.stdout] as ({ ref?(): void; unref?(): void } | null)[]) {
      if (on) h?.ref?.();
      else h?.unref?.();
    }
  }
}

/** One `sync -f` process for these directories. */
function once(dirs: readonly string[]): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    execFile('sync', ['-f', '--', ...dirs], { timeout: 0, windowsHide: true }, (err) => resolve(err === null));
  });
}
