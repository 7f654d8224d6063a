// The names a runtime gives the plugin for one attachment: CNI_CONTAINERID, CNI_IFNAME, CNI_NETNS and
// the config's `name`. Each check returns what is wrong (to follow the quoted value in a message) or
// undefined.
//
// The spec's rules come first, as libcni checks them (ValidateContainerID, ValidateInterfaceName,
// ValidateNetworkName). Then what netplugin needs, because the agent keeps these strings in its state
// file, sends them to netmaster and hands them to `ip`:
//   - netmaster keeps "<id>" or "<id>-<ifname>" as the endpoint's containerID, at most 256 characters;
//   - CNI_IFNAME and CNI_NETNS go into `ip -batch` lines, where whitespace splits words, '#' starts a
//     comment and a leading quote starts a quoted word;
//   - the kernel takes byte 0xa0 (inside many UTF-8 characters) of an interface name for whitespace, and
//     a path that is not UTF-8 reaches the agent changed (Node decodes the environment as UTF-8):
//     printable ASCII only.

/** IFNAMSIZ less the NUL. */
export const MAX_IFNAME_BYTES = 15;
/** netmaster's containerID limit (256) less "-" and the longest CNI_IFNAME. */
export const MAX_CONTAINER_ID = 256 - 1 - MAX_IFNAME_BYTES;
/** Names the agent keeps need a bound; no runtime comes near this one. */
export const MAX_NETWORK_NAME = 256;
/** PATH_MAX less the NUL. */
export const MAX_NETNS_BYTES = 4095;

/** The spec's rule for container ids and network names. */
const SPEC_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;
const SPEC_NAME_RULE = "want letters, digits, '_', '.' and '-', starting with a letter or digit";

/** Characters `ip -batch` reads as part of a word: printable ASCII but space, '#' and quotes. */
const IP_WORD = /^[\x21-\x7e]*$/;
const IP_SPECIAL = /["'#]/;

export function containerIdProblem(id: string): string | undefined {
  if (!SPEC_NAME.test(id)) return `is not a container id: ${SPEC_NAME_RULE}`;
  if (id.length > MAX_CONTAINER_ID) return `is ${id.length} characters long: at most ${MAX_CONTAINER_ID}`;
  return undefined;
}

export function ifnameProblem(name: string): string | undefined {
  if (name === "." || name === "..") return `is not an interface name: "." and ".." are not allowed`;
  const bytes = Buffer.byteLength(name);
  if (bytes > MAX_IFNAME_BYTES) return `is not an interface name: ${bytes} bytes, at most ${MAX_IFNAME_BYTES}`;
  if (/[/:\s]/u.test(name)) return "is not an interface name: it holds '/', ':' or whitespace";
  if (!IP_WORD.test(name) || IP_SPECIAL.test(name)) {
    return `is not an interface name netplugin can use: want printable ASCII without '#', '"' or "'"`;
  }
  return undefined;
}

/** The path's form only; whether it is a network namespace is the agent's to find out. */
export function netnsPathProblem(path: string): string | undefined {
  if (!path.startsWith("/")) return "must be an absolute path";
  const bytes = Buffer.byteLength(path);
  if (bytes > MAX_NETNS_BYTES) return `is ${bytes} bytes long: at most ${MAX_NETNS_BYTES}`;
  if (!IP_WORD.test(path) || IP_SPECIAL.test(path)) {
    return `is not a path netplugin can use: want printable ASCII without whitespace, '#', '"' or "'"`;
  }
  return undefined;
}

export function networkNameProblem(name: string): string | undefined {
  if (!SPEC_NAME.test(name)) return `is not a network config name: ${SPEC_NAME_RULE}`;
  if (name.length > MAX_NETWORK_NAME) return `is ${name.length} characters long: at most ${MAX_NETWORK_NAME}`;
  return undefined;
}
