// The `ipam` section of a network config: which IPAM plugin the executable delegates to. Pure, and
// importing only wire.ts, because the executable reads it on every call before anything else runs.
//
// The CNI spec leaves the section's fields to the IPAM plugin but its `type`, which names an
// executable looked up in CNI_PATH. We check that name strictly: it becomes a path, so no slash, no
// "." or "..", nothing a shell or a log would misread; and never "netplugin" itself, which would
// delegate to itself forever.

import { quoted } from "./wire.js";

/** Longest IPAM plugin name accepted (NAME_MAX is 255; real names are a few words). */
export const MAX_IPAM_TYPE = 128;

/** Types that would delegate to this plugin itself. */
const SELF_TYPES = new Set(["netplugin"]);

const PLUGIN_NAME = /^[A-Za-z0-9][A-Za-z0-9._+-]*$/;
export const IPAM_TYPE_RULE = "want a plugin name: letters, digits, '.', '_', '+' and '-', starting with a letter or digit, no '/'";

/** What is wrong with an ipam `type` (to follow the quoted value in a message), or undefined. */
export function ipamTypeProblem(type: unknown): string | undefined {
  if (typeof type !== "string") return "is not a string";
  if (type === "") return "is empty";
  if (type.length > MAX_IPAM_TYPE) return `is longer than ${MAX_IPAM_TYPE} characters`;
  if (!PLUGIN_NAME.test(type)) return `is not a plugin name: ${IPAM_TYPE_RULE}`;
  if (SELF_TYPES.has(type)) return "is this plugin itself: name an IPAM plugin such as host-local, static or dhcp";
  return undefined;
}

/**
 * IPAM plugins that lease on the container's interface and so run after it exists (the reference plugins
 * call IPAM once they made it): the CNI `dhcp` plugin's daemon runs a DHCP client on CNI_IFNAME in
 * CNI_NETNS, with the interface's MAC. Every other plugin hands out an address without it, and runs first.
 */
export function leasesOnInterface(type: string): boolean {
  return type === "dhcp";
}

export interface IpamSection {
  /** The IPAM plugin's executable name in CNI_PATH. */
  type: string;
}

export type IpamRead = { ok: true; ipam: IpamSection | undefined } | { ok: false; path: string; message: string };

/**
 * The config's `ipam` section: absent (undefined or null), or an object whose `type` names a plugin.
 * Its other fields belong to the IPAM plugin, which checks them itself.
 */
export function readIpamSection(config: Record<string, unknown>): IpamRead {
  const section = config["ipam"];
  if (section === undefined || section === null) return { ok: true, ipam: undefined };
  if (typeof section !== "object" || Array.isArray(section)) {
    return { ok: false, path: "ipam", message: `${quoted(section)} must be an object with the IPAM plugin's "type"` };
  }
  const type = (section as Record<string, unknown>)["type"];
  if (type === undefined) return { ok: false, path: "ipam.type", message: 'is missing: name the IPAM plugin, e.g. "host-local"' };
  const problem = ipamTypeProblem(type);
  if (problem !== undefined) return { ok: false, path: "ipam.type", message: `${quoted(type)} ${problem}` };
  return { ok: true, ipam: { type: type as string } };
}

/** How netmaster records where an endpoint's address came from: "cni:<type>". */
export function ipamSourceOf(ipam: IpamSection): string {
  return `cni:${ipam.type}`;
}
