import { bootstrapService } from '@raise-sync/shared/service';
import { ReconcilerModule } from './reconciler.module';

void bootstrapService(ReconcilerModule, 'reconciler');
