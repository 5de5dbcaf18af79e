import { PATCHED_KAFKAJS_VERSION, quietIdleRequestQueues } from './request-queue-idle';

/* eslint-disable @typescript-eslint/no-require-imports -- kafkajs exports no RequestQueue */
const { version } = require('kafkajs/package.json') as { version: string };
const RequestQueue = require('kafkajs/src/network/requestQueue') as new (options: object) => {
  pending: unknown[];
  throttledUntil: number;
  throttleCheckTimeoutId: NodeJS.Timeout | null;
  checkPendingRequests(): void;
  scheduleCheckPendingRequests(): void;
};
/* eslint-enable @typescript-eslint/no-require-imports */

const logger = { debug: () => undefined, warn: () => undefined, error: () => undefined };
const queue = () =>
  new RequestQueue({
    maxInFlightRequests: 1,
    requestTimeout: 1000,
    clientId: 't',
    broker: 'b',
    logger,
  });

describe('quietIdleRequestQueues (kafkajs idle request-queue timer)', () => {
  it('is made for the installed kafkajs (an upgrade must look at it again)', () => {
    expect(version).toBe(PATCHED_KAFKAJS_VERSION);
    expect(quietIdleRequestQueues()).toBe(true);
    expect(quietIdleRequestQueues()).toBe(true); // idempotent
  });

  it('arms no timer when a check finds nothing pending (before: a 1 ms timer, again and again)', () => {
    quietIdleRequestQueues();
    const q = queue();
    q.checkPendingRequests();
    expect(q.throttleCheckTimeoutId).toBeNull();
  });

  it('still arms the timer while requests wait, at the end of a throttle', () => {
    quietIdleRequestQueues();
    const q = queue();
    q.throttledUntil = Date.now() + 60_000;
    q.pending.push({});
    q.scheduleCheckPendingRequests();
    expect(q.throttleCheckTimeoutId).not.toBeNull();
    clearTimeout(q.throttleCheckTimeoutId ?? undefined);
  });
});
