import { createHash, timingSafeEqual } from 'node:crypto';
import {
  ForbiddenException,
  Inject,
  Injectable,
  UnauthorizedException,
  type CanActivate,
  type ExecutionContext,
} from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { PipelineMetrics } from '@raise-sync/shared/observability';
import { closeAfterAnswer } from '@raise-sync/shared';
import { PIPELINE_METRICS } from '@raise-sync/shared/service';
import { PinoLogger } from 'nestjs-pino';
import type { Request } from 'express';
import { ConsoleTokens, type ConsoleViewer } from './console-tokens.service';
import type { SubmitterConfig } from '../submitter.config';

type ConsoleRequest = Request & { consoleViewer?: ConsoleViewer };

const digest = (value: string): Buffer => createHash('sha256').update(value).digest();

/**
 * Console API authentication: `Authorization: Bearer <token>` where the token is either the
 * operators' ADMIN_TOKEN (every customer, actions allowed) or a customer's read-only console token
 * (that customer only; refused once the customer is offboarded). The resolved viewer is attached
 * to the request for the scope checks. Console routes read no request body (the submitter has no
 * global body parser), so a refused request's body is never read.
 */
@Injectable()
export class ConsoleAuthGuard implements CanActivate {
  private readonly admin: Buffer | null;

  constructor(
    config: ConfigService<SubmitterConfig, true>,
    private readonly tokens: ConsoleTokens,
    @Inject(PIPELINE_METRICS) private readonly metrics: PipelineMetrics,
    private readonly log: PinoLogger,
  ) {
    const token = config.get('adminToken', { infer: true });
    this.admin = token ? digest(token) : null;
    this.log.setContext('console');
  }

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const request = context.switchToHttp().getRequest<ConsoleRequest>();
    const presented = /^Bearer (\S+)$/.exec(request.headers.authorization ?? '')?.[1];
    if (!presented) {
      this.refuse('missing_token', null);
      closeAfterAnswer(request);
      throw new UnauthorizedException('a console token is required (Authorization: Bearer …)');
    }
    if (this.admin && timingSafeEqual(digest(presented), this.admin)) {
      request.consoleViewer = { role: 'admin' };
      return true;
    }
    const owner = await this.tokens.resolve(presented);
    if (!owner.ok) {
      this.refuse(owner.reason, owner.customerId);
      closeAfterAnswer(request);
      throw new UnauthorizedException(
        owner.reason === 'customer_offboarded'
          ? 'this console token belongs to an offboarded customer'
          : 'unknown or revoked console token',
      );
    }
    request.consoleViewer = {
      role: 'customer',
      customerId: owner.customerId,
      tokenId: owner.tokenId,
    };
    return true;
  }

  /** Refusals are counted and logged (never with the token itself). */
  refuse(reason: string, customerId: string | null, detail?: Record<string, unknown>): void {
    this.metrics.consoleAccessDenied.inc({ customer_id: customerId ?? 'none', reason });
    this.log.warn({ customerId, reason, ...detail }, 'console access refused');
  }

  /** The viewer may read this customer: the admin, or that customer's own token. */
  assertCanSee(viewer: ConsoleViewer, customerId: string): void {
    if (viewer.role === 'customer' && viewer.customerId !== customerId) {
      this.refuse('other_customer', viewer.customerId, { requested: customerId });
      throw new ForbiddenException('this console token belongs to another customer');
    }
  }

  /** Retry and discard are operator actions: customer tokens are read-only. */
  assertCanAct(viewer: ConsoleViewer, customerId: string): void {
    this.assertCanSee(viewer, customerId);
    if (viewer.role !== 'admin') {
      this.refuse('read_only', viewer.customerId);
      throw new ForbiddenException('customer console tokens are read-only');
    }
  }
}

/** The viewer the guard attached (the route is behind ConsoleAuthGuard). */
export function viewerOf(request: Request): ConsoleViewer {
  const viewer = (request as ConsoleRequest).consoleViewer;
  if (!viewer) {
    throw new UnauthorizedException('no console viewer on this request');
  }
  return viewer;
}
