// The web UI's files, served at /ui/ on the API's own port, TLS and origin (so the browser's calls are
// same-origin and need no CORS). Only the files the build put in dist/webui are served, looked up by name
// in a listing read once: no path from the request ever reaches the file system. A path that names no
// file and has no extension is a view of the single-page app and gets index.html. The pages load nothing
// from elsewhere, and the Content-Security-Policy holds them to that.

import type { Context } from "hono";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { extname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

/** Where `make build` puts the bundle: dist/webui, beside dist/src. */
export const UI_DIR = fileURLToPath(new URL("../../webui/", import.meta.url));

const CONTENT_TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".png": "image/png",
  ".svg": "image/svg+xml",
  ".ico": "image/x-icon",
};

const HEADERS = {
  "content-security-policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
};

interface UiFile {
  body: ArrayBuffer;
  type: string;
}

function listFiles(dir: string): Map<string, UiFile> {
  const files = new Map<string, UiFile>();
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const full = join(d, name);
      if (statSync(full).isDirectory()) walk(full);
      else {
        const type = CONTENT_TYPES[extname(name)];
        if (type !== undefined) {
          const bytes = readFileSync(full);
          files.set(relative(dir, full), { body: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer, type });
        }
      }
    }
  };
  walk(dir);
  return files;
}

/**
 * The answer to GET `path` (the part after /ui/), as a Response. The files are read at the first request,
 * once: a netmaster serves the UI it was built with.
 */
export function uiFiles(dir: string = UI_DIR): (path: string) => Response {
  let files: Map<string, UiFile> | undefined;
  return (path) => {
    try {
      files ??= listFiles(dir);
    } catch {
      return new Response("The web UI is not built: run make build", { status: 404, headers: { "content-type": "text/plain; charset=utf-8" } });
    }
    const name = path === "" ? "index.html" : path;
    const file = files.get(name) ?? (extname(name) === "" ? files.get("index.html") : undefined);
    if (file === undefined) return new Response(`Not found: /ui/${path}`, { status: 404, headers: { "content-type": "text/plain; charset=utf-8" } });
    // index.html names the bundle by a fixed path, so nothing may be kept across a netmaster upgrade.
    return new Response(file.body, { status: 200, headers: { ...HEADERS, "content-type": file.type, "cache-control": "no-cache" } });
  };
}

/** The route's handler: /ui and /ui/ are index.html (the page names its files by absolute paths), the rest are files. */
export function uiHandler(dir: string = UI_DIR): (c: Context) => Response {
  const files = uiFiles(dir);
  return (c) => files(c.req.path.replace(/^\/ui\/?/, ""));
}
