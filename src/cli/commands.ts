// Every command module registers itself here, one line each.

import type { Command } from 'commander';
import { register as serve } from './serve.js';
import { register as serverAdmin } from './server-admin.js';

export type RegisterCommand = (program: Command) => void;

export const commands: RegisterCommand[] = [serve, serverAdmin];
