/** Nest injection tokens for the plumbing every service shares. */
export const SERVICE_NAME = Symbol('SERVICE_NAME');
export const METRICS_REGISTRY = Symbol('METRICS_REGISTRY');
export const PIPELINE_METRICS = Symbol('PIPELINE_METRICS');
export const TOPICS = Symbol('TOPICS');
