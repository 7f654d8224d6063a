// @peculiar/x509, ready to use: it wires its parts with tsyringe, which needs the Reflect metadata API, so
// reflect-metadata is loaded first (ES modules run their imports in order), and it signs with Node's
// WebCrypto. Import x509 from here, never from the package, or the polyfill may come too late.

import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import { webcrypto } from "node:crypto";

x509.cryptoProvider.set(webcrypto as unknown as Crypto);

export { x509 };
