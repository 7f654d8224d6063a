// HOST:PORT flags (listen addresses), checked the same way by every executable.

import { isIPv4, isIPv6 } from "node:net";

/** "HOST:PORT", "[IPv6]:PORT" or either with an http(s):// in front; throws naming the flag. */
export function parseHostPort(text: string, flag: string): { host: string; port: number } {
  const m = /^(?:https?:\/\/)?(\[[0-9a-fA-F:]+\]|[^:/]+):(\d{1,5})\/?$/.exec(text);
  const port = m ? Number(m[2]) : NaN;
  if (!m || port < 1 || port > 65535) throw new Error(`Invalid ${flag} "${text}": expected HOST:PORT`);
  return { host: m[1]!.replace(/^\[|\]$/g, ""), port };
}

/** Whether `host` is this machine's loopback: "localhost", 127.0.0.0/8 or ::1. */
export function isLoopbackHost(host: string): boolean {
  if (host.toLowerCase() === "localhost") return true;
  if (isIPv4(host)) return host.startsWith("127.");
  return isIPv6(host) && new URL(`http://[${host}]`).hostname === "[::1]";
}
