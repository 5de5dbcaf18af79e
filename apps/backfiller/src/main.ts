import { bootstrapService, configureAdminApi } from '@raise-sync/shared/service';
import { BackfillerModule } from './backfiller.module';

void bootstrapService(BackfillerModule, 'backfiller', {
  // No global body parser: admin bodies are read only after the token check (@AdminApi()).
  bodyParser: false,
  configure: (app) =>
    configureAdminApi(app, {
      title: 'raise-sync backfiller admin API',
      description:
        "Request, follow and cancel backfills (resumable history into the same topics as live events) and topic replays (recovery: a customer's events republished from a topic with origin replay).",
    }),
});
