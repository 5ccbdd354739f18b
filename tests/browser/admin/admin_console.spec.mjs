// The admin console in headless Chromium (playwright-core), against the real
// daemon started by test_admin_console.py. Env: CONSULTD_URL,
// CONSULTD_ARTIFACTS_DIR, CONSULTD_API_KEY (admin scope, for making a
// session from "outside"), CONSULTD_ADMIN_USER / _PASSWORD, CONSULTD_LOCK_USER
// (a second admin this spec locks out). Exits non-zero on the first failure.
import { launchChromium, screenshot } from '../lib/browser.mjs';

const base = process.env.CONSULTD_URL;
const apiKey = process.env.CONSULTD_API_KEY;
const user = process.env.CONSULTD_ADMIN_USER;
const password = process.env.CONSULTD_ADMIN_PASSWORD;
const lockUser = process.env.CONSULTD_LOCK_USER;
const lockFailures = Number(process.env.CONSULTD_LOCKOUT_FAILURES || '3');

function check(condition, message) {
  if (!condition) throw new Error(`FAILED: ${message}`);
  console.log(`ok - ${message}`);
}

async function loginResponse(page, name, pass) {
  await page.fill('#username', name);
  await page.fill('#password', pass);
  const [response] = await Promise.all([
    page.waitForResponse((r) => r.url().endsWith('/api/v1/admin/login')),
    page.click('#login-submit'),
  ]);
  let body = null;
  try { body = await response.json(); } catch (e) { body = null; }
  return { status: response.status(), body };
}

