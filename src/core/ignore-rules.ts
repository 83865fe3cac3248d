// Names syncd never syncs, in either direction: its own (.syncd*), editor
// swap/lock files and OS litter. User patterns (.syncignore) come on top.

import { OWN_PREFIX } from './syncd-names.js';

const BUILTIN: RegExp[] = [
  new RegExp(`^${OWN_PREFIX.replace(/\./g, '\\.')}`), // syncd's own: root marker, temp and trash files
  /^\.DS_Store$/,
  /^Thumbs\.db$/i,
  /^desktop\.ini$/i,
  /^\..*\.sw[a-p]$/, // vim swap (.name.swp, .swo, …)
  /\.sw[px]$/,
  /~$/, // editor backups
  /^\.#/, // emacs lock files
  /^#.*#$/, // emacs autosave
  /^~\$/, // Office owner files
  /^\.~lock\..*#$/, // LibreOffice locks
  /^\.goutputstream-/, // GTK atomic-save temp files
];

// the same patterns as two alternations (each keeps its own anchors): a scan asks for every name
const alternation = (res: RegExp[], flags: string): RegExp => new RegExp(res.map((re) => `(?:${re.source})`).join('|'), flags);
const BUILTIN_CASE = alternation(BUILTIN.filter((re) => !re.flags.includes('i')), '');
const BUILTIN_NOCASE = alternation(BUILTIN.filter((re) => re.flags.includes('i')), 'i');

export function isBuiltinIgnoredName(name: string): boolean {
  return BUILTIN_CASE.test(name) || BUILTIN_NOCASE.test(name);
}

/** True when any segment of the relative path is a built-in ignored name. */
export function isBuiltinIgnoredPath(path: string): boolean {
  return path.split('/').some(isBuiltinIgnoredName);
}
