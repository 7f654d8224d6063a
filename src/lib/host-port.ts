// HOST:PORT flags (listen addresses), checked the same way by every executable.

/** "HOST:PORT", "[IPv6]:PORT" or either with an http(s):// in front; throws naming the flag. */
export function parseHostPort(text: string, flag: string): { host: string; port: number } {
  const m = /^(?:https?:\/\/)?(\[[0-9a-fA-F:]+\]|[^:/]+):(\d{1,5})\/?$/.exec(text);
  const port = m ? Number(m[2]) : NaN;
  if (!m || port < 1 || port > 65535) throw new Error(`Invalid ${flag} "${text}": expected HOST:PORT`);
  return { host: m[1]!.replace(/^\[|\]$/g, ""), port };
}
