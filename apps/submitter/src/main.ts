import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { bootstrapService } from '@raise-sync/shared/service';
import { SubmitterModule } from './submitter.module';

void bootstrapService(SubmitterModule, 'submitter', {
  configure: (app) => {
    const document = SwaggerModule.createDocument(
      app,
      new DocumentBuilder()
        .setTitle('raise-sync submitter admin API')
        .setDescription(
          'Dead letters (list, inspect, retry, discard), record sync state, delivery ledger.',
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
