import type { Provider } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { SecretBox } from '../crypto/secret-box';
import {
  CheckpointRepository,
  ConsoleTokenRepository,
  CrossProductArrivalRepository,
  CustomerPurgeRepository,
  CustomerRepository,
  DestinationRepository,
  RetentionRepository,
  DonorErasureRepository,
  SyncRecordRepository,
  WriteIntentRepository,
} from './repositories';

/** A repository that needs only the connection, provided under its own class. */
const onDataSource = <T>(repository: new (db: DataSource) => T): Provider => ({
  provide: repository,
  inject: [DataSource],
  useFactory: (db: DataSource) => new repository(db),
});

/**
 * The shared repositories as Nest providers, so a service asks for `CustomerRepository` (or
 * another) instead of holding a DataSource. Needs TypeORM's DataSource and the app's SecretBox.
 */
export const stateRepositoryProviders: Provider[] = [
  {
    provide: CustomerRepository,
    inject: [DataSource, SecretBox],
    useFactory: (db: DataSource, box: SecretBox) => new CustomerRepository(db, box),
  },
  onDataSource(CheckpointRepository),
  onDataSource(ConsoleTokenRepository),
  onDataSource(CrossProductArrivalRepository),
  onDataSource(CustomerPurgeRepository),
  onDataSource(DestinationRepository),
  onDataSource(RetentionRepository),
  onDataSource(DonorErasureRepository),
  onDataSource(SyncRecordRepository),
  onDataSource(WriteIntentRepository),
];
