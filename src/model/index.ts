// src/model owns Contiv's object model: one zod schema per configurable object (type and runtime
// check, with Contiv's JSON names, rules, defaults and error texts), the oper shapes of inspect
// responses, the kind registry, and the small parsers other layers share.

export { AciGw, AciGwOper, AppProfile, CONTRACTS_TYPE_MESSAGE, ExtContractsGroup } from "./aci.js";
export { Bgp, BgpOper, MAX_AS_NUMBER, parseAsNumber } from "./bgp.js";
export { type Inspect, EndpointOper } from "./endpoint.js";
export { EndpointGroup, EndpointGroupOper } from "./endpointGroup.js";
export { Global, GLOBAL_DEFAULTS, GlobalOper } from "./global.js";
export {
  keyOf,
  kindByCollection,
  kinds,
  type ModelObject,
  type ModelTypes,
  type ObjectKind,
  type ObjectType,
  omitEmpty,
  parseObject,
  splitKey,
} from "./kinds.js";
export { MAX_BURST, MAX_DSCP, NetProfile, normalizeBandwidth, parseBandwidth } from "./netprofile.js";
export { MAX_PKT_TAG, Network, NetworkOper } from "./network.js";
export { ATTACH_MODES, IFNAME, type AttachMode } from "./network-attach.js";
export { Policy, PolicyOper } from "./policy.js";
export { sdnControllerProblem } from "./sdn-controller.js";
export { MAX_RULE_PRIORITY, Rule } from "./rule.js";
export {
  parseSelector,
  parseServicePort,
  PORT_MESSAGE,
  type Selector,
  SELECTORS_EMPTY_MESSAGE,
  selectorMessage,
  ServiceLB,
  ServiceLBOper,
  type ServicePort,
  type ServiceProtocol,
} from "./serviceLB.js";
export { Tenant, TenantOper } from "./tenant.js";
