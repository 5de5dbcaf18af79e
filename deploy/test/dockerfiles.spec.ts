/**
 * The images' Dockerfiles, read without a Docker engine: one per app plus the migration image,
 * multi-stage, a runtime stage with production dependencies and the app's compiled output only,
 * a numeric non-root user, and an exec-form command that runs a file the build produces.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, posix, resolve } from 'node:path';
import { parse } from 'yaml';
import { execForm, readDockerfile, REPO_ROOT, type Stage } from './dockerfile';

interface Image {
  project: string;
  dir: string;
  title: string;
  /** Build output folder (tsconfig outDir) and the script the image runs. */
  dist: string;
  command: string[];
  source: string;
}

const IMAGES: Image[] = [
  ...['ingest', 'submitter', 'reconciler', 'backfiller'].map((app) => ({
    project: app,
    dir: `apps/${app}`,
    title: `raise-sync/${app}`,
    dist: `dist/apps/${app}`,
    command: ['node', `dist/apps/${app}/apps/${app}/src/main.js`],
    source: `apps/${app}/src/main.ts`,
  })),
  {
    project: 'shared',
    dir: 'libs/shared',
    title: 'raise-sync/migrate',
    dist: 'dist/libs/shared',
    command: ['node', 'dist/libs/shared/libs/shared/src/state/migrate.cli.js', 'up'],
    source: 'libs/shared/src/state/migrate.cli.ts',
  },
];

const BUILD_TOOLS = /\b(npm|npx|yarn|pnpm|nx|tsc|tsc-alias|jest)\b/;
const dockerignore = readFileSync(join(REPO_ROOT, '.dockerignore'), 'utf8')
  .split('\n')
  .map((l) => l.trim())
  .filter((l) => l !== '' && !l.startsWith('#'));

const argsOf = (stage: Stage | undefined, keyword: string) =>
  stage?.instructions.filter((i) => i.keyword === keyword).map((i) => i.args) ?? [];

