// Objects used only in Cisco ACI mode: appProfile, extContractsGroup and aciGw
// (reference §1.8, §1.9, §1.11).

import { z } from "zod";
import { goEnum, goString, goStrings, NAME, NODE_BINDINGS, objectKey, PATH_BINDINGS } from "./common.js";

/** An application profile: a set of endpoint groups pushed to APIC. Key `tenantName:appProfileName`. */
export const AppProfile = z.object({
  appProfileName: goString("AppProfile", "appProfileName", { max: 64, pattern: NAME }),
  /** Endpoint group names of the same tenant. */
  endpointGroups: goStrings("AppProfile", "endpointGroups"),
  tenantName: goString("AppProfile", "tenantName", { max: 64, pattern: NAME }),
  key: objectKey,
});
export type AppProfile = z.infer<typeof AppProfile>;

/** Text of the original's contractsType check. */
export const CONTRACTS_TYPE_MESSAGE = "Contracts group need to be either 'provided' or 'consumed'";

/** Contracts defined outside Contiv (ACI DNs). Key `tenantName:contractsGroupName`. */
export const ExtContractsGroup = z.object({
  /** ACI DNs, e.g. `uni/tn-common/brc-default`. */
  contracts: goStrings("ExtContractsGroup", "contracts"),
  contractsGroupName: goString("ExtContractsGroup", "contractsGroupName", { max: 64, pattern: NAME }),
  /**
   * The original checks this in its create callback, not its validator; it needs no state, so
   * it lives here, with the callback's text.
   */
  contractsType: goEnum("ExtContractsGroup", "contractsType", ["provided", "consumed"], {
    message: CONTRACTS_TYPE_MESSAGE,
  }),
  tenantName: goString("ExtContractsGroup", "tenantName", { max: 64, pattern: NAME }),
  key: objectKey,
});
export type ExtContractsGroup = z.infer<typeof ExtContractsGroup>;

/** The single ACI gateway configuration; key and name are always "aciGw". */
export const AciGw = z.object({
  enforcePolicies: goEnum("AciGw", "enforcePolicies", ["yes", "no"], { max: 64 }),
  includeCommonTenant: goEnum("AciGw", "includeCommonTenant", ["yes", "no"], { max: 64 }),
  name: goEnum("AciGw", "name", ["aciGw"], { max: 64 }),
  /** Comma-separated `topology/pod-N/node-N`. */
  nodeBindings: goString("AciGw", "nodeBindings", { max: 2048, pattern: NODE_BINDINGS }),
  /** Comma-separated `topology/pod-N/paths-N/pathep-[ethN/N]`. */
  pathBindings: goString("AciGw", "pathBindings", { max: 2048, pattern: PATH_BINDINGS }),
  physicalDomain: goString("AciGw", "physicalDomain", { max: 128, pattern: NAME }),
  key: objectKey,
});
export type AciGw = z.infer<typeof AciGw>;

export const AciGwOper = z.object({
  numAppProfiles: z.int().optional(),
});
export type AciGwOper = z.infer<typeof AciGwOper>;
