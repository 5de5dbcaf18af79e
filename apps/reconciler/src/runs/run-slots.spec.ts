import { RunSlots } from './run-slots';

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('RunSlots: a run held by push-back lends its working slot to other runs', () => {
  it('a held run lends its slot, another run works, and the held one waits its turn to go on', async () => {
    const slots = new RunSlots(2);
    const a1 = slots.open();
    const a2 = slots.open();
    expect([a1.holding, a2.holding, slots.available()]).toEqual([true, true, 0]);

    // Both of customer A's runs wait for A's lanes: both slots are free for other customers.
    a1.lend();
    a2.lend();
    expect(slots.available()).toBe(2);
    const b = slots.open();
    expect(b.holding).toBe(true);
    expect(slots.available()).toBe(1);

    // A's lanes drained: a1 goes on at once (one slot free), a2 waits until B ends.
    await a1.reclaim();
    expect(a1.holding).toBe(true);
    let a2Back = false;
    const a2Reclaim = a2.reclaim().then(() => {
      a2Back = true;
    });
    await tick();
    expect(a2Back).toBe(false);
    expect(slots.available()).toBe(0);
    b.end();
    await a2Reclaim;
    expect(a2.holding).toBe(true);
    a1.end();
    a2.end();
    expect(slots.available()).toBe(2);
  });

  it('a run claimed while a held run took the slot back waits for one before it starts', async () => {
    const slots = new RunSlots(1);
    const first = slots.open();
    first.lend();
    const second = slots.open(); // takes the free slot
    const late = slots.open(); // none left: starts without one
    expect([second.holding, late.holding]).toEqual([true, false]);
    let started = false;
    const start = late.take().then(() => {
      started = true;
    });
    await tick();
    expect(started).toBe(false);
    second.end();
    await start;
    expect(late.holding).toBe(true);
    late.end();
    first.end(); // holds none: ending it gives nothing back twice
    expect(slots.available()).toBe(1);
  });

  it('an abort ends a wait for a slot without taking one', async () => {
    const slots = new RunSlots(1);
    const busy = slots.open();
    const held = slots.open();
    const abort = new AbortController();
    const waiting = held.take(abort.signal);
    abort.abort();
    await waiting;
    expect(held.holding).toBe(false);
    held.end();
    busy.end();
    expect(slots.available()).toBe(1);
  });

  it('tells the code inside a run which run it belongs to', async () => {
    const slots = new RunSlots(2);
    const one = slots.open();
    const two = slots.open();
    expect(slots.current()).toBeUndefined();
    const seen = await Promise.all([
      slots.run(one, async () => {
        await tick();
        return slots.current();
      }),
      slots.run(two, () => Promise.resolve(slots.current())),
    ]);
    expect(seen).toEqual([one, two]);
  });
});
