// What netmaster keeps for trust (under AUTH_PREFIX, contract/keys.ts) and what the auth_proxy routes
// take: one zod schema per record and request, Contiv auth_proxy's field names.

import { z } from "zod";

export const Username = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$/, "must be 1-64 letters, digits, '_', '.', '@' or '-', starting with a letter or digit");

/** Long enough to resist guessing; bounded so hashing a request cannot cost more than a normal one. */
export const Password = z.string().min(8, "must be at least 8 characters").max(256, "must be at most 256 characters");

const PersonName = z.string().max(128);

export const ROLES = ["admin", "ops"] as const;
export type Role = (typeof ROLES)[number];

export const UserRecord = z.object({
  username: Username,
  first_name: PersonName,
  last_name: PersonName,
  disable: z.boolean(),
  /** scrypt parameters, salt and hash (passwords.ts). */
  passwordHash: z.string(),
  /** New for every user created: a token of a deleted user never works for a new one of the same name. */
  uid: z.string(),
});
export type UserRecord = z.infer<typeof UserRecord>;

/** A user as the API shows it: never the hash. */
export type UserView = Pick<UserRecord, "username" | "first_name" | "last_name" | "disable">;

export function userView(u: UserRecord): UserView {
  return { username: u.username, first_name: u.first_name, last_name: u.last_name, disable: u.disable };
}

export const UserCreate = z
  .object({
    username: Username,
    password: Password,
    first_name: PersonName.default(""),
    last_name: PersonName.default(""),
    disable: z.boolean().default(false),
  })
  .strict();

export const UserPatch = z
  .object({
    password: Password.optional(),
    first_name: PersonName.optional(),
    last_name: PersonName.optional(),
    disable: z.boolean().optional(),
  })
  .strict();

export const AuthzRecord = z.object({
  AuthzUUID: z.string(),
  principalName: z.string(),
  /** true: a local user; false: an LDAP group. */
  local: z.boolean(),
  role: z.enum(ROLES),
  /** The tenant an ops authorization covers; "" for admin. */
  tenantName: z.string(),
});
export type AuthzRecord = z.infer<typeof AuthzRecord>;

export const AuthzCreate = z
  .object({
    principalName: z.string().min(1).max(512),
    local: z.boolean(),
    role: z.enum(ROLES),
    tenantName: z.string().max(64).default(""),
  })
  .strict()
  .superRefine((a, ctx) => {
    if (a.role === "ops" && a.tenantName === "") ctx.addIssue({ code: "custom", path: ["tenantName"], message: "an ops authorization needs the tenant it covers" });
    if (a.role === "admin" && a.tenantName !== "") ctx.addIssue({ code: "custom", path: ["tenantName"], message: "an admin authorization covers every tenant: leave tenantName empty" });
    if (a.local && !Username.safeParse(a.principalName).success) ctx.addIssue({ code: "custom", path: ["principalName"], message: "a local principal is a username" });
  });

export const LoginRequest = z.object({ username: z.string().min(1).max(256), password: z.string().max(256) }).strict();

/** The signing key of tokens and the join token of hosts, made by the first leader. */
export const AuthSecrets = z.object({
  /** base64 of 32 random bytes: HMAC key of every token (tokens.ts). */
  signingKey: z.string(),
  /** What a new host's agent presents once (--join-token-file) to get its own credential. */
  joinToken: z.string(),
});
export type AuthSecrets = z.infer<typeof AuthSecrets>;

/** A host's current credential; a new join or the host's removal replaces or deletes it, voiding the old one. */
export const HostCredential = z.object({ host: z.string(), id: z.string() });
export type HostCredential = z.infer<typeof HostCredential>;

export const JoinRequest = z.object({ host: z.string().min(1).max(256), joinToken: z.string().min(1).max(256) }).strict();
