// The agents' console end to end, in real headless Chromium (Debian's /usr/bin/chromium, never a
// downloaded browser) driven by Playwright. Run by ../tests/console_e2e.rs inside the Paris
// embassy's network namespace: the citizen reaches the portal at the hub's address, the officer
// reaches the console through the embassy gateway's listener, as on the embassy LAN.
//
// Environment: PORTAL_URL (http://HUB:PORT), CONSOLE_URL (the Paris gateway's listener),
// BERLIN_CONSOLE_URL (the Berlin gateway's listener), ACCOUNT, PASSWORD, TOTP_SECRET (hex),
// TOTP_CHECK ("unix:code", computed by the Rust side, to check this file's TOTP against it),
// OUT_DIR (screenshots), CHROMIUM (optional, default /usr/bin/chromium). Playwright puts
// Chromium's new, empty profile under TMPDIR, which the Rust side sets and cleans up.
//
// Prints one JSON line on stdout with what happened; progress and failures go to stderr; any
// failure exits 1 after screenshots of both pages to OUT_DIR/failure-*.png.

import crypto from 'node:crypto';
import path from 'node:path';
import { chromium } from 'playwright-core';

function env(name) {
  const value = process.env[name];
  if (!value) {
    console.error(`console-e2e: ${name} is not set`);
    process.exit(2);
  }
  return value;
}

const portal = env('PORTAL_URL');
const paris = env('CONSOLE_URL');
const berlin = env('BERLIN_CONSOLE_URL');
const account = env('ACCOUNT');
const password = env('PASSWORD');
const secret = Buffer.from(env('TOTP_SECRET'), 'hex');
const totpCheck = env('TOTP_CHECK');
const outDir = env('OUT_DIR');
const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';

const TYPE_NAME = 'General consular information (fees, documents, opening hours)';
const started = Date.now();
const log = (...args) => console.error(`console-e2e +${Date.now() - started}ms:`, ...args);

function check(ok, what) {
  if (!ok) throw new Error(`check failed: ${what}`);
}

// RFC 6238 with the console's parameters: HMAC-SHA1, 30-second steps, six digits.
function totp(unixSecs) {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(unixSecs / 30)));
  const mac = crypto.createHmac('sha1', secret).update(counter).digest();
  const at = mac[mac.length - 1] & 0x0f;
  const n = ((mac[at] & 0x7f) << 24) | (mac[at + 1] << 16) | (mac[at + 2] << 8) | mac[at + 3];
  return String(n % 1_000_000).padStart(6, '0');
}
{
  const [when, code] = totpCheck.split(':');
  check(totp(Number(when)) === code, `TOTP at ${when}: ${totp(Number(when))}, the console says ${code}`);
}

const browser = await chromium.launch({
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
});
// Two people, two cookie jars.
const citizenContext = await browser.newContext({ locale: 'en-GB', viewport: { width: 1024, height: 800 } });
const officerContext = await browser.newContext({ locale: 'en-GB', viewport: { width: 1280, height: 900 } });
for (const c of [citizenContext, officerContext]) {
  c.setDefaultTimeout(15_000);
  c.setDefaultNavigationTimeout(20_000);
}
const citizen = await citizenContext.newPage();
const officer = await officerContext.newPage();
for (const [who, page] of [['citizen', citizen], ['officer', officer]]) {
  page.on('pageerror', (e) => log(`${who} page error:`, e.message));
  page.on('response', (r) => {
    const url = new URL(r.url());
    if (r.status() >= 400 && url.pathname !== '/favicon.ico') log(`${who}: ${r.status()} for ${url.pathname}`);
  });
}

/** A POST to `url`'s path answered; resolves with the response. */
const posted = (page, suffix) =>
  page.waitForResponse((r) => r.request().method() === 'POST' && new URL(r.url()).pathname.endsWith(suffix));

