import { Controller, Param, Post, Req, Res } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { closeAfterAnswer } from '@raise-sync/shared';
import { CrmPlusWebhookIntake } from './crm-plus-webhook.service';

/**
 * `POST /webhooks/:customerId/crm-plus`: the payload URL registered with the customer's CRM+ (see
 * `POST /admin/customers/:id/sources/crm-plus/webhook`). Read raw, like the Raise webhooks, so the
 * signature is checked over the exact bytes. This controller must be registered before the Raise
 * one, whose `:source/:customerId` pattern would otherwise claim the path.
 */
@ApiExcludeController()
@Controller('webhooks')
export class CrmPlusWebhookController {
  constructor(private readonly intake: CrmPlusWebhookIntake) {}

  @Post(':customerId/crm-plus')
  async receive(
    @Param('customerId') customerId: string,
    @Req() req: Request,
    @Res() res: Response,
  ): Promise<void> {
    const outcome = await this.intake.handle(customerId, req);
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
          ? { accepted: true, outcome: outcome.reason }
          : { error: outcome.reason, message: outcome.message },
      );
  }
}
