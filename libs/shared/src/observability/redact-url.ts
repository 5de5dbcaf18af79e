/**
 * URL redaction for logs and error messages. A URL can carry a secret in its user info
 * (`postgres://user:password@host`) or its query (`?token=…`, partner webhook URLs with an API
 * key): request log lines, outbound HTTP errors and startup failures show URLs only through here.
 */

const REDACTED = '[redacted]';

export interface RedactUrlOptions {
  /** Keep only `scheme://host[:port]`, no user info (for URLs whose path may be a secret too). */
  originOnly?: boolean;
}

/** `scheme://` and the user info before the host, if the URL has any (the last `@` wins). */
const USER_INFO = /^([a-z][a-z\d+.-]*:\/\/)([^/?#]*)@/i;

/**
 * The URL with every query value and the password (or a lone user name, often a token)
 * replaced by `[redacted]`, and the fragment dropped; parameter names and the path stay, so
 * `/health/live?token=abc&page=2` becomes `/health/live?token=[redacted]&page=[redacted]`.
 * Works on absolute URLs and on request paths, without re-encoding them, and never throws.
 */
export function redactUrl(url: string, options: RedactUrlOptions = {}): string {
  const fragmentAt = url.indexOf('#');
  const withoutFragment = fragmentAt === -1 ? url : url.slice(0, fragmentAt);
  const queryAt = withoutFragment.indexOf('?');
  let base = queryAt === -1 ? withoutFragment : withoutFragment.slice(0, queryAt);
  const query = queryAt === -1 ? undefined : withoutFragment.slice(queryAt + 1);

  if (options.originOnly) {
    const origin = /^([a-z][a-z\d+.-]*:\/\/[^/?#]*)/i.exec(base.replace(USER_INFO, '$1'))?.[1];
    return origin ?? '(not a URL)';
  }
  base = base.replace(USER_INFO, (_match, scheme: string, userInfo: string) => {
    const colonAt = userInfo.indexOf(':');
    const user = colonAt === -1 ? REDACTED : userInfo.slice(0, colonAt);
    return colonAt === -1 ? `${scheme}${user}@` : `${scheme}${user}:${REDACTED}@`;
  });
  if (query === undefined) {
    return base;
  }
  const params = query
    .split('&')
    .filter((part) => part !== '')
    .map((part) => {
      const equalsAt = part.indexOf('=');
      // A bare `?value` may itself be the secret.
      return equalsAt === -1 ? REDACTED : `${part.slice(0, equalsAt)}=${REDACTED}`;
    });
  return params.length === 0 ? base : `${base}?${params.join('&')}`;
}

/** Absolute URLs inside free text (error messages, stacks). */
const URL_IN_TEXT = /\b[a-z][a-z\d+.-]*:\/\/[^\s"'<>`]+/gi;

/** `text` with every absolute URL in it passed through `redactUrl`. */
export function redactUrlsIn(text: string): string {
  if (!text.includes('://')) {
    return text;
  }
  return text.replace(URL_IN_TEXT, (match) => {
    // Sentence punctuation right after a URL is not part of it.
    const url = match.replace(/[.,;:!)\]]+$/, '');
    return `${redactUrl(url)}${match.slice(url.length)}`;
  });
}

/**
 * The secret parts of a URL (password or lone user name, query values of 4+ characters, raw
 * and decoded), for scrubbing text a remote party may echo back, e.g. a destination's error
 * page quoting the request URL.
 */
export function urlSecrets(url: string): string[] {
  const secrets = new Set<string>();
  const add = (value: string): void => {
    if (value.length >= 4) {
      secrets.add(value);
      try {
        secrets.add(decodeURIComponent(value.replace(/\+/g, ' ')));
      } catch {
        // not percent-encoded: the raw value is enough
      }
    }
  };
  const userInfo = USER_INFO.exec(url)?.[2];
  if (userInfo !== undefined) {
    const colonAt = userInfo.indexOf(':');
    add(colonAt === -1 ? userInfo : userInfo.slice(colonAt + 1));
  }
  const withoutFragment = url.split('#')[0] ?? '';
  const queryAt = withoutFragment.indexOf('?');
  if (queryAt !== -1) {
    for (const part of withoutFragment.slice(queryAt + 1).split('&')) {
      const equalsAt = part.indexOf('=');
      add(equalsAt === -1 ? part : part.slice(equalsAt + 1));
    }
  }
  return [...secrets].filter((s) => s.length >= 4);
}
