import { kinds } from "./kinds.js";
import { nameCases, runCases } from "./testing/cases.js";

runCases(kinds.tenant, { tenantName: "blue" }, [
  { name: "minimal body: defaults", want: { tenantName: "blue", defaultNetwork: "" } },
  ...nameCases("tenantName", { struct: "Tenant", max: 64, pattern: "NAME" }),
  ...nameCases("defaultNetwork", { struct: "Tenant", max: 64, pattern: "NAME_OPT" }),
  { name: "a key with ':' is one tenant name, and not a valid one", key: "a:b", set: { tenantName: "a:b" }, error: "tenantName string invalid format" },
  {
    name: "defaultNetwork is checked before tenantName",
    key: "-x",
    set: { defaultNetwork: "-y", tenantName: "-x" },
    error: "defaultNetwork string invalid format",
    paths: ["defaultNetwork", "tenantName"],
  },
]);
