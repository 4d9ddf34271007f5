// End-to-end: a real headless Chromium with a virtual WebAuthn authenticator (CTAP2,
// resident keys, user verification, driven over the DevTools protocol) adds a passkey
// from the account page, signs in with it alone (passwordless), then uses it as the second
// step after the password. The pages' own script (/assets/passkey.js) runs the browser's
// navigator.credentials calls under the page CSP; no console or CSP errors are allowed.
//
// The issuer is http://localhost:PORT: WebAuthn needs a domain as its relying party id.
//
// Run by all.mjs (or alone: `node passkey.mjs`). The harness is in lib.mjs.

import path from 'node:path';
import { SCREENSHOTS, assert, assertEqual, confine, ok, runTest, watchPage } from './lib.mjs';

const USERNAME = 'pia';
const PASSWORD = 'correct horse battery staple';

await runTest('passkey', async (t) => {
  await t.latchkey(['user', 'create', '--username', USERNAME, '--password-stdin'], `${PASSWORD}\n`);
  const issuer = await t.startServer([], { host: 'localhost' });
  const browser = await t.launchBrowser();
  const context = await browser.newContext({ viewport: { width: 800, height: 900 } });
  const page = await context.newPage();
  const problems = watchPage(page, issuer);
  const offHost = await confine(context, issuer);

  const cdp = await context.newCDPSession(page);
  await cdp.send('WebAuthn.enable');
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2',
      transport: 'internal',
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true,
    },
  });

  const body = () => page.locator('body').innerText();
  const signOut = async () => {
    await page.goto(`${issuer}/account`);
    await page.locator('form[action="/logout"] button').click();
    await page.waitForLoadState('load');
  };
  const submitPassword = async () => {
    await page.goto(`${issuer}/login`);
    await page.locator('input[name=username]').fill(USERNAME);
    await page.locator('input[name=password]').fill(PASSWORD);
    await page.locator('form[action="/login"] button[type=submit]').click();
    await page.waitForLoadState('load');
  };

  // 1. Signed in with the password, add a passkey from the account page.
  await submitPassword();
  assert((await body()).includes(`Signed in as ${USERNAME}`), 'signed in with the password');
  await page.locator('button[name=add_passkey]').click();
  await page.waitForLoadState('load');
  assertEqual(new URL(page.url()).pathname, '/account/passkeys/new', 'the add-a-passkey page');
  await page.locator('input[name=name]').fill('Work laptop');
  await page.screenshot({ path: path.join(SCREENSHOTS, 'passkey_add.png'), fullPage: true });
  await Promise.all([page.waitForURL(`${issuer}/account/passkeys/add`), page.locator('button.primary').click()]);
  await page.waitForLoadState('load');
  const added = await body();
  assert(added.includes('Passkey \u201cWork laptop\u201d added.'), `the passkey is added:\n${added}`);
  const { credentials } = await cdp.send('WebAuthn.getCredentials', { authenticatorId });
  assertEqual(credentials.length, 1, 'the authenticator holds one credential');
  assert(credentials[0].isResidentCredential, 'a discoverable credential (a passkey)');
  assertEqual(credentials[0].rpId, 'localhost', 'scoped to the issuer host');
  ok('added a passkey from the account page');

  // 2. Signed out, the passkey alone signs in (the authenticator verifies the user).
  await signOut();
  await page.goto(`${issuer}/login?return_to=%2Faccount`);
  const passkeyButton = page.locator('button[data-passkey-start]');
  assert(await passkeyButton.isVisible(), 'the login page offers a passkey (the script un-hides it)');
  await page.screenshot({ path: path.join(SCREENSHOTS, 'passkey_login.png'), fullPage: true });
  await Promise.all([page.waitForURL(`${issuer}/account`), passkeyButton.click()]);
  const account = await body();
  assert(account.includes(`Signed in as ${USERNAME}`), `signed in with the passkey alone:\n${account}`);
  assert(/Work laptop[\s\S]*last used/.test(account), 'the account page shows it was used');
  ok('signed in with the passkey alone');

  // 3. The password now leads to a second step, which the passkey answers.
  await signOut();
  await submitPassword();
  assertEqual(new URL(page.url()).pathname, '/login/mfa', 'the second step follows the password');
  await page.screenshot({ path: path.join(SCREENSHOTS, 'passkey_second_step.png'), fullPage: true });
  await Promise.all([page.waitForURL(`${issuer}/`), page.locator('button[data-passkey-start]').click()]);
  assert((await body()).includes(`Signed in as ${USERNAME}`), 'signed in with password and passkey');
  ok('used the passkey as the second step after the password');

  // 4. When the authenticator cannot verify the user, the page says so and nothing opens.
  await cdp.send('WebAuthn.setUserVerified', { authenticatorId, isUserVerified: false });
  await signOut();
  await page.goto(`${issuer}/login`);
  await page.locator('button[data-passkey-start]').click();
  const status = page.locator('[data-passkey-status]');
  await status.waitFor({ state: 'visible' });
  assert((await status.innerText()).length > 0, 'a message says the passkey did not work');
  assertEqual(new URL(page.url()).pathname, '/login', 'still on the login page');
  assert(!(await body()).includes('Signed in as'), 'not signed in');
  ok('a failed user verification is reported on the page');

  assertEqual(offHost.length, 0, `the pages tried to reach no other host (${offHost.join(', ')})`);
  assertEqual(problems.length, 0, `the pages reported no errors:\n    ${problems.join('\n    ')}`);
});
