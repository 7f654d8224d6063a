// SR-IOV virtual functions found through sysfs, for host-device attachments: a VF is a host interface like
// any other once its driver has made its netdev, so attach.ts moves it as it moves a whole NIC; a physical
// function with VFs it refuses to move (down and gone from the host, it would take the VFs' uplink with it).
// These machines have no SR-IOV hardware; the unit tests read a sysfs tree they write.

import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";

export interface HostDeviceInfo {
  name: string;
  /** An SR-IOV virtual function: the physical function's interface name ("" when its netdev is not visible). */
  physfn?: string;
  /** A physical function: its VFs' interface names (VFs without a netdev left out), in VF order. */
  virtfns?: string[];
}

/** What sysfs says of a host interface. Reads the agent's own namespace's view (/sys/class/net). */
export function describeHostDevice(name: string, sysfs = "/sys"): HostDeviceInfo {
  const device = join(sysfs, "class", "net", name, "device");
  const info: HostDeviceInfo = { name };
  if (existsSync(join(device, "physfn"))) info.physfn = firstNetdev(join(device, "physfn"));
  const vfs = listDir(device)
    .filter((e) => /^virtfn\d+$/.test(e))
    .sort((a, b) => Number(a.slice(6)) - Number(b.slice(6)))
    .map((e) => firstNetdev(join(device, e)))
    .filter((n) => n !== "");
  if (vfs.length > 0) info.virtfns = vfs;
  return info;
}

function firstNetdev(pciDir: string): string {
  return listDir(join(pciDir, "net")).sort()[0] ?? "";
}

function listDir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}
