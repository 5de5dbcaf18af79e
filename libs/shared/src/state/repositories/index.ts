export * from './customer.repository';
export * from './sync-record.repository';
export * from './checkpoint.repository';
export * from './write-intent.repository';
export * from './console-token.repository';
export * from './destination.repository';
export * from './cross-product-arrival.repository';
export * from './customer-purge.repository';
