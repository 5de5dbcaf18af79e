import { Linter, type ESLint } from 'eslint';

// The rule is plain CommonJS so that eslint.config.mjs and this test load the same file.
/* eslint-disable @typescript-eslint/no-require-imports */
const { raiseSyncPlugin } = require('./customer-scope.cjs') as { raiseSyncPlugin: ESLint.Plugin };
const parser = require('@typescript-eslint/parser') as Linter.Parser;
/* eslint-enable @typescript-eslint/no-require-imports */

const lint = (code: string): string[] =>
  new Linter({ configType: 'flat' })
    .verify(
      code,
      [
        {
          files: ['**/*.ts'],
          languageOptions: { parser },
          plugins: { 'raise-sync': raiseSyncPlugin },
          rules: { 'raise-sync/customer-scope': 'error' },
        },
      ],
      { filename: 'apps/x/src/thing.repository.ts' },
    )
    .map((m) => `${m.line}: ${m.message}`);

describe('raise-sync/customer-scope', () => {
  it('accepts methods that take the scope first, named or destructured', () => {
    expect(
      lint(`
        export class Things {
          constructor(private readonly db: unknown) {}
          async one(scope: CustomerScope, id: string) { return [scope, id]; }
          async two({ customerId }: CustomerScope) { return customerId; }
          three = async (scope: CustomerScope) => scope;
          private helper(id: string) { return id; }
          protected other(id: string) { return id; }
          #hidden(id: string) { return id; }
        }`),
    ).toEqual([]);
  });

  it('reports a method with a bare customer ID, no parameter, or the scope second', () => {
    const found = lint(`
      export class Things {
        async byId(customerId: string) { return customerId; }
        async all() { return []; }
        async later(id: string, scope: CustomerScope) { return [id, scope]; }
        static make(id: string) { return id; }
        arrow = (id: string) => id;
      }`);
    expect(found.map((m) => m.split(':')[0])).toEqual(['3', '4', '5', '6', '7']);
    expect(found[0]).toContain("'byId' must take `scope: CustomerScope`");
  });

  it('lets an operator method through only when its name says it crosses customers', () => {
    expect(
      lint(`
        export class Jobs {
          async claimNextAcrossCustomers(worker: string) { return worker; }
          async claimNext(worker: string) { return worker; }
        }`),
    ).toEqual([expect.stringMatching(/^4: .*'claimNext'/)]);
  });

  it('skips a class documented as @unscoped with a reason, and only with one', () => {
    expect(
      lint(`
        /** @unscoped unroutable messages carry no customer */
        export class Unroutable { async list(limit: number) { return limit; } }
        /** @unscoped */
        export class NoReason { async list(limit: number) { return limit; } }`),
    ).toEqual([expect.stringMatching(/^5: .*'list'/)]);
  });
});
