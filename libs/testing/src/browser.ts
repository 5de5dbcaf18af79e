import { existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { chromium, type Browser } from 'playwright-core';

/** Where Debian installs Chromium (`apt-get install chromium`); CHROMIUM_PATH overrides it. */
const DEFAULT_CHROMIUM = '/usr/bin/chromium';

/**
 * Headless Chromium for browser tests, driven by playwright-core. The flags keep Chromium from
 * calling home (this machine's network is closed) and let it run as root in a container.
 */
export async function launchBrowser(): Promise<Browser> {
  const executablePath = process.env['CHROMIUM_PATH'] ?? DEFAULT_CHROMIUM;
  if (!existsSync(executablePath)) {
    throw new Error(
      `missing prerequisite: Chromium at ${executablePath} (install Debian's package: apt-get install chromium, or set CHROMIUM_PATH)`,
    );
  }
  return chromium.launch({
    executablePath,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-dev-shm-usage',
    ],
  });
}

/** A path for a test artifact (screenshots…) under RAISE_SYNC_TEST_RESULTS_DIR. */
export function artifactPath(name: string): string {
  const dir = resolve(
    process.env['RAISE_SYNC_TEST_RESULTS_DIR'] ?? join(__dirname, '../../../tmp/test-results'),
    'artifacts',
  );
  mkdirSync(dir, { recursive: true });
  return join(dir, name);
}
