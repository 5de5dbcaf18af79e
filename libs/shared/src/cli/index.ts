export * from './admin-cli';
