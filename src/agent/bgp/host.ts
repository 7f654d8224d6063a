// This host's BGP as its desired state says (a Bgp object named after the host, or none), and the session's
// state reported to netmaster every few seconds for `netctl bgp inspect` while it is configured.

import type { Logger } from "pino";
import type { BgpConfig } from "./config.js";
import type { BgpInspect } from "./types.js";

/** What HostBgp needs of the speaker (speaker.ts BgpSpeaker). */
export interface Speaker {
  apply(config: BgpConfig | undefined): Promise<void>;
  inspect(): Promise<BgpInspect>;
}

const REPORT_MS = 3000;

export class HostBgp {
  /** True at start: the first apply stops a speaker left from before when this host has no Bgp object any more. */
  private configured = true;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly speaker: Speaker,
    private readonly log: Logger,
  ) {}

  async apply(config: BgpConfig | undefined): Promise<void> {
    if (config === undefined && !this.configured) return;
    await this.speaker.apply(config);
    this.configured = config !== undefined;
  }

  /** Sends the session's state to `report` every few seconds while BGP is configured. */
  startReports(report: (state: BgpInspect) => Promise<unknown>): void {
    this.timer = setInterval(() => {
      if (!this.configured) return;
      void this.speaker
        .inspect()
        .then(report)
        .catch((err: Error) => this.log.debug({ err: err.message }, "bgp report failed"));
    }, REPORT_MS);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
