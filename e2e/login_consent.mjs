// End-to-end: a real headless Chromium signs in to Latchkey, approves the consent page,
// and the authorization code it is sent back with is exchanged for tokens.
//
// Builds nothing: the latchkey binary comes from LATCHKEY_BIN (default
// ../target/debug/latchkey relative to this file). Only 127.0.0.1 is ever contacted:
// the client's redirect URI (https://app.example.com/cb) is answered inside the browser.
//
// Run by all.mjs (or alone: `node login_consent.mjs`). Prints `PASS login_consent` and
// exits 0; otherwise the error, `FAIL login_consent`, exit code 1. Never runs longer than
// E2E_TIMEOUT_MS (60 s). The harness is in lib.mjs.

import { createHash, randomBytes } from 'node:crypto';
import path from 'node:path';
import {
  SCREENSHOTS,
  STEP_TIMEOUT_MS,
  assert,
  assertEqual,
  confine,
  fetchWithTimeout,
  ok,
  runTest,
  sleep,
  watchPage,
} from './lib.mjs';

const REDIRECT_URI = 'https://app.example.com/cb';
const CLIENT_ORIGIN = new URL(REDIRECT_URI).origin;
const USERNAME = 'alice';
const PASSWORD = 'correct horse battery staple';
const CLIENT_NAME = 'Notes Web';
const SCOPE_DESCRIPTION = 'Read your notes';

// ---------------------------------------------------------------------------------------
// Helpers.

