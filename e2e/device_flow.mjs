// End-to-end: the device authorization grant (RFC 8628). The example device
// (latchkey-device-client) asks for a code and polls; a real headless Chromium plays the
// person who enters the code, signs in, and allows the device on the confirmation page.
//
// Two devices, one after the other:
//   A. desktop browser, not signed in: opens verification_uri, first types a wrong code
//      (an error, nothing else happens), then the right one in lower case with a space
//      instead of the dash; is sent to log in, comes back to the code form filled in,
//      confirms, allows.
//   B. phone-sized browser (390x844) with A's session: opens verification_uri_complete,
//      the code is filled in, goes straight to the confirmation, allows.
// Each device must then print the claims of its access token and exit 0.
//
// Builds nothing: the binaries come from LATCHKEY_BIN and LATCHKEY_DEVICE_CLIENT_BIN
// (default ../target/debug/...). Only 127.0.0.1 is ever contacted.
//
// Run by all.mjs (or alone: `node device_flow.mjs`). Prints `PASS device_flow` and exits 0;
// otherwise the error, `FAIL device_flow`, exit code 1. Never runs longer than
// E2E_TIMEOUT_MS (60 s). The harness is in lib.mjs.

import path from 'node:path';
import {
  DEVICE_CLIENT_BIN,
  SCREENSHOTS,
  STEP_TIMEOUT_MS,
  assert,
  assertEqual,
  confine,
  ok,
  runTest,
  watchPage,
} from './lib.mjs';

const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
const USERNAME = 'alice';
const PASSWORD = 'correct horse battery staple';
const CLIENT_NAME = 'Living Room TV';
const SCOPES = ['openid', 'notes:read'];
const SCOPE_DESCRIPTION = 'Read your notes';
const WARNING = 'A device is asking for access — only continue if this code is the one shown on your device';
const WRONG_CODE_ERROR = 'That code is not valid';
const PHONE = { width: 390, height: 844 };

// ---------------------------------------------------------------------------------------
// Helpers.

/// Clicks `locator` (a submit button) and waits for the page it leads to, after any
/// redirects, to load. Returns that page's HTTP status and URL.
async function submit(page, locator) {
  const landed = page.waitForResponse(
    (response) =>
      response.request().isNavigationRequest() &&
      response.frame() === page.mainFrame() &&
      !(response.status() >= 300 && response.status() < 400),
  );
  await locator.click();
  const response = await landed;
  await page.waitForLoadState('load');
  return { status: response.status(), url: new URL(page.url()) };
}

/// The device's side: starts latchkey-device-client and reads the code and the URLs it
/// prints before it starts polling.
async function startDevice(t, label, issuer, clientId) {
  const device = t.spawn(label, DEVICE_CLIENT_BIN, [issuer, clientId, ...SCOPES]);
  await device.waitForStdout(/^Waiting for approval\.\.\.$/m);
  const line = (pattern, what) => {
    const match = device.stdout.match(pattern);
    assert(match, `${label} prints ${what}:\n${device.output()}`);
    return match[1];
  };
  const verificationUri = line(/^To sign in, visit (\S+)$/m, 'the verification URI');
  const userCode = line(/^and enter the code: (\S+)$/m, 'the user code');
  const complete = line(/^\(or open (\S+)\)$/m, 'the complete verification URI');
  assertEqual(verificationUri, `${issuer}/device`, `${label}: verification_uri`);
  assert(/^[A-Z]{4}-[A-Z]{4}$/.test(userCode), `${label}: the user code looks like XXXX-XXXX (got ${userCode})`);
  assert(!/[AEIOU]/.test(userCode), `${label}: the user code has no vowels (got ${userCode})`);
  const completeUrl = new URL(complete);
  assertEqual(`${completeUrl.origin}${completeUrl.pathname}`, verificationUri, `${label}: verification_uri_complete is verification_uri`);
  assertEqual(completeUrl.searchParams.get('user_code'), userCode, `${label}: verification_uri_complete carries the user code`);
  return { device, verificationUri, userCode, complete };
}