describe.each(IMAGES)('$dir/Dockerfile', (image) => {
  const file = readDockerfile(`${image.dir}/Dockerfile`);
  const final = file.stages[file.stages.length - 1];
  const stageNamed = (name: string) => file.stages.find((s) => s.name === name);

  it('is multi-stage on a Node.js base the project supports', () => {
    expect(file.stages.length).toBeGreaterThanOrEqual(2);
    const nodeImage = file.preamble
      .filter((i) => i.keyword === 'ARG')
      .map((i) => /^NODE_IMAGE=(\S+)$/.exec(i.args)?.[1])
      .find(Boolean);
    const engines = (
      JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as {
        engines: { node: string };
      }
    ).engines.node;
    const [wantMajor, wantMinor] = (/(\d+)\.(\d+)/.exec(engines) ?? []).slice(1).map(Number);
    const [major, minor] = (/^node:(\d+)\.(\d+)(?:\.\d+)?-/.exec(nodeImage ?? '') ?? [])
      .slice(1)
      .map(Number);
    expect(major).toBe(wantMajor);
    expect(minor).toBeGreaterThanOrEqual(wantMinor ?? 0);
    // The images run the Node release the scripts fetch for local runs and CI (tools/infra/node.sh).
    const pinned = /^RAISE_SYNC_NODE_VERSION=(\S+)$/m.exec(
      readFileSync(join(REPO_ROOT, 'tools/infra/node.sh'), 'utf8'),
    )?.[1];
    expect(nodeImage).toBe(`node:${pinned}-bookworm-slim`);
    for (const stage of file.stages) {
      expect(stage.from).toBe('${NODE_IMAGE}');
    }
  });

  it('compiles this project in a build stage from sources the build context holds', () => {
    const build = file.stages.find((s) => argsOf(s, 'RUN').some((r) => r.includes(':build')));
    expect(argsOf(build, 'RUN').join('\n')).toContain(`nx run ${image.project}:build`);
    const project = JSON.parse(
      readFileSync(join(REPO_ROOT, image.dir, 'project.json'), 'utf8'),
    ) as {
      name: string;
    };
    expect(project.name).toBe(image.project);
    for (const copy of argsOf(build, 'COPY').filter((c) => !c.startsWith('--from'))) {
      const sources = copy.split(/\s+/).slice(0, -1);
      for (const source of sources) {
        expect({ source, exists: existsSync(join(REPO_ROOT, source)) }).toEqual({
          source,
          exists: true,
        });
        const top = source.split('/')[0];
        expect({ source, ignored: dockerignore.includes(top ?? '') }).toEqual({
          source,
          ignored: false,
        });
      }
    }
  });

  it('ships production dependencies and the compiled output only, no build tooling', () => {
    const copies = argsOf(final, 'COPY');
    expect(copies.length).toBeGreaterThan(0);
    for (const copy of copies) {
      expect(copy).toMatch(/^--from=\S+ /); // nothing straight from the build context
    }
    const modules = copies.find((c) => c.includes('node_modules'));
    const depsStage = stageNamed(/^--from=(\S+)/.exec(modules ?? '')?.[1] ?? '');
    const installs =
      argsOf(depsStage, 'RUN')
        .join('\n')
        .match(/npm (ci|install)\b[^|&\n]*/g) ?? [];
    expect(installs.length).toBeGreaterThan(0);
    for (const install of installs) {
      expect(install).toContain('--omit=dev');
    }
    const dist = copies.find((c) => c.includes(' ./dist/'));
    expect(dist).toMatch(new RegExp(`/src/${image.dist} \\./${image.dist}$`));
    // The build writes where the Dockerfile copies from (the tsconfig's outDir).
    const tsconfig = image.project === 'shared' ? 'tsconfig.lib.json' : 'tsconfig.app.json';
    const outDir = (
      JSON.parse(readFileSync(join(REPO_ROOT, image.dir, tsconfig), 'utf8')) as {
        compilerOptions: { outDir: string };
      }
    ).compilerOptions.outDir;
    expect(posix.normalize(posix.join(image.dir, outDir))).toBe(image.dist);
    for (const run of argsOf(final, 'RUN')) {
      // Removing npm/npx/corepack mentions them; anything else may not call build tools.
      expect(run.startsWith('rm ') || !BUILD_TOOLS.test(run)).toBe(true);
    }
    expect(argsOf(final, 'ENV').join(' ')).toMatch(/\bNODE_ENV=production\b/);
  });

  it('runs as a numeric non-root user (what runAsNonRoot can verify)', () => {
    const users = argsOf(final, 'USER');
    const user = users[users.length - 1] ?? '';
    const uid = Number(user.split(':')[0]);
    expect(Number.isInteger(uid)).toBe(true);
    expect(uid).toBeGreaterThan(0);
    // The Kubernetes manifests pin the same uid (deploy/k8s/base runAsUser: 1000).
    expect(uid).toBe(1000);
  });

  it('starts, in exec form, a script the build produces from an existing source', () => {
    const cmds = final?.instructions.filter((i) => i.keyword === 'CMD') ?? [];
    expect(execForm(cmds[cmds.length - 1])).toEqual(image.command);
    expect(argsOf(final, 'ENTRYPOINT')).toEqual([]);
    expect(existsSync(join(REPO_ROOT, image.source))).toBe(true);
    const script = image.command[1] ?? '';
    expect(script.startsWith(`${image.dist}/`)).toBe(true);
    expect(script.replace(`${image.dist}/`, '').replace(/\.js$/, '.ts')).toBe(image.source);
  });

  it('names its image with the title the Kubernetes manifests use', () => {
    expect(argsOf(final, 'LABEL').join(' ')).toContain(
      `org.opencontainers.image.title="${image.title}"`,
    );
  });
});

describe('.dockerignore and docker-compose.yml', () => {
  it('keeps dependencies, build output, local state and secrets out of the build context', () => {
    for (const pattern of ['**/node_modules', 'dist', '.git', '.infra', '.nx', '**/secrets.env']) {
      expect(dockerignore).toContain(pattern);
    }
  });

  it('builds every compose service from its own Dockerfile and runs the same command', () => {
    const compose = parse(readFileSync(join(REPO_ROOT, 'docker-compose.yml'), 'utf8')) as {
      services: Record<
        string,
        { build?: { context: string; dockerfile: string }; command?: string[] }
      >;
    };
    for (const image of IMAGES) {
      const service = image.project === 'shared' ? 'migrate' : image.project;
      const build = compose.services[service]?.build;
      expect(build?.dockerfile).toBe(`${image.dir}/Dockerfile`);
      expect(resolve(REPO_ROOT, build?.context ?? '')).toBe(REPO_ROOT);
    }
    const migrate = compose.services['migrate']?.command;
    expect(
      migrate === undefined || JSON.stringify(migrate) === JSON.stringify(IMAGES[4]?.command),
    ).toBe(true);
  });
});
