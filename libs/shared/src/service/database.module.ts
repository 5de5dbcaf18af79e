import { Injectable, Module, type OnModuleInit } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { TypeOrmModule } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import type { AppConfig } from '../config/load-config';
import { dataSourceOptions } from '../state/data-source';
import { ReadinessService, within } from './readiness.service';

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

/** The state store through @nestjs/typeorm. The schema comes from migrations (`npm run migrate`), never synchronize. */
@Module({
  imports: [
    TypeOrmModule.forRootAsync({
      inject: [ConfigService],
      useFactory: (config: ConfigService<AppConfig, true>) => {
        const database = config.get('database', { infer: true });
        return dataSourceOptions(database.url, {
          extra: { max: database.poolMax, connectionTimeoutMillis: 5000 },
        });
      },
    }),
  ],
  providers: [DatabaseReadiness],
})
export class DatabaseModule {}
