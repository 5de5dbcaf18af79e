// The Kafka boundary: everything the rest of the code base knows of Kafka comes from here. The
// client library itself is imported only inside this folder and none of its types are exported.
export {
  KAFKA_CLIENT_LOG_COMPONENT,
  KafkaConnection,
  probeKafka,
  type KafkaConnectionOptions,
  type KafkaLogLevel,
  type LoggerLike,
  type OutgoingMessage,
  type PartitionOffset,
  type PartitionOffsets,
  type TopicSpec,
  type WriteReceipt,
} from './connection';
export * from './topics';
export * from './admin';
export * from './producer';
export * from './consumed-message';
export * from './dead-letter-headers';
export * from './batching-publisher';
export * from './batch-consumer';
export * from './retry-headers';
export * from './lag-gate';
export * from './group-consumer';
export * from './topic-range-reader';
export * from './codec';
export * from './client-noise';
