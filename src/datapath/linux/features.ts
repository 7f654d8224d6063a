// Start-up probe: builds one of everything the driver uses inside a throw-away namespace
// ("<prefix>-probe", removed again, and by cleanup(prefix) if the agent dies meanwhile) and
// names the first feature the kernel or the tools lack, instead of failing later mid-plan.

import { UpstreamError } from "../../lib/errors.js";
import { ProcessError, type Executor } from "../../lib/process.js";
import { CONNTRACK_BATCH } from "./tools.js";

interface Check {
  feature: string;
  argv: string[];
  netns?: boolean;
  stdin?: string;
}

function checks(ns: string): Check[] {
  const ip = (...args: string[]): string[] => ["ip", "-n", ns, ...args];
  const tc = (...args: string[]): string[] => ["tc", "-n", ns, ...args];
  const bridge = (...args: string[]): string[] => ["bridge", "-n", ns, ...args];
  return [
    { feature: "bridge devices with an IGMP/MLD querier", argv: ip("link", "add", "nbprobe", "type", "bridge", "mcast_snooping", "1", "mcast_querier", "1") },
    { feature: "veth devices", argv: ip("link", "add", "neprobe", "type", "veth", "peer", "name", "neprobe2") },
    { feature: "ifb devices", argv: ip("link", "add", "niprobe", "type", "ifb") },
    { feature: "tc tbf qdisc", argv: tc("qdisc", "add", "dev", "neprobe", "root", "handle", "1:", "tbf", "rate", "8mbit", "burst", "10kb", "latency", "50ms") },
    // Offload features of the veths and VXLAN devices are read and set this way (offloads.ts).
    { feature: "ethtool -K (Debian package ethtool)", argv: ["ethtool", "-K", "neprobe", "gso", "on"], netns: true },
    { feature: "tc ingress qdisc", argv: tc("qdisc", "add", "dev", "neprobe", "handle", "ffff:", "ingress") },
    {
      feature: "tc u32 filter with mirred action",
      argv: tc("filter", "add", "dev", "neprobe", "parent", "ffff:", "protocol", "all", "prio", "1", "u32", "match", "u32", "0", "0", "action", "mirred", "egress", "redirect", "dev", "niprobe"),
    },
    { feature: "br_netfilter (net.bridge.bridge-nf-call-iptables)", argv: ["sysctl", "-w", "net.bridge.bridge-nf-call-iptables=1"], netns: true },
    { feature: "nftables inet family", argv: ["nft", "-f", "-"], netns: true, stdin: "table inet netplugin_probe {\n  chain forward { type filter hook forward priority 0; policy accept; ct state established accept; }\n}\n" },
    { feature: "nsenter --net", argv: ["nsenter", `--net=/var/run/netns/${ns}`, "ip", "link", "show", "lo"] },
    {
      feature: "vxlan devices",
      argv: ip("link", "add", "nvprobe", "type", "vxlan", "id", "1", "local", "198.18.0.1", "dstport", "4789", "nolearning", "proxy", "ttl", "64"),
    },
    { feature: "vxlan as a bridge port", argv: ip("link", "set", "nvprobe", "master", "nbprobe") },
    { feature: "bridge port flags learning, mcast_router", argv: ip("link", "set", "nvprobe", "type", "bridge_slave", "learning", "off", "mcast_router", "2") },
    { feature: "bridge port flag hairpin", argv: ip("link", "set", "nvprobe", "type", "bridge_slave", "hairpin", "on") },
    { feature: "vxlan FDB entries (bridge fdb … self)", argv: bridge("fdb", "append", "00:00:00:00:00:00", "dev", "nvprobe", "dst", "198.18.0.2", "self", "permanent") },
    { feature: "bridge FDB entries (bridge fdb … master static)", argv: bridge("fdb", "replace", "02:00:00:00:00:01", "dev", "nvprobe", "master", "static") },
    { feature: "permanent neighbours on a vxlan device", argv: ip("neigh", "replace", "198.18.0.3", "lladdr", "02:00:00:00:00:01", "dev", "nvprobe", "nud", "permanent") },
    {
      feature: "nftables ip nat (masquerade) with table comments",
      argv: ["nft", "-f", "-"],
      netns: true,
      stdin: 'table ip netplugin_probe {\n  comment "netplugin:0"\n  chain postrouting { type nat hook postrouting priority srcnat; policy accept; oifname "nvprobe" masquerade; }\n}\n',
    },
    {
      feature: "nftables inet nat with numgen maps, fib and reject (service load balancers)",
      argv: ["nft", "-f", "-"],
      netns: true,
      stdin: [
        "table inet netplugin_probe_lb {",
        "  chain prerouting { type nat hook prerouting priority dstnat; policy accept; meta nfproto ipv4 meta l4proto tcp fib daddr type != local dnat ip to numgen random mod 2 map { 0 : 198.18.0.1 . 80, 1 : 198.18.0.2 . 80 }; }",
        "  chain input { type filter hook input priority filter + 1; policy accept; ct status dnat accept; meta l4proto tcp reject with tcp reset; }",
        "}",
        "",
      ].join("\n"),
    },
    {
      // Entries of providers that left a service are deleted this way (diffServices.ts); none match here.
      feature: "conntrack -R with -D filters (Debian package conntrack)",
      argv: CONNTRACK_BATCH,
      netns: true,
      stdin: [
        "-D -p udp --orig-dst 198.18.0.1 --orig-port-dst 80 --reply-src 198.18.0.2 --reply-port-src 80",
        "-D -p tcp --orig-dst fd00::1 --orig-port-dst 80 --reply-src fd00::2 --reply-port-src 80 --state SYN_SENT",
        "",
      ].join("\n"),
    },
  ];
}

/**
 * Checks that this machine can run the driver. Resolves when it can; throws UpstreamError naming the
 * missing feature (with the tool's error as cause) when it cannot. Leaves nothing behind.
 */
export async function probeFeatures(executor: Executor, prefix: string): Promise<void> {
  const ns = `${prefix}-probe`;
  await executor.run(["ip", "netns", "del", ns]).catch(() => undefined);
  try {
    await executor.run(["ip", "netns", "add", ns]);
  } catch (error) {
    throw new UpstreamError(`Cannot use the Linux datapath: network namespaces are not available`, { cause: error });
  }
  try {
    for (const check of checks(ns)) {
      try {
        await executor.run(check.argv, { ...(check.netns === true ? { netns: ns } : {}), ...(check.stdin === undefined ? {} : { stdin: check.stdin }) });
      } catch (error) {
        const detail = error instanceof ProcessError ? `: ${error.stderr.trim().split("\n")[0] ?? ""}` : "";
        throw new UpstreamError(`Cannot use the Linux datapath: ${check.feature} not available${detail}`, { cause: error });
      }
    }
  } finally {
    await executor.run(["ip", "netns", "del", ns]).catch(() => undefined);
  }
}
