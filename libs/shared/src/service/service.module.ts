import { Global, Inject, Module, type DynamicModule, type OnModuleInit } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { TerminusModule } from '@nestjs/terminus';
import { LoggerModule } from 'nestjs-pino';
import type { Registry } from 'prom-client';
import { AppConfigModule } from '../config/config.module';
import { SecretBox } from '../crypto/secret-box';
import type { AnyConfigSection } from '../config/declare';
import type { SharedConfig } from '../config/shared.config';
import { nestLoggerParams } from '../observability/logger';
import {
  createMetricsRegistry,
  createPipelineMetrics,
  type PipelineMetrics,
} from '../observability/metrics';
import { HealthController } from './health.controller';
import { MetricsController } from './metrics.controller';
import { ReadinessService } from './readiness.service';
import { METRICS_REGISTRY, PIPELINE_METRICS, SERVICE_NAME } from './tokens';
import { shareWorkerMetrics } from './workers';
import { SERVICE_VERSION } from './version';

class ServiceInfo implements OnModuleInit {
  constructor(
    @Inject(PIPELINE_METRICS) private readonly metrics: PipelineMetrics,
    @Inject(SERVICE_NAME) private readonly service: string,
  ) {}

  onModuleInit(): void {
    this.metrics.serviceInfo.set({ service: this.service, version: SERVICE_VERSION }, 1);
  }
}

/**
 * What every raise-sync service has: validated config, JSON logs, a per-process metrics registry
 * with /metrics, /health/live + /health/ready, and the SecretBox for stored credentials. Apps import
 * `ServiceModule.forRoot({ name, config: <APP>_SECTIONS })`
 * plus the plumbing they use (KafkaPlumbingModule, DatabaseModule).
 */
@Global()
@Module({})
export class ServiceModule {
  static forRoot(options: {
    name: string;
    /** The app's config sections; the shared one is always loaded. */
    config: readonly AnyConfigSection[];
  }): DynamicModule {
    const { name } = options;
    return {
      module: ServiceModule,
      imports: [
        AppConfigModule.forRoot(options.config),
        LoggerModule.forRootAsync({
          inject: [ConfigService],
          useFactory: (config: ConfigService<SharedConfig, true>) =>
            nestLoggerParams(
              config.get('serviceName', { infer: true }) ?? name,
              config.get('logLevel', { infer: true }),
              SERVICE_VERSION,
            ),
        }),
        TerminusModule.forRoot({ logger: false }),
      ],
      controllers: [HealthController, MetricsController],
      providers: [
        {
          provide: SERVICE_NAME,
          inject: [ConfigService],
          useFactory: (config: ConfigService<SharedConfig, true>): string =>
            config.get<string | null>('serviceName') ?? name,
        },
        {
          provide: METRICS_REGISTRY,
          inject: [SERVICE_NAME],
          useFactory: (service: string) => {
            const registry = createMetricsRegistry(service);
            shareWorkerMetrics(registry);
            return registry;
          },
        },
        {
          provide: PIPELINE_METRICS,
          inject: [METRICS_REGISTRY, SERVICE_NAME],
          useFactory: (registry: Registry, service: string) =>
            createPipelineMetrics(registry, service),
        },
        {
          // One key per process: credentials are sealed and opened with SECRETS_KEY.
          provide: SecretBox,
          inject: [ConfigService],
          useFactory: (config: ConfigService<SharedConfig, true>) =>
            SecretBox.fromHex(config.get('secretsKey', { infer: true })),
        },
        ReadinessService,
        ServiceInfo,
      ],
      exports: [SERVICE_NAME, METRICS_REGISTRY, PIPELINE_METRICS, ReadinessService, SecretBox],
    };
  }
}
