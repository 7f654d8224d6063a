// netmaster's auth_proxy API (Contiv's auth_proxy, now built into netmaster): its paths and the shapes
// netctl sends.

import type { NetmasterClient, RawResponse } from "./client.js";

const BASE = "/api/v1/auth_proxy";

export class AuthProxy {
  constructor(private readonly client: NetmasterClient) {}

  /** POST login/ without any token: the raw answer, since a 401 is an answer here and the body is stored as is. */
  login(username: string, password: string): Promise<RawResponse> {
    return this.client.exchange("POST", `${BASE}/login/`, { username, password });
  }
}

