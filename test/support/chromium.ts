/**
 * Debian's chromium, headless, for the browser tests. Missing chromium fails the suite (never skips it): CI
 * installs it (apt-get install chromium).
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import puppeteer, { type Browser } from 'puppeteer-core';

export const CHROMIUM = '/usr/bin/chromium';

/** Launches headless chromium; an assertion error says how to install it when it is missing. */
export async function launchChromium(): Promise<Browser> {
  assert.ok(
    existsSync(CHROMIUM),
    `${CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium)`,
  );
  // --no-sandbox: CI and containers run as root, where chromium's sandbox refuses to start.
  return puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
  });
}
