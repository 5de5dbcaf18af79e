import { Module } from '@nestjs/common';
import { DatabaseModule, KafkaPlumbingModule, ServiceModule } from '@raise-sync/shared/service';

/** Wires the backfiller service; behaviour lives in the imported modules and providers. */
@Module({
  imports: [ServiceModule.forRoot('backfiller'), KafkaPlumbingModule, DatabaseModule],
})
export class BackfillerModule {}
