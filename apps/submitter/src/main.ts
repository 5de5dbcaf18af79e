import { bootstrapService } from '@raise-sync/shared/service';
import { SubmitterModule } from './submitter.module';

void bootstrapService(SubmitterModule, 'submitter');