/// Waits for the device to finish, and checks what it printed about its tokens.
async function deviceSignedIn(device, { clientId, sub, issuer }) {
  const started = performance.now();
  const { code, signal } = await device.waitForExit(STEP_TIMEOUT_MS);
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  assert(code === 0, `${device.label} exits 0 after approval (got ${signal ? `signal ${signal}` : `code ${code}`}):\n${device.output()}`);
  const out = device.stdout;
  assert(/^Signed in\.$/m.test(out), `${device.label} prints "Signed in.":\n${device.output()}`);
  const claimsText = out.match(/^Access token claims:\n([\s\S]*?\n\})\n/m);
  assert(claimsText, `${device.label} prints the access token claims:\n${device.output()}`);
  const claims = JSON.parse(claimsText[1]);
  assertEqual(claims.client_id, clientId, `${device.label}: claims.client_id`);
  assertEqual(claims.sub, sub, `${device.label}: claims.sub is the user who allowed it`);
  assertEqual(claims.iss, issuer, `${device.label}: claims.iss`);
  const scopes = String(claims.scope ?? '').split(' ');
  for (const scope of SCOPES) {
    assert(scopes.includes(scope), `${device.label}: claims.scope includes ${scope} (got ${JSON.stringify(claims.scope)})`);
  }
  assert(/^A refresh token was issued too\.$/m.test(out), `${device.label} was issued a refresh token:\n${device.output()}`);
  return { claims, seconds };
}

/// The confirmation page: names the client, shows the code and the warning, lists the
/// scopes, offers allow and deny.
async function checkConfirmation(page, userCode, where) {
  await page.locator('button[name=decision][value=allow]').waitFor({ state: 'visible' });
  const text = await page.locator('body').innerText();
  assert(text.includes(CLIENT_NAME), `${where}: the confirmation names the client "${CLIENT_NAME}"`);
  assertEqual((await page.locator('.code').innerText()).trim(), userCode, `${where}: the confirmation shows the code`);
  assert(text.replace(/\s+/g, ' ').includes(WARNING), `${where}: the confirmation warns "${WARNING}"`);
  assert(text.includes(SCOPE_DESCRIPTION), `${where}: the confirmation lists "${SCOPE_DESCRIPTION}"`);
  assert(text.includes('notes:read'), `${where}: the confirmation lists notes:read`);
  assert(text.includes(`Signed in as ${USERNAME}`), `${where}: the confirmation says who is signed in`);
  for (const decision of ['allow', 'deny']) {
    const button = page.locator(`button[name=decision][value=${decision}]`);
    assertEqual(await button.count(), 1, `${where}: one ${decision} button`);
    assert(await button.isVisible(), `${where}: the ${decision} button is visible`);
  }
}

async function allow(page, where) {
  const done = await submit(page, page.locator('button[name=decision][value=allow]'));
  assertEqual(done.status, 200, `${where}: Allow answers 200`);
  assertEqual(await page.title(), 'Device connected · Latchkey', `${where}: the page after Allow`);
  assertEqual((await page.locator('h1').innerText()).trim(), 'Device connected', `${where}: the heading after Allow`);
}

// ---------------------------------------------------------------------------------------
// The test.

