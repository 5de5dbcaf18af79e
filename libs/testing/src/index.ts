export * from './expect-eventually';
export * from './stack-strategy';
export * from './test-stack';
export { withDatabase, templateDatabaseName } from './template-database';
export * from './app-process';
export * from './service-lifecycle';
export * from './dedicated-kafka';
export * from './metrics-scrape';
export * from './admin-client';
