// End-to-end tests of the web UI in headless Chromium (issue 7 §4), against a real `itsm serve`
// with its own database, started by tests/it/ui.rs. Each step prints `ok` or fails the run.
//
// 1. A requester reports a problem in the portal (a catalog form with a conditional field); an
//    agent sees it appear live in the worklist, answers and sets it waiting for the requester;
//    the requester sees the answer and replies (the ticket resumes); the agent resolves it.
// 2. Two agents edit one ticket: the second gets "changed meanwhile", keeps the typed text,
//    sends again.
// 3. Every page type in German and English: axe-core finds nothing serious or critical, no
//    string is untranslated; user content is shown as text, never as markup.
// With ITSM_SCREENSHOTS=<dir> the main pages are saved there as PNG (the README shows them).

import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

import { axeFindings, call, launch, loggedIn, target } from './lib.mjs';

const { base, admin } = target();
const screenshots = process.env.ITSM_SCREENSHOTS || null;
const PASSWORD = 'Sommer-2026-Test!';
let failures = 0;

async function step(name, body) {
  const started = Date.now();
  try {
    await body();
    console.log(`ok   ${name} (${Date.now() - started} ms)`);
  } catch (error) {
    failures += 1;
    console.log(`FAIL ${name}: ${error.stack || error}`);
  }
}

async function shot(page, name) {
  if (!screenshots) return;
  mkdirSync(screenshots, { recursive: true });
  await page.screenshot({ path: join(screenshots, `${name}.png`), fullPage: false });
}

async function seed() {
  const day = ['00:00-24:00'];
  const put = (path, body) => call(base, admin, 'PUT', `/api/v1/config/${path}`, body, [200, 201]);
  await put('calendars/immer', { weekly_hours: { mon: day, tue: day, wed: day, thu: day, fri: day, sat: day, sun: day } });
  await put('sla-policies/standard', { title: 'Standard', calendar: 'immer', targets: [{ first_response_minutes: 60, resolution_minutes: 480 }] });
  await put('queues/service-desk', { title: { de: 'Service-Desk', en: 'Service desk' } });
  await put('categories/arbeitsplatz', { title: { de: 'Arbeitsplatz und Drucken', en: 'Workplace and printing' }, description: { de: 'Rechner, Drucker, Telefon', en: 'Computers, printers, phones' }, order: 1 });
  await put('services/drucker', {
    title: { de: 'Drucker funktioniert nicht', en: 'Printer does not work' },
    description: { de: 'Störung an einem Drucker oder Multifunktionsgerät', en: 'A fault of a printer or multifunction device' },
    category: 'arbeitsplatz',
    default_queue: 'service-desk',
    default_ticket_type: 'incident',
    sla_policy: 'standard',
    form: [
      { key: 'standort', label: { de: 'Standort (Gebäude, Raum)', en: 'Location (building, room)' }, kind: 'text', required: true, help: { de: 'z. B. Rathaus, 2.041', en: 'e.g. town hall, 2.041' } },
      { key: 'geraet', label: { de: 'Gerät', en: 'Device' }, kind: 'select', required: true, options: ['Drucker', 'Multifunktionsgerät'] },
      { key: 'toner_leer', label: { de: 'Toner leer?', en: 'Toner empty?' }, kind: 'boolean' },
      { key: 'tonerfarbe', label: { de: 'Welche Farbe?', en: 'Which colour?' }, kind: 'select', required: true, options: ['Schwarz', 'Cyan', 'Magenta', 'Gelb'], visible_if: { field: 'toner_leer', equals: true } },
    ],
  });
  for (const [user, roles] of [
    ['e.mustermann', ['requester']],
    ['k.meier', ['agent']],
    ['a.schulz', ['agent']],
    ['c.wolf', ['asset_manager']],
  ]) {
    await call(base, admin, 'POST', '/api/v1/users', { user, display_name: user, roles, password: PASSWORD }, [201]);
  }
  const server = await call(base, admin, 'POST', '/api/v1/assets', { class: 'server', name: 'SRV-DRUCK-01', inventory_number: 'INV-4711', location: 'Rathaus' }, [201]);
  const printer = await call(base, admin, 'POST', '/api/v1/assets', { class: 'printer', name: 'PRN-2OG-01', inventory_number: 'INV-4712', location: 'Rathaus 2. OG' }, [201]);
  await call(base, admin, 'POST', `/api/v1/assets/${printer.id}/commands`, { command: 'relate', relation: 'depends_on', target: server.id });
  return { printer: printer.id };
}

async function waitForText(page, selector, text, timeout = 15000) {
  await page.waitForFunction(
    ([selector, text]) => [...document.querySelectorAll(selector)].some((element) => element.textContent.includes(text)),
    [selector, text],
    { timeout },
  );
}

