export * from './entities';
export * from './data-source';
export * from './repositories';
export * from './lane-depth';
export * from './customer-scope';
export * from './repository-providers';
