/**
 * ISO 4217 minor-unit exponents that are not 2. Everything else (USD, EUR, GBP, CAD, AUD, …)
 * has 2 decimals. Kept explicit (not Intl) so the result never depends on the ICU build.
 */
const ZERO_DECIMALS = new Set([
  'BIF',
  'CLP',
  'DJF',
  'GNF',
  'ISK',
  'JPY',
  'KMF',
  'KRW',
  'PYG',
  'RWF',
  'UGX',
  'UYI',
  'VND',
  'VUV',
  'XAF',
  'XOF',
  'XPF',
]);
const THREE_DECIMALS = new Set(['BHD', 'IQD', 'JOD', 'KWD', 'LYD', 'OMR', 'TND']);
const FOUR_DECIMALS = new Set(['CLF', 'UYW']);

export class AmountError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AmountError';
  }
}

/** Number of decimals of a currency's minor unit (JPY 0, USD 2, KWD 3). */
export function currencyDecimals(currency: string): number {
  const code = currency.trim().toUpperCase();
  if (!/^[A-Z]{3}$/.test(code)) {
    throw new AmountError(`"${currency}" is not an ISO 4217 currency code`);
  }
  if (ZERO_DECIMALS.has(code)) {
    return 0;
  }
  if (THREE_DECIMALS.has(code)) {
    return 3;
  }
  return FOUR_DECIMALS.has(code) ? 4 : 2;
}

/**
 * A decimal-string amount in the currency's minor units, exactly (no floats): '125.50' USD →
 * 12550, '1250' JPY → 1250, '1250.00' JPY → 1250, '1.5' KWD → 1500. Throws AmountError for text
 * that is not a plain decimal, for precision the currency cannot hold ('1250.50' JPY) and for
 * results beyond Number.MAX_SAFE_INTEGER.
 */
export function toMinorUnits(amount: string, currency: string): number {
  const decimals = currencyDecimals(currency);
  const match = /^([+-]?)(\d+)(?:\.(\d+))?$/.exec(amount.trim());
  if (!match) {
    throw new AmountError(`amount "${amount}" is not a decimal number`);
  }
  const [, sign = '', whole = '0', fraction = ''] = match;
  const significant = fraction.replace(/0+$/, '');
  if (significant.length > decimals) {
    throw new AmountError(
      `amount ${amount} ${currency.toUpperCase()} has more decimals than the currency's ${decimals}`,
    );
  }
  const minor =
    BigInt(whole) * 10n ** BigInt(decimals) + BigInt(significant.padEnd(decimals, '0') || '0');
  if (minor > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new AmountError(`amount ${amount} is too large`);
  }
  const value = Number(minor);
  return sign === '-' && value !== 0 ? -value : value;
}

/** A decimal-string amount as a JSON number for APIs that take one (CRM+): '125.50' → 125.5. */
export function toJsonAmount(amount: string): number {
  const value = Number(amount);
  if (!/^[+-]?\d+(\.\d+)?$/.test(amount.trim()) || !Number.isFinite(value)) {
    throw new AmountError(`amount "${amount}" is not a decimal number`);
  }
  return value;
}
