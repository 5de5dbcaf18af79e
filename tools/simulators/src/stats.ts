import type { SimResource } from './data/dataset';

/** One page the simulator served from a query or list endpoint. */
export interface PageServed {
  endpoint: 'query' | 'list' | 'users';
  skip: number;
  take: number;
  count: number;
  total: number;
  firstId: number | null;
  lastId: number | null;
  sortBy: string;
  descending: boolean;
}

export interface WebhookStats {
  /** Individual HTTP attempts (retries included). */
  attempts: number;
  /** Deliveries acknowledged with 2xx. */
  delivered: number;
  /** Deliveries that exhausted their retries. */
  failed: number;
  /** Deliveries never sent (drop fault or webhooks disabled). */
  dropped: number;
  /** Extra deliveries created by the duplicate fault. */
  duplicated: number;
  /** Deliveries queued, in flight or waiting for a retry right now. */
  pending: number;
}

export interface OrgStats {
  requests: {
    total: number;
    /** Keyed `METHOD /path/template`, e.g. `POST /api/Gift/query`, `GET /users`. */
    byRoute: Record<string, number>;
    /** Keyed by status code. */
    byStatus: Record<string, number>;
  };
  /** 429 answers sent. */
  rateLimited: number;
  pages: Partial<Record<SimResource, PageServed[]>>;
  webhooks: WebhookStats;
}

/** Pages kept per resource; older ones are discarded past this. */
const MAX_PAGES = 100_000;

export class StatsRecorder {
  private data = new Map<string, OrgStats>();

  private for(org: string): OrgStats {
    let stats = this.data.get(org);
    if (!stats) {
      stats = emptyStats();
      this.data.set(org, stats);
    }
    return stats;
  }

  request(org: string, route: string, status: number): void {
    const stats = this.for(org);
    stats.requests.total++;
    stats.requests.byRoute[route] = (stats.requests.byRoute[route] ?? 0) + 1;
    const code = String(status);
    stats.requests.byStatus[code] = (stats.requests.byStatus[code] ?? 0) + 1;
    if (status === 429) {
      stats.rateLimited++;
    }
  }

  page(org: string, resource: SimResource, page: PageServed): void {
    const pages = this.for(org).pages;
    const list = (pages[resource] ??= []);
    if (list.length >= MAX_PAGES) {
      list.splice(0, list.length - MAX_PAGES + 1);
    }
    list.push(page);
  }

  webhook(org: string, field: Exclude<keyof WebhookStats, 'pending'>, delta = 1): void {
    this.for(org).webhooks[field] += delta;
  }

  /** A deep copy, with `pending` filled in by the caller's live count. */
  snapshot(org: string, pending: number): OrgStats {
    const stats = this.data.get(org) ?? emptyStats();
    const copy = structuredClone(stats);
    copy.webhooks.pending = pending;
    return copy;
  }

  reset(): void {
    this.data = new Map();
  }

  forget(org: string): void {
    this.data.delete(org);
  }
}

function emptyStats(): OrgStats {
  return {
    requests: { total: 0, byRoute: {}, byStatus: {} },
    rateLimited: 0,
    pages: {},
    webhooks: { attempts: 0, delivered: 0, failed: 0, dropped: 0, duplicated: 0, pending: 0 },
  };
}
