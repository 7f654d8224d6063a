// Is a CNI_NETNS path a network namespace? Asked on every ADD and CHECK, so it costs a few system
// calls and never opens anything that is not a namespace file: a FIFO would block the open, a device
// file could act on it.
//
// statfs follows the path (also the magic /proc/<pid>/ns/net link) to the file system it ends on: nsfs
// for a namespace, bind-mounted or not. nsfs holds every kind of namespace, so the file is then opened
// and /proc/self/fd/<fd> read back: the kernel names an open namespace reached through /proc
// "<kind>:[<inode>]", which tells /proc/<pid>/ns/mnt from .../net. A bind mount (/run/netns/<name>)
// reads back as its own path and passes on nsfs alone: only an ioctl (NS_GET_NSTYPE), which Node
// lacks, or a read of /proc/self/mountinfo, too slow for every ADD, would tell its kind.

import { closeSync, constants, openSync, readlinkSync, statfsSync, statSync } from "node:fs";

/** f_type of nsfs (linux/magic.h). */
const NSFS_MAGIC = 0x6e736673;

export interface NetnsProblem {
  /** Nothing at the path: on CHECK the container is gone. */
  missing: boolean;
  /** What the path is instead, to follow it in a message. */
  message: string;
}

/** Why `path` is not a network namespace, or undefined when it is one. */
export function netnsProblem(path: string): NetnsProblem | undefined {
  let type: number;
  try {
    type = statfsSync(path).type;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") return { missing: true, message: "does not exist" };
    // The code, not the message: the message repeats the path, which may be long.
    return { missing: false, message: `cannot be read: ${code ?? "error"}` };
  }
  if (type !== NSFS_MAGIC) return { missing: false, message: `is ${fileKind(path)}, not a network namespace` };
  let fd: number | undefined;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
    const kind = /^(\w+):\[\d+\]$/.exec(readlinkSync(`/proc/self/fd/${fd}`))?.[1];
    if (kind !== undefined && kind !== "net") return { missing: false, message: `is a ${kind} namespace, not a network namespace` };
    return undefined;
  } catch (err) {
    return { missing: false, message: `cannot be read: ${(err as NodeJS.ErrnoException).code ?? "error"}` };
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

function fileKind(path: string): string {
  try {
    const st = statSync(path);
    if (st.isDirectory()) return "a directory";
    if (st.isFile()) return "a regular file";
    if (st.isFIFO()) return "a FIFO";
    if (st.isSocket()) return "a socket";
    if (st.isCharacterDevice() || st.isBlockDevice()) return "a device";
    return "another kind of file";
  } catch {
    return "unreadable";
  }
}
