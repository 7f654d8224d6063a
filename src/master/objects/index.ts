// Object controllers by modeldb type name.
import type { ModelObject, ObjectType } from "../../model/index.js";
import type { Controller } from "./controller.js";
import { globalController } from "./global.js";
import { groupController } from "./group.js";
import { aciGwController, appProfileController, bgpController, extContractsController, netProfileController } from "./misc.js";
import { networkController } from "./network.js";
import { policyController, ruleController } from "./policy.js";
import { serviceController } from "./service.js";
import { tenantController } from "./tenant.js";

export const controllers: { readonly [K in ObjectType]: Controller<never> } = {
  tenant: tenantController,
  network: networkController,
  endpointGroup: groupController,
  policy: policyController,
  rule: ruleController,
  netprofile: netProfileController,
  appProfile: appProfileController,
  extContractsGroup: extContractsController,
  global: globalController,
  aciGw: aciGwController,
  Bgp: bgpController,
  serviceLB: serviceController,
};

export function controllerFor(type: ObjectType): Controller<ModelObject> {
  return controllers[type] as unknown as Controller<ModelObject>;
}

export type { Controller, MasterSettings } from "./controller.js";
export { defaultGlobal, GLOBAL_KEY } from "./global.js";
