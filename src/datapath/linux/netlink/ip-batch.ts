// An `ip -force -batch -` run carried out over rtnetlink instead of by starting `ip`: an endpoint's ADD and DEL
// are two and one such runs (apply.ts), and starting `ip` costs ~2 ms each, most of the agent's own part of an
// ADD. Only the exact line forms the endpoint plans write are understood (parseIpBatch); any other line, and a
// namespace that cannot be opened, leave the whole run to `ip` itself, so what is not covered here keeps `ip`'s
// behaviour. What is covered answers as `ip` does: each line's error on stderr, then "Command failed -:N"
// (which apply.ts reads), the next line run anyway (-force), exit status 1 when a line failed.

import { canonicalIp, canonicalMac, parseCidr } from "../addr.js";
import { IFNAME } from "../validate.js";
import { NETNS_RUN_DIR, NotStarted, type NetlinkKernel, type NetlinkSocket } from "./kernel.js";
import { answerOf, type Answer } from "./message.js";
import { deleteLink, getLink, linkIndex, newAddress, newDefaultRoute, newVeth, setLink } from "./rtnl.js";

const ENODEV = 19;

export type IpLine =
  | {
      op: "veth";
      name: string;
      mtu?: number;
      address?: string;
      peer: { name: string; mtu?: number; address?: string; netns?: string };
    }
  | { op: "set"; name: string; master?: string; mtu?: number; address?: string; group?: number; up?: boolean }
  | { op: "del"; name: string }
  | { op: "del-group"; group: number }
  | { op: "addr"; address: string; prefixLength: number; dev: string; nodad: boolean }
  | { op: "route"; gateway: string; dev: string };

export interface IpBatch {
  /** The namespace's file; undefined: the starter's own namespace. */
  netns: string | undefined;
  lines: IpLine[];
}

const NUMBER = /^(0|[1-9][0-9]{0,9})$/;

function parseU32(text: string | undefined): number | undefined {
  if (text === undefined || !NUMBER.test(text)) return undefined;
  const n = Number(text);
  return n <= 0xffffffff ? n : undefined;
}

/** A name as the datapath writes one (validate.ts); any other is left to `ip`. */
function linkName(text: string | undefined): string | undefined {
  return text !== undefined && IFNAME.test(text) ? text : undefined;
}

/** A namespace as `ip` takes it after `netns`: a path, or a name under /var/run/netns. Not a PID. */
function netnsFile(text: string | undefined): string | undefined {
  if (text === undefined) return undefined;
  if (text.startsWith("/")) return text;
  return linkName(text) !== undefined && !NUMBER.test(text) ? `${NETNS_RUN_DIR}/${text}` : undefined;
}

/**
 * Options of a link read left to right as `ip` reads them: `KEY VALUE` among the keys allowed, and `up` or
 * `down` where flags are; undefined when a key is unknown or repeated, or a value invalid.
 */
function linkOptions(tokens: string[], keys: string[], flags = false): Record<string, string> | undefined {
  const out: Record<string, string> = {};
  for (let i = 0; i < tokens.length; i += 2) {
    const key = tokens[i]!;
    if (flags && (key === "up" || key === "down")) {
      if ("state" in out) return undefined;
      out["state"] = key;
      i--;
      continue;
    }
    const value = tokens[i + 1];
    if (!keys.includes(key) || key in out || value === undefined) return undefined;
    const ok =
      key === "mtu" || key === "group" ? parseU32(value) !== undefined
      : key === "address" ? canonicalMac(value) !== null
      : key === "netns" ? netnsFile(value) !== undefined
      : linkName(value) !== undefined;
    if (!ok) return undefined;
    out[key] = value;
  }
  return out;
}

function withLinkOptions(o: Record<string, string>): { mtu?: number; address?: string } {
  return { ...(o["mtu"] === undefined ? {} : { mtu: parseU32(o["mtu"])! }), ...(o["address"] === undefined ? {} : { address: canonicalMac(o["address"])! }) };
}

