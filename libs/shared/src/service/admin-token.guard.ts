import { timingSafeEqual, createHash } from 'node:crypto';
import {
  applyDecorators,
  Injectable,
  ServiceUnavailableException,
  UnauthorizedException,
  UseGuards,
  UseInterceptors,
  type CanActivate,
  type ExecutionContext,
} from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { ApiBearerAuth } from '@nestjs/swagger';
import type { SharedConfig } from '../config/shared.config';
import type { Request } from 'express';
import { closeAfterAnswer } from '../body-reader';
import { JsonBodyInterceptor } from './json-body.interceptor';

const digest = (value: string): Buffer => createHash('sha256').update(value).digest();

/**
 * `Authorization: Bearer <ADMIN_TOKEN>`, compared in constant time. No token configured = 503.
 * A refused request's body is never read (see JsonBodyInterceptor): the answer closes the
 * connection instead.
 */
@Injectable()
export class AdminTokenGuard implements CanActivate {
  private readonly expected: Buffer | null;

  constructor(config: ConfigService<SharedConfig, true>) {
    const token = config.get('adminToken', { infer: true });
    this.expected = token ? digest(token) : null;
  }

  canActivate(context: ExecutionContext): boolean {
    if (!this.expected) {
      closeAfterAnswer(context.switchToHttp().getRequest<Request>());
      throw new ServiceUnavailableException('the admin API is disabled: set ADMIN_TOKEN');
    }
    const request = context.switchToHttp().getRequest<Request>();
    const match = /^Bearer (\S+)$/.exec(request.headers.authorization ?? '');
    if (!match?.[1] || !timingSafeEqual(digest(match[1]), this.expected)) {
      closeAfterAnswer(request);
      throw new UnauthorizedException('missing or wrong admin token');
    }
    return true;
  }
}

/**
 * An admin controller (or route): the admin token is checked first, then the JSON body is read
 * and parsed, never before. Every admin controller uses this instead of UseGuards alone.
 */
export const AdminApi = (): ClassDecorator & MethodDecorator =>
  applyDecorators(
    ApiBearerAuth(),
    UseGuards(AdminTokenGuard),
    UseInterceptors(JsonBodyInterceptor),
  );
