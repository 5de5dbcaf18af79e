/**
 * A small PromQL reader for checking dashboards and alert rules: it does not evaluate anything,
 * it only walks the tokens and sorts identifiers into metric names, function calls, label names
 * of selectors and of grouping clauses. Grafana template variables ($x, ${x}, [[x]]) are skipped,
 * so dashboard queries can be read as they are stored.
 */

export interface LabelMatcher {
  name: string;
  op: '=' | '!=' | '=~' | '!~';
  value: string;
}

export interface Selector {
  /** The metric name, or null for a selector that only has `{...}` matchers. */
  metric: string | null;
  matchers: LabelMatcher[];
  /** Calls the selector sits inside, outermost first ('' for plain parentheses). */
  within: string[];
}

export interface PromqlSummary {
  /** Metric names, each once, in order of first appearance (incl. `{__name__="x"}`). */
  metrics: string[];
  /** Regular expressions given for `__name__` (`{__name__=~"..."}`): they select metrics too. */
  metricPatterns: string[];
  /** Every identifier written as a call: functions and aggregation operators, as written. */
  functions: string[];
  /** Every vector selector with its label matchers. */
  selectors: Selector[];
  /** Label names listed in by/without/on/ignoring/group_left/group_right clauses. */
  groupingLabels: string[];
}

/** Clauses that may be followed by a parenthesised list of label names. */
const GROUPING = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right']);

/** Words that are neither metrics nor calls: set operators, modifiers, special numbers. */
const KEYWORDS = new Set(['and', 'or', 'unless', 'atan2', 'bool', 'offset', 'inf', 'nan']);

/** Every function and aggregation operator of PromQL (Prometheus 3.x), lower case. */
export const PROMQL_FUNCTIONS: ReadonlySet<string> = new Set([
  // aggregation operators
  'sum',
  'min',
  'max',
  'avg',
  'group',
  'stddev',
  'stdvar',
  'count',
  'count_values',
  'bottomk',
  'topk',
  'quantile',
  'limitk',
  'limit_ratio',
  // functions
  'abs',
  'absent',
  'absent_over_time',
  'ceil',
  'changes',
  'clamp',
  'clamp_max',
  'clamp_min',
  'day_of_month',
  'day_of_week',
  'day_of_year',
  'days_in_month',
  'delta',
  'deriv',
  'double_exponential_smoothing',
  'exp',
  'floor',
  'histogram_avg',
  'histogram_count',
  'histogram_fraction',
  'histogram_quantile',
  'histogram_stddev',
  'histogram_stdvar',
  'histogram_sum',
  'holt_winters',
  'hour',
  'idelta',
  'increase',
  'info',
  'irate',
  'label_join',
  'label_replace',
  'ln',
  'log2',
  'log10',
  'minute',
  'month',
  'predict_linear',
  'rate',
  'resets',
  'round',
  'scalar',
  'sgn',
  'sort',
  'sort_desc',
  'sort_by_label',
  'sort_by_label_desc',
  'sqrt',
  'time',
  'timestamp',
  'vector',
  'year',
  'avg_over_time',
  'min_over_time',
  'max_over_time',
  'sum_over_time',
  'count_over_time',
  'quantile_over_time',
  'stddev_over_time',
  'stdvar_over_time',
  'last_over_time',
  'present_over_time',
  'mad_over_time',
  'acos',
  'acosh',
  'asin',
  'asinh',
  'atan',
  'atanh',
  'cos',
  'cosh',
  'deg',
  'pi',
  'rad',
  'sin',
  'sinh',
  'tan',
  'tanh',
  // the @ modifier's start() and end()
  'start',
  'end',
]);

const IDENT_START = /[A-Za-z_:]/;
const IDENT_PART = /[A-Za-z0-9_:]/;
const LABEL_PART = /[A-Za-z0-9_]/;

class Reader {
  i = 0;
  constructor(readonly text: string) {}

  get done(): boolean {
    return this.i >= this.text.length;
  }

  peek(offset = 0): string {
    return this.text[this.i + offset] ?? '';
  }

