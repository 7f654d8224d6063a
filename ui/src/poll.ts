// A view's data, fetched now and again every `everyMs` while the view is shown.

import { useEffect, useState } from "preact/hooks";
import { messageOf } from "./api.js";

export interface Polled<T> {
  data: T | undefined;
  error: string | undefined;
  /** Fetch again at once (after a change the user made). */
  refresh: () => void;
}

export function usePoll<T>(load: () => Promise<T>, deps: unknown[], everyMs = 2000): Polled<T> {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<string | undefined>(undefined);
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let live = true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const run = async () => {
      try {
        const d = await load();
        if (!live) return;
        setData(d);
        setError(undefined);
      } catch (err) {
        if (live) setError(messageOf(err));
      }
      if (live) timer = setTimeout(run, everyMs);
    };
    void run();
    return () => {
      live = false;
      if (timer) clearTimeout(timer);
    };
  }, [...deps, tick]);
  return { data, error, refresh: () => setTick((t) => t + 1) };
}
