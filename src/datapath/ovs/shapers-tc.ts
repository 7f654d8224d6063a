// The side effects of endpoints' tbf shapers on the OVS datapath (shapers.ts decides): reads the root qdiscs
// (`tc -json qdisc show` of the bridge sides' namespace every run, and in a container's namespace its interface's
// where this process does not know it) and carries out shaperStep()'s steps through the process seam; and the
// bridge's linux-noop QoS row that keeps ovs-vswitchd off the ports' qdiscs. sync() is idempotent: what is already
// right is only read, so a second run, or a restarted agent, changes nothing.

import type { DatapathChange, DatapathError } from "../driver.js";
import { parseQdiscs } from "../linux/parse.js";
import type { Shaper } from "../linux/state.js";
import type { Executor } from "../../lib/process.js";
import { NOOP_QOS_KEY, shaperLabel, shaperStep, type EndpointShapers, type QdiscStep } from "./shapers.js";

export interface OvsShapersOptions {
  /** Named namespace standing in for the agent's own (tests): the bridge sides of the veths live there. */
  hostNamespace?: string;
  /** ovs-vsctl with the driver's database. */
  vsctl: (args: string[]) => Promise<string>;
}

type Change = (action: DatapathChange["action"], object: string) => void;
type Fail = (owner: DatapathError["owner"], objects: string[], err: unknown) => void;

/** Container sides read at once, at most. */
const CONCURRENCY = 8;

const same = (a: Shaper | null, b: Shaper | null) => (a === null || b === null ? a === b : a.rateBytes === b.rateBytes && a.burstBytes === b.burstBytes);

export class OvsShapers {
  /**
   * Per port: the container-side shaper this process last made or found right. A run that is not full trusts it
   * (the container side is not read when the wanted one is the same); a full run reads every container side.
   */
  private readonly containerSides = new Map<string, Shaper | null>();
  /** The bridge's linux-noop QoS row (its _uuid), once found or made. */
  private noopQos: string | undefined;

  constructor(
    private readonly executor: Executor,
    private readonly o: OvsShapersOptions,
  ) {}

  /**
   * A port's veth was just made: its container side has the kernel's own root qdisc, no shaper, so a run wants one
   * there only to make it (without reading it first, one process per new container fewer).
   */
  madeAnew(port: string): void {
    this.containerSides.set(port, null);
  }

  private tcHost(args: string[]): Promise<string> {
    return this.executor.run(["tc", ...(this.o.hostNamespace === undefined ? [] : ["-n", this.o.hostNamespace]), ...args]);
  }

  private tcIn(netns: string, args: string[]): Promise<string> {
    return this.executor.run(["nsenter", `--net=${netns}`, "tc", ...args]);
  }

  /**
   * Brings the root qdiscs of `ports` (every endpoint port of the bridge that has an OpenFlow number) to their
   * shapers. Returns the ports whose shaper could not be made where they had none: they must get no flows, so
   * nothing of them passes unlimited (the next run tries again). A shaper that could not be changed keeps its old
   * limit; one that could not be removed stays.
   */
  async sync(ports: readonly EndpointShapers[], full: boolean, change: Change, fail: Fail): Promise<Set<string>> {
    const failed = new Set<string>();
    const owner = (s: EndpointShapers) => ({ tenant: s.port.tenant, network: s.port.endpoint.network, endpoint: s.port.endpoint.id });
    const apply = async (s: EndpointShapers, dev: string, step: QdiscStep, run: (args: string[]) => Promise<string>, wanted: Shaper | null) => {
      try {
        await run(step.args);
        change(step.action, shaperLabel(dev, step.action === "delete" ? null : wanted));
        return true;
      } catch (err) {
        fail(owner(s), [shaperLabel(dev, null)], err);
        if (step.action === "create") failed.add(s.port.name);
        return false;
      }
    };

    // What the containers receive: the bridge sides' root qdiscs, all read at once.
    if (ports.length > 0) {
      const argv = ["-json", "qdisc", "show"];
      let roots: Map<string, ReturnType<typeof parseQdiscs>[number]> | undefined;
      try {
        roots = new Map(parseQdiscs(await this.tcHost(argv), ["tc", ...argv]).filter((q) => q.root).map((q) => [q.dev, q]));
      } catch (err) {
        fail({}, ["qdiscs of the bridge's ports"], err);
        for (const s of ports.filter((s) => s.bridgeSide !== null)) failed.add(s.port.name);
      }
      for (const s of roots === undefined ? [] : ports) {
        const step = shaperStep(s.port.name, roots!.get(s.port.name), s.bridgeSide);
        if (step !== null) await apply(s, s.port.name, step, (args) => this.tcHost(args), s.bridgeSide);
      }
    }

    // What they send: the container's interface, in its namespace, where the container side is ours.
    const wantedNames = new Set(ports.map((s) => s.port.name));
    for (const name of [...this.containerSides.keys()]) if (!wantedNames.has(name)) this.containerSides.delete(name);
    const toRead = ports.filter(
      (s) => s.containerSide !== undefined && (full || !this.containerSides.has(s.port.name) || !same(this.containerSides.get(s.port.name)!, s.containerSide)),
    );
    const one = async (s: EndpointShapers) => {
      const { netns, ifname } = s.port.endpoint;
      const wanted = s.containerSide!;
      this.containerSides.delete(s.port.name);
      // Unfiltered: tc's JSON names no device when asked for one.
      const argv = ["-json", "qdisc", "show"];
      let step: QdiscStep | null;
      try {
        const root = parseQdiscs(await this.tcIn(netns, argv), ["nsenter", `--net=${netns}`, "tc", ...argv]).find((q) => q.dev === ifname && q.root);
        step = shaperStep(ifname, root, wanted);
      } catch (err) {
        fail(owner(s), [`qdiscs of ${ifname} in ${netns}`], err);
        if (wanted !== null) failed.add(s.port.name);
        return;
      }
      if (step === null || (await apply(s, `${ifname} in ${netns}`, step, (args) => this.tcIn(netns, args), wanted))) {
        this.containerSides.set(s.port.name, wanted);
      }
    };
    for (let i = 0; i < toRead.length; i += CONCURRENCY) await Promise.all(toRead.slice(i, i + CONCURRENCY).map(one));
    return failed;
  }

