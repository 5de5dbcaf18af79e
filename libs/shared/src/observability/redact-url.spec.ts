import { redactUrl, redactUrlsIn, urlSecrets } from './redact-url';

describe(redactUrl.name, () => {
  it.each([
    ['/health/live?token=s3cret', '/health/live?token=[redacted]'],
    ['/admin/customers?token=s3cret&page=2', '/admin/customers?token=[redacted]&page=[redacted]'],
    ['/a?s3cret', '/a?[redacted]'],
    ['/a?', '/a'],
    ['/a?&&', '/a'],
    ['/a#access_token=s3cret', '/a'],
    ['/plain/path', '/plain/path'],
    ['/odd%2Fpath?x=%00s3cret', '/odd%2Fpath?x=[redacted]'],
    [
      'https://hooks.partner.example/in?api_key=s3cret#frag',
      'https://hooks.partner.example/in?api_key=[redacted]',
    ],
    [
      'postgres://postgres:s3cret@db.internal:5432/state?sslpassword=s3cret',
      'postgres://postgres:[redacted]@db.internal:5432/state?sslpassword=[redacted]',
    ],
    ['postgres://u:p@ss:s3cret@127.0.0.1:1/test', 'postgres://u:[redacted]@127.0.0.1:1/test'],
    ['https://s3cret@hooks.example/x', 'https://[redacted]@hooks.example/x'],
    // A lone user name may be a token (https://TOKEN@host): redacted too.
    ['postgres://postgres@127.0.0.1:5432/test', 'postgres://[redacted]@127.0.0.1:5432/test'],
    ['', ''],
  ])('%s -> %s', (input, expected) => {
    expect(redactUrl(input)).toBe(expected);
    expect(redactUrl(input)).not.toContain('s3cret');
  });

  it('keeps only scheme and host when asked (a path can be a secret too)', () => {
    expect(
      redactUrl('https://user:pw@ops.example.org:8443/hook/s3cret?key=k', { originOnly: true }),
    ).toBe('https://ops.example.org:8443');
    expect(redactUrl('not a url', { originOnly: true })).toBe('(not a URL)');
  });
});

describe(redactUrlsIn.name, () => {
  it('redacts every absolute URL inside free text and leaves the rest alone', () => {
    const text =
      'Failed to parse URL from https://h.example/x?token=s3cret, then ' +
      'postgres://app:s3cret@db:5432/x failed: connect ECONNREFUSED 127.0.0.1:1';
    expect(redactUrlsIn(text)).toBe(
      'Failed to parse URL from https://h.example/x?token=[redacted], then ' +
        'postgres://app:[redacted]@db:5432/x failed: connect ECONNREFUSED 127.0.0.1:1',
    );
    expect(redactUrlsIn('no url here')).toBe('no url here');
  });
});

describe(urlSecrets.name, () => {
  it('lists the password and the query values (raw and decoded) worth scrubbing', () => {
    expect(urlSecrets('https://u:pa55word@h.example/x?key=ab%2Bcd%3D&n=1&flag').sort()).toEqual(
      ['ab%2Bcd%3D', 'ab+cd=', 'flag', 'pa55word'].sort(),
    );
    expect(urlSecrets('https://h.example/x')).toEqual([]);
  });
});
