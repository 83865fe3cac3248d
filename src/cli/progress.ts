// Progress of long work with ora bound as the spinner (see progress-core.ts).
// Commands load this module only when stderr is a terminal.

import ora from 'ora';
import { createProgress as createWith, type Progress, type ProgressOptions } from './progress-core.js';

export * from './progress-core.js';

export function createProgress(opts: ProgressOptions): Progress {
  return createWith({ spinner: ora, ...opts });
}
