// The sync-health console: a small page over /console/api. The token lives in sessionStorage
// only; every value from the API is written with textContent, never parsed as HTML.
'use strict';

(() => {
  const TOKEN_KEY = 'raise-sync-console-token';
  const RESOURCES = ['gift', 'donor', 'recurring_gift', 'campaign', 'user'];
  const app = document.getElementById('app');
  const who = document.getElementById('who');
  let viewer = null;

  // ---- small DOM helpers -------------------------------------------------------------------
  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (name.startsWith('on')) el.addEventListener(name.slice(2), value);
      else if (name === 'className') el.className = value;
      else el.setAttribute(name, value === true ? '' : String(value));
    }
    for (const child of children.flat(Infinity)) {
      if (child === null || child === undefined || child === false) continue;
      el.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return el;
  }
  const badge = (text, kind) => h('span', { className: `badge ${kind || text}` }, text);
  const when = (iso) => (iso ? new Date(iso).toLocaleString() : '—');
  function ago(iso) {
    if (!iso) return 'never';
    const s = Math.max(0, (Date.now() - new Date(iso).getTime()) / 1000);
    if (s < 90) return `${Math.round(s)} s ago`;
    if (s < 5400) return `${Math.round(s / 60)} min ago`;
    if (s < 129600) return `${Math.round(s / 3600)} h ago`;
    return `${Math.round(s / 86400)} d ago`;
  }
  /** How the customer was onboarded, in words (null: before onboarding modes existed). */
  function onboardingText(customer) {
    switch (customer.onboardingMode) {
      case 'full_history':
        return 'onboarded with its full history';
      case 'history_since':
        return `onboarded with its history since ${when(customer.syncFrom)}`;
      case 'from_now':
        return `onboarded from ${when(customer.syncFrom)} on, without history`;
      case 'poll_history':
        return 'onboarded without a backfill (history read by polling)';
      default:
        return '';
    }
  }
  function table(headers, rows, testid) {
    return h(
      'table',
      { 'data-testid': testid },
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          headers.map((x) => h('th', { className: x.num ? 'num' : '' }, x.label || x)),
        ),
      ),
      h(
        'tbody',
        {},
        rows.length
          ? rows
          : h('tr', {}, h('td', { colspan: headers.length, className: 'muted' }, 'none')),
      ),
    );
  }
  const cell = (content, num) => h('td', { className: num ? 'num' : '' }, content);
  function show(...nodes) {
    app.replaceChildren(...nodes);
  }

  // ---- API -------------------------------------------------------------------------------------
  class ApiError extends Error {
    constructor(status, message) {
      super(message);
      this.status = status;
    }
  }
  async function api(path, init) {
    const token = sessionStorage.getItem(TOKEN_KEY);
    const res = await fetch(`/console/api${path}`, {
      ...init,
      headers: { authorization: `Bearer ${token || ''}`, accept: 'application/json' },
    });
    const body = await res.json().catch(() => ({}));
    if (!res.ok) {
      const message = Array.isArray(body.message) ? body.message.join('; ') : body.message;
      throw new ApiError(res.status, message || res.statusText);
    }
    return body;
  }
  function failure(error) {
    if (error instanceof ApiError && error.status === 401) {
      sessionStorage.removeItem(TOKEN_KEY);
      viewer = null;
      return login(error.message);
    }
    const text =
      error instanceof ApiError && error.status === 403
        ? `Access refused: ${error.message}`
        : `Could not load: ${error.message}`;
    show(
      h('p', { className: 'error', 'data-testid': 'error' }, text),
      h('p', {}, h('a', { href: '#/' }, 'Back')),
    );
  }

  // ---- views -------------------------------------------------------------------------------------
  function login(message) {
    who.replaceChildren();
    const input = h('input', {
      type: 'password',
      name: 'token',
      placeholder: 'console or admin token',
      'data-testid': 'token',
      autocomplete: 'off',
    });
    show(
      h(
        'form',
        {
          className: 'login',
          'data-testid': 'login',
          onsubmit: (e) => {
            e.preventDefault();
            sessionStorage.setItem(TOKEN_KEY, input.value.trim());
            route();
          },
        },
        h('h2', {}, 'Sign in'),
        h(
          'p',
          { className: 'muted' },
          'Operators use the admin token; a customer uses the read-only console token issued for them.',
        ),
        message ? h('p', { className: 'error', 'data-testid': 'error' }, message) : null,
        input,
        h('button', { type: 'submit', 'data-testid': 'sign-in' }, 'Sign in'),
      ),
    );
    input.focus();
  }

  function header() {
    const label = viewer.role === 'admin' ? 'operator (all customers)' : 'customer (read-only)';
    who.replaceChildren(
      h('span', { 'data-testid': 'role' }, label),
      h(
        'button',
        {
          type: 'button',
          onclick: () => {
            sessionStorage.removeItem(TOKEN_KEY);
            viewer = null;
            location.hash = '#/';
            login();
          },
        },
        'Sign out',
      ),
    );
  }

  async function customersView() {
    const customers = await api('/customers');
    if (viewer.role === 'customer' && customers.length === 1) {
      location.hash = `#/customers/${customers[0].id}`;
      return;
    }
    show(
      h('h2', {}, 'Customers'),
      table(
        [
          'Customer',
          'Status',
          'Health',
          'Last successful sync',
          { label: 'Open dead letters', num: true },
          { label: 'Failing credentials', num: true },
        ],
        customers.map((c) =>
          h(
            'tr',
            {
              className: 'link',
              'data-testid': `customer-${c.id}`,
              onclick: () => (location.hash = `#/customers/${c.id}`),
            },
            cell(c.name),
            cell(badge(c.status, 'neutral')),
            cell(badge(c.verdict)),
            cell(ago(c.lastSuccessAt)),
            cell(c.openDeadLetters, true),
            cell(c.failingCredentials, true),
          ),
        ),
        'customers',
      ),
    );
  }

  function trend(values) {
    const max = Math.max(1, ...values);
    return h(
      'span',
      { className: 'trend', title: `actionable per run, oldest first: ${values.join(', ')}` },
      values.map((v) =>
        h('span', {
          className: v === 0 ? 'zero' : '',
          style: `height:${Math.max(4, (v / max) * 100)}%`,
        }),
      ),
    );
  }

  async function customerView(customerId, recordId, resource) {
    const health = await api(`/customers/${customerId}/health`);
    const names = Object.fromEntries(
      health.destinations.map((d) => [d.id, `${d.name} (${d.kind})`]),
    );
    const open = health.deadLetters.reduce((n, d) => n + d.open, 0);
    const lastSync =
      health.syncs
        .map((s) => s.lastSuccessAt)
        .filter(Boolean)
        .sort()
        .pop() || null;
    const sum = (key) => health.syncs.reduce((n, s) => n + s[key], 0);
    const trailBox = h('div', { 'data-testid': 'trail' });
    const dlqBox = h('div', { 'data-testid': 'dead-letters' });
    const fixBox = h('div', { 'data-testid': 'source-fixes' });

    const recordInput = h('input', {
      name: 'sourceId',
      placeholder: 'Raise gift / donor ID…',
      'data-testid': 'record-id',
      value: recordId || '',
    });
    const resourceSelect = h(
      'select',
      { name: 'resource', 'data-testid': 'record-resource' },
      h('option', { value: '' }, 'any resource'),
      RESOURCES.map((r) => h('option', { value: r, selected: r === resource }, r)),
    );

    show(
      h(
        'h2',
        { 'data-testid': 'customer-name' },
        health.customer.name,
        ' ',
        badge(health.verdict),
        ' ',
        badge(health.customer.status, 'neutral'),
        ' ',
        h(
          'span',
          { className: 'muted', 'data-testid': 'onboarding-mode' },
          onboardingText(health.customer),
        ),
      ),
      health.reasons.length
        ? h(
            'ul',
            { className: 'reasons', 'data-testid': 'reasons' },
            health.reasons.map((r) => h('li', {}, r)),
          )
        : h('p', { className: 'muted', 'data-testid': 'reasons' }, 'Everything is syncing.'),
      h(
        'ul',
        { className: 'destinations', 'data-testid': 'destinations' },
        health.destinations.map((d) =>
          h(
            'li',
            { 'data-testid': `destination-${d.name}` },
            `${d.name} (${d.kind}): `,
            badge(d.delivery, d.delivery === 'flowing' ? 'neutral' : 'attention'),
            d.pausedSince
              ? ` since ${new Date(d.pausedSince).toISOString().slice(11, 16)} UTC`
              : '',
            d.waiting ? `, ${d.waiting.toLocaleString('en-US')} waiting` : '',
          ),
        ),
      ),
      h(
        'div',
        { className: 'cards' },
        h(
          'div',
          { className: 'card' },
          h('div', { className: 'muted' }, 'Last successful sync'),
          h('div', { className: 'value', 'data-testid': 'last-sync' }, ago(lastSync)),
        ),
        h(
          'div',
          { className: 'card' },
          h('div', { className: 'muted' }, 'Synced today'),
          h('div', { className: 'value', 'data-testid': 'synced-today' }, sum('today')),
        ),
        h(
          'div',
          { className: 'card' },
          h('div', { className: 'muted' }, 'This week'),
          h('div', { className: 'value' }, sum('thisWeek')),
        ),
        h(
          'div',
          { className: 'card' },
          h('div', { className: 'muted' }, 'This month'),
          h('div', { className: 'value' }, sum('thisMonth')),
        ),
        h(
          'div',
          { className: 'card' },
          h('div', { className: 'muted' }, 'Open dead letters'),
          h('div', { className: 'value', 'data-testid': 'open-dead-letters' }, open),
        ),
      ),

      h('h3', {}, 'Find a record (audit trail)'),
      h(
        'form',
        {
          className: 'inline',
          'data-testid': 'record-search',
          onsubmit: (e) => {
            e.preventDefault();
            const id = recordInput.value.trim();
            if (id)
              location.hash = `#/customers/${customerId}/records/${encodeURIComponent(id)}${resourceSelect.value ? `?resource=${resourceSelect.value}` : ''}`;
          },
        },
        recordInput,
        resourceSelect,
        h('button', { type: 'submit', 'data-testid': 'record-go' }, 'Show its path'),
      ),
      trailBox,

      h('h3', {}, 'Syncs by resource and destination (UTC periods)'),
      table(
        [
          'Resource',
          'Destination',
          'Last successful sync',
          { label: 'Today', num: true },
          { label: 'This week', num: true },
          { label: 'This month', num: true },
          { label: 'Failing now', num: true },
        ],
        health.syncs.map((s) =>
          h(
            'tr',
            {},
            cell(s.resource),
            cell(names[s.destinationId] || s.destinationId),
            cell(h('span', { title: when(s.lastSuccessAt) }, ago(s.lastSuccessAt))),
            cell(s.today, true),
            cell(s.thisWeek, true),
            cell(s.thisMonth, true),
            cell(s.failing, true),
          ),
        ),
        'syncs',
      ),

      h('h3', {}, 'Sources: credentials and webhooks'),
      table(
        [
          'Source',
          'Credential',
          'Checked',
          'Webhook subscription',
          'Last webhook delivery',
          'Polling',
        ],
        health.sources.map((s) =>
          h(
            'tr',
            {},
            cell(s.source),
            cell([
              badge(s.credentialStatus),
              s.credentialError ? h('div', { className: 'error' }, s.credentialError) : null,
            ]),
            cell(ago(s.credentialCheckedAt)),
            cell(s.webhookSubscribed ? badge('subscribed', 'valid') : badge('none', 'neutral')),
            cell(ago(s.lastWebhookAt)),
            cell(s.pollingEnabled ? 'on' : 'off'),
          ),
        ),
        'sources',
      ),

      h('h3', {}, 'Waiting for a fix in the source'),
      fixBox,

      h('h3', {}, 'Dead letters'),
      dlqBox,

      h('h3', {}, 'Backfills'),
      table(
        ['Resource', 'Status', 'Progress', 'Requested', 'Finished', 'Error'],
        health.backfills.map((b) => {
          const pct = b.recordsTotal
            ? Math.min(100, Math.round((b.recordsDone / b.recordsTotal) * 100))
            : b.status === 'done'
              ? 100
              : 0;
          return h(
            'tr',
            {},
            cell(b.resource),
            cell(badge(b.status)),
            cell([
              h('span', { className: 'progress' }, h('div', { style: `width:${pct}%` })),
              ` ${b.recordsDone}${b.recordsTotal !== null ? ` / ${b.recordsTotal}` : ''}`,
            ]),
            cell(when(b.requestedAt)),
            cell(when(b.finishedAt)),
            cell(b.lastError || ''),
          );
        }),
        'backfills',
      ),

      h('h3', {}, 'Reconciliation'),
      table(
        ['Check', 'Latest run', 'Window', 'Findings', 'Actionable trend'],
        health.reconciliations.map((r) =>
          h(
            'tr',
            {},
            cell(r.kind),
            cell([badge(r.latest.status), ' ', ago(r.latest.finishedAt)]),
            cell(`${when(r.latest.windowStart)} → ${when(r.latest.windowEnd)}`),
            cell(
              Object.entries(r.latest.counts)
                .filter(([, v]) => v > 0)
                .map(([k, v]) => `${k} ${v}`)
                .join(', ') ||
                (r.latest.error ? h('span', { className: 'error' }, r.latest.error) : '—'),
            ),
            cell(trend(r.trend)),
          ),
        ),
        'reconciliations',
      ),
    );
    await sourceFixes(customerId, fixBox);
    await deadLetters(customerId, names, dlqBox);
    if (recordId) await trail(customerId, recordId, resource, names, trailBox);
  }

  /** Records a destination cannot take until the source is fixed: not failures, no action here. */
  async function sourceFixes(customerId, box) {
    const fixes = await api(`/customers/${customerId}/source-fixes`);
    if (fixes.total === 0) {
      box.replaceChildren(
        h('p', { className: 'muted', 'data-testid': 'source-fix-none' }, 'Nothing waits.'),
      );
      return;
    }
    box.replaceChildren(
      h(
        'p',
        { className: 'muted' },
        'These records are delivered on their own once they are fixed in the source ' +
          '(e.g. the email is added in Raise). They are not failures and need no action here.',
      ),
      table(
        ['Destination', 'Waiting', { label: 'Records', num: true }, 'Since'],
        fixes.groups.map((g) =>
          h(
            'tr',
            { 'data-testid': `source-fix-${g.problem}-${g.resource}` },
            cell(g.destination),
            cell(g.summary),
            cell(g.records, true),
            cell(h('span', { title: when(g.oldest) }, ago(g.oldest))),
          ),
        ),
        'source-fix-table',
      ),
    );
  }

  async function deadLetters(customerId, names, box) {
    const [letters, groups] = await Promise.all([
      api(`/customers/${customerId}/dead-letters`),
      api(`/customers/${customerId}/dead-letter-groups`),
    ]);
    const actOnGroup = (group, action) => async () => {
      if (
        action === 'discard' &&
        !confirm(
          `Discard all ${group.count} dead letters of this group? Their records will not be delivered.`,
        )
      )
        return;
      try {
        const query = new URLSearchParams({
          destinationId: group.destinationId,
          reason: group.reason,
        });
        await api(`/customers/${customerId}/dead-letter-groups/${action}?${query}`, {
          method: 'POST',
        });
        await route();
      } catch (error) {
        box.prepend(
          h(
            'p',
            { className: 'error', 'data-testid': 'action-error' },
            `${action} failed: ${error.message}`,
          ),
        );
      }
    };
    const act = (id, action) => async () => {
      if (
        action === 'discard' &&
        !confirm('Discard this dead letter? The record will not be delivered.')
      )
        return;
      try {
        await api(`/customers/${customerId}/dead-letters/${id}/${action}`, { method: 'POST' });
        // Everything on the page may have changed (counts, verdict, the list): draw it again.
        await route();
      } catch (error) {
        box.prepend(
          h(
            'p',
            { className: 'error', 'data-testid': 'action-error' },
            `${action} failed: ${error.message}`,
          ),
        );
      }
    };
    const canAct = viewer.role === 'admin';
    box.replaceChildren(
      table(
        [
          'Destination',
          'Reason',
          { label: 'Dead letters', num: true },
          'Oldest',
          'Example',
          canAct ? 'Actions' : '',
        ],
        groups.map((g, i) =>
          h(
            'tr',
            { 'data-testid': `dead-letter-group-${i}` },
            cell(names[g.destinationId] || g.destination),
            cell(g.reason),
            cell(g.count, true),
            cell(h('span', { title: when(g.oldest) }, ago(g.oldest))),
            cell(h('code', {}, g.example)),
            cell(
              canAct
                ? [
                    h(
                      'button',
                      {
                        type: 'button',
                        'data-testid': 'retry-group',
                        onclick: actOnGroup(g, 'retry'),
                      },
                      'Retry all',
                    ),
                    ' ',
                    h(
                      'button',
                      {
                        type: 'button',
                        'data-testid': 'discard-group',
                        onclick: actOnGroup(g, 'discard'),
                      },
                      'Discard all',
                    ),
                  ]
                : '',
            ),
          ),
        ),
        'dead-letter-groups',
      ),
      table(
        [
          'Record',
          'Destination',
          'Reason',
          'Error',
          'Failed',
          { label: 'Attempts', num: true },
          canAct ? 'Actions' : '',
        ],
        letters.map((d) =>
          h(
            'tr',
            { 'data-testid': `dead-letter-${d.id}` },
            cell(
              h(
                'a',
                {
                  href: `#/customers/${customerId}/records/${encodeURIComponent(d.sourceId || '')}?resource=${d.resource || ''}`,
                },
                `${d.resource} ${d.sourceId}`,
              ),
            ),
            cell(names[d.destinationId] || d.destinationId || '—'),
            cell(d.reason),
            cell(h('code', {}, d.errorMessage)),
            cell(h('span', { title: when(d.firstFailedAt) }, ago(d.firstFailedAt))),
            cell(d.attempts, true),
            cell(
              canAct
                ? [
                    h(
                      'button',
                      { type: 'button', 'data-testid': 'retry', onclick: act(d.id, 'retry') },
                      'Retry',
                    ),
                    ' ',
                    h(
                      'button',
                      { type: 'button', 'data-testid': 'discard', onclick: act(d.id, 'discard') },
                      'Discard',
                    ),
                  ]
                : '',
            ),
          ),
        ),
        'dead-letter-table',
      ),
    );
  }

  async function trail(customerId, sourceId, resource, names, box) {
    const query = resource ? `?resource=${encodeURIComponent(resource)}` : '';
    const result = await api(
      `/customers/${customerId}/records/${encodeURIComponent(sourceId)}${query}`,
    );
    if (!result.found) {
      box.replaceChildren(
        h(
          'p',
          { className: 'muted', 'data-testid': 'trail-empty' },
          `No trace of ${sourceId} for this customer yet.`,
        ),
      );
      return;
    }
    const erasure = result.erasure
      ? h(
          'p',
          { className: 'erasure', 'data-testid': 'trail-erasure' },
          `donor ${result.erasure.status}` +
            (result.erasure.completedAt ? ` at ${result.erasure.completedAt}` : '') +
            ` (${result.erasure.trigger}, requested by ${result.erasure.requestedBy}):` +
            ' personal data removed from the state store and the warehouse; ' +
            Object.entries(result.erasure.destinations)
              .map(([name, outcome]) => `${name}: ${outcome}`)
              .join(', '),
        )
      : null;
    box.replaceChildren(
      ...(erasure ? [erasure] : []),
      ...result.records.map((rec) => {
        const links = h(
          'div',
          { 'data-testid': `links-${rec.resource}` },
          h('span', { className: 'muted' }, 'Looking up crmKeyUrls…'),
        );
        api(
          `/customers/${customerId}/records/${encodeURIComponent(sourceId)}/links?resource=${rec.resource}`,
        )
          .then((l) =>
            links.replaceChildren(
              l.links.length
                ? h(
                    'span',
                    {},
                    'Open in: ',
                    l.links.map((x, i) => [
                      i ? ', ' : '',
                      h(
                        'a',
                        {
                          href: x.url,
                          target: '_blank',
                          rel: 'noopener noreferrer',
                          'data-testid': 'crm-link',
                        },
                        x.name || x.integration,
                      ),
                    ]),
                  )
                : h(
                    'span',
                    { className: 'muted' },
                    l.unavailable || 'no crmKeyUrls on this record',
                  ),
            ),
          )
          .catch((error) =>
            links.replaceChildren(
              h('span', { className: 'muted' }, `links unavailable: ${error.message}`),
            ),
          );
        return h(
          'section',
          { 'data-testid': `trail-${rec.resource}` },
          h('h3', {}, `${rec.resource} ${sourceId}`),
          links,
          h('p', { className: 'muted' }, 'Captured'),
          table(
            [
              'Event',
              'How',
              'Captured at',
              'Topic',
              { label: 'Partition', num: true },
              { label: 'Offset', num: true },
            ],
            rec.captures.map((c) =>
              h(
                'tr',
                {},
                cell(h('code', {}, c.eventId.slice(0, 12))),
                cell(badge(c.origin || 'unknown', 'neutral')),
                cell(when(c.capturedAt)),
                cell(c.topic || '—'),
                cell(c.partition ?? '—', true),
                cell(c.offset ?? '—', true),
              ),
            ),
            'captures',
          ),
          h('p', { className: 'muted' }, 'Destinations'),
          table(
            [
              'Destination',
              'Status',
              'Destination ID',
              { label: 'Attempts', num: true },
              'Last error',
              'Updated',
              'History',
            ],
            rec.destinations.map((d) =>
              h(
                'tr',
                { 'data-testid': `trail-destination-${d.destinationId}` },
                cell(names[d.destinationId] || d.name),
                cell(badge(d.status)),
                cell(
                  h(
                    'code',
                    { 'data-testid': 'destination-record-id' },
                    d.destinationRecordId || '—',
                  ),
                ),
                cell(d.attempts, true),
                cell(d.lastError ? h('code', {}, d.lastError) : ''),
                cell(when(d.updatedAt)),
                cell(
                  h(
                    'details',
                    {},
                    h('summary', {}, `${d.history.length} change(s)`),
                    h(
                      'ol',
                      {},
                      d.history.map((x) =>
                        h(
                          'li',
                          {},
                          `${when(x.at)}: ${x.fromStatus || 'new'} → ${x.toStatus} (${x.origin || '?'}, attempt ${x.attempts ?? '?'})${x.error ? ` ${x.error}` : ''}`,
                        ),
                      ),
                    ),
                  ),
                ),
              ),
            ),
            'trail-destinations',
          ),
          rec.deadLetters.length
            ? table(
                ['Dead letter', 'Reason', 'Status', 'Failed'],
                rec.deadLetters.map((d) =>
                  h(
                    'tr',
                    {},
                    cell(h('code', {}, d.id.slice(0, 8))),
                    cell(d.reason),
                    cell(badge(d.status)),
                    cell(when(d.firstFailedAt)),
                  ),
                ),
                'trail-dead-letters',
              )
            : null,
        );
      }),
    );
  }

  // ---- routing -----------------------------------------------------------------------------------
  async function route() {
    if (!sessionStorage.getItem(TOKEN_KEY)) return login();
    try {
      if (!viewer) viewer = await api('/me');
      header();
      const [path, search] = location.hash.replace(/^#/, '').split('?');
      const parts = (path || '/').split('/').filter(Boolean);
      const params = new URLSearchParams(search || '');
      if (parts[0] === 'customers' && parts[1]) {
        await customerView(
          parts[1],
          parts[2] === 'records' ? decodeURIComponent(parts[3] || '') : null,
          params.get('resource') || '',
        );
      } else {
        await customersView();
      }
    } catch (error) {
      failure(error);
    }
  }
  window.addEventListener('hashchange', route);
  route();
})();