  skipSpace(): void {
    for (;;) {
      while (!this.done && /\s/.test(this.peek())) {
        this.i++;
      }
      if (this.peek() !== '#') {
        return;
      }
      while (!this.done && this.peek() !== '\n') {
        this.i++;
      }
    }
  }

  /** The next character after blanks and comments, without consuming it. */
  next(): string {
    const at = this.i;
    this.skipSpace();
    const c = this.peek();
    this.i = at;
    return c;
  }

  /** The next identifier after blanks and comments, without consuming it ('' if none). */
  nextWord(): string {
    const at = this.i;
    this.skipSpace();
    const word = this.while(IDENT_PART);
    this.i = at;
    return word;
  }

  while(pattern: RegExp): string {
    const start = this.i;
    while (!this.done && pattern.test(this.peek())) {
      this.i++;
    }
    return this.text.slice(start, this.i);
  }

  /** A quoted string starting at the cursor ("", '' with escapes, `` raw); returns its value. */
  string(): string {
    const quote = this.peek();
    this.i++;
    let value = '';
    while (!this.done && this.peek() !== quote) {
      if (quote !== '`' && this.peek() === '\\') {
        this.i++;
      }
      value += this.peek();
      this.i++;
    }
    if (this.done) {
      throw new Error(`unterminated string in: ${this.text}`);
    }
    this.i++;
    return value;
  }

  /** A Grafana variable at the cursor: $name, $__name, ${name[:format]}, [[name]]. */
  variable(): void {
    if (this.peek() === '[') {
      const end = this.text.indexOf(']]', this.i);
      this.i = end < 0 ? this.text.length : end + 2;
      return;
    }
    this.i++;
    if (this.peek() === '{') {
      const end = this.text.indexOf('}', this.i);
      this.i = end < 0 ? this.text.length : end + 1;
      return;
    }
    this.while(LABEL_PART);
  }

  /** Skips a balanced [...] (range or subquery: durations, steps and variables only). */
  brackets(): void {
    let depth = 0;
    do {
      const c = this.peek();
      if (c === '[') {
        depth++;
      } else if (c === ']') {
        depth--;
      } else if (c === '"' || c === "'" || c === '`') {
        this.string();
        continue;
      }
      this.i++;
    } while (depth > 0 && !this.done);
    if (depth > 0) {
      throw new Error(`unbalanced [ in: ${this.text}`);
    }
  }

  /** Label names in a grouping list `( a, b )`, the cursor on `(`. */
  labelList(): string[] {
    this.i++;
    const labels: string[] = [];
    for (;;) {
      this.skipSpace();
      const c = this.peek();
      if (c === ')') {
        this.i++;
        return labels;
      }
      if (c === ',') {
        this.i++;
        continue;
      }
      if (c === '"' || c === "'") {
        labels.push(this.string());
        continue;
      }
      if (c === '$') {
        this.variable();
        continue;
      }
      const name = this.while(LABEL_PART);
      if (name === '') {
        throw new Error(`unexpected "${c}" in a label list of: ${this.text}`);
      }
      labels.push(name);
    }
  }

  /** Label matchers `{ a="x", b=~"y" }`, the cursor on `{`. */
  matchers(): LabelMatcher[] {
    this.i++;
    const found: LabelMatcher[] = [];
    for (;;) {
      this.skipSpace();
      const c = this.peek();
      if (c === '}') {
        this.i++;
        return found;
      }
      if (c === ',') {
        this.i++;
        continue;
      }
      if (this.done) {
        throw new Error(`unbalanced { in: ${this.text}`);
      }
      let name: string;
      if (c === '"' || c === "'") {
        name = this.string();
      } else {
        name = this.while(LABEL_PART);
      }
      if (name === '') {
        throw new Error(`unexpected "${c}" in label matchers of: ${this.text}`);
      }
      this.skipSpace();
      const op = this.while(/[=!~]/);
      if (op !== '=' && op !== '!=' && op !== '=~' && op !== '!~') {
        // A bare quoted name (Prometheus 3: {"metric.name"}) has no operator.
        found.push({ name: '__name__', op: '=', value: name });
        continue;
      }
      this.skipSpace();
      const q = this.peek();
      if (q !== '"' && q !== "'" && q !== '`') {
        throw new Error(`label ${name} has no quoted value in: ${this.text}`);
      }
      found.push({ name, op, value: this.string() });
    }
  }
}

