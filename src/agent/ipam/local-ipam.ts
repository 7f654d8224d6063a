// Addresses this host assigns itself: netmaster grants the host blocks of a network's IPv4 addresses
// (master/blocks.ts; they reach the host on its state stream), and an ADD takes a free one without asking
// netmaster, which learns the endpoint right after from an outbox of registrations and deletions sent in order.
// While netmaster is unreachable the outbox waits and ADDs go on for networks the host has blocks of.
//
// No address is ever given twice: an address is free only when no entry of the ledger holds it and netmaster's
// record of the block does not name an endpoint for it; an entry is written (state file, replaced atomically)
// before the address is plumbed, and goes only when the ADD failed before netmaster was told, or netmaster
// confirmed the endpoint's deletion. After a crash, an entry still `plumbing` is dropped when its ADD left no
// attachment and registered when it did; one netmaster was told of is deleted there when no attachment holds it.
//
// Docker asks in two steps (libnetwork: IPAM RequestAddress, then the driver's CreateEndpoint; on the way out
// DeleteEndpoint, then ReleaseAddress), as netmaster's Docker reservations model it (master/docker/index.ts):
// `reserve` takes an address for Docker's IPAM until `unreserve`, `adopt` makes the endpoint of a reserved
// address, and Join `register`s it through the same outbox once it is plumbed (not at CreateEndpoint: netmaster's
// commit and the state stream's echo would compete with Join's plumbing for the host's CPUs). An
// endpoint adopted but never joined is held by Docker's record of it: registered after a crash, and removed by
// DeleteEndpoint without netmaster. An address is free only when neither a reservation nor an entry
// holds it, so between DeleteEndpoint and ReleaseAddress nobody else gets it, and a late ReleaseAddress frees
// nothing an endpoint still holds.

import { join } from "node:path";
import type { Logger } from "pino";
import { z } from "zod";
import type { BlockReply, UnitFailure } from "../../contract/api.js";
import { BLOCK_PREFIX, blockPrefix } from "../../contract/keys.js";
import { EndpointRecord, type AddressBlock, type EndpointState } from "../../contract/records.js";
import { ConflictError, NotFoundError, UpstreamError, ValidationError } from "../../lib/errors.js";
import { parseIpv4 } from "../../lib/ipv4.js";
import { readStateFile, writeStateFile } from "../../lib/state-file.js";
import type { AttachmentStore } from "../attachments.js";
import { sleep, type CreateEndpointRequest, type MasterClient } from "../master-client.js";
import type { StateView } from "../pipeline/compile.js";
import type { BlockEndpoint } from "./local-endpoint.js";

const Entry = z.object({
  address: z.string(),
  /** The network's key, tenant:network. */
  network: z.string(),
  /** The block's CIDR. */
  cidr: z.string(),
  endpointId: z.string(),
  /**
   * plumbing: its ADD runs, netmaster has not been told; queued: its registration waits in the outbox;
   * registered: netmaster has it; deleting: its deletion waits in the outbox; refused: netmaster refused it.
   */
  state: z.enum(["plumbing", "queued", "registered", "deleting", "refused"]),
  /** Outbox order. */
  seq: z.number().int(),
  endpoint: EndpointRecord,
  request: z.record(z.string(), z.unknown()),
  error: z.string().optional(),
});
type Entry = z.infer<typeof Entry>;

/** An address Docker's IPAM was given (RequestAddress) until it gives it back (ReleaseAddress). */
const Reservation = z.object({
  address: z.string(),
  /** The network's key, tenant:network. */
  network: z.string(),
  /** The block's CIDR. */
  cidr: z.string(),
  /** Docker's pool id. */
  poolId: z.string(),
});
type Reservation = z.infer<typeof Reservation>;

const FileFormat = z.object({ version: z.literal(1), seq: z.number().int(), entries: z.array(Entry), reserved: z.array(Reservation).default([]) });

/** Netmaster granted no block (none free, or the network takes none): the ADD goes through netmaster. */
export class NoBlock extends Error {
  override name = "NoBlock";
}

export interface LocalIpamDeps {
  host: string;
  stateDir: string;
  view: StateView & { waitForRevision(revision: number, timeoutMs: number): Promise<void> };
  master: MasterClient;
  /** Endpoints the reconciler plumbs before the state stream shows them (agent.ts). */
  pending: Map<string, EndpointState>;
  attachments: AttachmentStore;
  /** Endpoints held on this host without an attachment (Docker's, between CreateEndpoint and Join). */
  holds?: (endpointId: string) => boolean;
  /** How long a block stays empty before it goes back to netmaster. */
  idleReleaseMs: number;
  log: Logger;
}

