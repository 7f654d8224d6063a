import { ConflictError, NotFoundError, ValidationError } from "../../lib/errors.js";
import type { EndpointGroup, Network, Policy, Rule, Tenant } from "../../model/index.js";
import { objectKey } from "../../contract/keys.js";
import type { Tx } from "../tx.js";
import type { Controller } from "./controller.js";
import { getObject, listTenantObjects } from "./common.js";

export function groupsUsingPolicy(tx: Tx, tenant: string, policy: string): EndpointGroup[] {
  return listTenantObjects<EndpointGroup>(tx, "endpointGroup", tenant).filter((g) => g.policies.includes(policy));
}

export function rulesOfPolicy(tx: Tx, tenant: string, policy: string): Rule[] {
  return listTenantObjects<Rule>(tx, "rule", `${tenant}:${policy}`);
}

export const policyController: Controller<Policy> = {
  create(tx, p) {
    if (!getObject<Tenant>(tx, "tenant", p.tenantName)) throw new NotFoundError("Tenant not found");
  },
  update() {},
  remove(tx, p) {
    if (groupsUsingPolicy(tx, p.tenantName, p.policyName).length > 0) throw new ConflictError("Policy is being used");
    for (const rule of rulesOfPolicy(tx, p.tenantName, p.policyName)) tx.delete(objectKey("rule", rule.key));
  },
};

function checkDirection(r: Rule): void {
  if (r.direction === "in") {
    if (r.toNetwork || r.toEndpointGroup) throw new ValidationError("can not specify 'to' parameters in incoming rule");
    // Contiv's Kubernetes form: an incoming rule for one address of its group. Our policy judges groups as a
    // whole, so it would cover the group: refused rather than quietly widened.
    if (r.toIpAddress) {
      throw new ValidationError(`can not specify toIpAddress ${r.toIpAddress} in an incoming rule: it applies to the policy's whole group; put the address in a group of its own`);
    }
    if (r.fromNetwork && r.fromIpAddress) {
      throw new ValidationError("can not specify both from network and from ip address");
    }
    if (r.fromNetwork && r.fromEndpointGroup) {
      throw new ValidationError("can not specify both from network and from endpoint group");
    }
  } else if (r.direction === "out") {
    if (r.fromNetwork || r.fromEndpointGroup || r.fromIpAddress) {
      throw new ValidationError("can not specify 'from' parameters in outgoing rule");
    }
    if (r.toNetwork && r.toIpAddress) throw new ValidationError("can not specify both to network and to ip address");
    if (r.toNetwork && r.toEndpointGroup) {
      throw new ValidationError("can not specify both to network and to endpoint group");
    }
  } else {
    throw new ValidationError("invalid direction for the rule");
  }
  if (/^[0-9]+$/.test(r.protocol) && Number(r.protocol) > 255) {
    throw new ValidationError(`invalid protocol ${r.protocol}: protocol numbers go up to 255`);
  }
  // "" is any protocol: the port then applies to tcp, udp and sctp.
  const ported = ["", "tcp", "udp"].includes(r.protocol) || [6, 17, 132].includes(Number(r.protocol));
  if (r.port !== 0 && !ported) {
    throw new ValidationError(`can not specify port ${r.port} with protocol ${r.protocol}: only tcp, udp and sctp (132) have ports`);
  }
}

export const ruleController: Controller<Rule> = {
  create(tx, r) {
    checkDirection(r);
    const t = r.tenantName;
    for (const g of [r.fromEndpointGroup, r.toEndpointGroup]) {
      if (g && !getObject<EndpointGroup>(tx, "endpointGroup", `${t}:${g}`)) {
        throw new NotFoundError("endpoint group not found");
      }
    }
    if (r.fromNetwork && !getObject<Network>(tx, "network", `${t}:${r.fromNetwork}`)) {
      throw new NotFoundError("from Network not found");
    }
    if (r.toNetwork && !getObject<Network>(tx, "network", `${t}:${r.toNetwork}`)) {
      throw new NotFoundError("to Network not found");
    }
    if (!getObject<Policy>(tx, "policy", `${t}:${r.policyName}`)) throw new NotFoundError("Policy not found");

  },
  update() {
    throw new ConflictError("can not update a rule after its created");
  },
  remove(tx, r) {
    // A policy is in force once the newest change among it and its rules is (master/realization.ts); a rule
    // that goes leaves no key behind, so the policy is written again, unchanged, to carry the change.
    const key = objectKey("policy", `${r.tenantName}:${r.policyName}`);
    const policy = tx.get<Policy>(key);
    if (policy) tx.put(key, policy);
  },
};
