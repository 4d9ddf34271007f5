// End-to-end: a real headless Chromium signs in to Latchkey, approves the consent page,
// and the authorization code it is sent back with is exchanged for tokens.
//
// Builds nothing: the latchkey binary comes from LATCHKEY_BIN (default
// ../target/debug/latchkey relative to this file). Only 127.0.0.1 is ever contacted:
// the client's redirect URI (https://app.example.com/cb) is answered inside the browser.
//
// Prints `e2e: 1 passed, 0 failed` on success; otherwise the error and
// `e2e: 0 passed, 1 failed`, exit code 1. Never runs longer than E2E_TIMEOUT_MS (60 s).

import { spawn, execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, mkdir, rm, readFile } from 'node:fs/promises';
import { createWriteStream } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const LATCHKEY_BIN = path.resolve(process.env.LATCHKEY_BIN || path.join(HERE, '..', 'target', 'debug', 'latchkey'));
const CHROMIUM = process.env.CHROMIUM_BIN || '/usr/bin/chromium';
const SCREENSHOTS = path.join(HERE, 'screenshots');
const OVERALL_TIMEOUT_MS = Number(process.env.E2E_TIMEOUT_MS || 60_000);
const STEP_TIMEOUT_MS = 15_000;

const REDIRECT_URI = 'https://app.example.com/cb';
const CLIENT_ORIGIN = new URL(REDIRECT_URI).origin;
const USERNAME = 'alice';
const PASSWORD = 'correct horse battery staple';
const CLIENT_NAME = 'Notes Web';
const SCOPE_DESCRIPTION = 'Read your notes';
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

// ---------------------------------------------------------------------------------------
// Resources that must always be released: the server process and the browser.

let server = null; // ChildProcess
let browser = null; // playwright Browser
let tmpDir = null;
let serverLogPath = null;
let finished = false;

async function cleanup() {
  const b = browser;
  browser = null;
  if (b) {
    await Promise.race([b.close().catch(() => {}), sleep(5_000)]);
  }
  const s = server;
  server = null;
  if (s && s.exitCode === null && s.signalCode === null) {
    const exited = new Promise((resolve) => s.once('exit', resolve));
    s.kill('SIGTERM');
    if (!(await Promise.race([exited.then(() => true), sleep(3_000).then(() => false)]))) {
      s.kill('SIGKILL');
      await Promise.race([exited, sleep(2_000)]);
    }
  }
}

// Last resort if node itself is going down: never leave the server behind.
process.on('exit', () => {
  if (server && server.exitCode === null) {
    try {
      server.kill('SIGKILL');
    } catch {
      /* already gone */
    }
  }
});

async function fail(error) {
  if (finished) return;
  finished = true;
  console.error(`e2e: FAILED: ${error && error.stack ? error.stack : error}`);
  await cleanup();
  if (serverLogPath) {
    const log = await readFile(serverLogPath, 'utf8').catch(() => '');
    if (log.trim()) {
      console.error(`--- server log (${serverLogPath}) ---\n${log.trimEnd().split('\n').slice(-40).join('\n')}`);
    }
  }
  if (tmpDir) console.error(`(temp dir kept for inspection: ${tmpDir})`);
  console.log('e2e: 0 passed, 1 failed');
  process.exit(1);
}

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => fail(new Error(`interrupted by ${signal}`)));
}
process.on('uncaughtException', (error) => fail(error));
process.on('unhandledRejection', (error) => fail(error));

// ---------------------------------------------------------------------------------------
// Helpers.

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

function assert(condition, message) {
  if (!condition) throw new Error(`assertion failed: ${message}`);
}

function assertEqual(actual, expected, message) {
  if (actual !== expected) {
    throw new Error(`assertion failed: ${message}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`);
  }
}

function ok(message) {
  console.log(`  ok  ${message}`);
}

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

/// Runs a latchkey admin command in the temp dir (where its database lives).
function latchkey(args, stdin) {
  return new Promise((resolve, reject) => {
    const child = execFile(
      LATCHKEY_BIN,
      args,
      { cwd: tmpDir, env: { ...process.env, LATCHKEY_LOG: 'warn' }, timeout: STEP_TIMEOUT_MS },
      (error, stdout, stderr) => {
        if (error) {
          reject(new Error(`latchkey ${args.join(' ')} failed: ${error.message}\n${stderr}`));
        } else {
          resolve(stdout);
        }
      },
    );
    child.stdin.on('error', () => {}); // a command that exits unread is reported above
    child.stdin.end(stdin ?? '');
  });
}

