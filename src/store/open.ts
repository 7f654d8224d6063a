// Chooses and opens the store backend from a URL (the --store flag of netmaster):
//
//   sqlite:///var/lib/netplugin/netmaster.db   embedded, one netmaster (default)
//   etcd://host:2379[,host:2379...]             cluster, several replicas
//   http://host:2379[,http://host:2379...]      etcd too, as Contiv's --etcd flag wrote it

import { isAbsolute } from "node:path";
import { ValidationError } from "../lib/errors.js";
import { EtcdStore } from "./etcd.js";
import { SqliteStore } from "./sqlite.js";
import type { Store } from "./types.js";

export const DEFAULT_STORE_URL = "sqlite:///var/lib/netplugin/netmaster.db";

export type StoreLocation = { backend: "sqlite"; file: string } | { backend: "etcd"; endpoints: string[] };

const HOST_PORT = /^(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\]):(\d{1,5})$/;

/** Parses a store URL without opening anything. Throws ValidationError on a bad URL. */
export function parseStoreUrl(url: string): StoreLocation {
  const bad = (detail: string) =>
    new ValidationError(
      `Invalid store URL "${url}": expected sqlite:///path or etcd://host:port[,host:port]`,
      [{ path: "store", message: detail }],
    );
  if (url.startsWith("sqlite://")) {
    const file = decodePath(url.slice("sqlite://".length));
    if (file === undefined || !isAbsolute(file) || file.endsWith("/")) throw bad("the SQLite path must be an absolute file path");
    return { backend: "sqlite", file };
  }
  let hosts: string[];
  if (url.startsWith("etcd://")) {
    hosts = url.slice("etcd://".length).split(",");
  } else if (/^https?:\/\//.test(url)) {
    // Contiv style: every entry carries its own scheme. Only plain http is supported.
    hosts = url.split(",").map((entry) => {
      if (!entry.startsWith("http://")) throw bad(`"${entry}" is not an http:// etcd endpoint`);
      return entry.slice("http://".length).replace(/\/$/, "");
    });
  } else {
    throw bad("unknown scheme");
  }
  for (const host of hosts) {
    const match = HOST_PORT.exec(host);
    const port = match === null ? NaN : Number(match[1]);
    if (!(port >= 1 && port <= 65535)) throw bad(`"${host}" is not host:port`);
  }
  return { backend: "etcd", endpoints: hosts };
}

/** Opens the store a URL names. Throws ValidationError on a bad URL, UpstreamError when it cannot be opened. */
export async function openStore(url: string): Promise<Store> {
  const location = parseStoreUrl(url);
  switch (location.backend) {
    case "sqlite":
      return new SqliteStore({ file: location.file });
    case "etcd":
      return new EtcdStore({ endpoints: location.endpoints });
  }
}

function decodePath(path: string): string | undefined {
  try {
    return decodeURIComponent(path);
  } catch {
    return undefined;
  }
}
