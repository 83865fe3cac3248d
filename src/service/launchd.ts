// The launchd agent (a property list) that runs `syncd watch DIR` on macOS.
// Pure: text in, text out. Every string is XML-escaped; characters XML 1.0
// cannot carry at all are refused rather than silently changed.

import { SyncdError } from '../protocol/errors.js';
import type { ServiceTarget } from './target.js';

export function launchdLabel(hash: string): string {
  return `dev.syncd.${hash}`;
}

// eslint-disable-next-line no-control-regex
const NOT_XML = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/;

export function xmlEscape(s: string): string {
  if (NOT_XML.test(s)) {
    throw new SyncdError('service_error', `cannot write ${JSON.stringify(s)} into a launchd plist: it holds a control character`);
  }
  return (
    s
      .replace(/&/g, '&amp;')
      .replace(/</g, '&lt;')
      .replace(/>/g, '&gt;')
      .replace(/"/g, '&quot;')
      .replace(/'/g, '&apos;')
      // a parser turns a raw CR into LF; a character reference survives
      .replace(/\r/g, '&#13;')
  );
}

const str = (s: string): string => `<string>${xmlEscape(s)}</string>`;

export function renderLaunchdPlist(t: ServiceTarget): string {
  const lines = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    '<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">',
    `<!-- Written by \`syncd service install\` (syncd ${xmlEscape(t.version).replace(/-{2,}/g, '-')}); remove it with \`syncd service uninstall\`. -->`,
    '<plist version="1.0">',
    '<dict>',
    '  <key>Label</key>',
    `  ${str(launchdLabel(t.hash))}`,
    '  <key>ProgramArguments</key>',
    '  <array>',
    ...[t.nodePath, t.binPath, 'watch', t.folder].map((a) => `    ${str(a)}`),
    '  </array>',
  ];
  const env = Object.entries(t.env);
  if (env.length > 0) {
    lines.push('  <key>EnvironmentVariables</key>', '  <dict>');
    for (const [k, v] of env) lines.push(`    <key>${xmlEscape(k)}</key>`, `    ${str(v)}`);
    lines.push('  </dict>');
  }
  lines.push(
    '  <key>RunAtLoad</key>',
    '  <true/>',
    // restart after a crash, but not after a clean stop
    '  <key>KeepAlive</key>',
    '  <dict>',
    '    <key>SuccessfulExit</key>',
    '    <false/>',
    '  </dict>',
    // like RestartSec=5 on Linux
    '  <key>ThrottleInterval</key>',
    '  <integer>5</integer>',
    '  <key>ProcessType</key>',
    '  <string>Background</string>',
    '  <key>StandardOutPath</key>',
    `  ${str(t.logPath)}`,
    '  <key>StandardErrorPath</key>',
    `  ${str(t.logPath)}`,
    '</dict>',
    '</plist>',
  );
  return `${lines.join('\n')}\n`;
}
