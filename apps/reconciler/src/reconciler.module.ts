import { Module } from '@nestjs/common';
import { DatabaseModule, KafkaPlumbingModule, ServiceModule } from '@raise-sync/shared/service';

/** Wires the reconciler service; behaviour lives in the imported modules and providers. */
@Module({
  imports: [ServiceModule.forRoot('reconciler'), KafkaPlumbingModule, DatabaseModule],
})
export class ReconcilerModule {}
