// The Nest wiring of the source clients, apart from the root entry point: it loads
// @raise-sync/shared/service (whose modules read the configuration when imported), which the
// simulators and tools that use the clients and wire types must not pull in.
export * from './source-clients.service';
