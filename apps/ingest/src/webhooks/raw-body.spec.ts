import {
  BodyBudgetExceededError,
  BodyTimeoutError,
  BodyTooLargeError,
  ClientAbortedError,
} from '@raise-sync/shared';
import { bodyReadRefusal } from './raw-body';

describe(bodyReadRefusal.name, () => {
  it('answers each read failure with its status and reason, and rethrows anything else', () => {
    expect(bodyReadRefusal(new BodyTooLargeError(10))).toMatchObject({
      status: 413,
      reason: 'too_large',
    });
    expect(bodyReadRefusal(new BodyBudgetExceededError(10))).toMatchObject({
      status: 503,
      reason: 'busy',
      retryAfterSeconds: 5,
    });
    expect(bodyReadRefusal(new BodyTimeoutError(10))).toMatchObject({
      status: 408,
      reason: 'body_timeout',
    });
    expect(bodyReadRefusal(new ClientAbortedError())).toMatchObject({
      status: 499,
      reason: 'client_aborted',
    });
    const bug = new TypeError('bug');
    expect(() => bodyReadRefusal(bug)).toThrow(bug);
  });
});