const browser = await launchChromium();
let page;
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  page = await context.newPage();
  const consoleErrors = [];
  page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
  page.on('pageerror', (e) => consoleErrors.push(String(e)));

  // 1. Logged out: any console page shows the login view, the API answers 401.
  await page.goto(`${base}/admin/audit`);
  await page.waitForSelector('#login-submit');
  check(new URL(page.url()).pathname === '/admin/login', `logged-out /admin/audit shows the login view (${page.url()})`);
  check(new URL(page.url()).searchParams.get('next') === '/admin/audit', 'the login view remembers the page asked for');
  const anonymous = await page.evaluate(async () => (await fetch('/api/v1/admin/dashboard')).status);
  check(anonymous === 401, 'admin JSON endpoints answer 401 without a login');
  const headers = (await page.request.get(`${base}/admin`)).headers();
  check(/script-src 'self'/.test(headers['content-security-policy'] || ''), 'the console page has a strict CSP');

  // 2. Wrong-password lockout (on a second account, so the main login stays usable).
  for (let i = 0; i < lockFailures; i += 1) {
    const r = await loginResponse(page, lockUser, 'definitely not it');
    check(r.status === 401 && r.body.error.code === 'LOGIN_FAILED', `wrong password ${i + 1} is refused (401)`);
    check((await page.textContent('#login-error')).trim().length > 0, 'the refusal is shown to the user');
  }
  const locked = await loginResponse(page, lockUser, password);
  check(locked.status === 429 && locked.body.error.code === 'LOGIN_LOCKED',
    `after ${lockFailures} failures even the right password is refused (LOGIN_LOCKED)`);
  check(new URL(page.url()).pathname === '/admin/login', 'a locked user stays on the login view');

  // 3. Log in: back to the page asked for.
  const ok = await loginResponse(page, user, password);
  check(ok.status === 200, 'the admin logs in');
  await page.waitForURL((u) => u.pathname === '/admin/audit');
  await page.waitForSelector('#audit-results table');
  check(true, 'after login the console opens the page asked for');
  const cookies = await context.cookies();
  const session = cookies.find((c) => c.name === 'consultd_admin');
  check(session && session.httpOnly && session.sameSite === 'Strict', 'the session cookie is HttpOnly and SameSite=Strict');
  check(!(await page.evaluate(() => document.cookie)).includes('consultd_admin'), 'page scripts cannot read the session cookie');

  // 4. Dashboard, updated live without a reload.
  await page.click('nav a[href="/admin"]');
  await page.waitForFunction(() => Number(document.querySelector('#main').dataset.snapshots || 0) >= 1);
  check(true, 'the dashboard received its first live snapshot');
  await page.evaluate(() => { window.__noReload = 'still here'; });
  const consultation = `browser-${Date.now()}`;
  const created = await fetch(`${base}/api/v1/sessions`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${apiKey}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({
      consultation_id: consultation,
      host: { id: 'dr-1', name: 'Dr. Example' },
      participants: [{ id: 'pat-1', name: 'Pat Example', role: 'patient' }],
    }),
  });
  check(created.status === 201, 'a session is created through the REST API (outside the browser)');
  const started = Date.now();
  await page.waitForSelector(`text=${consultation}`, { timeout: 15000 });
  check(true, `the new session appeared on the dashboard after ${Date.now() - started} ms`);
  check(await page.evaluate(() => window.__noReload) === 'still here', 'the dashboard updated without a reload');
  await screenshot(page, 'admin-dashboard');

  // 4b. Session list (search) and the session's detail page.
  await page.click('nav a[href="/admin/sessions"]');
  await page.fill('#f-consultation', consultation);
  await page.click('#session-search');
  await page.waitForSelector(`#session-results a:has-text("${consultation}")`);
  check((await page.$$('#session-results tbody tr')).length === 1, 'the session list finds the session by consultation id');
  await page.click(`#session-results a:has-text("${consultation}")`);
  await page.waitForSelector('#session-timeline table');
  check((await page.textContent('h1')).includes(consultation), 'the session detail page opens');
  check((await page.textContent('#session-participants')).includes('Pat Example'), 'the detail page lists the participants');
  check((await page.textContent('#session-timeline')).length > 0, 'the detail page shows the timeline');

  // 5. API key: created, shown once, works, gone after leaving the page.
  await page.click('nav a[href="/admin/api-keys"]');
  await page.waitForSelector('#key-form');
  await page.fill('#key-name', 'browser-test-ehr');
  await page.click('#key-create');
  await page.waitForSelector('#new-key-value');
  const key = await page.inputValue('#new-key-value');
  check(/^cdk_[a-z2-7]{16}_[a-z2-7]{52}$/.test(key), 'the new API key is shown');
  const withKey = await fetch(`${base}/api/v1/sessions?limit=1`, { headers: { Authorization: `Bearer ${key}` } });
  check(withKey.status === 200, 'the new API key works');
  await page.waitForSelector('#key-list >> text=browser-test-ehr');
  await page.click('nav a[href="/admin/audit"]');
  await page.click('nav a[href="/admin/api-keys"]');
  await page.waitForSelector('#key-list >> text=browser-test-ehr');
  check((await page.$('#new-key-value')) === null, 'the key is shown only once');
  check(!(await page.content()).includes(key.slice(21)), 'the key list never shows the secret');

  // 6. Devices (served by the devices API when this build has it).
  await page.click('nav a[href="/admin/devices"]');
  await page.waitForSelector('#device-list > *');
  if (await page.$('#devices-unavailable')) {
    console.log('SKIP - devices: GET /api/v1/devices is not served by this build (devices API not merged yet)');
  } else {
    await page.fill('#device-name', 'Room 4 kiosk');
    await page.fill('#device-room', 'Exam room 4');
    await page.click('#device-create');
    await page.waitForSelector('#enrollment-code');
    check((await page.textContent('#enrollment-code')).trim().length >= 6, 'a device is created and its enrollment code shown');
    await page.waitForSelector('#device-list >> text=Room 4 kiosk');
  }

  // 6b. Recordings (served by the recordings API when this build has it).
  await page.click('nav a[href="/admin/recordings"]');
  await page.waitForSelector('#recording-results > *');
  if (await page.$('#recordings-unavailable')) {
    console.log('SKIP - recordings: GET /api/v1/recordings is not served by this build (recordings API not merged yet)');
  } else {
    check((await page.$('#recording-results table')) !== null, 'the recordings view lists recordings');
  }

  // 7. Audit log: the admin's own actions, filtered.
  await page.click('nav a[href="/admin/audit"]');
  await page.fill('#a-action', 'apikey.created');
  await page.click('#audit-apply');
  await page.waitForSelector(`#audit-results >> text=admin:${user}`);
  check(true, 'the audit log shows apikey.created by the admin');
  const exportHref = await page.getAttribute('#audit-export', 'href');
  check(exportHref.startsWith('/api/v1/audit.csv?') && exportHref.includes('action=apikey.created'),
    'the CSV export link carries the filter');
  const csv = await page.evaluate(async (href) => {
    const r = await fetch(href);
    return { status: r.status, type: r.headers.get('Content-Type'), text: await r.text() };
  }, exportHref);
  check(csv.status === 200 && csv.type.startsWith('text/csv') && csv.text.includes('apikey.created'),
    'the CSV export downloads');

  // 8. CSRF: the session cookie alone cannot change anything.
  const forged = await page.evaluate(async () => {
    const r = await fetch('/api/v1/api-keys', { method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ name: 'forged', scopes: ['admin'] }) });
    return { status: r.status, body: await r.json() };
  });
  check(forged.status === 403 && forged.body.error.code === 'CSRF_REJECTED',
    'a state-changing request without the CSRF token is refused (403 CSRF_REJECTED)');
  const wrongToken = await page.evaluate(async () => {
    const r = await fetch('/api/v1/api-keys', { method: 'POST',
      headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': 'x'.repeat(52) },
      body: JSON.stringify({ name: 'forged', scopes: ['admin'] }) });
    return r.status;
  });
  check(wrongToken === 403, `a wrong CSRF token is refused (${wrongToken})`);

  // 9. Phone-sized screen: the console is usable (no horizontal page scroll).
  await page.setViewportSize({ width: 375, height: 740 });
  await page.click('nav a[href="/admin"]');
  await page.waitForFunction(() => Number(document.querySelector('#main').dataset.snapshots || 0) >= 1);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  check(overflow <= 1, `no horizontal scrolling at 375 px (overflow ${overflow})`);
  await screenshot(page, 'admin-dashboard-phone');
  await page.setViewportSize({ width: 1280, height: 900 });

  // 10. Keyboard: on a fresh load the first Tab reaches the skip link.
  await page.goto(`${base}/admin`);
  await page.waitForSelector('#logout');
  await page.keyboard.press('Tab');
  const firstFocus = await page.evaluate(() => document.activeElement && document.activeElement.className);
  check(firstFocus === 'skip-link', 'the first Tab reaches the skip link');

  // 11. Logout: back to the login view; the console is closed again.
  await page.click('#logout');
  await page.waitForSelector('#login-submit');
  await page.goto(`${base}/admin/api-keys`);
  await page.waitForSelector('#login-submit');
  check(new URL(page.url()).pathname === '/admin/login', 'after logout, console pages show the login view again');
  const after = await page.evaluate(async () => (await fetch('/api/v1/api-keys')).status);
  check(after === 401, 'after logout the API refuses the old cookie');

  const unexpected = consoleErrors.filter((text) => !/401|403|429|Failed to load resource/.test(text));
  check(unexpected.length === 0, `no script errors in the page (${unexpected.join(' | ')})`);
  console.log('admin console spec passed');
} catch (e) {
  console.error(e.stack || String(e));
  if (page) {
    try { await screenshot(page, 'admin-failure'); } catch (ignored) { /* best effort */ }
  }
  process.exitCode = 1;
} finally {
  await browser.close();
}
