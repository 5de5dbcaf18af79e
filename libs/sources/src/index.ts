// The source side of the pipelines: the Raise and VOMO API clients and wire formats, the mapping
// to the Avro records, CRM+ record links, the retrying HTTP client, the per-customer rate budgets
// with their PostgreSQL-backed shared store; the Nest provider that wires them is
// `@raise-sync/sources/service`.
export * from './raise-wire';
export * from './vomo-wire';
export * from './source-errors';
export * from './rate-budget';
export * from './http-client';
export * from './raise-client';
export * from './vomo-client';
export * from './mapping';
export * from './crm-links';
export * from './source-budget.repository';
export * from './sources.config';
