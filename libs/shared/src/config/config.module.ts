import { type DynamicModule, Module } from '@nestjs/common';
import { ConfigModule as NestConfigModule } from '@nestjs/config';
import type { AnyConfigSection } from './declare';
import { loadConfig } from './load-config';
import { SHARED_CONFIG } from './shared.config';

/**
 * @nestjs/config with our declarations: the environment is validated once at startup, for the
 * shared variables and the sections the app names, and exposed as a typed config
 * (`ConfigService<IngestConfig, true>` and so on). Nothing reads process.env after this, and
 * nothing reads it before `forRoot` runs.
 */
@Module({})
export class AppConfigModule {
  static forRoot(sections: readonly AnyConfigSection[]): DynamicModule {
    return {
      module: AppConfigModule,
      imports: [
        NestConfigModule.forRoot({
          isGlobal: true,
          ignoreEnvFile: true,
          cache: true,
          validate: (env) => loadConfig(env, [SHARED_CONFIG, ...sections]),
        }),
      ],
    };
  }
}
