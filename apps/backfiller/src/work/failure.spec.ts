import {
  SourceAuthError,
  SourceContractError,
  SourceRequestError,
  SourceUnavailableError,
} from '@raise-sync/sources';
import { backoffMs, classifyFailure, MissingTokenError } from './failure';

describe('classifyFailure', () => {
  it('fails the run on a refused token, with what to do about it', () => {
    const result = classifyFailure(new SourceAuthError('401', 'c1', 'raise', 401), 'raise', 1);
    expect(result.action).toBe('fail-run');
    expect(result.reason).toBe('source_auth');
    expect(result.message).toMatch(/raise refused the customer's API token \(HTTP 401\)/);
  });

  it('fails the run when retrying would get the same answer', () => {
    expect(classifyFailure(new SourceRequestError('bad filter', 400), 'raise', 1)).toMatchObject({
      action: 'fail-run',
      reason: 'source_rejected',
    });
    expect(classifyFailure(new SourceContractError('not sorted'), 'raise', 1)).toMatchObject({
      action: 'fail-run',
      reason: 'source_contract',
    });
    expect(classifyFailure(new MissingTokenError('c1', 'vomo'), 'vomo', 1)).toMatchObject({
      action: 'fail-run',
      reason: 'no_token',
    });
  });

  it('retries an unavailable source after its Retry-After, else with growing backoff', () => {
    expect(classifyFailure(new SourceUnavailableError('429', 90_000), 'raise', 1)).toMatchObject({
      action: 'retry',
      reason: 'source_unavailable',
      backoffMs: 90_000,
    });
    expect(classifyFailure(new Error('ECONNRESET'), 'raise', 3)).toMatchObject({
      action: 'retry',
      reason: 'unexpected',
      backoffMs: 20_000,
    });
  });

  it('caps the backoff at five minutes', () => {
    expect(backoffMs(1)).toBe(5000);
    expect(backoffMs(2)).toBe(10_000);
    expect(backoffMs(30)).toBe(300_000);
    expect(backoffMs(1, 3_600_000)).toBe(300_000);
  });
});