await runTest('device_flow', async (t) => {
  // Fixtures: a user, a public client for the device grant, a described scope.
  const user = JSON.parse(
    await t.latchkey(['user', 'create', '--username', USERNAME, '--password-stdin', '--json'], `${PASSWORD}\n`),
  );
  assert(typeof user.sub === 'string' && user.sub, 'user create prints a sub');
  const client = JSON.parse(
    await t.latchkey([
      'client', 'create', '--name', CLIENT_NAME, '--public',
      '--grant-type', DEVICE_GRANT, '--grant-type', 'refresh_token',
      '--scope', 'openid', '--scope', 'notes:read',
      '--json',
    ]),
  );
  const clientId = client.client_id;
  assert(typeof clientId === 'string' && clientId, 'client create prints a client_id');
  await t.latchkey(['scope', 'create', 'notes:read', '--description', SCOPE_DESCRIPTION]);
  ok('user, public device client and scope created');

  const issuer = await t.startServer(['--device-poll-interval', '1s']);
  ok(`latchkey serving on ${issuer}`);
  const expectedTokens = { clientId, sub: user.sub, issuer };

  // Device A asks for a code (while the browser starts; both settle before going on, so a
  // browser still starting is closed if the device fails).
  const [a, browser] = (
    await Promise.allSettled([startDevice(t, 'device-a', issuer, clientId), t.launchBrowser()])
  ).map((outcome) => {
    if (outcome.status === 'rejected') throw outcome.reason;
    return outcome.value;
  });
  ok(`device A prints ${a.verificationUri}, code ${a.userCode} and verification_uri_complete, then polls`);

  // ---- A: desktop browser, no session, the code typed in. ----
  const desktop = await browser.newContext({ viewport: { width: 800, height: 700 } });
  const offHost = await confine(desktop, issuer);
  const page = await desktop.newPage();
  let wrongCodeStep = false; // the one 400 that is expected
  const problems = watchPage(page, issuer, {
    expected: ({ request, response }) =>
      wrongCodeStep && response?.status() === 400 && request.method() === 'POST' && new URL(request.url()).pathname === '/device',
  });

  const entry = await page.goto(a.verificationUri);
  assertEqual(entry?.status(), 200, 'the device page answers 200');
  const codeInput = page.locator('input[name=user_code]');
  const submitButton = page.locator('button[type=submit]');
  assertEqual(await codeInput.count(), 1, 'the device page has one input[name=user_code]');
  assert(await codeInput.isVisible(), 'the code input is visible');
  assertEqual(await codeInput.inputValue(), '', 'the code input starts empty');
  assertEqual(await submitButton.count(), 1, 'the device page has one submit button');

  // A wrong code: an error on the same page, no login, no confirmation, the device waits.
  const wrongCode = a.userCode === 'BCDF-GHJK' ? 'BCDF-GHJL' : 'BCDF-GHJK';
  await codeInput.fill(wrongCode);
  wrongCodeStep = true;
  const wrong = await submit(page, submitButton);
  wrongCodeStep = false;
  assertEqual(wrong.status, 400, 'a wrong code answers 400');
  assertEqual(`${wrong.url.origin}${wrong.url.pathname}`, a.verificationUri, 'a wrong code stays on the device page');
  const error = page.locator('.error[role=alert]');
  assert(await error.isVisible(), 'a wrong code shows an error');
  assert((await error.innerText()).includes(WRONG_CODE_ERROR), `the error says "${WRONG_CODE_ERROR}"`);
  assertEqual(await page.locator('button[name=decision]').count(), 0, 'a wrong code shows no allow/deny');
  assert(a.device.running(), 'device A still waits after a wrong code');
  await page.screenshot({ path: path.join(SCREENSHOTS, 'device_wrong_code.png'), fullPage: true });
  ok(`a wrong code (${wrongCode}) shows "${WRONG_CODE_ERROR}" and goes no further`);

  // The right code, typed the sloppy way: lower case, a space instead of the dash.
  const typed = a.userCode.toLowerCase().replace('-', ' ');
  await codeInput.fill(typed);
  const toLogin = await submit(page, submitButton);
  assertEqual(toLogin.status, 200, 'the login page answers 200');
  assertEqual(`${toLogin.url.origin}${toLogin.url.pathname}`, `${issuer}/login`, `the code "${typed}" is accepted and leads to the login page`);
  for (const selector of ['input[name=username]', 'input[name=password]', 'button[type=submit]']) {
    assertEqual(await page.locator(selector).count(), 1, `the login page has one ${selector}`);
  }
  await page.screenshot({ path: path.join(SCREENSHOTS, 'device_login.png'), fullPage: true });
  ok(`the code typed as "${typed}" is accepted; not signed in, so to ${toLogin.url.pathname}`);

  // Sign in: back to the device page, the code filled in.
  await page.locator('input[name=username]').fill(USERNAME);
  await page.locator('input[name=password]').fill(PASSWORD);
  const back = await submit(page, page.locator('button[type=submit]'));
  assertEqual(back.status, 200, 'the device page after login answers 200');
  assertEqual(`${back.url.origin}${back.url.pathname}`, a.verificationUri, 'login returns to the device page');
  assertEqual(await codeInput.inputValue(), a.userCode, 'the device page after login has the code filled in');
  assertEqual(await page.locator('button[name=decision]').count(), 0, 'after login the code is asked to be submitted again, not yet confirmed');
  ok(`after login, back at ${back.url.pathname}${back.url.search} with the code filled in`);

  // Submit again: the confirmation.
  const confirm = await submit(page, submitButton);
  assertEqual(confirm.status, 200, 'the confirmation answers 200');
  await checkConfirmation(page, a.userCode, 'desktop');
  const desktopShot = path.join(SCREENSHOTS, 'device_confirm.png');
  await page.screenshot({ path: desktopShot, fullPage: true });
  assert(a.device.running(), 'device A still waits before Allow');
  ok(`confirmation names "${CLIENT_NAME}", shows ${a.userCode} and the warning, lists the scopes (screenshot: ${path.relative(process.cwd(), desktopShot)})`);

  await allow(page, 'desktop');
  const signedInA = await deviceSignedIn(a.device, expectedTokens);
  ok(
    `Allow: "Device connected"; device A signed in ${signedInA.seconds} s later ` +
      `(client_id, sub, iss, scope "${signedInA.claims.scope}", refresh token)`,
  );

  // ---- B: phone-sized browser, signed in, verification_uri_complete. ----
  const b = await startDevice(t, 'device-b', issuer, clientId);
  assert(b.userCode !== a.userCode, 'device B gets a new code');
  ok(`device B prints code ${b.userCode}`);
  const phone = await browser.newContext({
    viewport: PHONE,
    deviceScaleFactor: 2,
    isMobile: true,
    hasTouch: true,
    storageState: await desktop.storageState(),
  });
  const phoneOffHost = await confine(phone, issuer);
  const phonePage = await phone.newPage();
  const phoneProblems = watchPage(phonePage, issuer);

  const prefilled = await phonePage.goto(b.complete);
  assertEqual(prefilled?.status(), 200, 'verification_uri_complete answers 200');
  assertEqual(await phonePage.locator('input[name=user_code]').inputValue(), b.userCode, 'verification_uri_complete fills the code in');
  const phoneConfirm = await submit(phonePage, phonePage.locator('button[type=submit]'));
  assertEqual(phoneConfirm.status, 200, 'the confirmation answers 200 (phone)');
  assertEqual(phoneConfirm.url.pathname, '/device', 'signed in: no login on the way to the confirmation');
  await checkConfirmation(phonePage, b.userCode, 'phone');
  const phoneShot = path.join(SCREENSHOTS, 'device_confirm_phone.png');
  await phonePage.screenshot({ path: phoneShot, fullPage: true });

  // On a phone: nothing wider than the screen, both buttons on it, text not tiny.
  const layout = await phonePage.evaluate(() => {
    const box = (selector) => {
      const r = document.querySelector(selector).getBoundingClientRect();
      return { left: r.left, right: r.right, top: r.top, bottom: r.bottom, height: r.height };
    };
    const fontPx = (selector) => parseFloat(getComputedStyle(document.querySelector(selector)).fontSize);
    return {
      innerWidth: window.innerWidth,
      scrollWidth: document.documentElement.scrollWidth,
      allow: box('button[name=decision][value=allow]'),
      deny: box('button[name=decision][value=deny]'),
      code: box('.code'),
      warningFont: fontPx('.warning'),
      scopeFont: fontPx('.scopes li'),
      scopeNameFont: fontPx('.scopes code'),
      codeFont: fontPx('.code'),
    };
  });
  assertEqual(layout.innerWidth, PHONE.width, 'the page is laid out at the phone width');
  assert(layout.scrollWidth <= layout.innerWidth, `no horizontal scrolling on a phone (content ${layout.scrollWidth}px wide)`);
  for (const name of ['allow', 'deny', 'code']) {
    assert(layout[name].left >= 0 && layout[name].right <= layout.innerWidth, `the ${name} box is within the phone's width`);
  }
  ok(
    `phone ${PHONE.width}x${PHONE.height}: no horizontal scroll; buttons ${Math.round(layout.allow.height)}px tall; ` +
      `fonts: code ${layout.codeFont}px, warning ${layout.warningFont}px, scope ${layout.scopeFont}px, scope name ${layout.scopeNameFont}px ` +
      `(screenshot: ${path.relative(process.cwd(), phoneShot)})`,
  );

  await allow(phonePage, 'phone');
  const signedInB = await deviceSignedIn(b.device, expectedTokens);
  ok(`Allow: "Device connected"; device B signed in ${signedInB.seconds} s later (scope "${signedInB.claims.scope}")`);

  // Nothing else went wrong on the way.
  const away = [...offHost, ...phoneOffHost];
  assertEqual(away.length, 0, `the pages tried to reach no other host (${away.join(', ')})`);
  const all = [...problems, ...phoneProblems];
  assertEqual(all.length, 0, `the pages reported no errors:\n    ${all.join('\n    ')}`);
});
