/** Reads the Prometheus text format into `name{label="value",...}` → value, for comparing scrapes. */
export function parseExposition(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const match = /^([a-zA-Z_:][\w:]*)(\{.*\})? (\S+)$/.exec(line);
    if (match === null) throw new Error(`not a sample line: ${line}`);
    samples.set(`${match[1]}${match[2] ?? ""}`, Number(match[3]));
  }
  return samples;
}

/** The series of `metric` whose value changed between two scrapes, with the change. */
export function deltas(before: Map<string, number>, after: Map<string, number>, metric: string): Record<string, number> {
  const changed: Record<string, number> = {};
  for (const [series, value] of after) {
    if (!series.startsWith(`${metric}{`) && series !== metric) continue;
    const delta = value - (before.get(series) ?? 0);
    if (delta !== 0) changed[series] = delta;
  }
  return changed;
}
