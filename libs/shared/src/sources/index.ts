export * from './raise-wire';
export * from './vomo-wire';
export * from './source-errors';
export * from './rate-budget';
export * from './http-client';
export * from './raise-client';
export * from './vomo-client';
export * from './mapping';
