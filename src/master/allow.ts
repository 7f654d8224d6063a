// Which methods a path is served for, read from the app's own routes: a 405's Allow header then
// cannot drift from what is registered. Hono itself only knows "no route for this method and path".

import { METHOD_NAME_ALL } from "hono/router";
import { TrieRouter } from "hono/router/trie-router";

const ORDER = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];

function rank(method: string): number {
  const i = ORDER.indexOf(method);
  return i === -1 ? ORDER.length : i;
}

/**
 * A lookup from a path (as the app routes it: Hono's getPath output) to the methods some route serves
 * it for, in a fixed order; [] when no route matches it at all. HEAD is allowed wherever GET is, as Hono
 * answers it. Middleware (registered for every method) does not count. Call it once every route is
 * registered: routes added later are not seen.
 */
export function allowedMethods(app: { routes: readonly { method: string; path: string }[] }): (path: string) => string[] {
  // Every route goes in under ALL with its method as the handler, so one match returns them all.
  const router = new TrieRouter<string>();
  for (const r of app.routes) if (r.method !== METHOD_NAME_ALL) router.add(METHOD_NAME_ALL, r.path, r.method);
  return (path) => {
    const methods = new Set(router.match(METHOD_NAME_ALL, path)[0].map(([method]) => method));
    if (methods.has("GET")) methods.add("HEAD");
    return [...methods].sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0));
  };
}