/** Opens a ticket through the API and waits until the read model has it (read your writes). */
async function openTicket(ticket) {
  const opened = await call(base, admin, 'POST', '/api/v1/tickets', ticket, [201]);
  await call(base, admin, 'GET', `/api/v1/tickets/${opened.number}?after=${opened.consistency_token}`);
  return opened;
}

/** Opens the page of `hash` (reloading if it is the current one) and waits until it is ready. */
async function visit(page, hash) {
  const url = `${base}/ui/${hash}`;
  if (page.url() === url) await page.reload();
  else await page.goto(url);
  await page.waitForFunction((hash) => {
    const main = document.querySelector('main');
    return main.dataset.route === hash && main.hasAttribute('data-ready');
  }, hash);
}

/** Sends one action of the ticket page and waits until the page shows the next version. */
async function act(page, type, fill = async () => {}) {
  const before = Number(await page.getAttribute('main', 'data-version'));
  if (type === 'take') {
    await page.click('#action-take');
  } else {
    await page.click(`#action-${type}-summary`);
    await fill(`#action-${type}-form`);
    await page.click(`#action-${type}-form button[type=submit]`);
  }
  await page.waitForFunction((version) => Number(document.querySelector('main').dataset.version) > version, before, { timeout: 15000 });
}

const browser = await launch();
const seeded = await seed();
let number = null;

const agent = await loggedIn(browser, base, 'k.meier', PASSWORD);
const requester = await loggedIn(browser, base, 'e.mustermann', PASSWORD);

