import { Global, Module } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { AppConfig } from '@raise-sync/shared/config';
import { SecretBox } from '@raise-sync/shared/crypto';
import { SourceClients } from '@raise-sync/shared/service';
import { DiscrepancyRecorder } from '../runs/discrepancy-recorder';
import { DestinationDirectory } from './destination-directory';

/**
 * What every part of the reconciler (window and deletion checks, the CRM+ consistency check, the
 * alerts) shares: the secret box for sealed credentials, the source clients on the customer-wide
 * rate budget, the customers' destinations, and the recorder of what runs find. Global, so feature modules inject them directly.
 */
@Global()
@Module({
  providers: [
    {
      provide: SecretBox,
      inject: [ConfigService],
      useFactory: (config: ConfigService<AppConfig, true>) =>
        SecretBox.fromHex(config.get('secretsKey', { infer: true })),
    },
    SourceClients,
    DestinationDirectory,
    DiscrepancyRecorder,
  ],
  exports: [SecretBox, SourceClients, DestinationDirectory, DiscrepancyRecorder],
})
export class ReconcilerCoreModule {}
