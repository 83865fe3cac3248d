// Names syncd never syncs, in either direction: its own (.syncd*), editor
// swap/lock files and OS litter. User patterns (.syncignore) come on top.

const BUILTIN: RegExp[] = [
  /^\.syncd/, // syncd's own: root marker, download temp files
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

export function isBuiltinIgnoredName(name: string): boolean {
  return BUILTIN.some((re) => re.test(name));
}

/** True when any segment of the relative path is a built-in ignored name. */
export function isBuiltinIgnoredPath(path: string): boolean {
  return path.split('/').some(isBuiltinIgnoredName);
}
