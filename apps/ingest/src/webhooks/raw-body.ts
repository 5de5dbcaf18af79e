import type { IncomingMessage } from 'node:http';
import { Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import {
  BodyBudgetExceededError,
  BodyTimeoutError,
  BodyTooLargeError,
  ClientAbortedError,
  readBody,
  UnverifiedBytes,
  type HeldBody,
  type ReadLimits,
} from '@raise-sync/shared';
import type { IngestConfig } from '../ingest.config';

export type { HeldBody } from '@raise-sync/shared';

/** What a failed read answers; rethrows what is not a read failure. */
export function bodyReadRefusal(error: unknown): {
  status: number;
  reason: string;
  message: string;
  retryAfterSeconds?: number;
} {
  if (error instanceof BodyTooLargeError) {
    return { status: 413, reason: 'too_large', message: `body exceeds ${error.limit} bytes` };
  }
  if (error instanceof BodyBudgetExceededError) {
    return {
      status: 503,
      reason: 'busy',
      message: 'too many webhook bodies are being received; retry later',
      retryAfterSeconds: BUSY_RETRY_AFTER_SECONDS,
    };
  }
  if (error instanceof BodyTimeoutError) {
    return {
      status: 408,
      reason: 'body_timeout',
      message: `body not received within ${error.timeoutMs} ms`,
    };
  }
  if (error instanceof ClientAbortedError) {
    // Nobody reads this answer; 499 (nginx's "client closed request") keeps it out of any 5xx.
    return { status: CLIENT_ABORTED_STATUS, reason: 'client_aborted', message: error.message };
  }
  throw error;
}

export const BUSY_RETRY_AFTER_SECONDS = 5;
export const CLIENT_ABORTED_STATUS = 499;

/**
 * The one body reader of the webhook receivers: the size limit, the read timeout and the
 * process-wide budget of unverified bytes, from the ingest configuration.
 */
@Injectable()
export class WebhookBodyReader {
  readonly limits: ReadLimits;

  constructor(config: ConfigService<IngestConfig, true>) {
    const ingest = config.get('ingest', { infer: true });
    this.limits = {
      maxBytes: ingest.webhookMaxBodyBytes,
      timeoutMs: ingest.webhookBodyTimeoutMs,
      budget: new UnverifiedBytes(ingest.webhookUnverifiedBytesMax),
    };
  }

  read(req: IncomingMessage): Promise<HeldBody> {
    return readBody(req, this.limits);
  }
}
