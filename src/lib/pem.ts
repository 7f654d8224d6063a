// Certificates in PEM text, read with node:crypto alone: netctl and the agent check CA files with it
// without loading the certificate builder (pki.ts).

import { X509Certificate } from "node:crypto";

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** Each certificate block of a PEM text, checked to parse; [] when there is none. */
export function certificateBlocks(pem: string): string[] {
  const blocks = pem.match(PEM_CERTIFICATE) ?? [];
  for (const block of blocks) new X509Certificate(block);
  return blocks;
}

/** Every certificate in a PEM text (a chain file holds the leaf first); throws when there is none. */
export function parseCertificates(pem: string): X509Certificate[] {
  const blocks = certificateBlocks(pem);
  if (blocks.length === 0) throw new Error("no PEM certificate in it");
  return blocks.map((block) => new X509Certificate(block));
}
