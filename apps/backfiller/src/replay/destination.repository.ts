import { Injectable } from '@nestjs/common';
import { DestinationEntity, type CustomerScope } from '@raise-sync/shared/state';
import { DataSource } from 'typeorm';

/** The destinations a replay may name (reads only: destinations are managed elsewhere). */
@Injectable()
export class DestinationRepository {
  constructor(private readonly db: DataSource) {}

  /** The customer's destination with that ID, or null (also when it is another customer's). */
  find({ customerId }: CustomerScope, destinationId: string): Promise<DestinationEntity | null> {
    return this.db.getRepository(DestinationEntity).findOneBy({ id: destinationId, customerId });
  }

  /** Whether the customer still has the destination with that ID. */
  async exists(scope: CustomerScope, destinationId: string): Promise<boolean> {
    const rows = await this.db.query<unknown[]>(
      `SELECT 1 FROM destinations WHERE id = $1 AND customer_id = $2`,
      [destinationId, scope.customerId],
    );
    return rows.length > 0;
  }
}
