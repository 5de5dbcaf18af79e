import { Module } from '@nestjs/common';
import { DatabaseModule, KafkaPlumbingModule, ServiceModule } from '@raise-sync/shared/service';
import { SourceEventsConsumer } from './consume/source-events.consumer';

/** Wires the submitter service; behaviour lives in the imported modules and providers. */
@Module({
  imports: [ServiceModule.forRoot('submitter'), KafkaPlumbingModule, DatabaseModule],
  providers: [SourceEventsConsumer],
})
export class SubmitterModule {}
