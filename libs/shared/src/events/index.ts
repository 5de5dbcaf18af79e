export * from './source-event';
export * from './schemas';
export * from './codec';