function base64url(buffer) {
  return Buffer.from(buffer).toString('base64').replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/// application/x-www-form-urlencoded encoding of one value (RFC 6749 §2.3.1 / Appendix B).
function formEncode(value) {
  return new URLSearchParams([['v', value]]).toString().slice(2);
}

/// The header and claims of a compact JWS (not verified: the Rust tests do that).
function decodeJwt(jwt) {
  const parts = jwt.split('.');
  assertEqual(parts.length, 3, 'a JWT has three dot-separated parts');
  const [header, payload] = parts.slice(0, 2).map((part) => JSON.parse(Buffer.from(part, 'base64url').toString('utf8')));
  return { header, payload };
}

// ---------------------------------------------------------------------------------------
// The test.

await runTest('login_consent', async (t) => {
  // Fixtures: a user, a confidential client for the code flow, a described scope.
  await t.latchkey(
    ['user', 'create', '--username', USERNAME, '--password-stdin', '--email', 'alice@example.com', '--name', 'Alice Example', '--json'],
    `${PASSWORD}\n`,
  );
  const client = JSON.parse(
    await t.latchkey([
      'client', 'create', '--name', CLIENT_NAME,
      '--grant-type', 'authorization_code', '--grant-type', 'refresh_token',
      '--redirect-uri', REDIRECT_URI,
      '--scope', 'openid', '--scope', 'profile', '--scope', 'notes:read',
      '--json',
    ]),
  );
  assert(typeof client.client_id === 'string' && client.client_id, 'client create prints a client_id');
  assert(typeof client.client_secret === 'string' && client.client_secret, 'client create prints a client_secret');
  await t.latchkey(['scope', 'create', 'notes:read', '--description', SCOPE_DESCRIPTION]);
  ok('user, client and scope created');

  // The server, on a free loopback port.
  const issuer = await t.startServer();
  ok(`latchkey serving on ${issuer}`);

  // Discovery: endpoints come from the metadata, not from hard-coded paths.
  const discoveryResponse = await fetchWithTimeout(`${issuer}/.well-known/openid-configuration`);
  assertEqual(discoveryResponse.status, 200, 'discovery status');
  const discovery = await discoveryResponse.json();
  assertEqual(discovery.issuer, issuer, 'discovery issuer');
  assert(typeof discovery.authorization_endpoint === 'string', 'discovery has authorization_endpoint');
  assert(typeof discovery.token_endpoint === 'string', 'discovery has token_endpoint');

  // The authorization request, with PKCE S256.
  const verifier = base64url(randomBytes(48)); // 64 chars of [A-Za-z0-9-_]
  const challenge = base64url(createHash('sha256').update(verifier).digest());
  const state = base64url(randomBytes(16));
  const nonce = base64url(randomBytes(16));
  const authorizeUrl = new URL(discovery.authorization_endpoint);
  for (const [name, value] of Object.entries({
    response_type: 'code',
    client_id: client.client_id,
    redirect_uri: REDIRECT_URI,
    scope: 'openid profile notes:read',
    state,
    nonce,
    code_challenge: challenge,
    code_challenge_method: 'S256',
  })) {
    authorizeUrl.searchParams.set(name, value);
  }

  // The browser (kept off the network: see launchBrowser in lib.mjs).
  const browser = await t.launchBrowser();
  const context = await browser.newContext({ viewport: { width: 800, height: 700 } });
  const page = await context.newPage();

  // What the pages do besides what we assert: console errors, script errors, failed loads.
  // Chromium first tries the 303-after-POST redirect to the (fake) client on the network
  // (refused: see the host resolver rules) and only then lets the route below answer it;
  // that attempt is no fault of the page. Arriving at the client is asserted after Allow.
  const problems = watchPage(page, issuer, {
    expected: ({ request, failed }) => failed && new URL(request.url()).origin === CLIENT_ORIGIN,
  });

  // Only the server under test and the (fake) client are reachable from the browser.
  let resolveCallback;
  const callback = new Promise((resolve) => {
    resolveCallback = resolve;
  });
  const offHost = await confine(context, issuer, async (route, url) => {
    if (url.origin !== CLIENT_ORIGIN) return false;
    resolveCallback(route.request().url());
    await route.fulfill({ status: 200, contentType: 'text/plain', body: 'ok' });
    return true;
  });

  // 1. The authorization request sends an anonymous browser to the login page.
  const first = await page.goto(authorizeUrl.href);
  assertEqual(first?.status(), 200, 'the login page answers 200');
  const loginUrl = new URL(page.url());
  assertEqual(loginUrl.origin, issuer, 'the login page is on the issuer');
  for (const selector of ['input[name=username]', 'input[name=password]', 'button[type=submit]']) {
    assertEqual(await page.locator(selector).count(), 1, `the login page has one ${selector}`);
    assert(await page.locator(selector).isVisible(), `${selector} is visible on the login page`);
  }
  ok(`login page (${loginUrl.pathname}) has username, password and submit`);
  await page.screenshot({ path: path.join(SCREENSHOTS, 'login.png'), fullPage: true });

  // 2. Sign in; the login returns to the authorization request, which asks for consent.
  await page.locator('input[name=username]').fill(USERNAME);
  await page.locator('input[name=password]').fill(PASSWORD);
  const afterLogin = page.waitForURL((url) => url.href.startsWith(discovery.authorization_endpoint), {
    waitUntil: 'load',
  });
  await page.locator('button[type=submit]').click();
  await afterLogin;
  await page.locator('button[name=decision][value=allow]').waitFor({ state: 'visible' });

  const consentText = await page.locator('body').innerText();
  assert(consentText.includes(CLIENT_NAME), `the consent page names the client "${CLIENT_NAME}"`);
  assert(consentText.includes(SCOPE_DESCRIPTION), `the consent page lists "${SCOPE_DESCRIPTION}"`);
  for (const decision of ['allow', 'deny']) {
    const button = page.locator(`button[name=decision][value=${decision}]`);
    assertEqual(await button.count(), 1, `the consent page has one ${decision} button`);
    assert(await button.isVisible(), `the ${decision} button is visible`);
  }
  const consentShot = path.join(SCREENSHOTS, 'consent.png');
  await page.screenshot({ path: consentShot, fullPage: true });
  ok(`consent page names "${CLIENT_NAME}", lists "${SCOPE_DESCRIPTION}", has allow and deny (screenshot: ${path.relative(process.cwd(), consentShot)})`);

  // 3. Allow: the browser is sent to the client's redirect URI with the code.
  await page.locator('button[name=decision][value=allow]').click();
  const redirected = new URL(
    await Promise.race([
      callback,
      sleep(STEP_TIMEOUT_MS).then(() => {
        throw new Error(`no redirect to ${REDIRECT_URI} after Allow (page is at ${page.url()})`);
      }),
    ]),
  );
  assertEqual(`${redirected.origin}${redirected.pathname}`, REDIRECT_URI, 'redirected to the registered redirect URI');
  const params = redirected.searchParams;
  assertEqual(params.get('error'), null, 'the redirect carries no error');
  const code = params.get('code');
  assert(code, 'the redirect carries a code');
  assertEqual(params.get('state'), state, 'the redirect carries the same state');
  assertEqual(params.get('iss'), issuer, 'the redirect carries iss = the issuer');
  await page.waitForURL((url) => url.origin === CLIENT_ORIGIN, { waitUntil: 'load' });
  assertEqual(await page.locator('body').innerText(), 'ok', "the browser shows the client's answer");
  ok('Allow redirects to the client with code, state and iss');

  // 4. The code is exchanged for tokens with the PKCE verifier and the client's secret.
  const basic = Buffer.from(`${formEncode(client.client_id)}:${formEncode(client.client_secret)}`).toString('base64');
  const tokenResponse = await fetchWithTimeout(discovery.token_endpoint, {
    method: 'POST',
    headers: {
      authorization: `Basic ${basic}`,
      'content-type': 'application/x-www-form-urlencoded',
      accept: 'application/json',
    },
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      code,
      redirect_uri: REDIRECT_URI,
      code_verifier: verifier,
    }).toString(),
  });
  const tokenBody = await tokenResponse.text();
  assertEqual(tokenResponse.status, 200, `token endpoint status (body: ${tokenBody})`);
  const tokens = JSON.parse(tokenBody);
  for (const name of ['access_token', 'id_token', 'refresh_token']) {
    assert(typeof tokens[name] === 'string' && tokens[name].length > 0, `the token response has ${name}`);
  }
  assertEqual(tokens.token_type, 'Bearer', 'token_type');
  const { header: idHeader, payload: idToken } = decodeJwt(tokens.id_token);
  assertEqual(idHeader.alg, client.id_token_signed_response_alg || 'RS256', "id_token alg is the client's registered one");
  assertEqual(idToken.iss, issuer, 'id_token iss');
  assertEqual(idToken.nonce, nonce, 'id_token nonce');
  assert(
    idToken.aud === client.client_id || (Array.isArray(idToken.aud) && idToken.aud.includes(client.client_id)),
    `id_token aud names the client (got ${JSON.stringify(idToken.aud)})`,
  );
  ok(`code exchanged for access_token, id_token (${idHeader.alg}; iss, aud, nonce) and refresh_token, token_type Bearer`);

  // Nothing else went wrong on the way.
  assertEqual(offHost.length, 0, `the pages tried to reach no other host (${offHost.join(', ')})`);
  assertEqual(problems.length, 0, `the pages reported no errors:\n    ${problems.join('\n    ')}`);
});
