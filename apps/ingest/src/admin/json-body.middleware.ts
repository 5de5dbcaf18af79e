import {
  BadRequestException,
  Injectable,
  PayloadTooLargeException,
  type NestMiddleware,
} from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';
import { BodyTooLargeError, readRawBody } from '../webhooks/raw-body';

const LIMIT = 256 * 1024;

/** JSON bodies for the admin API (the app has no global parser: webhooks need raw bytes). */
@Injectable()
export class JsonBodyMiddleware implements NestMiddleware {
  async use(req: Request, _res: Response, next: NextFunction): Promise<void> {
    if (req.method === 'GET' || req.method === 'DELETE' || req.method === 'HEAD') {
      next();
      return;
    }
    try {
      const raw = await readRawBody(req, LIMIT);
      (req as { body?: unknown }).body = raw.length === 0 ? {} : JSON.parse(raw.toString('utf8'));
      next();
    } catch (error) {
      next(
        error instanceof BodyTooLargeError
          ? new PayloadTooLargeException(`admin request bodies are limited to ${LIMIT} bytes`)
          : new BadRequestException('request body is not valid JSON'),
      );
    }
  }
}
