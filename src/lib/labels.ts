// Endpoint labels: key=value pairs a runtime gives a container (Docker's --label, the CNI conventions'
// args.cni.labels), which service selectors match. Netmaster adds three of its own to every endpoint, so a
// selector can name a tenant, a network or a group whatever runtime made the container.

/** The labels netmaster sets itself; a runtime cannot set them. */
export const IMPLICIT_LABELS = { tenant: "io.contiv.tenant", network: "io.contiv.network", group: "io.contiv.net-group" } as const;
const RESERVED_PREFIX = "io.contiv.";

export const MAX_LABELS = 64;
const MAX_KEY = 253;
const MAX_VALUE = 253;
/** A key: letters, digits and . _ - /, starting and ending with a letter or digit (Kubernetes' rule, loosely). */
const KEY = /^[A-Za-z0-9]([A-Za-z0-9._/-]*[A-Za-z0-9])?$/;
/** A value: empty, or letters, digits and . _ -, starting and ending with a letter or digit. */
const VALUE = /^([A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?)?$/;

/** What is wrong with one label, or undefined. */
export function labelProblem(key: string, value: string): string | undefined {
  if (key.length === 0 || key.length > MAX_KEY || !KEY.test(key)) return `label key "${key.slice(0, 64)}" is not a label key (letters, digits and . _ - /, at most ${MAX_KEY})`;
  if (key.startsWith(RESERVED_PREFIX)) return `label key "${key}" is netmaster's own (${RESERVED_PREFIX}…)`;
  if (value.length > MAX_VALUE || !VALUE.test(value)) return `label ${key}'s value "${value.slice(0, 64)}" is not a label value (letters, digits and . _ -, at most ${MAX_VALUE})`;
  return undefined;
}

/** What is wrong with a set of labels, or undefined. */
export function labelsProblem(labels: Record<string, string>): string | undefined {
  const entries = Object.entries(labels);
  if (entries.length > MAX_LABELS) return `at most ${MAX_LABELS} labels, not ${entries.length}`;
  for (const [key, value] of entries) {
    const problem = labelProblem(key, value);
    if (problem !== undefined) return problem;
  }
  return undefined;
}

/** The labels every endpoint has, from where it is. */
export function implicitLabels(tenant: string, network: string, group: string): Record<string, string> {
  return { [IMPLICIT_LABELS.tenant]: tenant, [IMPLICIT_LABELS.network]: network, ...(group === "" ? {} : { [IMPLICIT_LABELS.group]: group }) };
}
