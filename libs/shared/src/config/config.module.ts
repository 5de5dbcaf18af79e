import { Module } from '@nestjs/common';
import { ConfigModule as NestConfigModule } from '@nestjs/config';
import { loadConfig } from './load-config';

/**
 * @nestjs/config with our schema: the environment is validated once at startup and exposed as a
 * typed AppConfig (`ConfigService<AppConfig, true>`). Nothing reads process.env after this.
 */
@Module({
  imports: [
    NestConfigModule.forRoot({
      isGlobal: true,
      ignoreEnvFile: true,
      cache: true,
      validate: loadConfig,
    }),
  ],
})
export class AppConfigModule {}
