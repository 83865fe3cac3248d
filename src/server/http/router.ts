// Route table: exact paths and one parametrised prefix (/v1/blobs/{hash}).
// Unknown path → 404 not_found; known path, other method → 405.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { HttpError } from '../../protocol/errors.js';
import type { Query } from './io.js';

export interface RequestInfo {
  req: IncomingMessage;
  res: ServerResponse;
  query: Query;
  /** the path parameter of a prefix route */
  param: string;
}

export type Handler = (r: RequestInfo) => Promise<void>;

interface Route {
  /** metrics label */
  name: string;
  methods: Map<string, Handler>;
}

export interface Match {
  route: string;
  handler: Handler;
  param: string;
}

export class Router {
  readonly #exact = new Map<string, Route>();
  readonly #prefix: Array<{ prefix: string; route: Route }> = [];

  on(method: string, path: string, handler: Handler): this {
    const isPrefix = path.endsWith('/*');
    const key = isPrefix ? path.slice(0, -1) : path;
    let route: Route | undefined = isPrefix ? this.#prefix.find((p) => p.prefix === key)?.route : this.#exact.get(key);
    if (!route) {
      route = { name: isPrefix ? `${key}{param}` : key, methods: new Map() };
      if (isPrefix) this.#prefix.push({ prefix: key, route });
      else this.#exact.set(key, route);
    }
    route.methods.set(method, handler);
    return this;
  }

  /** Throws HttpError 404/405. */
  match(method: string, path: string): Match {
    let route = this.#exact.get(path);
    let param = '';
    if (!route) {
      for (const p of this.#prefix) {
        if (path.startsWith(p.prefix) && path.length > p.prefix.length && !path.slice(p.prefix.length).includes('/')) {
          route = p.route;
          param = path.slice(p.prefix.length);
          break;
        }
      }
    }
    if (!route) throw new HttpError('not_found', `no such endpoint: ${path.slice(0, 200)}`);
    const handler = route.methods.get(method);
    if (!handler) {
      throw new HttpError('method_not_allowed', `${method} is not allowed on ${route.name}; use ${[...route.methods.keys()].join(', ')}`, {
        allow: [...route.methods.keys()].join(', '),
      });
    }
    return { route: route.name, handler, param };
  }

  /** the metrics label for a path, or "other" */
  label(path: string): string {
    if (this.#exact.has(path)) return path;
    for (const p of this.#prefix) if (path.startsWith(p.prefix)) return p.route.name;
    return 'other';
  }
}
