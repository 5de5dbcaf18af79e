export * from './tokens';
export * from './readiness.service';
export * from './service.module';
export * from './kafka.module';
export * from './database.module';
export * from './bootstrap';
export { EventCodec } from '../events/codec';
export { EventProducer } from '../kafka/producer';
export { ConsumerLoop, type ConsumedMessage } from '../kafka/consumer-loop';
export {
  BatchConsumer,
  type BatchControl,
  type PartitionBatch,
} from '../kafka/batch-consumer';
export { PinoLogger } from 'nestjs-pino';
export * from './admin-token.guard';
