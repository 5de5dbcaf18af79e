import { readAhead } from './run-support';

/** A source answers on a later turn of the event loop, like an HTTP call. */
const answer = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('readAhead', () => {
  it('asks for the next item while the caller handles the current one, and keeps the order', async () => {
    const log: string[] = [];
    async function* pages(): AsyncGenerator<number> {
      for (let i = 1; i <= 3; i += 1) {
        await answer();
        log.push(`read ${i}`);
        yield i;
      }
    }
    const seen: number[] = [];
    for await (const page of readAhead(pages())) {
      // Let the read-ahead run before handling the page.
      await new Promise((r) => setImmediate(r));
      log.push(`handle ${page}`);
      seen.push(page);
    }
    expect(seen).toEqual([1, 2, 3]);
    expect(log).toEqual(['read 1', 'read 2', 'handle 1', 'read 3', 'handle 2', 'handle 3']);
  });

  it('keeps `depth` reads in flight while the caller is busy', async () => {
    let reads = 0;
    async function* pages(): AsyncGenerator<number> {
      for (let i = 1; i <= 5; i += 1) {
        await answer();
        reads += 1;
        yield i;
      }
    }
    const readsWhenHandled: number[] = [];
    for await (const page of readAhead(pages(), 2)) {
      for (let i = 0; i < 10; i += 1) {
        await answer(); // a slow check: the reads ahead finish meanwhile
      }
      readsWhenHandled.push(reads);
      expect(reads).toBeLessThanOrEqual(page + 2);
    }
    expect(readsWhenHandled).toEqual([3, 4, 5, 5, 5]);
  });

  it('throws the source error where the failed item would have been', async () => {
    async function* pages(): AsyncGenerator<number> {
      await answer();
      yield 1;
      throw new Error('source down');
    }
    const seen: number[] = [];
    await expect(
      (async () => {
        for await (const page of readAhead(pages())) {
          seen.push(page);
        }
      })(),
    ).rejects.toThrow('source down');
    expect(seen).toEqual([1]);
  });

  it('closes the source when the caller leaves early, after the read in flight', async () => {
    let closed = false;
    async function* pages(): AsyncGenerator<number> {
      try {
        for (let i = 1; ; i += 1) {
          await answer();
          yield i;
        }
      } finally {
        closed = true;
      }
    }
    for await (const page of readAhead(pages())) {
      if (page === 2) {
        break;
      }
    }
    expect(closed).toBe(true);
  });

  it('does not leave an unhandled rejection when the caller fails before the next read', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      async function* pages(): AsyncGenerator<number> {
        await answer();
        yield 1;
        throw new Error('source down');
      }
      await expect(
        (async () => {
          for await (const _page of readAhead(pages())) {
            throw new Error('check failed');
          }
        })(),
      ).rejects.toThrow('check failed');
      await new Promise((r) => setImmediate(r));
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });
});
