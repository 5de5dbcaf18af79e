export * from './topics';
export * from './admin';
export * from './kafka-client';
export * from './producer';
export * from './consumer-loop';
export * from './dead-letter-headers';
export type { Kafka, Message, RecordMetadata } from 'kafkajs';
export * from './batching-publisher';
