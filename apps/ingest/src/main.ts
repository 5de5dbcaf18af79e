import { bootstrapService } from '@raise-sync/shared/service';
import { IngestModule } from './ingest.module';

void bootstrapService(IngestModule, 'ingest');
