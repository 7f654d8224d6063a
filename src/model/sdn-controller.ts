// The SDN controller an Open vSwitch bridge connects to, as OVS writes an active OpenFlow target: tcp:IP:PORT
// or ssl:IP:PORT, an IPv6 address in brackets. One check for the global object's sdnController and the agent's
// --ovs-controller, so both refuse the same text with the same reason.

import { tryParseIpv4 } from "../lib/ipv4.js";
import { tryParseIpv6 } from "../lib/ipv6.js";

/** Pure: why `target` is not tcp:IP:PORT or ssl:IP:PORT (IPv4, or IPv6 in brackets; port 1-65535), or undefined when it is. "" is none, and fine. */
export function sdnControllerProblem(target: string): string | undefined {
  if (target === "") return undefined;
  const m = /^([A-Za-z]+):(\[[^\]]*\]|[^:[\]]*):([^:]*)$/.exec(target);
  if (m === null) return "expected tcp:IP:PORT or ssl:IP:PORT (an IPv6 address in brackets)";
  const [, proto, host, port] = m as unknown as [string, string, string, string];
  if (proto !== "tcp" && proto !== "ssl") return `protocol "${proto}" is not tcp or ssl`;
  if (host.startsWith("[")) {
    if (tryParseIpv6(host.slice(1, -1)) === undefined) return `"${host.slice(1, -1)}" is not an IPv6 address`;
  } else if (tryParseIpv4(host) === undefined) {
    return `"${host}" is not an IPv4 address (an IPv6 address goes in brackets)`;
  }
  if (!/^[0-9]{1,5}$/.test(port) || Number(port) < 1 || Number(port) > 65535) return `port "${port}" is not 1-65535`;
  return undefined;
}
