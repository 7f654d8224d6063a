// Objects that mostly hold configuration for other parts: net profiles (QoS
// for groups), app profiles, external contract groups and the ACI gateway
// (ACI mode only), and per-host BGP settings.

import { ConflictError, NotFoundError, ValidationError } from "../../lib/errors.js";
import type {
  AciGw,
  AppProfile,
  Bgp,
  EndpointGroup,
  ExtContractsGroup,
  Global,
  NetProfile,
  Tenant,
} from "../../model/index.js";
import type { Tx } from "../tx.js";
import type { Controller } from "./controller.js";
import { getObject, listObjects, listTenantObjects } from "./common.js";
import { GLOBAL_KEY } from "./global.js";
import { checkDscpReach } from "./group.js";

function checkBurst(p: NetProfile): void {
  if (p.burst > 0 && p.burst < 2) throw new ValidationError("Invalid Burst size. burst size > 1500 bytes");
}

function profileUsers(tx: Tx, p: NetProfile): EndpointGroup[] {
  return listTenantObjects<EndpointGroup>(tx, "endpointGroup", p.tenantName).filter((g) => g.netProfile === p.profileName);
}

export const netProfileController: Controller<NetProfile> = {
  create(tx, p) {
    if (!getObject<Tenant>(tx, "tenant", p.tenantName)) throw new NotFoundError("Tenant not found");
    checkBurst(p);
  },
  update(tx, _old, p) {
    checkBurst(p);
    for (const g of profileUsers(tx, p)) checkDscpReach(tx, g, p);
  },
  remove(tx, p) {
    const users = profileUsers(tx, p);
    if (users.length > 0) throw new ConflictError("NetProfile is being used");
  },
};

function checkAppGroups(tx: Tx, app: AppProfile): void {
  if (!getObject<Tenant>(tx, "tenant", app.tenantName)) throw new NotFoundError(`Tenant ${app.tenantName} not found`);
  for (const g of app.endpointGroups) {
    if (!getObject<EndpointGroup>(tx, "endpointGroup", `${app.tenantName}:${g}`)) {
      throw new NotFoundError(`EndpointGroup ${app.tenantName}:${g} not found`);
    }
  }
}

export const appProfileController: Controller<AppProfile> = {
  create: checkAppGroups,
  update(tx, _old, app) {
    checkAppGroups(tx, app);
  },
  remove() {},
};

export const extContractsController: Controller<ExtContractsGroup> = {
  create(tx, c) {
    if (c.contractsType !== "provided" && c.contractsType !== "consumed") {
      throw new ValidationError("Contracts group need to be either 'provided' or 'consumed'");
    }
    if (!getObject<Tenant>(tx, "tenant", c.tenantName)) throw new NotFoundError("Tenant not found");
  },
  update() {
    throw new ConflictError("external contracts update not supported");
  },
  remove(tx, c) {
    const users = listTenantObjects<EndpointGroup>(tx, "endpointGroup", c.tenantName).filter((g) =>
      g.extContractsGrps.includes(c.contractsGroupName),
    );
    if (users.length > 0) throw new ConflictError("External contracts group is in-use");
  },
};

export const aciGwController: Controller<AciGw> = {
  create() {},
  update() {},
  remove(tx) {
    const n = listObjects<AppProfile>(tx, "appProfile").length;
    if (n > 0) throw new ConflictError(`${n} App-Profiles found. Delete them first`);
  },
};

function checkBgpAllowed(tx: Tx): void {
  if (getObject<Global>(tx, "global", GLOBAL_KEY)?.networkInfraType === "aci") {
    throw new ValidationError("not supported in ACI fabric mode");
  }
}

export const bgpController: Controller<Bgp> = {
  create: checkBgpAllowed,
  update(tx) {
    checkBgpAllowed(tx);
  },
  remove() {},
};
