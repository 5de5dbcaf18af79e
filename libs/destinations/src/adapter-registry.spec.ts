import { DataSource } from 'typeorm';
import { AdapterRegistry, createAdapter, createAdapters } from './adapter-registry';

describe('adapter registry', () => {
  it('builds the HTTP adapters, and the warehouse only with a database', () => {
    expect(createAdapters().map((a) => a.kind)).toEqual([
      'crm-plus',
      'accounting',
      'marketing',
      'webhook',
    ]);
    const dataSource = new DataSource({ type: 'postgres' });
    expect(createAdapters({ dataSource }).map((a) => a.kind)).toEqual([
      'warehouse',
      'crm-plus',
      'accounting',
      'marketing',
      'webhook',
    ]);
    expect(() => createAdapter('warehouse')).toThrow(/needs a dataSource or a pool/);
  });

  it('finds adapters by kind', () => {
    const registry = AdapterRegistry.create();
    expect(registry.get('webhook').kind).toBe('webhook');
    expect(registry.has('warehouse')).toBe(false);
    expect(() => registry.get('warehouse')).toThrow(/no adapter/);
  });
});
