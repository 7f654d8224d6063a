// The object kinds the REST API serves, as the UI needs them: collection, key fields and a starting
// object for "new". A copy of src/model/kinds.ts's collection and key fields, not an import of it: that
// module brings zod and every schema, which the browser does not need (netmaster validates; the UI shows
// its messages).

export interface UiKind {
  collection: string;
  label: string;
  keyFields: readonly string[];
  /** The fields a new object starts with; their types decide how the form's text is read back. */
  template: Record<string, unknown>;
}

export const UI_KINDS: readonly UiKind[] = [
  { collection: "tenants", label: "Tenants", keyFields: ["tenantName"], template: { tenantName: "", defaultNetwork: "" } },
  {
    collection: "networks",
    label: "Networks",
    keyFields: ["tenantName", "networkName"],
    template: { tenantName: "default", networkName: "", encap: "vxlan", subnet: "", gateway: "", ipv6Subnet: "", ipv6Gateway: "", pktTag: 0, nwType: "data" },
  },
  {
    collection: "endpointGroups",
    label: "Groups",
    keyFields: ["tenantName", "groupName"],
    template: { tenantName: "default", groupName: "", networkName: "", policies: [], netProfile: "", ipPool: "", extContractsGrps: [] },
  },
  { collection: "policys", label: "Policies", keyFields: ["tenantName", "policyName"], template: { tenantName: "default", policyName: "" } },
  {
    collection: "rules",
    label: "Rules",
    keyFields: ["tenantName", "policyName", "ruleId"],
    template: {
      tenantName: "default",
      policyName: "",
      ruleId: "",
      direction: "in",
      action: "allow",
      priority: 1,
      protocol: "tcp",
      port: 0,
      fromEndpointGroup: "",
      fromNetwork: "",
      fromIpAddress: "",
      toEndpointGroup: "",
      toNetwork: "",
      toIpAddress: "",
    },
  },
  {
    collection: "netprofiles",
    label: "Net profiles",
    keyFields: ["tenantName", "profileName"],
    template: { tenantName: "default", profileName: "", bandwidth: "", burst: 0, DSCP: 0 },
  },
  {
    collection: "appProfiles",
    label: "App profiles",
    keyFields: ["tenantName", "appProfileName"],
    template: { tenantName: "default", appProfileName: "", endpointGroups: [] },
  },
  {
    collection: "extContractsGroups",
    label: "Ext contracts",
    keyFields: ["tenantName", "contractsGroupName"],
    template: { tenantName: "default", contractsGroupName: "", contractsType: "provided", contracts: [] },
  },
  {
    collection: "serviceLBs",
    label: "Services",
    keyFields: ["tenantName", "serviceName"],
    template: { tenantName: "default", serviceName: "", networkName: "", ipAddress: "", selectors: [], ports: [] },
  },
  {
    collection: "globals",
    label: "Global",
    keyFields: ["name"],
    template: { name: "global", networkInfraType: "default", vlans: "1-4094", vxlans: "1-10000", fwdMode: "bridge", arpMode: "proxy", pvtSubnet: "169.254.0.0/16" },
  },
  { collection: "aciGws", label: "ACI gateway", keyFields: ["name"], template: { name: "aciGw", enforcePolicies: "no", includeCommonTenant: "no", nodeBindings: "", pathBindings: "", physicalDomain: "" } },
  { collection: "Bgps", label: "BGP", keyFields: ["hostname"], template: { hostname: "", routerip: "", as: "", neighbor: "", "neighbor-as": "" } },
];

export function kindByCollection(collection: string): UiKind | undefined {
  return UI_KINDS.find((k) => k.collection === collection);
}