/** Reads a PromQL expression (possibly holding Grafana variables) and sorts its identifiers. */
export function analyzePromql(expr: string): PromqlSummary {
  const r = new Reader(expr);
  const metrics: string[] = [];
  const metricPatterns: string[] = [];
  const functions: string[] = [];
  const selectors: Selector[] = [];
  const groupingLabels: string[] = [];
  const open: string[] = [];
  let call: string | null = null;
  const addSelector = (metric: string | null, matchers: LabelMatcher[]): void => {
    selectors.push({ metric, matchers, within: [...open] });
    const names = [
      ...(metric === null ? [] : [metric]),
      ...matchers.filter((m) => m.name === '__name__' && m.op === '=').map((m) => m.value),
    ];
    for (const name of names) {
      if (!metrics.includes(name)) {
        metrics.push(name);
      }
    }
    for (const m of matchers.filter((m) => m.name === '__name__' && m.op === '=~')) {
      metricPatterns.push(m.value);
    }
  };

  for (;;) {
    r.skipSpace();
    if (r.done) {
      break;
    }
    const c = r.peek();
    if (c === '"' || c === "'" || c === '`') {
      r.string();
    } else if (c === '$' || (c === '[' && r.peek(1) === '[')) {
      r.variable();
    } else if (c === '[') {
      r.brackets();
    } else if (c === '{') {
      addSelector(null, r.matchers());
    } else if (/[0-9]/.test(c) || (c === '.' && /[0-9]/.test(r.peek(1)))) {
      // numbers, durations (5m, 1h30m), exponents and hex
      r.while(/[0-9A-Za-z_.]/);
    } else if (IDENT_START.test(c)) {
      const word = r.while(IDENT_PART);
      const lower = word.toLowerCase();
      const following = r.next();
      if (GROUPING.has(lower)) {
        if (following === '(') {
          r.skipSpace();
          groupingLabels.push(...r.labelList());
        }
      } else if (KEYWORDS.has(lower)) {
        continue;
      } else if (following === '(' || ['by', 'without'].includes(r.nextWord().toLowerCase())) {
        // a call, or an aggregation whose grouping comes first: sum by (x) (...)
        functions.push(word);
        call = word;
      } else if (following === '{') {
        r.skipSpace();
        addSelector(word, r.matchers());
      } else {
        addSelector(word, []);
      }
    } else {
      if (c === '(') {
        open.push(call ?? '');
        call = null;
      } else if (c === ')') {
        if (open.pop() === undefined) {
          throw new Error(`unbalanced ) in: ${expr}`);
        }
      }
      r.i++;
    }
  }
  if (open.length > 0) {
    throw new Error(`unbalanced ( in: ${expr}`);
  }
  return { metrics, metricPatterns, functions, selectors, groupingLabels };
}

/** Metric names an expression reads (function names, keywords, labels, durations left out). */
export function promqlMetricNames(expr: string): string[] {
  return analyzePromql(expr).metrics;
}

/**
 * The PromQL inside a Grafana Prometheus variable query: `label_values(<selector>, label)`,
 * `query_result(<expr>)`, or a bare expression; null for the forms that read no metric
 * (`label_values(label)`, `label_names()`, `metrics(regex)`).
 */
export function variableQueryPromql(query: string): string | null {
  const text = query.trim();
  const call = /^(label_values|query_result|label_names|metrics)\s*\(([\s\S]*)\)$/.exec(text);
  if (!call) {
    return text;
  }
  const [, fn, args = ''] = call;
  if (fn === 'query_result') {
    return args;
  }
  if (fn === 'label_values') {
    const lastComma = args.lastIndexOf(',');
    return lastComma < 0 ? null : args.slice(0, lastComma);
  }
  return null;
}
