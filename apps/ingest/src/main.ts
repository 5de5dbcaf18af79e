import { bootstrapService, configureAdminApi, runWorkerService } from '@raise-sync/shared/service';
import { INGEST_SECTIONS } from './ingest.config';
import { IngestModule } from './ingest.module';
import { mountRaiseWebhookRoute } from './webhooks/raise-webhook-route';

// INGEST_WORKERS processes behind HTTP_PORT (one: this process is the service).
void runWorkerService('ingest', {
  sections: INGEST_SECTIONS,
  workers: (config) => config.ingest.workers,
  start: () =>
    bootstrapService(IngestModule, 'ingest', {
      // Webhook signatures are checked over the raw bytes, so no global body parser; the admin
      // API reads its JSON only after the admin token is checked (@AdminApi(), JsonBodyInterceptor).
      bodyParser: false,
      configure: (app) => {
        // First, so Raise's webhooks are answered before the Nest stack sees them.
        mountRaiseWebhookRoute(app);
        configureAdminApi(app, {
          title: 'raise-sync admin API',
          description:
            'Onboard customers, store and validate source tokens, register webhooks, pause/resume/offboard (destinations are set on the submitter). Secrets are write-only.',
        });
      },
    }),
});
