// Docker's side of netmaster: the pools and addresses of libnetwork's IPAM
// driver, and the networks and endpoints the hosts' Docker drivers make.
//
// Design note. libnetwork asks for addresses in two steps: IPAM RequestAddress
// (the address is handed out), then NetworkDriver CreateEndpoint with that
// address; on the way out DeleteEndpoint comes first and ReleaseAddress last.
// An address therefore belongs to a *reservation* (one record per address,
// persisted beside the allocators) from RequestAddress to ReleaseAddress. The
// endpoint adopts it at CreateEndpoint (the allocator bit passes from the
// reservation to the endpoint inside one transaction, so createEndpoint's "a
// requested address must be free" still holds) and hands it back at a Docker
// DeleteEndpoint: between DeleteEndpoint and ReleaseAddress nobody else can be
// given the address, and a late ReleaseAddress cannot free someone else's.

export * from "./wire.js";
export * from "./pools.js";
export * from "./addresses.js";
export * from "./networks.js";
export { releaseDockerHost } from "./hosts.js";