await step('an agent lands on the dashboard, a requester on the portal', async () => {
  assert.match(agent.page.url(), /#\/dashboard$/);
  assert.match(requester.page.url(), /#\/portal$/, requester.page.url());
  await agent.page.waitForSelector('#live.live-on', { timeout: 10000 });
});

await step('the requester reports a problem through a catalog form with a conditional field', async () => {
  await visit(agent.page, `#/tickets?sort=-age`);
  await agent.page.evaluate(() => {
    window.notReloaded = true;
  });
  const page = requester.page;
  await shot(page, 'portal');
  await page.click('a[href="#/portal/new?service=drucker"]');
  await page.waitForSelector('main[data-ready] form');
  const colour = page.getByLabel('Welche Farbe?', { exact: false });
  assert.equal(await colour.isVisible(), false, 'the colour question shows only when the toner is empty');
  await page.getByLabel('Betreff', { exact: false }).fill('Drucker im 2. OG druckt nur leere Seiten');
  await page.getByLabel('Beschreibung', { exact: true }).fill('Seit heute Morgen kommen nur leere Seiten heraus.');
  await page.getByLabel('Standort (Gebäude, Raum)', { exact: false }).fill('Rathaus, 2.041');
  await page.getByLabel('Gerät', { exact: false }).selectOption('Drucker');
  await page.getByLabel('Toner leer?').check();
  assert.equal(await colour.isVisible(), true);
  await colour.selectOption('Schwarz');
  await shot(page, 'portal-form');
  await page.click('form button[type=submit]');
  await page.waitForSelector('#confirmation, [role=alert]');
  assert.equal(await page.locator('[role=alert]').count(), 0, await page.locator('[role=alert]').allTextContents().then(String));
  const confirmation = await page.textContent('#confirmation');
  number = confirmation.match(/\d{4}-\d{6}/)[0];
  assert.ok(number);
});

await step('the server refuses a form without a required answer and the page says which', async () => {
  const page = requester.page;
  await visit(page, `#/portal/new?service=drucker`);
  await page.getByLabel('Betreff', { exact: false }).fill('Ohne Standort');
  await page.getByLabel('Gerät', { exact: false }).selectOption('Drucker');
  await page.click('form button[type=submit]');
  await page.waitForSelector('[role=alert]');
  const invalid = await page.getAttribute('input[name="field.standort"]', 'aria-invalid');
  assert.equal(invalid, 'true', await page.locator('[role=alert]').allTextContents().then(String));
});

await step('the agent sees the new ticket appear live in the worklist, without reloading', async () => {
  await agent.page.waitForSelector(`tr[data-number="${number}"]`, { timeout: 15000 });
  assert.equal(await agent.page.evaluate(() => window.notReloaded), true);
  const sla = await agent.page.textContent(`tr[data-number="${number}"] td:nth-child(7)`);
  assert.match(sla, /Läuft noch [78] Std\. \d+ Min\./, 'the SLA badge with the business time left');
  await shot(agent.page, 'worklist');
});

await step('the agent takes the ticket, answers and waits for the requester', async () => {
  const page = agent.page;
  await page.click(`tr[data-number="${number}"] a`);
  await page.waitForSelector('main[data-ready] #ticket-actions');
  await act(page, 'take');
  await act(page, 'add_reply', (form) => page.fill(`${form} textarea[name=body]`, 'Bitte nennen Sie die Inventarnummer vom Aufkleber.'));
  await act(page, 'set_pending', (form) => page.selectOption(`${form} select[name=reason]`, 'waiting_for_requester'));
  await waitForText(page, 'dl.facts .badge', 'Wartend');
  assert.equal(await page.locator('#action-set_pending').count(), 0, 'a pending ticket does not offer set_pending again');
});

await step('the requester sees the answer and replies; the ticket resumes', async () => {
  const page = requester.page;
  await visit(page, '#/portal/tickets');
  await page.waitForSelector(`tr[data-number="${number}"]`);
  await page.click(`tr[data-number="${number}"] a`);
  await page.waitForSelector('main[data-ready]');
  await waitForText(page, '.articles', 'Inventarnummer vom Aufkleber');
  await shot(page, 'portal-ticket');
  await page.fill('#reply-body', 'Die Inventarnummer ist INV-4712.');
  await page.click('form button[type=submit]');
  await waitForText(page, '.alert-success', 'gesendet');
  await waitForText(page, '.articles', 'INV-4712');
  await waitForText(page, 'dl.facts .badge', 'In Bearbeitung');
});

await step('the agent sees the reply and resolves the ticket', async () => {
  const page = agent.page;
  await visit(page, `#/tickets/${number}`);
  await waitForText(page, '.articles', 'INV-4712');
  await waitForText(page, '#ticket-details ~ dl .badge, dl.facts .badge', 'In Bearbeitung');
  await act(page, 'set_fields', (form) => page.fill(`${form} input[name="field.standort"]`, 'Rathaus, 2.043'));
  await waitForText(page, 'dl.facts', 'Rathaus, 2.043');
  await act(page, 'link_asset', (form) => page.fill(`${form} input[name=asset]`, 'INV-4712'));
  await waitForText(page, '#ticket-links ~ ul', 'PRN-2OG-01');
  await shot(page, 'ticket');
  await act(page, 'resolve', (form) => page.fill(`${form} textarea[name=text]`, 'Toner getauscht, Testseite gedruckt.'));
  await waitForText(page, 'dl.facts .badge', 'Gelöst');
  const offered = await page.$$eval('.actions details', (items) => items.map((item) => item.id));
  assert.ok(offered.includes('action-close') && !offered.includes('action-resolve'), `offered after resolve: ${offered}`);
});

await step('two agents edit one ticket: the later one gets "changed meanwhile" and keeps the text', async () => {
  const opened = await openTicket({ type: 'incident', title: 'Telefon im Bürgerbüro ohne Freizeichen', requester: { name: 'Bürgerbüro' }, impact: 'medium', urgency: 'medium', queue: 'service-desk' });
  const other = await loggedIn(browser, base, 'a.schulz', PASSWORD);
  for (const page of [agent.page, other.page]) {
    await visit(page, `#/tickets/${opened.number}`);
  }
  await act(other.page, 'set_priority', (form) => other.page.selectOption(`${form} select[name=urgency]`, 'high'));
  const page = agent.page;
  await page.keyboard.press('n');
  const focused = await page.evaluate(() => document.activeElement && document.activeElement.name);
  assert.equal(focused, 'body', 'the n shortcut opens the internal note');
  await page.keyboard.type('Leitung geprüft, Port 12 ist tot.');
  await page.click('#action-add_note-form button[type=submit]');
  await waitForText(page, '#ticket-notice', 'inzwischen geändert');
  assert.equal(await page.inputValue('#action-add_note-form textarea[name=body]'), 'Leitung geprüft, Port 12 ist tot.');
  await waitForText(page, 'dl.facts', 'hoch');
  const version = Number(await page.getAttribute('main', 'data-version'));
  await page.click('#action-add_note-form button[type=submit]');
  await page.waitForFunction((seen) => Number(document.querySelector('main').dataset.version) > seen, version);
  await waitForText(page, '.articles', 'Port 12 ist tot');
  await other.context.close();
});

await step('a refused command says why and keeps the input', async () => {
  const page = agent.page;
  await page.click('#action-merge-summary');
  await page.fill('#action-merge-form input[name=into]', '2026-999999');
  await page.click('#action-merge-form button[type=submit]');
  await waitForText(page, '#action-merge-form [role=alert]', 'nicht gefunden');
  assert.equal(await page.inputValue('#action-merge-form input[name=into]'), '2026-999999');
  await page.click('#action-resolve-summary');
  await page.fill('#action-resolve-form textarea[name=text]', 'x'.repeat(70000));
  await page.click('#action-resolve-form button[type=submit]');
  await waitForText(page, '#ticket-notice [role=alert]', 'Ungültig');
  assert.equal((await page.inputValue('#action-resolve-form textarea[name=text]')).length, 70000);
});

await step('user content is shown as text, never as markup', async () => {
  const title = '<img src=x onerror="window.pwned=1">Bildschirm flackert';
  const opened = await openTicket({ type: 'incident', title, requester: { name: '<b>Max</b>' }, impact: 'low', urgency: 'low', queue: 'service-desk' });
  const page = agent.page;
  await visit(page, `#/tickets/${opened.number}`);
  const heading = await page.textContent('h1');
  assert.ok(heading.includes('<img src=x'), `${heading} at ${page.url()}`);
  assert.equal(await page.locator('main img').count(), 0);
  assert.ok((await page.textContent('dl.facts')).includes('<b>Max</b>'));
  assert.equal(await page.locator('main dl b').count(), 0);
  assert.equal(await page.evaluate(() => window.pwned), undefined);
});

const assetManager = await loggedIn(browser, base, 'c.wolf', PASSWORD);
const PAGES = [
  ['login', null, '#/login'],
  ['dashboard', agent, '#/dashboard'],
  ['worklist', agent, '#/tickets'],
  ['ticket', agent, () => `#/tickets/${number}`],
  ['portal', requester, '#/portal'],
  ['report form', requester, '#/portal/new?service=drucker'],
  ['my tickets', requester, '#/portal/tickets'],
  ['my ticket', requester, () => `#/portal/tickets/${number}`],
  ['assets', assetManager, '#/assets'],
  ['asset', assetManager, () => `#/assets/${seeded.printer}`],
];

for (const language of ['de', 'en']) {
  await step(`every page type in ${language}: no serious or critical axe finding, nothing untranslated`, async () => {
    const findings = [];
    const anonymous = await browser.newContext();
    const anonymousPage = await anonymous.newPage();
    for (const [name, who, hash] of PAGES) {
      const page = who ? who.page : anonymousPage;
      await page.goto(`${base}/ui/#/portal`);
      await page.evaluate((language) => localStorage.setItem('itsm.lang', language), language);
      await page.goto(`${base}/ui/${typeof hash === 'function' ? hash() : hash}`);
      await page.reload();
      await page.waitForSelector('main[data-ready] h1');
      assert.equal(await page.getAttribute('html', 'lang'), language);
      const alerts = await page.locator('main [role=alert]').allTextContents();
      assert.deepEqual(alerts, [], `${name} shows an error`);
      for (const finding of await axeFindings(page)) findings.push(`${name}: ${finding}`);
      const missing = await page.evaluate(() => window.itsmMissingTranslations());
      for (const key of missing) findings.push(`${name}: untranslated ${key}`);
      if (language === 'de' && name === 'dashboard') await shot(page, 'dashboard');
      if (language === 'de' && name === 'asset') await shot(page, 'asset');
      if (language === 'en' && name === 'worklist') await shot(page, 'worklist-en');
    }
    await anonymous.close();
    assert.deepEqual(findings, []);
  });
}

await step('single-key shortcuts work, are listed under ? and can be switched off and on again', async () => {
  const page = agent.page;
  await visit(page, `#/tickets/${number}`);
  await page.keyboard.press('g');
  await page.keyboard.press('d');
  await page.waitForURL(/#\/dashboard$/);
  await visit(page, `#/tickets/${number}`);
  await page.keyboard.press('?');
  await page.waitForSelector('#help-dialog[open]');
  await page.click('#shortcuts-on');
  await page.keyboard.press('Escape');
  await page.keyboard.press('g');
  await page.keyboard.press('d');
  await page.keyboard.press('?');
  await page.waitForTimeout(300);
  assert.match(page.url(), /#\/tickets\//, 'g d does nothing while shortcuts are off');
  assert.equal(await page.locator('#help-dialog[open]').count(), 0, '? does nothing either');
  await page.click('#shortcuts');
  await page.waitForSelector('#help-dialog[open]');
  await page.click('#shortcuts-on');
  await page.keyboard.press('Escape');
  assert.equal(await page.evaluate(() => localStorage.getItem('itsm.shortcuts')), 'on');
});

await step('no page error or console error in any session', async () => {
  assert.deepEqual([...agent.problems, ...requester.problems, ...assetManager.problems], []);
});

await step('logging out ends the session', async () => {
  const page = requester.page;
  await visit(page, `#/portal`);
  await page.click('#logout');
  await page.waitForURL(/#\/login$/);
  const status = await page.evaluate(async () => (await fetch('/api/v1/me')).status);
  assert.equal(status, 401);
});

await browser.close();
console.log(failures === 0 ? 'all browser tests passed' : `${failures} browser test(s) failed`);
process.exit(failures === 0 ? 0 : 1);