  /**
   * The _uuid of the bridge's QoS row of type linux-noop (NOOP_QOS_KEY), made when missing: what every endpoint
   * port's `qos` references, so ovs-vswitchd never deletes a port's root qdisc (it does, for one it does not know,
   * whenever it opens the port: on every start). Idempotent; the row is found again by a restarted agent.
   */
  async noopQosOf(bridge: string): Promise<string> {
    if (this.noopQos !== undefined) return this.noopQos;
    const found = (await this.o.vsctl(["--bare", "--columns=_uuid", "find", "qos", `external_ids:${NOOP_QOS_KEY}=${bridge}`])).split("\n").filter(Boolean);
    this.noopQos = found[0] ?? (await this.o.vsctl(["create", "qos", "type=linux-noop", `external_ids:${NOOP_QOS_KEY}=${bridge}`])).trim();
    return this.noopQos;
  }

  /**
   * Every port of `names` (endpoint ports of `bridge`) references the bridge's linux-noop QoS: those that do not
   * (made by an earlier version, or changed behind our back) are set. For full runs: one ovs-vsctl read.
   */
  async ensureNoopQos(bridge: string, names: readonly string[], change: Change, fail: Fail): Promise<void> {
    if (names.length === 0) return;
    try {
      const uuid = await this.noopQosOf(bridge);
      const doc = JSON.parse(await this.o.vsctl(["--format=json", "--columns=name,qos", "list", "Port", ...names])) as { headings: string[]; data: unknown[][] };
      const [name, qos] = [doc.headings.indexOf("name"), doc.headings.indexOf("qos")];
      for (const row of doc.data) {
        const cell = row[qos] as [string, unknown];
        if (cell[0] === "uuid" && cell[1] === uuid) continue;
        await this.o.vsctl(["set", "port", String(row[name]), `qos=${uuid}`]);
        change("update", `qos of port ${String(row[name])} (linux-noop)`);
      }
    } catch (err) {
      this.noopQos = undefined;
      fail({}, [`qos of the ports of ${bridge}`], err);
    }
  }

  /** Forgets the QoS row (a port could not be added: the row may be gone behind our back). */
  forgetNoopQos(): void {
    this.noopQos = undefined;
  }

  /** Removes the bridge's QoS rows (after the bridge and its ports: a row still referenced cannot go). */
  async removeNoopQos(bridge: string): Promise<string[]> {
    this.noopQos = undefined;
    const rows = (await this.o.vsctl(["--bare", "--columns=_uuid", "find", "qos", `external_ids:${NOOP_QOS_KEY}=${bridge}`])).split("\n").filter(Boolean);
    for (const uuid of rows) await this.o.vsctl(["--if-exists", "destroy", "qos", uuid]);
    return rows.map((uuid) => `qos ${uuid}`);
  }
}
