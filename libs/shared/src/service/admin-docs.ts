import { ValidationPipe, type INestApplication } from '@nestjs/common';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { UnexpectedErrorFilter } from './unexpected-error.filter';

export interface AdminApiOptions {
  title: string;
  description: string;
  /** Validate and whitelist request bodies with class-validator DTOs. Default true. */
  validation?: boolean;
}

/**
 * The admin API conventions every service shares: DTO validation (unknown fields refused, values
 * transformed), a generic 500 for unexpected errors (logged, never sent: UnexpectedErrorFilter)
 * and OpenAPI docs at /admin/docs (JSON at /admin/docs/openapi.json) with bearer auth. Bodies are
 * read only after the token check (`@AdminApi()`, JsonBodyInterceptor): start the service with
 * `bodyParser: false`.
 */
export function configureAdminApi(app: INestApplication, options: AdminApiOptions): void {
  app.useGlobalFilters(new UnexpectedErrorFilter(app.getHttpAdapter()));
  if (options.validation ?? true) {
    app.useGlobalPipes(
      new ValidationPipe({ whitelist: true, forbidNonWhitelisted: true, transform: true }),
    );
  }
  const document = SwaggerModule.createDocument(
    app,
    new DocumentBuilder()
      .setTitle(options.title)
      .setDescription(options.description)
      .setVersion('0.1.0')
      .addBearerAuth()
      .build(),
  );
  SwaggerModule.setup('admin/docs', app, document, { jsonDocumentUrl: 'admin/docs/openapi.json' });
}
