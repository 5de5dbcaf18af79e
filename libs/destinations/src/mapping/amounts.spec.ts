import { AmountError, currencyDecimals, toJsonAmount, toMinorUnits } from './amounts';

describe('toMinorUnits', () => {
  it.each([
    ['125.50', 'USD', 12550],
    ['125.5', 'usd', 12550],
    ['0.01', 'EUR', 1],
    ['19.99', 'GBP', 1999],
    ['1250', 'JPY', 1250],
    ['1250.00', 'JPY', 1250],
    ['5000', 'KRW', 5000],
    ['1.5', 'KWD', 1500],
    ['1.234', 'BHD', 1234],
    ['-20.00', 'USD', -2000],
    ['0.10000', 'USD', 10],
    ['90071992547409.91', 'USD', 9007199254740991],
  ])('%s %s → %i', (amount, currency, minor) => {
    expect(toMinorUnits(amount, currency)).toBe(minor);
  });

  it('never goes through floats (0.29 * 100 would be 28.999…)', () => {
    expect(toMinorUnits('0.29', 'USD')).toBe(29);
    expect(toMinorUnits('1.005', 'KWD')).toBe(1005);
  });

  it.each([
    ['1250.50', 'JPY', /more decimals/],
    ['1.001', 'USD', /more decimals/],
    ['12,50', 'EUR', /not a decimal/],
    ['1e3', 'USD', /not a decimal/],
    ['', 'USD', /not a decimal/],
    ['10', 'US', /ISO 4217/],
    ['90071992547409.92', 'USD', /too large/],
  ])('refuses %s %s', (amount, currency, message) => {
    expect(() => toMinorUnits(amount, currency)).toThrow(AmountError);
    expect(() => toMinorUnits(amount, currency)).toThrow(message);
  });
});

describe('currencyDecimals', () => {
  it('knows zero-, two- and three-decimal currencies', () => {
    expect(currencyDecimals('JPY')).toBe(0);
    expect(currencyDecimals('CLP')).toBe(0);
    expect(currencyDecimals('USD')).toBe(2);
    expect(currencyDecimals('CAD')).toBe(2);
    expect(currencyDecimals('TND')).toBe(3);
  });
});

describe('toJsonAmount', () => {
  it('turns a decimal string into a JSON number', () => {
    expect(toJsonAmount('125.50')).toBe(125.5);
    expect(() => toJsonAmount('abc')).toThrow(AmountError);
  });
});
