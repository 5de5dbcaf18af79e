import { Module } from '@nestjs/common';
import { DatabaseModule, KafkaPlumbingModule, ServiceModule } from '@raise-sync/shared/service';

/** Wires the ingest service; behaviour lives in the imported modules and providers. */
@Module({
  imports: [ServiceModule.forRoot('ingest'), KafkaPlumbingModule, DatabaseModule],
})
export class IngestModule {}
