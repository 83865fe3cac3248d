// The folder modes' names, apart from their rules (modes.ts), so the
// config table can name them without loading the planner. Pure.

export const FOLDER_MODES = ['two-way', 'receive-only', 'send-only'] as const;
export type FolderMode = (typeof FOLDER_MODES)[number];
