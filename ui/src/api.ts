// The browser's client of netmaster's REST API, on the page's own origin. The token lives in
// sessionStorage (a tab's lifetime) and travels in X-Auth-Token, never a cookie (netmaster refuses
// cookies' cross-site risks by not reading them). Errors carry the API's own plain-text message.

const TOKEN = "netplugin.token";

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export function token(): string | null {
  return sessionStorage.getItem(TOKEN);
}

export function setToken(value: string | null): void {
  if (value === null) sessionStorage.removeItem(TOKEN);
  else sessionStorage.setItem(TOKEN, value);
}

/** Called on a 401, so the app can show the login form again. */
let onUnauthenticated: () => void = () => undefined;
export function whenUnauthenticated(f: () => void): void {
  onUnauthenticated = f;
}

export async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = {};
  const t = token();
  if (t) headers["x-auth-token"] = t;
  if (body !== undefined) headers["content-type"] = "application/json";
  const res = await fetch(path, { method, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  const text = await res.text();
  if (!res.ok) {
    if (res.status === 401) onUnauthenticated();
    throw new ApiError(res.status, text.trim() || `${res.status} ${res.statusText}`);
  }
  return (text === "" ? undefined : JSON.parse(text)) as T;
}

export const get = <T>(path: string) => call<T>("GET", path);

export async function login(username: string, password: string): Promise<void> {
  const r = await call<{ token: string }>("POST", "/api/v1/auth_proxy/login/", { username, password });
  setToken(r.token);
}

/** Whether the API answers without a login (a token still valid, or a netmaster that needs none). */
export async function signedIn(): Promise<boolean> {
  try {
    await get("/api/v1/tenants/");
    return true;
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) return false;
    throw err;
  }
}

export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
