import { spawnSync } from 'node:child_process';
import { accessSync, constants, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { ROOT } from './cli.js';

/** Where the browser tests leave a screenshot of each page (git-ignored), for a reviewer to look at. */
export const SCREENSHOTS = join(ROOT, 'test-results', 'console-screenshots');

/**
 * Debian's chromium (or CHROMIUM_PATH), driven by playwright-core through its executable: no browser
 * download. Missing, it fails with the command that installs it.
 */
export async function launchChromium(): Promise<Browser> {
  const path = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';
  try {
    accessSync(path, constants.X_OK);
  } catch {
    throw new Error(`headless Chromium is missing at ${path}. Fix: bash scripts/provision/chromium.sh (apt-get install chromium), or set CHROMIUM_PATH`);
  }
  const version = spawnSync(path, ['--version'], { encoding: 'utf8', timeout: 30_000 });
  if (!/^(Chromium|Google Chrome) \d+/m.test(version.stdout ?? '')) {
    throw new Error(`${path} --version does not answer as Chromium (${(version.stderr ?? '').trim()}). Fix: bash scripts/provision/chromium.sh`);
  }
  mkdirSync(SCREENSHOTS, { recursive: true });
  return chromium.launch({ executablePath: path, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
}
