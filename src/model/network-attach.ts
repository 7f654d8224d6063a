// How a network's containers are attached on a host, and which combinations of fields cannot work.

/** bridge: veth on the network's bridge (default). macvlan / ipvlan (L2): an interface on a host interface, on
 * the host's segment. host-device: a whole host interface (a NIC, an SR-IOV VF) moved into the container. */
export const ATTACH_MODES = ["bridge", "macvlan", "ipvlan", "host-device"] as const;
export type AttachMode = (typeof ATTACH_MODES)[number];

/** A Linux interface name: 1-15 characters, none of them "/", ":" or white space. */
export const IFNAME = /^[A-Za-z0-9_.-]{1,15}$/;

interface AttachFields {
  attachMode?: AttachMode | undefined;
  encap: string;
  uplinkIf?: string | undefined;
  device?: string | undefined;
}

/**
 * Combinations refused up front, each with the field it concerns: the datapath could only fail later, on
 * every host. A direct attachment puts containers on the host's own segment, so there is no overlay to
 * carry (encap must be vlan: the segment is the VLAN), and each mode takes only its own interface field.
 */
export function attachProblems(net: AttachFields): { path: string; message: string }[] {
  const mode = net.attachMode ?? "bridge";
  const out: { path: string; message: string }[] = [];
  if (mode !== "bridge" && net.encap === "vxlan") {
    out.push({
      path: "attachMode",
      message: `attachMode ${mode} cannot carry encap vxlan: its containers sit on the host's segment, with no overlay; use encap vlan`,
    });
  }
  if (net.uplinkIf !== undefined && mode !== "macvlan" && mode !== "ipvlan") {
    out.push({ path: "uplinkIf", message: `uplinkIf is for attachMode macvlan or ipvlan, not ${mode}` });
  }
  if (net.device !== undefined && mode !== "host-device") {
    out.push({ path: "device", message: `device is for attachMode host-device, not ${mode}` });
  }
  return out;
}
