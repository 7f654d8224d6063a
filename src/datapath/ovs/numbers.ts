// Numbers for names that stay put while other names come and go: tenants' conntrack zones, services' group ids.
// Pure.

/**
 * 1..max per name: from a hash of the name, the next free number on a collision (names taken in sorted
 * order). A name keeps its number unless a new name collides with it and sorts before it, which needs two
 * hashes to meet in `max` (rare); then the later one moves. More names than numbers: an error.
 */
export function stableNumbers(names: readonly string[], max = 65535): Map<string, number> {
  const out = new Map<string, number>();
  const used = new Set<number>();
  const unique = [...new Set(names)].sort();
  if (unique.length > max) throw new Error(`${unique.length} names for ${max} numbers`);
  for (const name of unique) {
    let n = (fnv1a(name) % max) + 1;
    while (used.has(n)) n = (n % max) + 1;
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
