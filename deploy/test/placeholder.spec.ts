import { existsSync } from 'node:fs';
import { join } from 'node:path';

describe('deploy project', () => {
  it('holds the Prometheus rules', () => {
    expect(existsSync(join(__dirname, '..', 'prometheus', 'alerts.yml'))).toBe(true);
  });
});
