export * from './port';
export * from './adapter-registry';
export { destinationContext } from './destination-context';
export { LookupNotSupportedError, newestPerRecord, recordKeyOf } from './adapter-support';
export {
  DestinationHttp,
  type DestinationHttpOptions,
  describeErrorBody,
} from './http/destination-http';
export * from './mapping/field-map';
export * from './mapping/amounts';
export * from './warehouse/warehouse.adapter';
export * from './warehouse/warehouse.tables';
export * from './crm-plus/crm-plus.adapter';
export * from './crm-plus/crm-plus.mapping';
export * from './accounting/accounting.adapter';
export * from './accounting/accounting.mapping';
export * from './marketing/marketing.adapter';
export * from './marketing/marketing.mapping';
export * from './webhook/webhook.adapter';
export * from './webhook/webhook.mapping';
export * from './erasure/donor-erasure.service';
