// serviceLB: a virtual IP load-balancing over the endpoints whose labels match its selectors.
// Key `tenantName:serviceName` (reference §1.13, checks from §2.1).

import { z } from "zod";
import { ValidationError } from "../lib/errors.js";
import { goString, goStrings, IPV4_OR_EMPTY, NAME, objectKey } from "./common.js";
import { EndpointOper } from "./endpoint.js";

const S = "ServiceLB";

/** The original's texts (typos included: clients match them). */
export const PORT_MESSAGE = "Invalid Port maping . Port format is - Port:TargetPort:Protocol";
export const SELECTORS_EMPTY_MESSAGE = "Invalid selector options";
export function selectorMessage(selector: string): string {
  return `Invalid selector ${selector}. selector format is key1=value1`;
}

export type ServiceProtocol = "tcp" | "udp";

export interface ServicePort {
  svcPort: number;
  provPort: number;
  protocol: ServiceProtocol;
}

const PORT_NUMBER = /^[0-9]{1,5}$/;

function portNumber(s: string): number | undefined {
  if (!PORT_NUMBER.test(s)) return undefined;
  const n = Number(s);
  return n >= 1 && n <= 65535 ? n : undefined;
}

/** The protocol spellings the original accepts. */
const PROTOCOLS: Record<string, ServiceProtocol> = {
  TCP: "tcp",
  tcp: "tcp",
  Tcp: "tcp",
  UDP: "udp",
  udp: "udp",
  Udp: "udp",
};

function servicePortOf(s: string): ServicePort | undefined {
  const parts = s.split(":");
  if (parts.length !== 3) return undefined;
  const [svc = "", prov = "", proto = ""] = parts;
  const svcPort = portNumber(svc);
  const provPort = portNumber(prov);
  const protocol = Object.hasOwn(PROTOCOLS, proto) ? PROTOCOLS[proto] : undefined;
  if (svcPort === undefined || provPort === undefined || protocol === undefined) return undefined;
  return { svcPort, provPort, protocol };
}

/**
 * Parses `svcPort:provPort:protocol` ("80:8080:TCP"). Throws ValidationError with the original's
 * text. Stricter than the original, which checked only the first element of the list, crashed
 * on strings without two colons, ignored anything after a third colon and took any integer as a
 * port: we want exactly three parts, ports 1-65535 in decimal, and protocol TCP/tcp/Tcp/UDP/udp/Udp.
 */
export function parseServicePort(s: string): ServicePort {
  const port = servicePortOf(s);
  if (!port) throw new ValidationError(PORT_MESSAGE, [{ path: "ports", message: PORT_MESSAGE }]);
  return port;
}

export interface Selector {
  key: string;
  value: string;
}

/** Parses a `key=value` label selector: exactly one '=', as in the original. */
export function parseSelector(s: string): Selector {
  const at = s.indexOf("=");
  if (at < 0 || s.indexOf("=", at + 1) >= 0) {
    const message = selectorMessage(s);
    throw new ValidationError(message, [{ path: "selectors", message }]);
  }
  return { key: s.slice(0, at), value: s.slice(at + 1) };
}

function isSelector(s: string): boolean {
  return s.split("=").length === 2;
}

// The original checks, in this order: the field rules (ipAddress … tenantName), then in its
// create callback "no selectors", then the ports, then each selector. The object-level check
// below runs even when fields fail (`when`), so its issues come last and every element is
// reported.
export const ServiceLB = z
  .object({
    /** Preferred VIP; "" = allocate one from the network. */
    ipAddress: goString(S, "ipAddress", { max: 15, pattern: IPV4_OR_EMPTY }),
    networkName: goString(S, "networkName", { max: 64, pattern: NAME }),
    serviceName: goString(S, "serviceName", { max: 256, pattern: NAME }),
    tenantName: goString(S, "tenantName", { max: 64, pattern: NAME }),
    /** `key=value` label selectors; at least one. */
    selectors: goStrings(S, "selectors").check((ctx) => {
      if (ctx.value.length === 0) {
        ctx.issues.push({ code: "custom", message: SELECTORS_EMPTY_MESSAGE, input: ctx.value });
      }
    }),
    /** `svcPort:provPort:protocol`; at least one. */
    ports: goStrings(S, "ports").check((ctx) => {
      if (ctx.value.length === 0) {
        ctx.issues.push({ code: "custom", message: PORT_MESSAGE, input: ctx.value });
      }
      ctx.value.forEach((port, i) => {
        if (!servicePortOf(port)) {
          ctx.issues.push({ code: "custom", message: PORT_MESSAGE, input: port, path: [i] });
        }
      });
    }),
    key: objectKey,
  })
  .superRefine(
    (obj, ctx) => {
      // `when` lets this run on a partly invalid object: look before trusting the shape.
      const raw: unknown = obj;
      if (typeof raw !== "object" || raw === null) return;
      const selectors: unknown = (raw as { selectors?: unknown }).selectors;
      if (!Array.isArray(selectors)) return;
      selectors.forEach((s: unknown, i) => {
        if (typeof s === "string" && !isSelector(s)) {
          ctx.addIssue({ code: "custom", message: selectorMessage(s), path: ["selectors", i] });
        }
      });
    },
    { when: () => true },
  );
export type ServiceLB = z.infer<typeof ServiceLB>;

export const ServiceLBOper = z.object({
  numProviders: z.int().optional(),
  providers: z.array(EndpointOper).optional(),
  serviceVip: z.string().optional(),
});
export type ServiceLBOper = z.infer<typeof ServiceLBOper>;
