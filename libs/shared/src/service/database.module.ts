import { Injectable, Module, type OnModuleInit } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { TypeOrmModule } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import type { SharedConfig } from '../config/shared.config';
import { dataSourceOptions } from '../state/data-source';
import { PinoLogger } from 'nestjs-pino';
import { ReadinessService, within } from './readiness.service';
import { logWaiting, postgresCheck, waitForDependency } from './startup-dependencies';

@Injectable()
class DatabaseReadiness implements OnModuleInit {
  constructor(
    private readonly dataSource: DataSource,
    private readonly readiness: ReadinessService,
  ) {}

  onModuleInit(): void {
    this.readiness.register('database', async () => {
      await within(3000, 'PostgreSQL', this.dataSource.query('SELECT 1'));
    });
  }
}

/**
 * The state store through @nestjs/typeorm. The schema comes from migrations (`npm run migrate`),
 * never synchronize. At startup PostgreSQL is tried for STARTUP_DEPENDENCY_TIMEOUT_MS (logging
 * once that it waits); still unreachable, the service stops with a DependencyUnreachableError
 * naming DATABASE_URL (no TypeORM retries on top: they took 27 s and printed stacks).
 */
@Module({
  imports: [
    TypeOrmModule.forRootAsync({
      inject: [ConfigService, PinoLogger],
      useFactory: async (config: ConfigService<SharedConfig, true>, log: PinoLogger) => {
        const database = config.get('database', { infer: true });
        await waitForDependency(postgresCheck(database.url), {
          timeoutMs: config.get('startupDependencyTimeoutMs', { infer: true }),
          onWaiting: (info) => logWaiting(log, info),
        });
        return {
          ...dataSourceOptions(database.url, {
            extra: { max: database.poolMax, connectionTimeoutMillis: 5000 },
          }),
          retryAttempts: 0,
        };
      },
    }),
  ],
  providers: [DatabaseReadiness],
})
export class DatabaseModule {}
