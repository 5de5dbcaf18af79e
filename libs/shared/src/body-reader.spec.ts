import type { IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import {
  BodyBudgetExceededError,
  BodyTimeoutError,
  BodyTooLargeError,
  ClientAbortedError,
  readBody,
  UnverifiedBytes,
} from './body-reader';

/** Enough of an IncomingMessage: headers, `complete` and a body pushed by the test. */
class FakeRequest extends Readable {
  complete = false;
  constructor(readonly headers: Record<string, string> = {}) {
    super();
  }
  override _read(): void {}
  send(text: string): void {
    this.push(Buffer.from(text));
  }
  finish(): void {
    this.complete = true;
    this.push(null);
  }
}

const asRequest = (req: FakeRequest): IncomingMessage => req as unknown as IncomingMessage;

describe(readBody.name, () => {
  it('reads the body, holding its declared length in the budget until released', async () => {
    const budget = new UnverifiedBytes(100);
    const req = new FakeRequest({ 'content-length': '5' });
    const reading = readBody(asRequest(req), { maxBytes: 50, timeoutMs: 5000, budget });
    expect(budget.heldBytes).toBe(5);
    req.send('hello');
    req.finish();
    const held = await reading;
    expect(held.bytes.toString()).toBe('hello');
    expect(budget.heldBytes).toBe(5);
    held.release();
    held.release();
    expect(budget.heldBytes).toBe(0);
  });

  it('refuses a declared length over the limit or over what is left of the budget, reading nothing', async () => {
    const budget = new UnverifiedBytes(100);
    expect(budget.take(60)).toBe(true);
    const tooLarge = new FakeRequest({ 'content-length': '51' });
    await expect(
      readBody(asRequest(tooLarge), { maxBytes: 50, timeoutMs: 5000, budget }),
    ).rejects.toBeInstanceOf(BodyTooLargeError);
    const busy = new FakeRequest({ 'content-length': '41' });
    await expect(
      readBody(asRequest(busy), { maxBytes: 50, timeoutMs: 5000, budget }),
    ).rejects.toBeInstanceOf(BodyBudgetExceededError);
    expect(budget.heldBytes).toBe(60);
    expect(tooLarge.readableLength + busy.readableLength).toBe(0);
  });

  it('counts a body without a length as it arrives and gives it all back when it passes the budget', async () => {
    const budget = new UnverifiedBytes(10);
    const req = new FakeRequest();
    const reading = readBody(asRequest(req), { maxBytes: 50, timeoutMs: 5000, budget });
    req.send('123456');
    await new Promise((resolve) => setImmediate(resolve));
    expect(budget.heldBytes).toBe(6);
    req.send('7890AB');
    await expect(reading).rejects.toBeInstanceOf(BodyBudgetExceededError);
    expect(budget.heldBytes).toBe(0);
  });

  it('gives up on a trickled body at the timeout and holds nothing after it', async () => {
    jest.useFakeTimers();
    try {
      const budget = new UnverifiedBytes(100);
      const req = new FakeRequest({ 'content-length': '40' });
      const reading = readBody(asRequest(req), { maxBytes: 50, timeoutMs: 1000, budget });
      const failed = reading.catch((error: unknown) => error);
      req.send('a');
      jest.advanceTimersByTime(999);
      expect(budget.heldBytes).toBe(40);
      jest.advanceTimersByTime(1);
      expect(await failed).toBeInstanceOf(BodyTimeoutError);
      expect(budget.heldBytes).toBe(0);
      expect(req.listenerCount('data')).toBe(0);
    } finally {
      jest.useRealTimers();
    }
  });

  it('reports a client that disconnects mid-body as client_aborted, not as our failure', async () => {
    const budget = new UnverifiedBytes(100);
    const req = new FakeRequest({ 'content-length': '40' });
    const reading = readBody(asRequest(req), { maxBytes: 50, timeoutMs: 5000, budget });
    req.send('partial');
    req.destroy(Object.assign(new Error('aborted'), { code: 'ECONNRESET' }));
    const error = await reading.catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ClientAbortedError);
    expect(budget.heldBytes).toBe(0);
    // A request that was already gone before reading started fails the same way at once.
    await expect(
      readBody(asRequest(req), { maxBytes: 50, timeoutMs: 5000, budget }),
    ).rejects.toBeInstanceOf(ClientAbortedError);
  });
});
