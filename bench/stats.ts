// Small helpers for benchmarks: medians and percentiles of repeated samples.

export function percentile(samples: number[], p: number): number {
  if (samples.length === 0) return NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}

export function median(samples: number[]): number {
  return percentile(samples, 50);
}

/** Runs fn over items with at most `concurrency` in flight; returns each call's duration in ms. */
export async function timedPool<T>(items: T[], concurrency: number, fn: (item: T) => Promise<void>): Promise<number[]> {
  const durations: number[] = new Array(items.length);
  let next = 0;
  async function worker(): Promise<void> {
    while (next < items.length) {
      const i = next++;
      const start = performance.now();
      await fn(items[i]!);
      durations[i] = performance.now() - start;
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  return durations;
}

export function fmt(n: number, digits = 1): string {
  return Number.isFinite(n) ? n.toFixed(digits) : "-";
}
