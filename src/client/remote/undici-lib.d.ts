// Types of the three undici files pool.ts imports by path (undici's own
// types describe only its index).

declare module 'undici/lib/dispatcher/dispatcher.js' {
  const Dispatcher: { prototype: object };
  export default Dispatcher;
}

declare module 'undici/lib/api/api-request.js' {
  const request: unknown;
  export default request;
}

declare module 'undici/lib/dispatcher/pool.js' {
  import type { Pool } from 'undici';
  const UndiciPool: typeof Pool;
  export default UndiciPool;
}
