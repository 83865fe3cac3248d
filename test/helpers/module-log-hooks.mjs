// Loader hooks for module-log.mjs (they run on the loader thread).
import { appendFileSync } from 'node:fs';

export async function resolve(specifier, context, next) {
  const r = await next(specifier, context);
  if (process.env.SYNCD_MODULE_LOG) appendFileSync(process.env.SYNCD_MODULE_LOG, `${r.url}\n`);
  return r;
}
