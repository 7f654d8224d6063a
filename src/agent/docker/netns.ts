// dockerd's network namespace, and how a veth's container side is handed to dockerd there.
//
// libnetwork's Join answers only a name (SrcName): dockerd looks that link up
// in its *own* network namespace, moves it into the container's sandbox,
// renames it (DstPrefix + an index only dockerd knows: eth0, eth1, …) and sets
// its addresses, MAC and routes; Leave moves it back, named SrcName again, and
// DeleteEndpoint follows. So the container side is dockerd's from the moment
// it exists: Docker's attachments say so (Attachment.containerSide "runtime",
// desired.ts), and the datapath makes the pair with the container end in
// dockerd's namespace as SrcName, down, when the host side is missing, and
// otherwise manages the host side alone, never reading the container side.
//
// That makes the hand-over race-free without a lock: Join waits for a
// reconcile run that makes the pair, then answers; whatever dockerd does with
// the container end afterwards is invisible to later runs, which see the host
// side still there and leave the pair alone. (The staging namespace and the
// move under a lock that this replaced existed because the datapath used to
// check, and re-create, every container side it did not find where it was.)
// DeleteEndpoint deletes the host side, which takes the container end along
// wherever it is. A pair that vanished with its sandbox (no Leave: dockerd
// gone) is made again where dockerd takes new ones, until dockerd's
// DeleteEndpoint or sync.ts's collection of forgotten endpoints (on unless
// --no-docker-sync) removes it.

import type { Executor } from "../../lib/process.js";

/** dockerd's network namespace: where container sides are made, and where its routes are read. */
export class DockerNetns {
  constructor(
    private readonly executor: Executor,
    /** The namespace, as a path. */
    readonly path: string,
  ) {}

  /** Runs a command in dockerd's namespace. */
  run(argv: string[]): Promise<string> {
    return this.executor.run(["nsenter", `--net=${this.path}`, ...argv]);
  }
}
