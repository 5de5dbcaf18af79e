import { Controller, HttpCode, Param, Post, Req, Res } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { writeWebhookAnswer } from './raise-webhook-route';
import { WebhookIntake } from './webhook-intake.service';

/**
 * `POST /webhooks/:source/:customerId`: the URL registered with the source for one customer.
 * The body is read raw by the intake (the app runs without a global body parser) so the
 * signature is checked over the exact bytes sent, and only after the URL and headers passed their
 * checks; an answer given without reading the whole body closes the connection. Plain Raise
 * deliveries are answered before they reach Nest (mountRaiseWebhookRoute); this route answers
 * the rest (other sources, unusual spellings of the path) with the same intake.
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
    writeWebhookAnswer(req, res, outcome);
  }
}
