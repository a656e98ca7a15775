// A citizen opens the portal's live chat in real headless Chromium and nobody picks it up: the
// window must show the case number at once and, after the configured wait, tell the citizen
// that the answer will come by e-mail. Run by ../browser.rs, which starts the portal with a
// short no-agent wait and checks the store behind it.
//
// Environment: PORTAL_URL, OUT_DIR (screenshots), PROFILE_DIR (a new empty Chromium profile),
// CHROMIUM (optional). Prints one JSON line on stdout: {case_no, first, notice}: the notices
// shown at once and after the wait.

import path from 'node:path';
import { chromium } from 'playwright-core';

function env(name) {
  const value = process.env[name];
  if (!value) {
    console.error(`chat-wait: ${name} is not set`);
    process.exit(2);
  }
  return value;
}

const base = env('PORTAL_URL');
const outDir = env('OUT_DIR');
const profileDir = env('PROFILE_DIR');
const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';
const log = (...args) => console.error('chat-wait:', ...args);

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
  locale: 'en-GB',
  viewport: { width: 1024, height: 800 },
});
context.setDefaultTimeout(15_000);
const page = context.pages()[0] ?? (await context.newPage());

try {
  await page.goto(`${base}/chat?lang=en`);
  await page.locator('#chat-first').waitFor();
  await page.locator('#chat-name').fill('Ana Popescu');
  await page.locator('#chat-email').fill('ana.popescu@example.org');
  await page.locator('#chat-country').fill('FR');
  await page.locator('#chat-city').fill('Paris');
  await page.locator('#chat-first').fill('Is anyone there? I need a new passport.');
  await page.locator('#chat-start-button').click();
  await page.locator('#chat-room').waitFor({ state: 'visible' });
  await page.waitForFunction(() => document.getElementById('chat').dataset.case);
  const caseNo = await page.locator('#chat').getAttribute('data-case');
  log('chat opened as', caseNo);
  // At once: the case number and tracking code.
  const notice = page.locator('#chat-notice');
  await notice.waitFor({ state: 'visible' });
  const first = (await notice.textContent()).trim();
  log('the window says first:', first);
  // After the wait: the answer will come by e-mail.
  await page.waitForFunction(
    () => document.getElementById('chat-notice').textContent.includes('@'),
    null,
    { timeout: 20_000 },
  );
  const text = (await notice.textContent()).trim();
  log('then:', text);
  await page.screenshot({ path: path.join(outDir, 'no-agent.png'), fullPage: true });
  console.log(JSON.stringify({ case_no: caseNo, first, notice: text }));
} catch (error) {
  log('failed:', error);
  await page.screenshot({ path: path.join(outDir, 'failure.png'), fullPage: true }).catch(() => {});
  await context.close();
  process.exit(1);
}
await context.close();
