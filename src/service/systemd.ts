// The systemd user unit that runs `syncd watch DIR`. Pure: text in, text out.
//
// Quoting follows systemd.syntax(7) and systemd.service(5): a unit line is
// first expanded for %-specifiers (so a literal % is %%), then split into
// words with "double quotes" and C-style escapes, and for Exec lines $VAR is
// substituted at start in the arguments (so a literal $ there is $$; the
// program path itself is not expanded).

import { SyncdError } from '../protocol/errors.js';
import type { ServiceTarget } from './target.js';

/** Characters that need no quoting anywhere in a unit value. */
const PLAIN = /^[A-Za-z0-9_@+=:,./-]+$/;

function cEscape(s: string): string {
  let out = '';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (ch === '\\') out += '\\\\';
    else if (ch === '"') out += '\\"';
    else if (ch === '\n') out += '\\n';
    else if (ch === '\t') out += '\\t';
    else if (ch === '\r') out += '\\r';
    else if (c < 0x20 || c === 0x7f) out += `\\x${c.toString(16).padStart(2, '0')}`;
    else out += ch;
  }
  return out;
}

/**
 * One word of a unit value, quoted when needed. `exec` also escapes `$`, which
 * only Exec lines expand.
 */
export function systemdWord(s: string, opts: { exec?: boolean } = {}): string {
  let w = PLAIN.test(s) ? s : `"${cEscape(s)}"`;
  w = w.replace(/%/g, '%%');
  if (opts.exec) w = w.replace(/\$/g, '$$$$');
  return w;
}

/** Free text (Description=): no quoting or escapes apply, but specifiers and line ends do. */
export function systemdText(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/[\u0000-\u001f\u007f]/g, '?').replace(/%/g, '%%');
}

export function systemdUnitName(hash: string): string {
  return `syncd-${hash}.service`;
}

/**
 * The program of an Exec line. systemd refuses an executable path holding
 * quotes, backslashes or control characters, and does not expand $ in it
 * (only in the arguments), so it gets no $$.
 */
export function systemdExecPath(p: string): string {
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f"'\\]/.test(p)) {
    throw new SyncdError(
      'service_error',
      `systemd cannot run a program whose path holds quotes, backslashes or control characters: ${JSON.stringify(p)}; ` +
        'install Node.js under a plainer path',
      { path: p },
    );
  }
  return systemdWord(p);
}

export function renderSystemdUnit(t: ServiceTarget): string {
  const exec = [
    systemdExecPath(t.nodePath),
    ...[t.binPath, 'watch', t.folder].map((a) => systemdWord(a, { exec: true })),
  ].join(' ');
  const env = Object.entries(t.env).map(([k, v]) => `Environment=${systemdWord(`${k}=${v}`)}\n`);
  return (
    `# Written by \`syncd service install\` (syncd ${t.version}); remove it with \`syncd service uninstall\`.\n` +
    `# Run \`syncd service install\` again after moving Node.js or syncd.\n` +
    `[Unit]\n` +
    // quoted so a folder name ending in a backslash cannot continue the line
    `Description=${systemdText(`syncd agent for "${t.folder}"`)}\n` +
    `\n` +
    `[Service]\n` +
    `Type=simple\n` +
    `ExecStart=${exec}\n` +
    env.join('') +
    `Restart=on-failure\n` +
    `RestartSec=5\n` +
    `StandardOutput=journal\n` +
    `StandardError=journal\n` +
    `SyslogIdentifier=syncd\n` +
    `\n` +
    `[Install]\n` +
    `WantedBy=default.target\n`
  );
}
