// Shared pieces of the browser tests and the page benchmark: Debian's Chromium driven by
// playwright-core, an HTTP client for seeding through the real API, and login.

import { chromium } from 'playwright-core';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/** Chromium as the machine has it (`apt-get install chromium`), never a downloaded browser. */
export async function launch() {
  const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';
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
    ],
  });
}

/** The service under test, from the environment the Rust harness sets. */
export function target() {
  const base = process.env.ITSM_BASE_URL;
  const admin = process.env.ITSM_ADMIN_TOKEN;
  if (!base || !admin) throw new Error('ITSM_BASE_URL and ITSM_ADMIN_TOKEN must be set (run through deploy/test.sh)');
  return { base, admin };
}

/** One API call with a bearer token; throws with the problem body on an unexpected status. */
export async function call(base, token, method, path, body, expected = [200, 201]) {
  const response = await fetch(`${base}${path}`, {
    method,
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json', Accept: 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  if (!expected.includes(response.status)) {
    throw new Error(`${method} ${path}: ${response.status} ${text}`);
  }
  return text ? JSON.parse(text) : null;
}

/** A browser context logged in as `user` through the login page. */
export async function loggedIn(browser, base, user, password, language = 'de') {
  const context = await browser.newContext({ locale: language === 'en' ? 'en-GB' : 'de-DE', timezoneId: 'Europe/Berlin', viewport: { width: 1360, height: 900 } });
  const page = await context.newPage();
  const problems = [];
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error' && !/status of 4\d\d/.test(message.text())) problems.push(`console: ${message.text()}`);
  });
  await page.goto(`${base}/ui/#/login`);
  if (language === 'en') {
    await page.selectOption('select[name=language]', 'en');
  }
  await page.fill('input[name=user]', user);
  await page.fill('input[name=password]', password);
  await page.click('form button[type=submit]');
  await page.waitForURL((url) => !url.hash.startsWith('#/login'));
  await page.waitForSelector('main[data-ready] h1');
  return { context, page, problems };
}

/** The axe-core source, injected into pages. */
export const AXE_SOURCE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

/** Serious and critical WCAG 2.x A/AA findings of axe on the page as it is now. */
export async function axeFindings(page) {
  await page.evaluate(AXE_SOURCE);
  const results = await page.evaluate(() =>
    // eslint-disable-next-line no-undef
    axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } }),
  );
  return results.violations
    .filter((violation) => ['serious', 'critical'].includes(violation.impact))
    .map((violation) => `${violation.id} (${violation.impact}): ${violation.help} — ${violation.nodes.map((node) => node.target.join(' ')).slice(0, 3).join(', ')}`);
}