/** The citizen asks for information in English; returns the receipt. */
async function submitRequest(description) {
  await citizen.goto(`${portal}/?lang=en`);
  check((await citizen.locator('html').getAttribute('lang')) === 'en', 'the portal is in English');
  await citizen.getByLabel(TYPE_NAME, { exact: true }).check();
  await citizen.getByRole('button', { name: 'Continue' }).click();
  await citizen.getByRole('heading', { name: TYPE_NAME }).waitFor();
  const fill = async (label, value) => citizen.getByLabel(label).fill(value);
  await fill('Surname', 'Marinescu');
  await fill('Given names', 'Elena');
  await fill('Date of birth', '1986-04-12');
  await fill('E-mail address', 'elena.marinescu@example.org');
  await fill('Country of residence', 'FR');
  await fill('City of residence', 'Paris');
  await fill('Describe your request', description);
  await citizen.getByRole('button', { name: 'Send request' }).click();
  await citizen.getByRole('heading', { name: 'We received your request' }).waitFor();
  const caseNo = (await citizen.locator('#case-no').textContent()).trim();
  const code = (await citizen.locator('#tracking-code').textContent()).trim();
  return { caseNo, code };
}

/** The citizen tracks a request; returns the status and the consulate's messages. */
async function track({ caseNo, code }) {
  await citizen.goto(`${portal}/status?lang=en&case=${caseNo}`);
  await citizen.getByLabel('Case number').fill(caseNo);
  await citizen.getByLabel('Tracking code').fill(code);
  await citizen.getByRole('button', { name: 'Show status' }).click();
  const status = (await citizen.locator('#status').textContent()).trim();
  const messages = await citizen.locator('main .box p:not(.help)').allTextContents();
  return { status, messages: messages.map((m) => m.trim()) };
}

/** The officer fills the sign-in form at `base`; resolves with the POST's response. */
async function signIn(base) {
  await officer.goto(`${base}/login`);
  await officer.getByLabel('Account').fill(account);
  await officer.getByLabel('Password').fill(password);
  await officer.getByLabel('Code from your authenticator').fill(totp(Date.now() / 1000));
  const answer = posted(officer, '/login');
  await officer.getByRole('button', { name: 'Sign in' }).click();
  return answer;
}

const caseHeading = (caseNo) => officer.locator('h1', { hasText: caseNo });
const timelineEntry = (text) => officer.locator('#timeline li', { hasText: text });

