import { STATUS_CODES } from 'node:http';
import { Catch, HttpException, Logger, type ArgumentsHost } from '@nestjs/common';
import { BaseExceptionFilter } from '@nestjs/core';
import type { Request } from 'express';

/** The 4xx status an error carries itself (http-errors, Express's URL decoding), if any. */
const clientStatus = (error: unknown): number | null => {
  const status = (error as { statusCode?: unknown } | null)?.statusCode;
  return typeof status === 'number' && status >= 400 && status < 500 ? status : null;
};

/**
 * The last word on errors: HttpExceptions answer as usual; errors carrying a 4xx status answer it
 * without an error log (a client's malformed URL is not our incident); anything else is a bug,
 * logged with the route and its stack and answered with a generic 500 body (never a message or a
 * stack). Malformed input must be refused with a 4xx before it can get here (request-params.ts).
 */
@Catch()
export class UnexpectedErrorFilter extends BaseExceptionFilter {
  private readonly log = new Logger('http');

  override catch(exception: unknown, host: ArgumentsHost): void {
    if (host.getType() !== 'http' || exception instanceof HttpException) {
      super.catch(exception, host);
      return;
    }
    const http = host.switchToHttp();
    const res = http.getResponse<unknown>();
    const adapter = this.httpAdapterHost?.httpAdapter ?? this.applicationRef;
    const reply = (body: { statusCode: number; message?: string }): void => {
      if (adapter && !adapter.isHeadersSent(res)) {
        adapter.reply(res, body, body.statusCode);
      }
    };
    const status = clientStatus(exception);
    if (status !== null) {
      const error = exception as { message?: string; expose?: boolean };
      reply({
        statusCode: status,
        message: error.expose === false ? STATUS_CODES[status] : error.message,
      });
      return;
    }
    const req = http.getRequest<Request>();
    this.log.error(
      {
        err: exception instanceof Error ? exception : new Error(String(exception)),
        method: req.method,
        route: (req.route as { path?: string } | undefined)?.path ?? req.path,
      },
      'unexpected error: answered 500',
    );
    reply({ statusCode: 500, message: 'Internal server error' });
  }
}
