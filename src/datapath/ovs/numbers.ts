// Numbers for names that stay put while other names come and go: tenants' conntrack zones, services' group ids.
// Pure.

/**
 * 1..65535 per name: from a hash of the name, the next free number on a collision (names taken in sorted
 * order). A name keeps its number unless a new name collides with it and sorts before it, which needs two
 * hashes to meet in 65535 (rare); then the later one moves.
 */
export function stableNumbers(names: readonly string[]): Map<string, number> {
  const out = new Map<string, number>();
  const used = new Set<number>();
  for (const name of [...new Set(names)].sort()) {
    let n = (fnv1a(name) % 65535) + 1;
    while (used.has(n)) n = (n % 65535) + 1;
    used.add(n);
    out.set(name, n);
  }
  return out;
}

function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (const c of Buffer.from(text, "utf8")) h = Math.imul(h ^ c, 0x01000193) >>> 0;
  return h;
}
