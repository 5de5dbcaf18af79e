import type { Provider } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { SecretBox } from '../crypto/secret-box';
import {
  CheckpointRepository,
  ConsoleTokenRepository,
  CrossProductArrivalRepository,
  CustomerRepository,
  DestinationRepository,
  SyncRecordRepository,
  WriteIntentRepository,
} from './repositories';

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
  {
    provide: CheckpointRepository,
    inject: [DataSource],
    useFactory: (db: DataSource) => new CheckpointRepository(db),
  },
  {
    provide: ConsoleTokenRepository,
    inject: [DataSource],
    useFactory: (db: DataSource) => new ConsoleTokenRepository(db),
  },
  {
    provide: CrossProductArrivalRepository,
    inject: [DataSource],
    useFactory: (db: DataSource) => new CrossProductArrivalRepository(db),
  },
  {
    provide: DestinationRepository,
    inject: [DataSource],
    useFactory: (db: DataSource) => new DestinationRepository(db),
  },
  {
    provide: SyncRecordRepository,
    inject: [DataSource],
    useFactory: (db: DataSource) => new SyncRecordRepository(db),
  },
  {
    provide: WriteIntentRepository,
    inject: [DataSource],
    useFactory: (db: DataSource) => new WriteIntentRepository(db),
  },
];
