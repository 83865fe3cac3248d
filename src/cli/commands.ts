// Every command module registers itself here, one line each. Registering
// must stay cheap: a command's work is imported by its action, when it runs.

import type { Command } from 'commander';
import { register as clientCommands } from './client.js';
import { register as configCmd } from './config-cmd.js';
import { register as exclude } from './exclude.js';
import { register as history } from './history.js';
import { register as modes } from './modes.js';
import { register as quickstart } from './quickstart.js';
import { register as serve } from './serve.js';
import { register as serverAdmin } from './server-admin.js';
import { register as service } from './service.js';
import { register as status } from './status.js';
import { register as trash } from './trash.js';

export type RegisterCommand = (program: Command) => void;

export const commands: RegisterCommand[] = [serve, serverAdmin, clientCommands, status, history, quickstart, configCmd, service, trash, modes, exclude];
