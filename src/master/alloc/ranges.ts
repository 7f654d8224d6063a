// Contiv's text form for sets of ids and addresses: runs joined with ", ",
// a run of one value printed without a dash ("10.1.1.1-10.1.1.3, 10.1.1.254").

/** Formats [start, end] runs (in order); "" when there are none. */
export function formatRuns<T>(runs: Iterable<readonly [T, T]>, format: (value: T) => string = String): string {
  const parts: string[] = [];
  for (const [start, end] of runs) {
    parts.push(start === end ? format(start) : `${format(start)}-${format(end)}`);
  }
  return parts.join(", ");
}

/** Groups ascending, distinct bigints into runs of consecutive values. */
export function* runsOf(sorted: Iterable<bigint>): Generator<[bigint, bigint]> {
  let start: bigint | undefined;
  let end = 0n;
  for (const v of sorted) {
    if (start !== undefined && v === end + 1n) {
      end = v;
      continue;
    }
    if (start !== undefined) yield [start, end];
    start = v;
    end = v;
  }
  if (start !== undefined) yield [start, end];
}
