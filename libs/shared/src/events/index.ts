export * from './source-event';
export * from './schemas';
