// The MTU containers get: in a cluster, the MTU of the interface holding this
// host's VTEP address minus the VXLAN encapsulation (50 bytes over IPv4).

import { z } from "zod";
import type { Executor } from "../lib/process.js";

export const VXLAN_OVERHEAD = 50;
const DEFAULT_MTU = 1500;

const IpAddrJson = z.array(
  z.object({ ifname: z.string(), mtu: z.number().int(), addr_info: z.array(z.object({ local: z.string().optional() })).default([]) }),
);

export async function detectMtu(executor: Executor, vtepIP: string): Promise<number> {
  if (!vtepIP) return DEFAULT_MTU;
  const links = IpAddrJson.parse(JSON.parse(await executor.run(["ip", "-j", "addr", "show"])));
  const link = links.find((l) => l.addr_info.some((a) => a.local === vtepIP));
  if (!link) throw new Error(`No interface holds the VTEP address ${vtepIP}: give --vtep-ip an address of this host`);
  return link.mtu - VXLAN_OVERHEAD;
}
