import { ValidationPipe } from '@nestjs/common';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { bootstrapService } from '@raise-sync/shared/service';
import { IngestModule } from './ingest.module';

void bootstrapService(IngestModule, 'ingest', {
  // Webhook signatures are checked over the raw bytes, so no global body parser; the admin API
  // parses its own JSON (JsonBodyMiddleware).
  bodyParser: false,
  configure: (app) => {
    app.useGlobalPipes(
      new ValidationPipe({ whitelist: true, forbidNonWhitelisted: true, transform: true }),
    );
    const document = SwaggerModule.createDocument(
      app,
      new DocumentBuilder()
        .setTitle('raise-sync admin API')
        .setDescription(
          'Onboard customers, store and validate source tokens, register webhooks, choose destinations, pause/resume/offboard. Secrets are write-only.',
        )
        .setVersion('0.1.0')
        .addBearerAuth()
        .build(),
    );
    SwaggerModule.setup('admin/docs', app, document, {
      jsonDocumentUrl: 'admin/docs/openapi.json',
    });
  },
});
