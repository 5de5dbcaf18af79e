export * from './declare';
export * from './load-config';
export * from './shared.config';
export * from './config.module';
export * from './docs';
