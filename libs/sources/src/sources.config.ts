import { configSection, httpUrl, variable, type SectionConfig } from '@raise-sync/shared/config';
import { DEFAULT_RATE_SPECS, type RateSpec } from './rate-budget';
import type { SourceApi } from './source-errors';

const RATES = /^(raise|vomo)=\d+(\.\d+)?:\d+(,(raise|vomo)=\d+(\.\d+)?:\d+)*$/;

/** `raise=1:5,vomo=2:4`: per API, requests per second and burst; unnamed APIs keep their default. */
function parseRates(text: string): Record<SourceApi, RateSpec> | undefined {
  if (!RATES.test(text)) {
    return undefined;
  }
  const rates: Record<SourceApi, RateSpec> = { ...DEFAULT_RATE_SPECS };
  for (const part of text.split(',')) {
    const [api, spec] = part.split('=') as [SourceApi, string];
    const [requestsPerSecond, burst] = spec.split(':').map(Number) as [number, number];
    if (requestsPerSecond <= 0 || burst < 1) {
      return undefined;
    }
    rates[api] = { requestsPerSecond, burst };
  }
  return rates;
}

const showRates = (rates: Record<SourceApi, RateSpec>): string =>
  Object.entries(rates)
    .map(([api, spec]) => `${api}=${spec.requestsPerSecond}:${spec.burst}`)
    .join(',');

/** The source APIs every service calls (ingest polls, backfills, reconciliation, completion). */
export const SOURCES_CONFIG = configSection({
  owner: 'libs/sources',
  variables: {
    RAISE_API_URL: httpUrl({
      default: 'https://prod-api.raisedonors.com',
      description: 'Raise API base URL (a simulator in tests and the demo)',
    }),
    VOMO_API_URL: httpUrl({
      default: 'https://api.vomo.org/v1',
      description: 'VOMO API base URL',
    }),
    SOURCE_RATE_LIMITS: variable(
      "a list like 'raise=1:5,vomo=2:4' (requests per second : burst, per customer)",
      parseRates,
      {
        default: DEFAULT_RATE_SPECS,
        description: 'per customer and API: requests per second : burst',
      },
      showRates,
    ),
  },
  build: (v) => ({
    sources: {
      raiseApiUrl: v.RAISE_API_URL,
      vomoApiUrl: v.VOMO_API_URL,
      rates: v.SOURCE_RATE_LIMITS,
    },
  }),
});

export type SourcesConfig = SectionConfig<typeof SOURCES_CONFIG>;
