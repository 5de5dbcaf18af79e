import { bootstrapService, configureAdminApi } from '@raise-sync/shared/service';
import { ReconcilerModule } from './reconciler.module';

void bootstrapService(ReconcilerModule, 'reconciler', {
  // No global body parser: admin bodies are read only after the token check (@AdminApi()).
  bodyParser: false,
  configure: (app) =>
    configureAdminApi(app, {
      title: 'raise-sync reconciler admin API',
      description:
        'On-demand reconciliation runs for closed windows, run history with counts and trend, discrepancies, schedules.',
    }),
});
