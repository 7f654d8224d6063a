// ovs-vswitchd caches its translations of our OpenFlow tables as datapath flows, and is meant to revalidate
// them when the tables change. On the userspace datapath (OVS 3.1) a flow of the policy before a change has been
// seen to outlive it: in the trace e2e a connection the new policy allows timed out three times over 3 s after
// the agent had applied it, while `dpctl/dump-flows` showed the old policy's drop flow still taking its packets
// (and the tables said allow). So after each change of our flows the agent purges the datapath's flows
// (`revalidator/purge`): the next packet of each is translated with the tables as they now are. Established
// connections pay one upcall each; a policy change holds for the very next packet, as nft's does.

import { existsSync, readFileSync } from "node:fs";
import path from "node:path";

/**
 * ovs-appctl's target for the ovs-vswitchd whose sockets are in `rundir`: its own `--unixctl` socket
 * `ovs-vswitchd.ctl` where there is one (a private instance), else the default `ovs-vswitchd.<pid>.ctl` named by
 * its pid file (Debian's). Throws when neither is there.
 */
export function vswitchdControl(rundir: string): string {
  const own = path.join(rundir, "ovs-vswitchd.ctl");
  if (existsSync(own)) return own;
  const pidFile = path.join(rundir, "ovs-vswitchd.pid");
  const pid = existsSync(pidFile) ? readFileSync(pidFile, "utf8").trim() : "";
  if (!/^\d+$/.test(pid)) throw new Error(`Cannot find ovs-vswitchd's control socket in ${rundir}: no ovs-vswitchd.ctl, no pid in ovs-vswitchd.pid`);
  return path.join(rundir, `ovs-vswitchd.${pid}.ctl`);
}
