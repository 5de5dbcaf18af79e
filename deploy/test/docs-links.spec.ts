import { anchorsOf, brokenLink, documentationFiles, githubSlug, relativeLinks } from './markdown';

describe('links in the documentation', () => {
  const files = documentationFiles();

  it('covers the README, docs/ and every app README', () => {
    expect(files).toEqual(
      expect.arrayContaining([
        'README.md',
        'docs/runbooks.md',
        'apps/ingest/README.md',
        'apps/submitter/README.md',
        'apps/reconciler/README.md',
        'apps/backfiller/README.md',
      ]),
    );
  });

  it.each(files)('%s: every relative link names an existing file and heading', (file) => {
    const broken = relativeLinks(file)
      .map((link) => ({
        at: `${link.file}:${link.line}`,
        target: link.target,
        why: brokenLink(link),
      }))
      .filter((link) => link.why !== undefined);
    expect(broken).toEqual([]);
  });
});

describe('the link checker', () => {
  it('makes anchors the way GitHub does', () => {
    expect(githubSlug('KafkaProducerFailing')).toBe('kafkaproducerfailing');
    expect(githubSlug('Topic replay (recovery)')).toBe('topic-replay-recovery');
    expect(
      githubSlug('Admin API (`Authorization: Bearer $ADMIN_TOKEN`; OpenAPI at `/admin/docs`)'),
    ).toBe('admin-api-authorization-bearer-admin_token-openapi-at-admindocs');
    expect(githubSlug('Webhooks: `POST /webhooks/raise/:customerId`')).toBe(
      'webhooks-post-webhooksraisecustomerid',
    );
    expect([
      ...anchorsOf('# A\n\n## Tests\n\n```bash\n# not a heading\n```\n\n### Tests\n'),
    ]).toEqual(['a', 'tests', 'tests-1']);
  });

  it('reads inline links and images, not those in code', () => {
    const text = [
      'See [the runbooks](docs/runbooks.md#retriesoverdue) and ![a chart](docs/chart.png "title").',
      'Not `[in code](nowhere.md)`, nor [a site](https://example.org/x.md).',
      '```md',
      '[in a fence](nowhere.md)',
      '```',
    ].join('\n');
    expect(relativeLinks('README.md', text).map((l) => [l.line, l.target])).toEqual([
      [1, 'docs/runbooks.md#retriesoverdue'],
      [1, 'docs/chart.png'],
    ]);
  });

  it('refuses a missing file, a missing heading and a path outside the repository', () => {
    expect(brokenLink({ file: 'README.md', line: 1, target: 'docs/no-such-file.md' })).toBe(
      'no such file',
    );
    expect(
      brokenLink({ file: 'README.md', line: 1, target: 'docs/runbooks.md#no-such-alert' }),
    ).toBe('no heading #no-such-alert in docs/runbooks.md');
    expect(
      brokenLink({ file: 'docs/runbooks.md', line: 1, target: '#kafkaproducerfailing' }),
    ).toBeUndefined();
    expect(
      brokenLink({ file: 'docs/recovery.md', line: 1, target: '../apps/backfiller/README.md' }),
    ).toBeUndefined();
    expect(brokenLink({ file: 'README.md', line: 1, target: '../outside.md' })).toBe(
      'points outside the repository',
    );
  });
});
