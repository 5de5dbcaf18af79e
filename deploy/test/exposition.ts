/**
 * Series names a Prometheus text exposition makes queryable, read from its `# TYPE` lines: a
 * counter, gauge or untyped metric is its own name; a histogram `x` is queried as x_bucket, x_sum
 * and x_count; a summary as x (the quantiles), x_sum and x_count.
 */
export function exportedSeriesNames(exposition: string): Map<string, string> {
  const names = new Map<string, string>();
  for (const line of exposition.split('\n')) {
    const typed = /^#\s+TYPE\s+([A-Za-z_:][A-Za-z0-9_:]*)\s+(\w+)\s*$/.exec(line);
    if (!typed) {
      continue;
    }
    const [, name = '', type = ''] = typed;
    switch (type) {
      case 'histogram':
        for (const suffix of ['_bucket', '_sum', '_count']) {
          names.set(`${name}${suffix}`, type);
        }
        break;
      case 'summary':
        for (const suffix of ['', '_sum', '_count']) {
          names.set(`${name}${suffix}`, type);
        }
        break;
      default:
        names.set(name, type);
    }
  }
  return names;
}
