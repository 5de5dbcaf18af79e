import { Injectable } from '@nestjs/common';
import { DestinationEntity, type CustomerScope } from '@raise-sync/shared/state';
import { DataSource } from 'typeorm';

/** The destinations table as the delivery path reads it (rows with sealed secrets). */
@Injectable()
export class DestinationRepository {
  constructor(private readonly db: DataSource) {}

  /** The customer's enabled destinations, by name. */
  async enabled({ customerId }: CustomerScope): Promise<DestinationEntity[]> {
    return this.db
      .getRepository(DestinationEntity)
      .find({ where: { customerId, enabled: true }, order: { name: 'ASC' } });
  }

  /**
   * One destination by ID, enabled or not. Across customers: a retry message or a lane names
   * only the destination, and the caller checks the row's customer against the event's.
   */
  async byIdAcrossCustomers(destinationId: string): Promise<DestinationEntity | null> {
    return this.db.getRepository(DestinationEntity).findOneBy({ id: destinationId });
  }
}
