/**
 * Reads one sample from a service's /metrics: the sum over every series of `name` whose labels
 * include all of `labels` (0 when none matches), so tests can assert that a counter moved.
 */
export async function scrapeMetric(
  baseUrl: string,
  name: string,
  labels: Record<string, string> = {},
): Promise<number> {
  const text = await (await fetch(`${baseUrl}/metrics`)).text();
  return sumMetric(text, name, labels);
}

export function sumMetric(text: string, name: string, labels: Record<string, string> = {}): number {
  let total = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) {
      continue;
    }
    const match = /^([^{\s]+)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!match || match[1] !== name) {
      continue;
    }
    const series: Record<string, string> = {};
    for (const pair of (match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) {
      series[pair[1] as string] = pair[2] as string;
    }
    if (Object.entries(labels).every(([k, v]) => series[k] === v)) {
      total += Number(match[3]);
    }
  }
  return total;
}
