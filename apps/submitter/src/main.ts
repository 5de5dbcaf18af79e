import { bootstrapService, configureAdminApi } from '@raise-sync/shared/service';
import { SubmitterModule } from './submitter.module';

void bootstrapService(SubmitterModule, 'submitter', {
  // No global body parser: admin bodies are read only after the token check (@AdminApi()).
  bodyParser: false,
  configure: (app) =>
    configureAdminApi(app, {
      title: 'raise-sync submitter admin API',
      description:
        'Customer destinations, dead letters (list, inspect, retry, discard), record sync state, delivery ledger, console tokens.',
      validation: false,
    }),
});
