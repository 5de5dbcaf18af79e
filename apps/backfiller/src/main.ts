import { bootstrapService } from '@raise-sync/shared/service';
import { BackfillerModule } from './backfiller.module';

void bootstrapService(BackfillerModule, 'backfiller');
