import { customerScope, InvalidCustomerIdError } from './customer-scope';

describe('customerScope', () => {
  it('holds the customer ID, lower-cased, and cannot be changed', () => {
    const scope = customerScope('9B2F0C1E-6D3A-4E8B-9F10-2A3B4C5D6E7F');
    expect(scope.customerId).toBe('9b2f0c1e-6d3a-4e8b-9f10-2a3b4c5d6e7f');
    expect(Object.isFrozen(scope)).toBe(true);
  });

  it.each(['', 'c1', "x' OR 1=1 --", '9b2f0c1e-6d3a-4e8b-9f10-2a3b4c5d6e7f\n'])(
    'refuses %j without echoing it',
    (id) => {
      expect(() => customerScope(id)).toThrow(InvalidCustomerIdError);
      expect(() => customerScope(id)).toThrow(/^not a customer ID \(a UUID is expected\)$/);
    },
  );
});
