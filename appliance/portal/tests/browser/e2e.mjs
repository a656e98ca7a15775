// One citizen's visit to the portal in real headless Chromium (Debian's /usr/bin/chromium,
// never a downloaded browser), driven by Playwright. Run by ../browser.rs, which starts the
// portal and checks the store behind it.
//
// Environment: PORTAL_URL (http://127.0.0.1:PORT), PDF_PATH (the police report to upload),
// OUT_DIR (screenshots), PROFILE_DIR (a new empty Chromium profile; the Rust test kills any
// process still using it), CHROMIUM (optional, default /usr/bin/chromium).
//
// Prints one JSON line on stdout: {case_no, tracking_code, status, error_shown}. Progress and
// failures go to stderr; any failure exits 1 after a screenshot to OUT_DIR/failure.png.

import path from 'node:path';
import { chromium } from 'playwright-core';

function env(name) {
  const value = process.env[name];
  if (!value) {
    console.error(`e2e: ${name} is not set`);
    process.exit(2);
  }
  return value;
}

const base = env('PORTAL_URL');
const pdf = env('PDF_PATH');
const outDir = env('OUT_DIR');
const profileDir = env('PROFILE_DIR');
const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';

const TYPE_NAME = 'Reporting a lost or stolen passport or identity card';
const REQUIRED = 'This field is required.';

function check(ok, what) {
  if (!ok) throw new Error(`check failed: ${what}`);
}

const log = (...args) => console.error('e2e:', ...args);

const context = await chromium.launchPersistentContext(profileDir, {
  executablePath,
  headless: true,
  // This machine's network is closed: without the background-networking flags Chromium keeps
  // trying Google's hosts.
  args: [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
  ],
  // A Romanian abroad: the browser asks for Romanian; the citizen then picks English.
  locale: 'ro-RO',
  viewport: { width: 1024, height: 800 },
});
context.setDefaultTimeout(15_000);
context.setDefaultNavigationTimeout(20_000);

const page = context.pages()[0] ?? (await context.newPage());
page.on('pageerror', (e) => log('page error:', e.message));
page.on('console', (m) => m.type() === 'error' && log('console error:', m.text()));

let exitCode = 0;
try {
  // Home, in Romanian from Accept-Language, then English from the language link.
  const home = await page.goto(`${base}/`);
  check(home.status() === 200, `home answered ${home.status()}`);
  check((await page.locator('html').getAttribute('lang')) === 'ro', 'home is in Romanian first');
  await page.getByRole('link', { name: 'English', exact: true }).click();
  await page.getByRole('heading', { name: 'How can we help?' }).waitFor();
  check((await page.locator('html').getAttribute('lang')) === 'en', 'the English link switches');
  log('home in English:', page.url());

  // The request type, then its form.
  await page.getByLabel(TYPE_NAME, { exact: true }).check();
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.getByRole('heading', { name: TYPE_NAME }).waitFor();
  log('form:', page.url());

  // Every required field but the surname, and the police report.
  const fill = async (label, value) => page.getByLabel(label).fill(value);
  await fill('Given names', 'Ioana Ștefania');
  await fill('Date of birth', '1990-05-17');
  await fill('E-mail address', 'ioana@example.org');
  await fill('Country of residence', 'FR');
  await fill('City of residence', 'Lyon');
  await fill('Describe your request', 'Mi-am pierdut pașaportul în metrou, la Lyon, pe 20 noiembrie.');
  await fill('The lost or stolen document', 'Pașaport simplu electronic');
  await fill('Date of the loss or theft', '2026-11-20');
  await page.getByLabel('Local police report').setInputFiles(pdf);
  const refused = page.waitForResponse((r) => r.url().includes('/request') && r.request().method() === 'POST');
  await page.getByRole('button', { name: 'Send request' }).click();
  check((await refused).status() === 422, 'a form with a required field empty is refused with 422');
  await page.locator('#errors').waitFor();

  // The error sits next to its field, and the field says so to assistive technology.
  const surname = page.locator('#f-surname');
  const error = page.locator('#e-surname');
  const errorText = (await error.textContent())?.trim();
  const invalid = await surname.getAttribute('aria-invalid');
  const describedBy = await surname.getAttribute('aria-describedby');
  const adjacent = await surname.evaluate((el) => el.previousElementSibling?.id === 'e-surname');
  const label = await page.locator('label[for="f-surname"]').evaluate(
    (el) => el.nextElementSibling?.id === 'e-surname',
  );
  const onlyOne = (await page.locator('[aria-invalid="true"]').count()) === 1;
  const kept = (await page.getByLabel('City of residence').inputValue()) === 'Lyon';
  // Marked in colour too: the field's border takes the error text's colour.
  const red = await page.evaluate(() => {
    const field = getComputedStyle(document.getElementById('f-surname')).borderTopColor;
    return field === getComputedStyle(document.getElementById('e-surname')).color;
  });
  const focused = await page.evaluate(() => document.activeElement?.id || document.activeElement?.tagName);
  log('after the refused submission:', JSON.stringify({ errorText, invalid, describedBy, adjacent, label, onlyOne, kept, red, focused }));
  const errorShown =
    (await error.isVisible()) &&
    errorText === REQUIRED &&
    invalid === 'true' &&
    describedBy === 'e-surname' &&
    adjacent &&
    label &&
    onlyOne &&
    kept &&
    red;
  await page.screenshot({ path: path.join(outDir, 'form-errors.png'), fullPage: true });

  // Correct it: the surname, and the file again (a browser never keeps a file input's file).
  await surname.fill('Popescu');
  await page.getByLabel('Local police report').setInputFiles(pdf);
  await page.getByRole('button', { name: 'Send request' }).click();
  await page.getByRole('heading', { name: 'We received your request' }).waitFor();
  const caseNo = (await page.locator('#case-no').textContent()).trim();
  const trackingCode = (await page.locator('#tracking-code').textContent()).trim();
  log('receipt:', caseNo);
  await page.screenshot({ path: path.join(outDir, 'receipt.png'), fullPage: true });

  // Track it, from the receipt's own link.
  await page.getByRole('link', { name: 'Track a request you already made' }).click();
  await page.getByRole('heading', { name: 'Track your request' }).waitFor();
  check((await page.getByLabel('Case number').inputValue()) === caseNo, 'the case number is filled in');
  await page.getByLabel('Case number').fill(caseNo);
  await page.getByLabel('Tracking code').fill(trackingCode);
  await page.getByRole('button', { name: 'Show status' }).click();
  const status = (await page.locator('#status').textContent()).trim();
  await page.screenshot({ path: path.join(outDir, 'status.png'), fullPage: true });

  console.log(
    JSON.stringify({ case_no: caseNo, tracking_code: trackingCode, status, error_shown: errorShown }),
  );
} catch (e) {
  exitCode = 1;
  console.error(`e2e: FAILED at ${page.url()}: ${e.stack || e}`);
  await page.screenshot({ path: path.join(outDir, 'failure.png'), fullPage: true }).catch(() => {});
} finally {
  await context.close();
}
process.exit(exitCode);