/** How long an ADD tries netmaster for a block before it gives up (netmaster down: fail fast, not after 15 s). */
const GRANT_TRY_MS = 2_000;
const SWEEP_MS = 30_000;
const MAX_GRANTS_PER_ADD = 4;
/** The outbox retries by itself: a request to an unreachable netmaster fails at once rather than after 15 s. */
const ONE_TRY = { retryForMs: 0 };
/** Registrations and deletions sent at once. */
const MAX_IN_FLIGHT = 8;
/** How long a send's outcome may wait to be written with others' (saveSoon). */
const SAVE_SOON_MS = 200;

function byAddress(a: string, b: string): number {
  return parseIpv4(a) - parseIpv4(b);
}

export class LocalIpam {
  /** By address. */
  private readonly entries = new Map<string, Entry>();
  /** Docker's reservations, by address. */
  private readonly reserved = new Map<string, Reservation>();
  private seq = 0;
  private readonly file: string;
  /** Addresses asked for through netmaster, on their way (hold), with how many asks. */
  private readonly held = new Map<string, number>();
  /** Network key → a block grant in flight. */
  private readonly grants = new Map<string, Promise<void>>();
  /** network|cidr of blocks being given back: no address is taken from them meanwhile. */
  private readonly releasing = new Set<string>();
  private readonly emptySince = new Map<string, number>();
  /** Outbox entries being sent, by address. */
  private readonly inFlight = new Set<string>();
  /** Failed sends in a row, and when the outbox is tried again after them. */
  private failedSends = 0;
  private retry: NodeJS.Timeout | undefined;
  /** Counts flushes: a send that fails after a flush came is tried again at once (netmaster may be back). */
  private flushes = 0;
  /** Waiting for an entry's next send to settle (delivered or failed), by address. */
  private readonly settled = new Map<string, (() => void)[]>();
  private timer: NodeJS.Timeout | undefined;
  /** A saveSoon waiting. */
  private soon: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(private readonly d: LocalIpamDeps) {
    this.file = join(d.stateDir, "local-ipam.json");
    const saved = readStateFile(this.file, FileFormat);
    this.seq = saved?.seq ?? 0;
    for (const r of saved?.reserved ?? []) this.reserved.set(r.address, r);
    for (const e of saved?.entries ?? []) {
      const attached = this.isHeld(e.endpointId);
      if (e.state === "plumbing") {
        // Cut short by a crash before netmaster was told: registered when it was plumbed (its runtime may DEL
        // it), else never given.
        if (!attached) continue;
        Object.assign(e, { state: "queued", seq: ++this.seq });
      } else if (!attached && e.state !== "deleting") {
        // Cut short after netmaster was told, before the plumbing (or its attachment gone with the agent down).
        Object.assign(e, { state: "deleting", seq: ++this.seq });
      }
      this.entries.set(e.address, e);
      if (e.state === "queued" || e.state === "refused") d.pending.set(e.endpointId, e.endpoint);
    }
    this.save();
  }