let exitCode = 0;
try {
  // 5 first: the Paris officer at the Berlin embassy's appliance is refused. (First, because a
  // refused sign-in does not spend the TOTP code, and the Paris sign-in may then use it.)
  const refused = await signIn(berlin);
  const refusal = (await officer.locator('#login-error').textContent()).trim();
  log('Berlin appliance answered', refused.status(), refusal);
  check(refused.status() === 403, `the Berlin appliance refuses with 403, not ${refused.status()}`);
  check(refusal.includes('cannot sign in through this appliance'), `refusal message: ${refusal}`);
  check((await officerContext.cookies(berlin)).length === 0, 'no session cookie from Berlin');
  await officer.screenshot({ path: path.join(outDir, 'berlin-refused.png'), fullPage: true });

  // 2: signed in through the Paris appliance, on the unassigned queue, live updates connected.
  const events = officer.waitForResponse((r) => new URL(r.url()).pathname === '/events');
  const signedIn = await signIn(paris);
  check(signedIn.status() === 303, `sign-in through Paris answered ${signedIn.status()}`);
  await officer.waitForURL(`${paris}/queues/unassigned`);
  check((await events).status() === 200, 'the queue page subscribed to /events');
  const who = (await officer.locator('header .who').textContent()).trim();
  log('signed in:', who);
  check(who.includes('PAR-01') && who.includes('ro-emb-paris'), `the session's path: ${who}`);
  check(
    (await officer.locator(`#queue tr[data-case]`).count()) === 0,
    'the unassigned queue starts empty',
  );
  // From here on, any navigation of the queue page would lose this marker.
  await officer.evaluate(() => {
    window.__e2eMarker = 'the same document';
  });
  let navigations = 0;
  officer.on('framenavigated', (frame) => {
    if (frame === officer.mainFrame()) navigations += 1;
  });

  // 1: the citizen's request, while the officer watches the queue.
  const first = await submitRequest(
    'Bonjour, which documents do I need to renew my passport at the embassy in Paris?',
  );
  const receivedAt = Date.now();
  log('receipt:', first.caseNo);
  check(/^CSC-\d{4}-\d{7}$/.test(first.caseNo), `case number ${first.caseNo}`);
  await citizen.screenshot({ path: path.join(outDir, 'receipt.png'), fullPage: true });

  const row = officer.locator(`#queue tr[data-case="${first.caseNo}"]`);
  await row.waitFor({ timeout: 10_000 });
  const liveMs = Date.now() - receivedAt;
  const sameDocument = await officer.evaluate(() => ({
    marker: window.__e2eMarker,
    loads: performance.getEntriesByType('navigation').length,
  }));
  log('the row appeared after', liveMs, 'ms;', JSON.stringify({ navigations, ...sameDocument }));
  check(
    navigations === 0 && sameDocument.marker === 'the same document' && sameDocument.loads === 1,
    `the row came without reloading: ${JSON.stringify({ navigations, ...sameDocument })}`,
  );
  check(officer.url() === `${paris}/queues/unassigned`, `still on the queue: ${officer.url()}`);
  const unassigned = (await officer.locator('#queue a[data-queue="unassigned"] .count').textContent()).trim();
  check(unassigned === '1', `the unassigned tab counts ${unassigned}`);
  await officer.screenshot({ path: path.join(outDir, 'queue-live.png'), fullPage: true });

  // 2: the officer opens it and replies.
  await row.getByRole('link', { name: first.caseNo }).click();
  await caseHeading(first.caseNo).waitFor();
  const reply =
    'Bonjour Elena, bring your old passport or identity card and book an appointment online; ' +
    'the fee is paid at the counter. Andrei Popescu, Paris';
  await officer.locator('#reply').fill(reply);
  const replied = posted(officer, `/cases/${first.caseNo}/reply`);
  await officer.locator('#send-reply').click();
  check((await replied).status() === 303, `the reply answered ${(await replied).status()}`);
  await timelineEntry(reply).waitFor();
  log('replied on', first.caseNo);
  await officer.screenshot({ path: path.join(outDir, 'case-replied.png'), fullPage: true });

  // 3: the citizen's status page shows the reply.
  const tracked = await track(first);
  log('the citizen sees:', JSON.stringify(tracked));
  check(tracked.messages.includes(reply), 'the status page shows the reply');
  await citizen.screenshot({ path: path.join(outDir, 'status-reply.png'), fullPage: true });

  // 4: a second request of the same citizen, merged into the first, then un-merged.
  const secondText = 'Also: can my husband, who is not Romanian, come with me to the appointment?';
  const second = await submitRequest(secondText);
  log('second receipt:', second.caseNo);
  await officer.goto(`${paris}/queues/unassigned`);
  await officer.locator(`#queue tr[data-case="${second.caseNo}"]`).getByRole('link').click();
  await caseHeading(second.caseNo).waitFor();
  const statusBefore = (await officer.locator('#status').textContent()).trim();
  const related = await officer.locator('#related').textContent();
  check(related.includes(first.caseNo), `the second case suggests the first: ${related}`);
  await officer.locator('#merge-into').fill(first.caseNo);
  await officer.locator('#merge-reason').fill('The same citizen asking about the same appointment');
  const merged = posted(officer, `/cases/${second.caseNo}/merge`);
  await officer.locator('#merge').click();
  check((await merged).status() === 303, `the merge answered ${(await merged).status()}`);
  await officer.locator('#status', { hasText: 'merged' }).waitFor();
  const statusMerged = (await officer.locator('#status').textContent()).trim();

  await officer.goto(`${paris}/cases/${first.caseNo}`);
  const carried = timelineEntry(secondText);
  await carried.waitFor();
  const origin = (await carried.locator('.origin').textContent()).trim();
  check(origin === `from ${second.caseNo}`, `the merged message says where it came from: ${origin}`);
  log('merged', second.caseNo, 'into', first.caseNo);
  await officer.screenshot({ path: path.join(outDir, 'merged.png'), fullPage: true });

  const merge = officer.locator('#merges li', { hasText: `${second.caseNo} merged into ${first.caseNo}` });
  await merge.getByLabel('Reason').fill('Two different questions after all');
  const unmerged = posted(officer, `/cases/${first.caseNo}/unmerge`);
  await merge.getByRole('button', { name: 'Un-merge' }).click();
  check((await unmerged).status() === 303, `the un-merge answered ${(await unmerged).status()}`);
  await officer.locator('#merges li', { hasText: '(undone)' }).waitFor();
  check((await timelineEntry(secondText).count()) === 0, "the first case's timeline no longer has the second's message");
  check((await timelineEntry(reply).count()) === 1, "the first case's own reply stays");
  await officer.screenshot({ path: path.join(outDir, 'unmerged.png'), fullPage: true });

  await officer.goto(`${paris}/cases/${second.caseNo}`);
  await caseHeading(second.caseNo).waitFor();
  const statusAfter = (await officer.locator('#status').textContent()).trim();
  check(statusAfter === statusBefore, `the second case is back to ${statusBefore}, not ${statusAfter}`);
  await timelineEntry(secondText).waitFor();
  const trackedSecond = await track(second);
  log('un-merged; the second case is', statusAfter, 'and the citizen sees', JSON.stringify(trackedSecond));

  // 6: live chat. The citizen opens the portal's chat; the officer, through the gateway, sees
  // it among the waiting chats, picks it up and answers; the citizen sees the typing and the
  // answer in the same window.
  await citizen.goto(`${portal}/chat?lang=en`);
  await citizen.locator('#chat-first').waitFor();
  await citizen.locator('#chat-name').fill('Elena Marinescu');
  await citizen.locator('#chat-country').fill('FR');
  await citizen.locator('#chat-city').fill('Paris');
  const question = 'Is the consulate open on Saturday morning for passport pick-up?';
  await citizen.locator('#chat-first').fill(question);
  await citizen.locator('#chat-start-button').click();
  await citizen.locator('#chat-room').waitFor({ state: 'visible' });
  await citizen.waitForFunction(() => document.getElementById('chat').dataset.case);
  const chatCase = await citizen.locator('#chat').getAttribute('data-case');
  log('chat opened as', chatCase);
  check(/^CSC-\d{4}-\d{7}$/.test(chatCase), `the chat's case number: ${chatCase}`);

  await officer.goto(`${paris}/chats`);
  const waiting = officer.locator(`#chats tr[data-case="${chatCase}"]`);
  await waiting.waitFor({ timeout: 10_000 });
  await waiting.getByRole('link', { name: chatCase }).click();
  await officer.locator('#chat-log', { hasText: question }).waitFor();
  const pickedUp = posted(officer, `/chats/${chatCase}/pickup`);
  await officer.getByRole('button', { name: 'Pick up this chat' }).click();
  check((await pickedUp).status() < 400, `the pick-up answered ${(await pickedUp).status()}`);
  await officer.locator('#chat-text').waitFor();
  const answer = 'Yes, from 9:00 to 12:00; bring your receipt.';
  await officer.locator('#chat-text').pressSequentially('Yes, ', { delay: 30 });
  await citizen.locator('#chat-typing').waitFor({ state: 'visible', timeout: 10_000 });
  log('the citizen sees the officer typing');
  await officer.locator('#chat-text').fill(answer);
  const chatSent = posted(officer, `/chats/${chatCase}/send`);
  await officer.locator('#chat-send').click();
  check((await chatSent).status() < 400, `the chat message answered ${(await chatSent).status()}`);
  await citizen.locator('#chat-log li', { hasText: answer }).waitFor({ timeout: 10_000 });
  log('the citizen got the answer in the chat window');
  await citizen.screenshot({ path: path.join(outDir, 'chat-citizen.png'), fullPage: true });
  await officer.screenshot({ path: path.join(outDir, 'chat-officer.png'), fullPage: true });

  console.log(
    JSON.stringify({
      refusal,
      who,
      live_ms: liveMs,
      first: { case_no: first.caseNo, tracking_code: first.code, tracked },
      reply,
      second: {
        case_no: second.caseNo,
        tracking_code: second.code,
        text: secondText,
        status_before: statusBefore,
        status_merged: statusMerged,
        status_after: statusAfter,
        tracked: trackedSecond,
      },
      chat: { case_no: chatCase, question, answer },
    }),
  );
} catch (e) {
  exitCode = 1;
  console.error(`console-e2e: FAILED (citizen at ${citizen.url()}, officer at ${officer.url()}): ${e.stack || e}`);
  for (const [who, page] of [['citizen', citizen], ['officer', officer]]) {
    await page.screenshot({ path: path.join(outDir, `failure-${who}.png`), fullPage: true }).catch(() => {});
  }
} finally {
  await browser.close();
}
process.exit(exitCode);
