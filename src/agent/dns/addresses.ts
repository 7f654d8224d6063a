// Address text ⇄ the bytes of A (4) and AAAA (16) record data.

import { isIPv4, isIPv6 } from "node:net";
import { u16, writeU16 } from "./message.js";

/** Bytes of an IPv4 or IPv6 address (A: 4 bytes, AAAA: 16), or undefined when it is neither. */
export function addressBytes(address: string): Uint8Array | undefined {
  if (isIPv4(address)) return Uint8Array.from(address.split(".").map(Number));
  if (!isIPv6(address)) return undefined;
  let text = address.split("%")[0]!;
  const out = new Uint8Array(16);
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted) {
    out.set(addressBytes(dotted[1]!)!, 12);
    text = text.slice(0, -dotted[1]!.length) + "0:0";
  }
  const [head = "", tail] = text.split("::");
  const headGroups = head === "" ? [] : head.split(":");
  const tailGroups = tail === undefined || tail === "" ? [] : tail.split(":");
  const groups = [...headGroups, ...new Array<string>(8 - headGroups.length - tailGroups.length).fill("0"), ...tailGroups];
  groups.forEach((g, i) => {
    if (dotted && i >= 6) return;
    writeU16(out, i * 2, parseInt(g, 16));
  });
  return out;
}

/** Text of 4 or 16 address bytes; IPv6 in RFC 5952 form (longest run of zero groups as "::"). */
export function formatAddress(bytes: Uint8Array): string {
  if (bytes.length === 4) return Array.from(bytes).join(".");
  if (bytes.length !== 16) throw new RangeError(`Cannot format address of ${bytes.length} bytes`);
  const groups = Array.from({ length: 8 }, (_, i) => u16(bytes, i * 2));
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(":");
  return `${hex.slice(0, bestStart).join(":")}::${hex.slice(bestStart + bestLen).join(":")}`;
}
