import { DestinationBudgets } from './destination-budgets';

describe('DestinationBudgets', () => {
  it('grants a burst, then refuses with the wait until the next token, per destination', () => {
    let now = 0;
    const budgets = new DestinationBudgets(() => now);
    const config = { rateLimit: { requestsPerSecond: 2, burst: 2 } };
    expect(budgets.take('d1', config)).toBe(0);
    expect(budgets.take('d1', config)).toBe(0);
    expect(budgets.take('d1', config)).toBe(500);
    expect(budgets.take('d2', config)).toBe(0); // another destination has its own budget
    now += 500;
    expect(budgets.take('d1', config)).toBe(0);
  });

  it('is unlimited without a rateLimit', () => {
    const budgets = new DestinationBudgets(() => 0);
    for (let i = 0; i < 100; i += 1) {
      expect(budgets.take('d', {})).toBe(0);
    }
  });
});
