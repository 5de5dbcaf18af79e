/**
 * Stops kafkajs's busy timer on idle broker connections.
 *
 * In kafkajs 2.2.4 every broker connection's request queue re-arms a timer after each check of
 * its pending requests, with a delay of `throttledUntil - now`: negative when the broker does not
 * throttle us, which Node turns into 1 ms. So an idle connection wakes the process about a
 * thousand times a second to look at an empty queue (tulios/kafkajs#1556, #1704, #1751; the
 * `TimeoutNegativeWarning` Node 24 prints). Measured on an idle ingest: ~900 wake-ups and
 * ~45 ms of CPU per second, in every service, whatever its traffic.
 *
 * A check is only needed while requests wait: `push` arms the timer when it queues a request
 * (throttled, or too many in flight), and every response or request timeout runs the check
 * itself. So the timer is armed only with requests pending; with them, it behaves as before.
 * Applied once, when this folder's Kafka code loads; a kafkajs other than the one checked here
 * is left alone (request-queue-idle.spec.ts fails on an upgrade, so it gets looked at again).
 */
export const PATCHED_KAFKAJS_VERSION = '2.2.4';

interface RequestQueueShape {
  pending: unknown[];
  scheduleCheckPendingRequests: (this: RequestQueueShape) => void;
}

let applied: boolean | undefined;

/** Applies the fix (idempotent); true when the installed kafkajs is the one it was made for. */
export function quietIdleRequestQueues(): boolean {
  if (applied !== undefined) {
    return applied;
  }
  /* eslint-disable @typescript-eslint/no-require-imports -- kafkajs exports no RequestQueue */
  const { version } = require('kafkajs/package.json') as { version: string };
  const RequestQueue = require('kafkajs/src/network/requestQueue') as {
    prototype: RequestQueueShape;
  };
  /* eslint-enable @typescript-eslint/no-require-imports */
  const original = RequestQueue.prototype.scheduleCheckPendingRequests;
  applied = version === PATCHED_KAFKAJS_VERSION && typeof original === 'function';
  if (applied) {
    RequestQueue.prototype.scheduleCheckPendingRequests = function (this: RequestQueueShape) {
      if (this.pending.length > 0) {
        original.call(this);
      }
    };
  }
  return applied;
}