  /** Starts the outbox and the sweeps; call once the state is followed. */
  start(): void {
    clearInterval(this.timer);
    this.timer = setInterval(() => this.sweep(), Math.min(SWEEP_MS, this.d.idleReleaseMs));
    this.timer.unref();
    this.flush();
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.timer);
    clearTimeout(this.retry);
    clearTimeout(this.soon);
  }

  /**
   * Takes a free address of the host's blocks of the network for the endpoint `build` makes of it (asking
   * netmaster for a block when none has room), recorded before it is returned. `build` returns undefined when
   * the endpoint cannot be made here after all. Throws NoBlock when netmaster grants none.
   */
  assign(networkKey: string, build: (address: string) => BlockEndpoint | undefined): Promise<BlockEndpoint | undefined> {
    return this.takeFree(networkKey, (free) => this.record(networkKey, free, build));
  }

  private record(networkKey: string, free: { address: string; block: AddressBlock }, build: (address: string) => BlockEndpoint | undefined): BlockEndpoint | undefined {
    const made = build(free.address);
    if (!made) return undefined;
    // Not written yet: the ADD registers the endpoint (which writes it) before it plumbs anything, so a crash
    // before that leaves nothing to undo, and an ADD pays for one write, not two.
    this.plumbing(free.address, networkKey, free.block.cidr, made, false);
    this.topUp(networkKey, free.block);
    return made;
  }

  /**
   * `take`s a free address of the host's blocks, granted a block when none has room. `take` runs in the same
   * turn as the pick that found the address, so that no concurrent call picks it too.
   */
  private async takeFree<T>(networkKey: string, take: (free: { address: string; block: AddressBlock }) => T): Promise<T> {
    let free = this.pick(networkKey);
    // Concurrent ADDs may take a new block's addresses before this one does: another block then.
    for (let grants = 0; free === undefined; grants++) {
      if (grants === MAX_GRANTS_PER_ADD) throw new NoBlock(`no free address in this host's blocks of network ${networkKey}`);
      await this.grant(networkKey, GRANT_TRY_MS);
      free = this.pick(networkKey);
    }
    return take(free);
  }

  /** Few free addresses left: the next block is asked for in the background. */
  private topUp(networkKey: string, block: AddressBlock): void {
    if (this.freeCount(networkKey) <= lowWater(block)) void this.grant(networkKey).catch(() => undefined);
  }

  /**
   * Docker's RequestAddress: a free address of the host's blocks of the network (asking netmaster for a block
   * when none has room), or `wanted` when it is in one of them, reserved for the pool until `unreserve`.
   * Undefined when `wanted` is in none of the host's blocks (netmaster's to give). Throws NoBlock when netmaster
   * grants none, ConflictError when `wanted` is held already.
   */
  async reserve(networkKey: string, poolId: string, wanted = ""): Promise<string | undefined> {
    if (wanted !== "") {
      const block = this.blocks(networkKey).find((b) => b.addresses.includes(wanted));
      if (block === undefined) return undefined;
      if (!this.isFree(block, wanted)) throw new ConflictError(`Cannot request address ${wanted}: address ${wanted} is not available: it is in use on this host`);
      this.reserveFree(networkKey, poolId, { address: wanted, block });
      return wanted;
    }
    return this.takeFree(networkKey, (f) => (this.reserveFree(networkKey, poolId, f), f.address));
  }

  private reserveFree(networkKey: string, poolId: string, free: { address: string; block: AddressBlock }): void {
    this.reserved.set(free.address, { address: free.address, network: networkKey, cidr: free.block.cidr, poolId });
    this.save();
    this.topUp(networkKey, free.block);
  }

  /** The network of Docker's reservation of the address, if it is one. */
  reservation(address: string): string | undefined {
    return this.reserved.get(address)?.network;
  }

  /**
   * Docker's CreateEndpoint of a reserved address: the endpoint `build` makes holds it; netmaster is told when
   * Join calls `register`. Undefined (nothing changed) when the address is not reserved for the network, holds an
   * endpoint already, or `build` cannot make one here.
   */
  adopt(networkKey: string, address: string, build: (address: string) => BlockEndpoint | undefined): BlockEndpoint | undefined {
    const r = this.reserved.get(address);
    if (r?.network !== networkKey || this.entries.has(address)) return undefined;
    const made = build(address);
    if (!made) return undefined;
    this.plumbing(address, networkKey, r.cidr, made, true);
    return made;
  }

  /**
   * Docker's ReleaseAddress: the reservation goes (the address is free once no endpoint holds it either).
   * False when the address is not reserved for the pool here. Idempotent.
   */
  unreserve(poolId: string, address: string): boolean {
    if (this.reserved.get(address)?.poolId !== poolId) return false;
    this.reserved.delete(address);
    this.save();
    return true;
  }

  /** Docker's ReleasePool: the pool's reservations go with it. */
  releasePool(poolId: string): void {
    const before = this.reserved.size;
    for (const [address, r] of this.reserved) if (r.poolId === poolId) this.reserved.delete(address);
    if (this.reserved.size !== before) this.save();
  }

  /** The endpoint an entry of the blocks holds for its container (netmaster may not have it yet). */
  endpointOf(endpointId: string): EndpointState | undefined {
    return this.live(endpointId)?.endpoint;
  }

  /**
   * An address asked for by value through netmaster (which may assign it in one of this host's blocks) is
   * not taken here until the returned function is called, once the host's copy shows what netmaster did.
   */
  hold(address: string): () => void {
    this.held.set(address, (this.held.get(address) ?? 0) + 1);
    let done = false;
    return () => {
      if (done) return;
      done = true;
      const n = (this.held.get(address) ?? 1) - 1;
      if (n > 0) this.held.set(address, n);
      else this.held.delete(address);
    };
  }

  /** Records an address taken for an endpoint being plumbed; `save`: written now. */
  private plumbing(address: string, networkKey: string, cidr: string, made: BlockEndpoint, save: boolean): void {
    this.entries.set(address, {
      address,
      network: networkKey,
      cidr,
      endpointId: made.reply.endpoint.endpointID,
      state: "plumbing",
      seq: 0,
      endpoint: made.reply.endpoint,
      request: made.request as Record<string, unknown>,
    });
    if (save) this.save();
  }

  /** A network this host starts containers on: a block is asked for in the background when it has none. */
  warm(networkKey: string): void {
    if (this.blocks(networkKey).length === 0) void this.grant(networkKey).catch(() => undefined);
  }

  /** The ADD failed before netmaster was told (before `register`): the address is free again. */
  release(address: string): void {
    if (this.entries.get(address)?.state !== "plumbing") return;
    this.entries.delete(address);
    this.save();
  }

  /**
   * Netmaster is told of the endpoint now, while it is plumbed. `registered` waits for that; `remove` undoes
   * it when the plumbing fails.
   */
  register(address: string): void {
    const e = this.entries.get(address);
    if (e?.state !== "plumbing") return;
    e.state = "queued";
    e.seq = ++this.seq;
    this.save();
    this.flush();
  }

  /**
   * Resolves once netmaster has the endpoint, or a first try to tell it failed (it is unreachable: the outbox
   * goes on trying), or after `timeoutMs`: an ADD answers with netmaster knowing its endpoint whenever it can.
   */
  async registered(address: string, timeoutMs: number): Promise<void> {
    if (this.entries.get(address)?.state !== "queued") return;
    // Netmaster failed the last send, and the outbox waits before the next: no use waiting for it.
    if (this.waitsForRetry(address)) return;
    await Promise.race([this.nextSettle(address), sleep(timeoutMs)]);
  }

  /**
   * The endpoint's DEL, or a failed ADD's undoing: its deletion goes to netmaster through the outbox at once
   * (nothing goes when netmaster had not been told yet), without waiting for netmaster: its address stays
   * held here until netmaster has confirmed. False when the endpoint is not one of the blocks'.
   */
  remove(endpointId: string): boolean {
    const e = this.live(endpointId);
    if (!e) return false;
    this.d.pending.delete(endpointId);
    // Not told yet (a Docker endpoint never joined; a registration not sent): nothing to undo at netmaster.
    if (e.state === "plumbing" || (e.state === "queued" && !this.inFlight.has(e.address))) {
      this.entries.delete(e.address);
      this.save();
      return true;
    }
    e.state = "deleting";
    e.seq = ++this.seq;
    this.save();
    this.flush();
    return true;
  }

  /**
   * Resolves once netmaster has confirmed the deletion `remove` queued for the address (or was never told), or
   * netmaster is unreachable (the outbox keeps trying), or after `timeoutMs`: a failed ADD leaves nothing at
   * netmaster whenever it can.
   */
  async gone(address: string, timeoutMs: number): Promise<void> {
    const deleting = async () => {
      while (this.entries.get(address)?.state === "deleting" && !this.waitsForRetry(address)) await this.nextSettle(address);
    };
    await Promise.race([deleting(), sleep(timeoutMs)]);
  }

  /** Endpoints netmaster refused to register: they run here, unknown to the cluster. */
  failures(): UnitFailure[] {
    return [...this.entries.values()]
      .filter((e) => e.state === "refused")
      .map((e) => ({ tenant: e.endpoint.tenantName, network: e.endpoint.networkName, endpoint: e.endpointId, message: `netmaster refused the endpoint with block address ${e.address}: ${e.error ?? ""}` }));
  }

  /** Something on this host holds the endpoint: its attachment, or Docker's record of it. */
  private isHeld(endpointId: string): boolean {
    return this.d.attachments.byEndpoint(endpointId) !== undefined || this.d.holds?.(endpointId) === true;
  }

  /** The host's blocks of the network, by address. */
  private blocks(networkKey: string): AddressBlock[] {
    return this.d.view
      .list<AddressBlock>(blockPrefix(networkKey))
      .map(([, b]) => b)
      .filter((b) => b.host === this.d.host && !this.releasing.has(`${networkKey}|${b.cidr}`))
      .sort((a, b) => byAddress(a.cidr.split("/")[0]!, b.cidr.split("/")[0]!));
  }

  private isFree(block: AddressBlock, address: string): boolean {
    return !this.entries.has(address) && !this.reserved.has(address) && block.assigned[address] === undefined && !this.held.has(address);
  }

  private pick(networkKey: string): { address: string; block: AddressBlock } | undefined {
    for (const block of this.blocks(networkKey)) {
      const address = block.addresses.find((a) => this.isFree(block, a));
      if (address !== undefined) return { address, block };
    }
    return undefined;
  }

  private freeCount(networkKey: string): number {
    let n = 0;
    for (const block of this.blocks(networkKey)) n += block.addresses.filter((a) => this.isFree(block, a)).length;
    return n;
  }

  /** One grant per network at a time; resolves once the host's copy of the state holds the block. */
  private grant(networkKey: string, tryMs?: number): Promise<void> {
    let grant = this.grants.get(networkKey);
    if (grant) return grant;
    const [tenantName, networkName] = splitKey(networkKey);
    grant = (async () => {
      let reply: BlockReply;
      try {
        reply = await this.d.master.request<BlockReply>("POST", "/api/v1/agent/blocks", { tenantName, networkName, host: this.d.host }, tryMs === undefined ? {} : { retryForMs: tryMs });
      } catch (err) {
        // The network takes no blocks, none is free, or it does not exist: netmaster's own allocation says why.
        if (err instanceof ValidationError || err instanceof ConflictError || err instanceof NotFoundError) throw new NoBlock((err as Error).message);
        throw err;
      }
      this.d.log.info({ network: networkKey, block: reply.block.cidr, addresses: reply.block.addresses.length }, "address block granted");
      await this.d.view.waitForRevision(reply.revision, 10_000);
    })().finally(() => this.grants.delete(networkKey));
    this.grants.set(networkKey, grant);
    return grant;
  }

  /** The endpoint's entry while it holds its address for a container (not one being deleted). */
  private live(endpointId: string): Entry | undefined {
    for (const e of this.entries.values()) if (e.endpointId === endpointId && e.state !== "deleting") return e;
    return undefined;
  }

  /** Sends the outbox now rather than after its wait between failed tries (netmaster may be back). */
  flush(): void {
    this.flushes++;
    clearTimeout(this.retry);
    this.retry = undefined;
    this.pump();
  }

  /**
   * Sends what the outbox holds, several at once but each endpoint's in order (a deletion never overtakes the
   * registration it undoes); after a failure, nothing until the retry timer or a flush.
   */
  private pump(): void {
    if (this.stopped || this.retry !== undefined) return;
    const busy = new Set<string>();
    for (const address of this.inFlight) busy.add(this.entries.get(address)?.endpointId ?? "");
    const ready = [...this.entries.values()].filter((e) => e.state === "queued" || e.state === "deleting").sort((a, b) => a.seq - b.seq);
    for (const e of ready) {
      if (this.inFlight.size >= MAX_IN_FLIGHT) return;
      if (busy.has(e.endpointId)) continue;
      busy.add(e.endpointId);
      this.inFlight.add(e.address);
      const flushes = this.flushes;
      void this.send(e).then(
        () => (this.failedSends = 0),
        (err: Error) => {
          this.failedSends++;
          this.d.log.warn({ endpoint: e.endpointId, op: e.state, err: err.message }, "cannot tell netmaster of a block endpoint; retrying");
          if (flushes !== this.flushes) return;
          clearTimeout(this.retry);
          this.retry = setTimeout(() => this.flush(), Math.min(5_000, 250 * 2 ** this.failedSends));
        },
      ).finally(() => {
        this.inFlight.delete(e.address);
        const waiting = this.settled.get(e.address) ?? [];
        this.settled.delete(e.address);
        for (const w of waiting) w();
        this.pump();
      });
    }
  }

  /** Netmaster failed the last send, and the entry waits for the outbox's next try. */
  private waitsForRetry(address: string): boolean {
    return this.retry !== undefined && !this.inFlight.has(address);
  }

  private nextSettle(address: string): Promise<void> {
    return new Promise((resolve) => this.settled.set(address, [...(this.settled.get(address) ?? []), resolve]));
  }

  /** One outbox entry to netmaster; throws only what is worth trying again. */
  private async send(e: Entry): Promise<void> {
    const { master, log } = this.d;
    if (e.state === "queued") {
      try {
        const kept = (await master.createEndpoint(e.request as CreateEndpointRequest, ONE_TRY))?.endpoint;
        if (kept !== undefined && kept.ipAddress !== e.address) {
          // netmaster kept this container's endpoint from an earlier ADD cut short: this ADD's replaces it.
          await master.deleteEndpoint(e.endpointId, ONE_TRY);
          await master.createEndpoint(e.request as CreateEndpointRequest, ONE_TRY);
        }
        // A DEL may have come meanwhile: its deletion is next in the outbox.
        if (e.state === "queued") e.state = "registered";
        log.info({ endpoint: e.endpointId, ip: e.address }, "block endpoint registered at netmaster");
      } catch (err) {
        if (err instanceof UpstreamError) throw err;
        if (e.state === "queued") Object.assign(e, { state: "refused", error: (err as Error).message });
        log.error({ endpoint: e.endpointId, ip: e.address, err: (err as Error).message }, "netmaster refused a block endpoint");
      }
    } else {
      try {
        await master.deleteEndpoint(e.endpointId, ONE_TRY);
      } catch (err) {
        if (err instanceof UpstreamError) throw err;
        log.error({ endpoint: e.endpointId, ip: e.address, err: (err as Error).message }, "netmaster refused to delete a block endpoint; its address is freed here");
      }
      this.entries.delete(e.address);
    }
    this.saveSoon();
  }

  /**
   * Now and then: endpoints whose attachment went without a DEL (their records forgotten) are deleted, and
   * blocks empty for idleReleaseMs go back to netmaster.
   */
  private sweep(): void {
    for (const e of this.entries.values()) {
      if ((e.state === "registered" || e.state === "refused") && !this.isHeld(e.endpointId)) this.remove(e.endpointId);
    }
    const now = Date.now();
    for (const [, block] of this.d.view.list<AddressBlock>(BLOCK_PREFIX)) {
      if (block.host !== this.d.host) continue;
      const key = `${block.tenantName}:${block.networkName}|${block.cidr}`;
      const network = `${block.tenantName}:${block.networkName}`;
      const holds = (e: { cidr: string; network: string }) => e.cidr === block.cidr && e.network === network;
      const empty = Object.keys(block.assigned).length === 0 && ![...this.entries.values()].some(holds) && ![...this.reserved.values()].some(holds);
      if (!empty) {
        this.emptySince.delete(key);
        continue;
      }
      const since = this.emptySince.get(key) ?? now;
      this.emptySince.set(key, since);
      if (now - since >= this.d.idleReleaseMs && !this.releasing.has(key)) void this.giveBack(block, key);
    }
  }

  private async giveBack(block: AddressBlock, key: string): Promise<void> {
    this.releasing.add(key);
    try {
      const cidr = block.cidr.replace("/", "_");
      await this.d.master.request("DELETE", `/api/v1/agent/blocks/${encodeURIComponent(`${block.tenantName}:${block.networkName}`)}/${encodeURIComponent(cidr)}`);
      this.emptySince.delete(key);
      this.d.log.info({ network: `${block.tenantName}:${block.networkName}`, block: block.cidr }, "empty address block given back");
    } catch (err) {
      this.d.log.warn({ block: block.cidr, err: (err as Error).message }, "cannot give an empty address block back");
    } finally {
      this.releasing.delete(key);
    }
  }

  /**
   * A write that only spares the next agent sending again what netmaster has (a send's outcome; registrations
   * and deletions are idempotent), shared by the sends within SAVE_SOON_MS. Any write takes it along.
   */
  private saveSoon(): void {
    if (this.soon !== undefined) return;
    this.soon = setTimeout(() => this.save(), SAVE_SOON_MS);
    this.soon.unref();
  }

  private save(): void {
    clearTimeout(this.soon);
    this.soon = undefined;
    // Stopped: what is left in flight is sent again by the next agent (registrations and deletions are idempotent).
    if (this.stopped) return;
    writeStateFile(this.file, { version: 1, seq: this.seq, entries: [...this.entries.values()], reserved: [...this.reserved.values()] });
  }
}

/** Few free addresses left: the next block is asked for before an ADD has to wait for it. */
function lowWater(block: AddressBlock): number {
  return Math.max(2, Math.floor(block.addresses.length / 4));
}

function splitKey(networkKey: string): [string, string] {
  const colon = networkKey.indexOf(":");
  return [networkKey.slice(0, colon), networkKey.slice(colon + 1)];
}