function freePort() {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.unref();
    probe.on('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

async function fetchWithTimeout(url, options = {}) {
  return fetch(url, { ...options, redirect: 'manual', signal: AbortSignal.timeout(STEP_TIMEOUT_MS) });
}

async function waitForHealthy(base) {
  const deadline = Date.now() + 20_000;
  let last = 'no answer';
  while (Date.now() < deadline) {
    if (!server || server.exitCode !== null || server.signalCode !== null) {
      throw new Error(`latchkey serve exited early (code ${server?.exitCode}, signal ${server?.signalCode})`);
    }
    try {
      const response = await fetchWithTimeout(`${base}/healthz`);
      if (response.status === 200) return;
      last = `HTTP ${response.status}`;
    } catch (error) {
      last = error.cause?.code || error.message;
    }
    await sleep(100);
  }
  throw new Error(`latchkey did not become healthy within 20 s (last: ${last})`);
}

// ---------------------------------------------------------------------------------------
// The test.

async function main() {
  tmpDir = await mkdtemp(path.join(os.tmpdir(), 'latchkey-e2e-'));
  await mkdir(SCREENSHOTS, { recursive: true });

  // Fixtures: a user, a confidential client for the code flow, a described scope.
  await latchkey(
    ['user', 'create', '--username', USERNAME, '--password-stdin', '--email', 'alice@example.com', '--name', 'Alice Example', '--json'],
    `${PASSWORD}\n`,
  );
  const client = JSON.parse(
    await latchkey([
      'client', 'create', '--name', CLIENT_NAME,
      '--grant-type', 'authorization_code', '--grant-type', 'refresh_token',
      '--redirect-uri', REDIRECT_URI,
      '--scope', 'openid', '--scope', 'profile', '--scope', 'notes:read',
      '--json',
    ]),
  );
  assert(typeof client.client_id === 'string' && client.client_id, 'client create prints a client_id');
  assert(typeof client.client_secret === 'string' && client.client_secret, 'client create prints a client_secret');
  await latchkey(['scope', 'create', 'notes:read', '--description', SCOPE_DESCRIPTION]);
  ok('user, client and scope created');

  // The server, on a free loopback port.
  const port = await freePort();
  const issuer = `http://127.0.0.1:${port}`;
  serverLogPath = path.join(tmpDir, 'server.log');
  const log = createWriteStream(serverLogPath);
  server = spawn(LATCHKEY_BIN, ['serve', '--listen', `127.0.0.1:${port}`], {
    cwd: tmpDir,
    env: { ...process.env, LATCHKEY_LOG: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  server.stdout.pipe(log);
  server.stderr.pipe(log);
  await waitForHealthy(issuer);
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

  // The browser. Chromium resolves no name at all: every host but 127.0.0.1 is mapped to a
  // closed loopback port. (Chromium tries the redirect to the fake client on the network
  // once before the route below answers it; were that a failed DNS lookup, its error page
  // would run DNS probes to public resolvers such as 8.8.8.8. A refused connection
  // triggers none.)
  const sinkPort = await freePort();
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [...CHROMIUM_ARGS, `--host-resolver-rules=MAP * 127.0.0.1:${sinkPort}, EXCLUDE 127.0.0.1`],
    timeout: STEP_TIMEOUT_MS,
  });
  const context = await browser.newContext({ viewport: { width: 800, height: 700 } });
  const page = await context.newPage();
  page.setDefaultTimeout(STEP_TIMEOUT_MS);
  page.setDefaultNavigationTimeout(STEP_TIMEOUT_MS);

  // What the pages do besides what we assert: console errors, script errors, failed loads.
  const problems = [];
  page.on('console', (message) => {
    if (message.type() === 'error' || message.type() === 'warning') {
      problems.push(`console ${message.type()} on ${page.url()}: ${message.text()}`);
    }
  });
  page.on('pageerror', (error) => problems.push(`page error on ${page.url()}: ${error.message}`));
  page.on('requestfailed', (request) => {
    // Chromium first tries the 303-after-POST redirect to the (fake) client on the network
    // (refused: see the host resolver rules) and only then lets the route below answer it;
    // that attempt is no fault of the page. Arriving at the client is asserted after Allow.
    if (new URL(request.url()).origin === CLIENT_ORIGIN) return;
    problems.push(`request failed: ${request.method()} ${request.url()}: ${request.failure()?.errorText}`);
  });
  page.on('response', (response) => {
    const url = new URL(response.url());
    if (url.origin === issuer && response.status() >= 400) {
      problems.push(`HTTP ${response.status()} for ${response.request().method()} ${response.url()}`);
    }
  });

  // Only the server under test and the (fake) client are reachable from the browser.
  const offHost = [];
  let resolveCallback;
  const callback = new Promise((resolve) => {
    resolveCallback = resolve;
  });
  await context.route('**/*', async (route) => {
    const url = new URL(route.request().url());
    if (url.origin === issuer) {
      await route.continue();
    } else if (url.origin === CLIENT_ORIGIN) {
      resolveCallback(route.request().url());
      await route.fulfill({ status: 200, contentType: 'text/plain', body: 'ok' });
    } else {
      offHost.push(route.request().url());
      await route.abort('blockedbyclient');
    }
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
}

const watchdog = setTimeout(() => {
  fail(new Error(`timed out after ${OVERALL_TIMEOUT_MS / 1000} s`));
}, OVERALL_TIMEOUT_MS);

try {
  await main();
  clearTimeout(watchdog);
  finished = true;
  await cleanup();
  await rm(tmpDir, { recursive: true, force: true }).catch(() => {});
  console.log('e2e: 1 passed, 0 failed');
  process.exit(0);
} catch (error) {
  clearTimeout(watchdog);
  await fail(error);
}
