// BGP for routing mode: one gobgpd per host that announces the host's container prefixes to a
// router and installs the routes it learns into the host's kernel. Public API, by name.

export { BgpSpeaker } from "./speaker.js";
export type { BgpSpeakerOptions } from "./speaker.js";
export { BgpConfig, parseBgpConfig, renderGobgpdConfig } from "./config.js";
export type { BgpSettings, DaemonSettings } from "./config.js";
export type { BgpInspect, RunCommand } from "./types.js";
// Test support (not used by the agent): an FRR zebra + bgpd router in a namespace, e.g. a simulated ToR.
export { FrrRouter, renderBgpdConfig } from "./frrRouter.js";
export type { FrrNeighbor, FrrRouterOptions } from "./frrRouter.js";
