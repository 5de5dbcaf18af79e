import type { SecretBox } from '@raise-sync/shared/crypto';
import type { DestinationEntity } from '@raise-sync/shared/state';
import type { DestinationContext } from './port';

/**
 * A stored destination as an adapter sees it: its settings, and its secrets opened with the
 * process's SecretBox. The opened secrets live in memory only; nothing logs a context.
 */
export function destinationContext(row: DestinationEntity, box: SecretBox): DestinationContext {
  return {
    customerId: row.customerId,
    destinationId: row.id,
    name: row.name,
    kind: row.kind,
    config: row.config,
    secrets: row.secrets ? box.openJson<Record<string, string>>(row.secrets) : {},
  };
}
