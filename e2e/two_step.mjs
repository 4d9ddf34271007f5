// End-to-end: a real headless Chromium turns on two-step sign-in from the account page
// (QR code, key, first code from a TOTP computed here as an authenticator app would),
// receives recovery codes, signs out, and signs back in with the password and then a
// recovery code. The pages must raise no console or CSP errors along the way.
//
// Run by all.mjs (or alone: `node two_step.mjs`). The harness is in lib.mjs.

import { createHmac } from 'node:crypto';
import path from 'node:path';
import { SCREENSHOTS, assert, assertEqual, confine, ok, runTest, watchPage } from './lib.mjs';

const USERNAME = 'tess';
const PASSWORD = 'correct horse battery staple';

/// RFC 4648 base32 (spaces ignored) to bytes.
function base32Decode(text) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = 0;
  let value = 0;
  const out = [];
  for (const c of text.replace(/\s+/g, '')) {
    value = (value << 5) | alphabet.indexOf(c);
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out.push((value >>> bits) & 0xff);
    }
  }
  return Buffer.from(out);
}

/// RFC 6238: HMAC-SHA-1, 30-second steps, 6 digits.
function totp(secret, now = Date.now()) {
  const step = Buffer.alloc(8);
  step.writeBigUInt64BE(BigInt(Math.floor(now / 1000 / 30)));
  const mac = createHmac('sha1', secret).update(step).digest();
  const offset = mac[mac.length - 1] & 0x0f;
  const word = mac.readUInt32BE(offset) & 0x7fffffff;
  return String(word % 1_000_000).padStart(6, '0');
}

await runTest('two_step', async (t) => {
  await t.latchkey(['user', 'create', '--username', USERNAME, '--password-stdin'], `${PASSWORD}\n`);
  const issuer = await t.startServer();
  const browser = await t.launchBrowser();
  const context = await browser.newContext({ viewport: { width: 800, height: 900 } });
  const page = await context.newPage();
  const problems = watchPage(page, issuer);
  const offHost = await confine(context, issuer);

  const signIn = async () => {
    await page.goto(`${issuer}/login`);
    await page.locator('input[name=username]').fill(USERNAME);
    await page.locator('input[name=password]').fill(PASSWORD);
    await page.locator('button[type=submit]').click();
    await page.waitForLoadState('load');
  };

  // 1. Signed in with the password alone, the account page offers two-step sign-in.
  await signIn();
  assert((await page.locator('body').innerText()).includes(`Signed in as ${USERNAME}`), 'signed in');
  await page.locator('button[name=setup_mfa]').click();
  await page.waitForLoadState('load');

  // 2. The enrolment page shows a QR code and the key; the first code turns it on.
  const qr = page.locator('.qr svg');
  assert(await qr.isVisible(), 'the QR code is shown');
  const box = await qr.boundingBox();
  assert(box && box.width >= 150 && box.height >= 150, `the QR code is large enough to scan (${box?.width}x${box?.height})`);
  await page.screenshot({ path: path.join(SCREENSHOTS, 'two_step_setup.png'), fullPage: true });
  const key = (await page.locator('#totp-secret').innerText()).trim();
  assert(/^[A-Z2-7 ]{32,}$/.test(key), `the key is base32 (${key})`);
  await page.locator('input[name=code]').fill(totp(base32Decode(key)));
  await page.locator('button[name=confirm_mfa]').click();
  await page.waitForLoadState('load');
  const codes = await page.locator('.recovery-codes code').allInnerTexts();
  assertEqual(codes.length, 10, 'ten recovery codes are shown');
  ok('enrolled from the account page with a code computed from the QR key');

  // 3. Signed out, the password alone no longer signs in: the code page follows.
  await page.goto(`${issuer}/account`);
  await page.locator('form[action="/logout"] button').click();
  await page.waitForLoadState('load');
  await signIn();
  assert(new URL(page.url()).pathname === '/login/mfa', `the code page follows the password (${page.url()})`);
  await page.screenshot({ path: path.join(SCREENSHOTS, 'two_step_code.png'), fullPage: true });

  // 4. A recovery code finishes the sign-in (the app's code of this step was spent).
  await page.locator('input[name=code]').fill(codes[0]);
  await page.locator('button[type=submit]').click();
  await page.waitForLoadState('load');
  const account = await page.locator('body').innerText();
  assert(account.includes(`Signed in as ${USERNAME}`), 'signed in with a recovery code');
  assert(account.includes('9 recovery codes left'), 'the recovery code is spent');
  ok('signed in again with the password and a recovery code');

  assertEqual(offHost.length, 0, `the pages tried to reach no other host (${offHost.join(', ')})`);
  assertEqual(problems.length, 0, `the pages reported no errors:\n    ${problems.join('\n    ')}`);
});
