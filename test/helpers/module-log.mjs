// `node --import ./test/helpers/module-log.mjs …` appends every module URL
// the process resolves to $SYNCD_MODULE_LOG, so a test can check what a
// command loads (e.g. that `syncd status` never loads the RPC stack).
import { register } from 'node:module';

register('./module-log-hooks.mjs', import.meta.url);