/** One batch line, or undefined when it is not one of the forms carried out here. */
export function parseIpLine(line: string): IpLine | undefined {
  if (/["'\\#]/.test(line)) return undefined;
  const t = line.trim().split(/\s+/);
  const [object, verb] = t;
  if (object === "link" && verb === "add") {
    const name = linkName(t[2]);
    const type = t.indexOf("type", 3);
    if (name === undefined || type < 0 || t[type + 1] !== "veth" || t[type + 2] !== "peer") return undefined;
    const own = linkOptions(t.slice(3, type), ["mtu", "address"]);
    const peer = linkOptions(t.slice(type + 3), ["name", "mtu", "address", "netns"]);
    if (own === undefined || peer?.["name"] === undefined) return undefined;
    const netns = netnsFile(peer["netns"]);
    return { op: "veth", name, ...withLinkOptions(own), peer: { name: peer["name"], ...withLinkOptions(peer), ...(netns === undefined ? {} : { netns }) } };
  }
  if (object === "link" && verb === "set") {
    const rest = t[2] === "dev" ? t.slice(3) : t.slice(2);
    const name = linkName(rest[0]);
    if (name === undefined) return undefined;
    const o = linkOptions(rest.slice(1), ["master", "mtu", "address", "group"], true);
    if (o === undefined) return undefined;
    return {
      op: "set",
      name,
      ...withLinkOptions(o),
      ...(o["master"] === undefined ? {} : { master: o["master"] }),
      ...(o["group"] === undefined ? {} : { group: parseU32(o["group"])! }),
      ...(o["state"] === undefined ? {} : { up: o["state"] === "up" }),
    };
  }
  if (object === "link" && (verb === "del" || verb === "delete") && t.length <= 4) {
    if (t[2] === "group") {
      const group = parseU32(t[3]);
      return group === undefined || group === 0 ? undefined : { op: "del-group", group };
    }
    const name = linkName(t[2] === "dev" ? t[3] : t.length === 3 ? t[2] : undefined);
    return name === undefined ? undefined : { op: "del", name };
  }
  if (object === "addr" && verb === "add" && t[3] === "dev" && (t.length === 5 || (t.length === 6 && t[5] === "nodad"))) {
    const cidr = parseCidr(t[2]!);
    const dev = linkName(t[4]);
    if (dev === undefined || cidr === null) return undefined;
    return { op: "addr", address: cidr[0], prefixLength: cidr[1], dev, nodad: t.length === 6 };
  }
  if (object === "route" && verb === "add" && t.length === 7 && t[2] === "default" && t[3] === "via" && t[5] === "dev") {
    const gateway = canonicalIp(t[4]!);
    const dev = linkName(t[6]);
    return dev === undefined || gateway === null ? undefined : { op: "route", gateway, dev };
  }
  return undefined;
}

/**
 * The run `argv` (with `stdin`) asks for, when it is an `ip -force -batch -` (in a named namespace by `-n`, or in
 * a namespace's file by `nsenter --net=`) whose every line parseIpLine understands; else undefined.
 */
export function parseIpBatch(argv: string[], stdin: string | undefined): IpBatch | undefined {
  let netns: string | undefined;
  let rest = argv;
  const enter = /^--net=(\/.+)$/.exec(argv[1] ?? "");
  if (argv[0] === "nsenter" && enter !== null) {
    netns = enter[1];
    rest = argv.slice(2);
  }
  if (rest[0] !== "ip") return undefined;
  if (rest[1] === "-n" && netns === undefined) {
    const name = linkName(rest[2]);
    if (name === undefined) return undefined;
    netns = `${NETNS_RUN_DIR}/${name}`;
    rest = [rest[0], ...rest.slice(3)];
  }
  if (rest.join(" ") !== "ip -force -batch -" || stdin === undefined) return undefined;
  const lines: IpLine[] = [];
  for (const text of stdin.split("\n")) {
    if (text.trim() === "") continue;
    const line = parseIpLine(text);
    if (line === undefined) return undefined;
    lines.push(line);
  }
  return lines.length === 0 ? undefined : { netns, lines };
}

export interface BatchOutcome {
  code: number;
  stderr: string;
}

/**
 * Runs the batch as `ip -force -batch -` would. Throws NotStarted when its namespace, or a peer's, cannot be
 * opened: the caller then starts `ip`, which says why in its own words.
 */
export function runIpBatch(batch: IpBatch, kernel: NetlinkKernel): BatchOutcome {
  const fds = new Map<string, number>();
  let socket: NetlinkSocket | undefined;
  try {
    try {
      for (const line of batch.lines) {
        if (line.op === "veth" && line.peer.netns !== undefined && !fds.has(line.peer.netns)) fds.set(line.peer.netns, kernel.openNetns(line.peer.netns));
      }
      socket = kernel.socket(batch.netns, "route");
    } catch (err) {
      throw new NotStarted((err as Error).message);
    }
    return runLines(batch.lines, socket, fds, kernel.strerror);
  } finally {
    socket?.close();
    for (const fd of fds.values()) kernel.closeFd(fd);
  }
}

/** A socket that fails mid-run fails its line, as any other error of a line. */
class LineError extends Error {}

function runLines(lines: IpLine[], socket: NetlinkSocket, fds: Map<string, number>, strerror: (errno: number) => string): BatchOutcome {
  let seq = 0;
  const talk = (build: (seq: number) => Uint8Array): Answer & { reply: Uint8Array } => {
    let reply: Uint8Array;
    try {
      reply = socket.talk(build(++seq));
    } catch (err) {
      throw new LineError(`netlink: ${(err as Error).message}`);
    }
    return { ...answerOf(reply), reply };
  };
  const failed = (a: Answer): string =>
    a.message !== "" ? `Error: ${a.message}${a.message.endsWith(".") ? "" : "."}` : `RTNETLINK answers: ${strerror(-a.error)}`;
  const noDevice = (name: string): string => `Cannot find device "${name}"`;
  /** The index of a link, or the line's error. */
  const indexOf = (name: string, missing: string): number | string => {
    const a = talk((s) => getLink(s, name));
    if (a.error === -ENODEV) return missing;
    return a.error !== 0 ? failed(a) : linkIndex(a.reply);
  };
  const runLine = (line: IpLine): string | undefined => {
    switch (line.op) {
      case "veth": {
        const fd = line.peer.netns === undefined ? undefined : fds.get(line.peer.netns);
        const a = talk((s) => newVeth(s, { ...line, peer: { ...line.peer, ...(fd === undefined ? {} : { netnsFd: fd }) } }));
        return a.error === 0 ? undefined : failed(a);
      }
      case "set": {
        let masterIndex: number | undefined;
        if (line.master !== undefined) {
          const m = indexOf(line.master, `Error: argument "${line.master}" is wrong: Device does not exist`);
          if (typeof m === "string") return m;
          masterIndex = m;
        }
        const a = talk((s) => setLink(s, { ...line, ...(masterIndex === undefined ? {} : { masterIndex }) }));
        return a.error === 0 ? undefined : a.error === -ENODEV ? noDevice(line.name) : failed(a);
      }
      case "del":
      case "del-group": {
        const a = talk((s) => deleteLink(s, line.op === "del" ? { name: line.name } : { group: line.group }));
        return a.error === 0 ? undefined : a.error === -ENODEV && line.op === "del" ? noDevice(line.name) : failed(a);
      }
      case "addr":
      case "route": {
        const index = indexOf(line.dev, noDevice(line.dev));
        if (typeof index === "string") return index;
        const a = talk((s) => (line.op === "addr" ? newAddress(s, { ...line, index }) : newDefaultRoute(s, { ...line, index })));
        return a.error === 0 ? undefined : failed(a);
      }
    }
  };
  let stderr = "";
  lines.forEach((line, i) => {
    let error: string | undefined;
    try {
      error = runLine(line);
    } catch (err) {
      if (!(err instanceof LineError)) throw err;
      error = err.message;
    }
    if (error !== undefined) stderr += `${error}\nCommand failed -:${i + 1}\n`;
  });
  return { code: stderr === "" ? 0 : 1, stderr };
}
