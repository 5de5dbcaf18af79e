// The root entry point is intentionally small; import from a named entry point
// (@raise-sync/shared/config, /kafka, /events, /state, /observability, /crypto, /service).
export * from './errors';
export * from './http-util';
export * from './body-reader';
// The customer/record ID rule, for libraries that must not load the service entry point.
export { isUuid } from './service/request-params';
