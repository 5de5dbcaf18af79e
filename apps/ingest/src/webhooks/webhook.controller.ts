import { Controller, HttpCode, Param, Post, Req, Res } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { closeAfterAnswer } from '@raise-sync/shared';
import { WebhookIntake } from './webhook-intake.service';

/**
 * `POST /webhooks/:source/:customerId`: the URL registered with the source for one customer.
 * The body is read raw by the intake (the app runs without a global body parser) so the
 * signature is checked over the exact bytes sent, and only after the URL and headers passed their
 * checks; an answer given without reading the whole body closes the connection.
 */
@ApiExcludeController()
@Controller('webhooks')
export class WebhookController {
  constructor(private readonly intake: WebhookIntake) {}

  @Post(':source/:customerId')
  @HttpCode(202)
  async receive(
    @Param('source') source: string,
    @Param('customerId') customerId: string,
    @Req() req: Request,
    @Res() res: Response,
  ): Promise<void> {
    const outcome = await this.intake.handle(source, customerId, req);
    if (req.destroyed && !req.complete) {
      return; // the client is gone (client_aborted): nobody to answer
    }
    closeAfterAnswer(req, res);
    if (outcome.retryAfterSeconds !== undefined) {
      res.setHeader('Retry-After', String(outcome.retryAfterSeconds));
    }
    res
      .status(outcome.status)
      .json(
        outcome.status < 300
          ? { accepted: true, eventId: outcome.eventId }
          : { error: outcome.reason, message: outcome.message },
      );
  }
}
