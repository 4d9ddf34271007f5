// End-to-end: the demo's four roles, for real. A headless Chromium (the resource owner)
// uses the demo web app (examples/web-app, the client), which signs in through Latchkey
// (the authorization server) with the code flow + PKCE and reads and writes notes in the
// notes API (examples/notes-api, the resource server, built on latchkey-resource).
//
// Access tokens live 20 s and the web app refreshes any token with less than 30 s left, so
// every page after the first sign-in also exercises the refresh grant. Sign-out revokes
// the refresh token at Latchkey.
//
// Builds nothing: binaries from LATCHKEY_BIN, LATCHKEY_NOTES_API_BIN, LATCHKEY_WEB_APP_BIN
// (default ../target/debug/...). Only 127.0.0.1 is ever contacted. Run by all.mjs (or
// alone: `node demo_app.mjs`).

import path from 'node:path';
import {
  ROOT,
  SCREENSHOTS,
  assert,
  assertEqual,
  confine,
  fetchWithTimeout,
  freePort,
  ok,
  runTest,
  sleep,
  watchPage,
} from './lib.mjs';

const NOTES_API_BIN = path.resolve(
  process.env.LATCHKEY_NOTES_API_BIN || path.join(ROOT, 'target', 'debug', 'latchkey-notes-api'),
);
const WEB_APP_BIN = path.resolve(process.env.LATCHKEY_WEB_APP_BIN || path.join(ROOT, 'target', 'debug', 'latchkey-web-app'));
const USERNAME = 'alice';
const PASSWORD = 'correct horse battery staple';
const NOTE = 'Buy milk <and> "eggs"';

/// Polls `url` until it answers at all (any status), or fails after 20 s.
async function waitUntilUp(url, watched) {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    if (!watched.running()) throw new Error(`${watched.label} exited early (${watched.describeExit()})`);
    try {
      await fetchWithTimeout(url);
      return;
    } catch {
      await sleep(100);
    }
  }
  throw new Error(`${url} did not come up within 20 s`);
}

await runTest('demo_app', async (t) => {
  const apiPort = await freePort();
  const webPort = await freePort();
  const api = `http://127.0.0.1:${apiPort}`;
  const web = `http://127.0.0.1:${webPort}`;

  // Seeded as demo/run seeds it.
  await t.latchkey(
    ['user', 'create', '--username', USERNAME, '--password-stdin', '--email', 'alice@example.com', '--name', 'Alice Example'],
    `${PASSWORD}\n`,
  );
  await t.latchkey(['scope', 'create', 'notes:read', '--description', 'Read your notes']);
  await t.latchkey(['scope', 'create', 'notes:write', '--description', 'Write notes for you']);
  const client = JSON.parse(
    await t.latchkey([
      'client', 'create', '--name', 'Notes Web',
      '--grant-type', 'authorization_code', '--grant-type', 'refresh_token',
      '--redirect-uri', `${web}/callback`,
      '--scope', 'openid', '--scope', 'profile', '--scope', 'notes:read', '--scope', 'notes:write',
      '--json',
    ]),
  );

  // The three servers: access tokens are for the notes API and short-lived.
  const issuer = await t.startServer(['--default-audience', api, '--access-token-ttl', '20s']);
  const notesApi = t.spawn('notes-api', NOTES_API_BIN, [], {
    LATCHKEY_ISSUER: issuer,
    NOTES_AUDIENCE: api,
    NOTES_LISTEN: `127.0.0.1:${apiPort}`,
  });
  await waitUntilUp(`${api}/notes`, notesApi);
  const unauthenticated = await fetchWithTimeout(`${api}/notes`);
  assertEqual(unauthenticated.status, 401, 'the notes API refuses a request without a token');
  const webApp = t.spawn('web-app', WEB_APP_BIN, [], {
    LATCHKEY_ISSUER: issuer,
    WEB_LISTEN: `127.0.0.1:${webPort}`,
    WEB_CLIENT_ID: client.client_id,
    WEB_CLIENT_SECRET: client.client_secret,
    NOTES_API: api,
  });
  await waitUntilUp(`${web}/`, webApp);
  ok(`latchkey ${issuer}, notes API ${api}, web app ${web}`);

  const browser = await t.launchBrowser();
  const context = await browser.newContext({ viewport: { width: 800, height: 700 } });
  const page = await context.newPage();
  const problems = watchPage(page, issuer);
  // The browser reaches Latchkey and the web app, nothing else (the API is server to server).
  const offHost = await confine(context, issuer, async (route, url) => {
    if (url.origin !== web) return false;
    await route.continue();
    return true;
  });

  // 1. Signed out; "Sign in" goes to Latchkey's login page.
  await page.goto(`${web}/`);
  assert((await page.locator('body').innerText()).includes('You are not signed in'), 'the web app starts signed out');
  await page.getByRole('link', { name: 'Sign in with Latchkey' }).click();
  await page.waitForURL((url) => url.origin === issuer, { waitUntil: 'load' });
  await page.locator('input[name=username]').fill(USERNAME);
  await page.locator('input[name=password]').fill(PASSWORD);
  await page.locator('button[type=submit]').click();

  // 2. The consent page lists what the web app asks for; Allow.
  const allow = page.locator('button[name=decision][value=allow]');
  await allow.waitFor({ state: 'visible' });
  const consent = await page.locator('body').innerText();
  for (const text of ['Notes Web', 'Read your notes', 'Write notes for you']) {
    assert(consent.includes(text), `the consent page shows "${text}"`);
  }
  await allow.click();
  ok('signed in at Latchkey and allowed the consent');

  // 3. Back at the web app, which exchanged the code and read the (empty) notes list.
  await page.waitForURL((url) => url.origin === web && url.pathname === '/', { waitUntil: 'load' });
  await page.locator('#notes').waitFor({ state: 'attached' });
  const signedIn = await page.locator('body').innerText();
  assert(signedIn.includes('Signed in as'), `the web app says who is signed in (page: ${signedIn})`);
  assertEqual(await page.locator('#notes li').count(), 0, 'a new user has no notes');
  ok('the web app is signed in and read the notes list through the API');

  // 4. Write a note through the API and read it back (shown escaped, as text).
  await page.locator('input[name=text]').fill(NOTE);
  await page.getByRole('button', { name: 'Add' }).click();
  await page.waitForURL((url) => url.origin === web && url.pathname === '/', { waitUntil: 'load' });
  await page.locator('#notes li').first().waitFor();
  assertEqual(await page.locator('#notes li').first().innerText(), NOTE, 'the note is read back from the API');
  await page.screenshot({ path: path.join(SCREENSHOTS, 'demo-notes.png'), fullPage: true });
  ok('wrote a note through the API and read it back');

  // 5. Its 20 s tokens were refreshed on the way (the web app says so in its log).
  assert(
    webApp.stdout.includes('refreshed an access token'),
    `the web app refreshed its access token (log: ${webApp.stdout})`,
  );
  await page.reload({ waitUntil: 'load' });
  assertEqual(await page.locator('#notes li').first().innerText(), NOTE, 'the note is still there after a refresh');
  ok('the access token was refreshed and the API still answers');

  // 6. Sign out: the web app forgets the session and revokes the refresh token.
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.waitForURL((url) => url.origin === web, { waitUntil: 'load' });
  assert((await page.locator('body').innerText()).includes('You are not signed in'), 'signed out');
  ok('signed out');

  assertEqual(offHost.length, 0, `the pages tried to reach no other host (${offHost.join(', ')})`);
  assertEqual(problems.length, 0, `the pages reported no errors:\n    ${problems.join('\n    ')}`);
});
