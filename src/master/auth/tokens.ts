// Signed tokens (JWT, HS256 with the key all replicas share from the store). A token names who holds it;
// what that allows is looked up on every request (principal.ts), so deleting a user, removing an
// authorization or revoking a host takes effect at once, without waiting for the token to expire.

import { jwtVerify, SignJWT, errors as joseErrors } from "jose";
import { z } from "zod";
import { UnauthenticatedError } from "../../lib/errors.js";

const ISSUER = "netplugin";

export const TokenClaims = z.discriminatedUnion("kind", [
  z.object({
    kind: z.literal("user"),
    sub: z.string(),
    /** The user record's uid (local) or "" (LDAP). */
    uid: z.string(),
    source: z.enum(["local", "ldap"]),
    /** LDAP: the groups the directory listed at login (they cannot be asked again without the password). */
    groups: z.array(z.string()).default([]),
  }),
  z.object({
    /** Root on a netmaster's machine (its --listen-socket), for a write a follower forwards: minted there, short-lived. */
    kind: z.literal("local"),
    sub: z.literal("root"),
  }),
  z.object({
    kind: z.literal("host"),
    sub: z.string(),
    /** The host credential's id: a new join or the host's removal voids it. */
    uid: z.string(),
  }),
]);
export type TokenClaims = z.infer<typeof TokenClaims>;

/** How many verified tokens a signer remembers; past that it forgets them all and starts again. */
const VERIFIED_CACHE_SIZE = 4096;

export class TokenSigner {
  private readonly key: Uint8Array;
  /**
   * Tokens whose signature was checked, with their expiry: checking a signature again costs more than the
   * request it guards (WebCrypto's HMAC runs on the thread pool). Expiry is still checked on every use, and
   * what a token allows is looked up on every request (principal.ts), so remembering takes nothing back.
   */
  private readonly verified = new Map<string, { claims: TokenClaims; exp: number | undefined }>();

  constructor(signingKeyBase64: string) {
    this.key = Buffer.from(signingKeyBase64, "base64");
  }

  /** ttlSeconds undefined: no expiry (host credentials, revoked by removing the host). */
  sign(claims: TokenClaims, ttlSeconds?: number): Promise<string> {
    const { sub, ...rest } = claims;
    const jwt = new SignJWT(rest).setProtectedHeader({ alg: "HS256" }).setIssuer(ISSUER).setSubject(sub).setIssuedAt();
    if (ttlSeconds !== undefined) jwt.setExpirationTime(Math.floor(Date.now() / 1000) + ttlSeconds);
    return jwt.sign(this.key);
  }

  async verify(token: string): Promise<TokenClaims> {
    const known = this.verified.get(token);
    if (known !== undefined && (known.exp === undefined || known.exp > Date.now() / 1000)) return known.claims;
    let payload: { exp?: number };
    try {
      ({ payload } = await jwtVerify(token, this.key, { issuer: ISSUER, algorithms: ["HS256"] }));
    } catch (err) {
      if (err instanceof joseErrors.JWTExpired) throw new UnauthenticatedError("Token expired: log in again (netctl login)");
      throw new UnauthenticatedError("Invalid token: log in again (netctl login)");
    }
    const parsed = TokenClaims.safeParse(payload);
    if (!parsed.success) throw new UnauthenticatedError("Invalid token: log in again (netctl login)");
    if (this.verified.size >= VERIFIED_CACHE_SIZE) this.verified.clear();
    this.verified.set(token, { claims: parsed.data, exp: payload.exp });
    return parsed.data;
  }
}
