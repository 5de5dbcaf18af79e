import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

const PREFIX = 'raise_sync_';

/**
 * Every metric the services export, declared once with bounded labels (customer_id, source,
 * resource, destination, outcome, reason: never record IDs, emails or URLs). Dashboards and
 * alert rules are checked against `METRIC_NAMES`.
 */
export function createPipelineMetrics(registry: Registry, service: string) {
  return {
    serviceInfo: new Gauge({
      name: `${PREFIX}service_info`,
      help: 'Always 1; labels say which service and version is running.',
      labelNames: ['service', 'version'] as const,
      registers: [registry],
    }),
    eventsConsumed: new Counter({
      name: `${PREFIX}events_consumed_total`,
      help: 'Source-topic messages handled, by outcome (decoded, undecodable).',
      labelNames: ['customer_id', 'source', 'resource', 'outcome'] as const,
      registers: [registry],
    }),
    eventsPublished: new Counter({
      name: `${PREFIX}events_published_total`,
      help: 'Source events written to Kafka and acknowledged by the broker.',
      labelNames: ['customer_id', 'source', 'resource', 'origin'] as const,
      registers: [registry],
    }),
    deadLetters: new Counter({
      name: `${PREFIX}dead_letters_total`,
      help: 'Messages sent to the dead-letter topic, by reason.',
      labelNames: ['customer_id', 'reason'] as const,
      registers: [registry],
    }),
    produceSeconds: new Histogram({
      name: `${PREFIX}produce_duration_seconds`,
      help: 'Time from send to broker acknowledgement (acks=all).',
      labelNames: ['topic_kind'] as const,
      buckets: [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
    eventsRefused: new Counter({
      name: `${PREFIX}events_refused_total`,
      help: 'Source events not written because they cannot fit the Kafka event limit (reason too_large), by customer.',
      labelNames: ['customer_id', 'source', 'resource', 'origin', 'reason'] as const,
      registers: [registry],
    }),
    producerHealthy: new Gauge({
      name: `${PREFIX}producer_healthy`,
      help: '1 while the Kafka producer writes; 0 after consecutive failed sends (readiness is down too).',
      registers: [registry],
    }),
    producerRecreated: new Counter({
      name: `${PREFIX}producer_recreated_total`,
      help: 'Times a failing Kafka producer was replaced by a fresh one.',
      registers: [registry],
    }),
    consumerRunning: new Gauge({
      name: `${PREFIX}consumer_running`,
      help: '1 while the service consumer loop is running and healthy, else 0.',
      labelNames: ['group'] as const,
      registers: [registry],
    }),
    handlerErrors: new Counter({
      name: `${PREFIX}consumer_handler_errors_total`,
      help: 'Handler failures that leave a message uncommitted for redelivery, by reason.',
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
    webhooks: new Counter({
      name: `${PREFIX}webhooks_total`,
      help: 'Webhook deliveries received, by outcome (accepted, rejected) and reason.',
      labelNames: ['customer_id', 'source', 'outcome', 'reason'] as const,
      registers: [registry],
    }),
    crossProductArrivals: new Counter({
      name: `${PREFIX}cross_product_arrivals_total`,
      help: 'Dual-webhook arrivals written (outcome recorded) or lost (outcome failed), by side (raise, crm-plus).',
      labelNames: ['customer_id', 'side', 'outcome'] as const,
      registers: [registry],
    }),
    webhookAckSeconds: new Histogram({
      name: `${PREFIX}webhook_ack_duration_seconds`,
      help: 'Time from receiving a webhook to answering it (includes the acks=all write).',
      labelNames: ['source', 'outcome'] as const,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5],
      registers: [registry],
    }),
    pollCycles: new Counter({
      name: `${PREFIX}poll_cycles_total`,
      help: 'Polling runs of one customer-resource, by outcome (ok, failed, auth_failed, lease_lost).',
      labelNames: ['customer_id', 'source', 'resource', 'outcome'] as const,
      registers: [registry],
    }),
    pollRecords: new Counter({
      name: `${PREFIX}poll_records_total`,
      help: 'Records read by polling and written to Kafka.',
      labelNames: ['customer_id', 'source', 'resource'] as const,
      registers: [registry],
    }),
    pollCheckpointTimestamp: new Gauge({
      name: `${PREFIX}poll_checkpoint_timestamp_seconds`,
      help: 'Source-modified time of the last record polled (the checkpoint): now minus this is the polling lag.',
      labelNames: ['customer_id', 'source', 'resource'] as const,
      registers: [registry],
    }),
    sourceRecordsMalformed: new Counter({
      name: `${PREFIX}source_records_malformed_total`,
      help: 'Records a source returned in a shape we cannot read (logged with their ID, skipped).',
      labelNames: ['customer_id', 'source', 'resource'] as const,
      registers: [registry],
    }),
    sourceRequests: new Counter({
      name: `${PREFIX}source_requests_total`,
      help: 'HTTP requests to source APIs, by API and status (or error).',
      labelNames: ['customer_id', 'api', 'status'] as const,
      registers: [registry],
    }),
    sourceRateLimited: new Counter({
      name: `${PREFIX}source_rate_limited_total`,
      help: '429 answers from a source API (the client waits Retry-After and retries).',
      labelNames: ['customer_id', 'api'] as const,
      registers: [registry],
    }),
    sourceAuthFailures: new Counter({
      name: `${PREFIX}source_auth_failures_total`,
      help: '401/403 answers from a source API: the customer token is failing (alert on this).',
      labelNames: ['customer_id', 'api'] as const,
      registers: [registry],
    }),
    credentialFailing: new Gauge({
      name: `${PREFIX}source_credential_failing`,
      help: '1 while a customer token for a source is failing (polling for it is stopped).',
      labelNames: ['customer_id', 'source'] as const,
      registers: [registry],
    }),
    deliveries: new Counter({
      name: `${PREFIX}deliveries_total`,
      help: 'Events handled per destination by outcome: received, delivered, skipped, retry_scheduled, dead_lettered.',
      labelNames: ['customer_id', 'destination', 'outcome', 'reason'] as const,
      registers: [registry],
    }),
    deliverySeconds: new Histogram({
      name: `${PREFIX}delivery_duration_seconds`,
      help: 'Time of one destination write call (a batch for the warehouse).',
      labelNames: ['kind', 'outcome'] as const,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 15],
      registers: [registry],
    }),
    endToEndSeconds: new Histogram({
      name: `${PREFIX}end_to_end_seconds`,
      help: 'From the source-modified time to confirmed at the destination (live events: webhook, poll).',
      labelNames: ['kind', 'origin'] as const,
      buckets: [0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 1800, 3600],
      registers: [registry],
    }),
    consumerLag: new Gauge({
      name: `${PREFIX}consumer_lag_messages`,
      help: 'Messages not yet committed by a consumer group, summed over its topics.',
      labelNames: ['group'] as const,
      registers: [registry],
    }),
    ledger: new Gauge({
      name: `${PREFIX}delivery_ledger`,
      help: 'Ledger in PostgreSQL per customer and destination: received, delivered, skipped, dead_lettered, needs_source_fix, in_retry, waiting (parked in its lane).',
      labelNames: ['customer_id', 'destination', 'outcome'] as const,
      registers: [registry],
    }),
    ledgerImbalance: new Gauge({
      name: `${PREFIX}delivery_ledger_imbalance`,
      help: 'received - (delivered + skipped + dead_lettered + needs_source_fix + in_retry + waiting); alert when not 0.',
      labelNames: ['customer_id', 'destination'] as const,
      registers: [registry],
    }),
    eventsOverShare: new Counter({
      name: `${PREFIX}events_over_share_total`,
      help: "Live events beyond their customer's fair share, sent to the bulk lane.",
      labelNames: ['customer_id'] as const,
      registers: [registry],
    }),
    destinationPaused: new Gauge({
      name: `${PREFIX}destination_paused`,
      help: "1 while a destination's breaker is open (its events wait in its lane, no attempt spent), else 0.",
      labelNames: ['customer_id', 'destination'] as const,
      registers: [registry],
    }),
    breakerTransitions: new Counter({
      name: `${PREFIX}breaker_transitions_total`,
      help: 'Destination breakers opened, probed and closed.',
      labelNames: ['customer_id', 'destination', 'transition'] as const,
      registers: [registry],
    }),
    retriesOverdue: new Gauge({
      name: `${PREFIX}retries_overdue`,
      help: 'Retries whose next attempt is more than a minute overdue (watchdog).',
      labelNames: ['customer_id', 'destination'] as const,
      registers: [registry],
    }),
    deadLettersOpen: new Gauge({
      name: `${PREFIX}dead_letters_open`,
      help: 'Dead letters not yet retried or discarded.',
      labelNames: ['customer_id', 'destination'] as const,
      registers: [registry],
    }),
    deadLetterOldestSeconds: new Gauge({
      name: `${PREFIX}dead_letter_oldest_age_seconds`,
      help: 'Age of the oldest open dead letter.',
      labelNames: ['customer_id', 'destination'] as const,
      registers: [registry],
    }),
    backfillRecords: new Counter({
      name: `${PREFIX}backfill_records_total`,
      help: 'Records a backfill read from the source and published (origin=backfill).',
      labelNames: ['customer_id', 'resource'] as const,
      registers: [registry],
    }),
    backfillPages: new Counter({
      name: `${PREFIX}backfill_pages_total`,
      help: 'Source pages a backfill requested and published.',
      labelNames: ['customer_id', 'resource'] as const,
      registers: [registry],
    }),
    backfillProgress: new Gauge({
      name: `${PREFIX}backfill_progress_records`,
      help: 'Backfill progress of the newest run per customer and resource: done and total records.',
      labelNames: ['customer_id', 'resource', 'measure'] as const,
      registers: [registry],
    }),
    backfillRate: new Gauge({
      name: `${PREFIX}backfill_rate_records_per_second`,
      help: 'Records per second a running backfill is publishing (recent average).',
      labelNames: ['customer_id', 'resource'] as const,
      registers: [registry],
    }),
    backfillEta: new Gauge({
      name: `${PREFIX}backfill_eta_seconds`,
      help: 'Estimated seconds until a running backfill is done (-1 when unknown).',
      labelNames: ['customer_id', 'resource'] as const,
      registers: [registry],
    }),
    backfillRanges: new Gauge({
      name: `${PREFIX}backfill_ranges`,
      help: 'ID ranges of running backfills by status (pending, running, done, failed).',
      labelNames: ['customer_id', 'resource', 'status'] as const,
      registers: [registry],
    }),
    backfillFailures: new Counter({
      name: `${PREFIX}backfill_failures_total`,
      help: 'Backfill range attempts that failed (retried after the lease), by reason.',
      labelNames: ['customer_id', 'resource', 'reason'] as const,
      registers: [registry],
    }),
    bulkPushbackSeconds: new Counter({
      name: `${PREFIX}bulk_pushback_seconds_total`,
      help:
        "Time a customer's bulk work (caller: backfill ranges, reconcile runs, replay runs) was held " +
        "because more than BACKFILL_MAX_WAITING of the customer's events wait in its destination lanes; " +
        'summed over the held ranges and runs.',
      labelNames: ['customer_id', 'caller'] as const,
      registers: [registry],
    }),
    replayMessages: new Counter({
      name: `${PREFIX}replay_messages_total`,
      help: "Topic replays: messages scanned, matched (the customer's), published again (origin=replay) and undecodable (skipped).",
      labelNames: ['customer_id', 'resource', 'outcome'] as const,
      registers: [registry],
    }),
    replayRuns: new Gauge({
      name: `${PREFIX}replay_runs`,
      help: 'Topic replay runs by status (pending, running, done, failed, cancelled), from the state store.',
      labelNames: ['status'] as const,
      registers: [registry],
    }),
    recordsCompleted: new Counter({
      name: `${PREFIX}records_completed_total`,
      help:
        'Events whose payload lacked a related record (a webhook gift without its donor), by how ' +
        'the submitter completed them: known (from the related-records store), fetched (from the ' +
        'source API), not_found (the source has no such record), unavailable (the source could not ' +
        'be asked: retried), paced (not read within the pass: waits in the lanes, no attempt ' +
        'spent), no_credentials (delivered as received).',
      labelNames: ['customer_id', 'resource', 'outcome'] as const,
      registers: [registry],
    }),
    deadLettersRedriven: new Counter({
      name: `${PREFIX}dead_letters_redriven_total`,
      help: 'Dead letters re-driven on their own because the related record they waited for changed.',
      labelNames: ['customer_id'] as const,
      registers: [registry],
    }),
    sourceFixesReleased: new Counter({
      name: `${PREFIX}source_fixes_released_total`,
      help: 'Records held for a fix in the source (needs_source_fix) sent on once the record they waited for was fixed.',
      labelNames: ['customer_id'] as const,
      registers: [registry],
    }),
    sourceBudgetWaitSeconds: new Counter({
      name: `${PREFIX}source_budget_wait_seconds_total`,
      help: 'Time spent waiting for the customer-wide (shared) source request budget.',
      labelNames: ['customer_id', 'source', 'caller'] as const,
      registers: [registry],
    }),
    reconciliationRuns: new Counter({
      name: `${PREFIX}reconciliation_runs_total`,
      help: 'Reconciliation runs finished, by kind and status (done, failed, skipped).',
      labelNames: ['customer_id', 'kind', 'status'] as const,
      registers: [registry],
    }),
    reconciliationLast: new Gauge({
      name: `${PREFIX}reconciliation_last_run`,
      help: 'Counts of the last finished run per customer and kind (source_total, destination_total, missing_in_destination, missing_in_source, not_yet_linked, republished, actionable, ...).',
      labelNames: ['customer_id', 'kind', 'measure'] as const,
      registers: [registry],
    }),
    reconciliationLastSuccess: new Gauge({
      name: `${PREFIX}reconciliation_last_success_timestamp_seconds`,
      help: 'When the last successful run of this kind finished for the customer.',
      labelNames: ['customer_id', 'kind'] as const,
      registers: [registry],
    }),
    reconciliationSeconds: new Histogram({
      name: `${PREFIX}reconciliation_duration_seconds`,
      help: 'Duration of reconciliation runs.',
      labelNames: ['kind'] as const,
      buckets: [0.5, 1, 5, 15, 60, 300, 900, 3600, 14_400],
      registers: [registry],
    }),
    reconciliationRepublished: new Counter({
      name: `${PREFIX}reconciliation_republished_total`,
      help: 'Records republished to the live topics by reconciliation (origin=reconcile).',
      labelNames: ['customer_id', 'resource', 'kind'] as const,
      registers: [registry],
    }),
    reconciliationAlerts: new Counter({
      name: `${PREFIX}reconciliation_alerts_total`,
      help: 'Actionable-discrepancy alerts raised, by delivery outcome to the ops URL.',
      labelNames: ['customer_id', 'delivery'] as const,
      registers: [registry],
    }),
    consoleAccessDenied: new Counter({
      name: `${PREFIX}console_access_denied_total`,
      help: 'Sync-health console requests refused, by reason (missing_token, unknown_token, customer_offboarded, other_customer, read_only); customer_id is the token owner.',
      labelNames: ['customer_id', 'reason'] as const,
      registers: [registry],
    }),
    retentionPruned: new Counter({
      name: `${PREFIX}retention_pruned_total`,
      help: 'Rows the retention job deleted because they were older than their retention, by table (audit_log, dead_letters, webhook_deliveries, backfill_jobs, backfill_runs, replay_runs, reconciliation_discrepancies, reconciliation_alerts, reconciliation_runs).',
      labelNames: ['table'] as const,
      registers: [registry],
    }),
    tableBytes: new Gauge({
      name: `${PREFIX}table_bytes`,
      help: 'On-disk size of a table the retention job prunes (with its indexes and TOAST), measured after each retention tick.',
      labelNames: ['table'] as const,
      registers: [registry],
    }),
    shuttingDown: new Gauge({
      name: `${PREFIX}shutting_down`,
      help: '1 once graceful shutdown has started.',
      registers: [registry],
    }),
    service,
  };
}

export type PipelineMetrics = ReturnType<typeof createPipelineMetrics>;

/** A fresh per-process registry with Node process metrics under the raise_sync_ prefix. */
export function createMetricsRegistry(service: string): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  collectDefaultMetrics({ register: registry, prefix: PREFIX });
  return registry;
}

/** Names of the pipeline metrics declared above. */
export const METRIC_NAMES = Object.values(createPipelineMetrics(new Registry(), 'names'))
  .filter(
    (m): m is Counter | Gauge | Histogram => typeof m === 'object' && m !== null && 'name' in m,
  )
  .map((m) => (m as unknown as { name: string }).name);
