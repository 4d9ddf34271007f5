// Shared by the end-to-end tests: the test harness (overall timeout, cleanup on every path,
// temp dir kept and logs shown on failure), the latchkey server, child processes, the
// browser (kept off the network), and small assertion helpers.
//
// A test file calls `runTest(name, async (t) => { ... })` and is run on its own by node
// (all.mjs runs each file in its own process). `t` holds the temp dir and starts things
// that are always stopped again: `t.latchkey(...)`, `t.startServer(...)`, `t.spawn(...)`,
// `t.launchBrowser()`. The process exits 0 if the test passed, 1 if not.

import { spawn, execFile } from 'node:child_process';
import { mkdtemp, mkdir, rm, readFile } from 'node:fs/promises';
import { createWriteStream } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const HERE = path.dirname(fileURLToPath(import.meta.url));
export const ROOT = path.resolve(HERE, '..');
export const LATCHKEY_BIN = path.resolve(process.env.LATCHKEY_BIN || path.join(ROOT, 'target', 'debug', 'latchkey'));
export const DEVICE_CLIENT_BIN = path.resolve(
  process.env.LATCHKEY_DEVICE_CLIENT_BIN || path.join(ROOT, 'target', 'debug', 'latchkey-device-client'),
);
export const CHROMIUM = process.env.CHROMIUM_BIN || '/usr/bin/chromium';
export const SCREENSHOTS = path.join(HERE, 'screenshots');
/// Each test's own limit; all.mjs allows a little more before it kills a test's process.
export const OVERALL_TIMEOUT_MS = Number(process.env.E2E_TIMEOUT_MS || 60_000);
export const STEP_TIMEOUT_MS = 15_000;

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
// Small helpers.

export function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

export function assert(condition, message) {
  if (!condition) throw new Error(`assertion failed: ${message}`);
}

export function assertEqual(actual, expected, message) {
  if (actual !== expected) {
    throw new Error(`assertion failed: ${message}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`);
  }
}

export function ok(message) {
  console.log(`  ok  ${message}`);
}

/// Rejects with `message` if `promise` has not settled within `ms`.
export function within(promise, ms, message) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${message} (no result within ${ms / 1000} s)`)), ms);
    timer.unref();
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

export function freePort() {
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

export async function fetchWithTimeout(url, options = {}) {
  return fetch(url, { ...options, redirect: 'manual', signal: AbortSignal.timeout(STEP_TIMEOUT_MS) });
}

function running(child) {
  return child.exitCode === null && child.signalCode === null;
}

/// SIGTERM, then SIGKILL if the process is still there after 3 s.
async function terminate(child) {
  if (!running(child)) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  if (!(await Promise.race([exited.then(() => true), sleep(3_000).then(() => false)]))) {
    child.kill('SIGKILL');
    await Promise.race([exited, sleep(2_000)]);
  }
}

// ---------------------------------------------------------------------------------------
// A started child process whose output is kept (in memory and in a log file in the temp dir).

class Watched {
  constructor(label, child, logPath) {
    this.label = label;
    this.child = child;
    this.logPath = logPath;
    this.stdout = '';
    this.stderr = '';
    this.waiters = [];
    const log = createWriteStream(logPath);
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stdout.on('data', (chunk) => {
      this.stdout += chunk;
      log.write(chunk);
      this.waiters = this.waiters.filter((waiter) => !waiter());
    });
    child.stderr.on('data', (chunk) => {
      this.stderr += chunk;
      log.write(chunk);
    });
    // Resolves once the process has exited and its output has been read to the end.
    this.exited = new Promise((resolve) => {
      child.once('close', (code, signal) => {
        log.end();
        this.waiters = this.waiters.filter((waiter) => !waiter());
        resolve({ code, signal });
      });
    });
    this.spawnError = new Promise((_, reject) => child.once('error', reject));
    this.spawnError.catch(() => {}); // reported through exited / waitForStdout
  }

  running() {
    return running(this.child);
  }

  /// Waits until stdout matches `pattern` and returns the match; fails if the process exits
  /// first or nothing matches within `ms`.
  waitForStdout(pattern, ms = STEP_TIMEOUT_MS) {
    const found = new Promise((resolve, reject) => {
      const check = () => {
        const match = this.stdout.match(pattern);
        if (match) {
          resolve(match);
          return true;
        }
        if (!this.running() && this.child.stdout.readableEnded) {
          reject(new Error(`${this.label} exited (${this.describeExit()}) before printing ${pattern}:\n${this.output()}`));
          return true;
        }
        return false;
      };
      if (!check()) this.waiters.push(check);
    });
    return within(Promise.race([found, this.spawnError]), ms, `${this.label} did not print ${pattern}:\n${this.output()}`);
  }

  /// Waits for the process to exit by itself; returns { code, signal }.
  waitForExit(ms = STEP_TIMEOUT_MS) {
    return within(Promise.race([this.exited, this.spawnError]), ms, `${this.label} did not exit:\n${this.output()}`);
  }

  describeExit() {
    return this.child.signalCode ? `signal ${this.child.signalCode}` : `code ${this.child.exitCode}`;
  }

  output() {
    const indent = (text) => text.trimEnd().replace(/^/gm, '    | ');
    return `${indent(this.stdout) || '    | (no stdout)'}${this.stderr.trim() ? `\n    stderr:\n${indent(this.stderr)}` : ''}`;
  }
}

// ---------------------------------------------------------------------------------------
// The harness.

/// Runs `main(t)` once, within OVERALL_TIMEOUT_MS, then exits the process: 0 if it passed.
/// Whatever happens (assertion, timeout, signal, uncaught error) the browsers are closed and
/// every child process is stopped; on failure the temp dir is kept and the logs are shown.
export async function runTest(name, main) {
  const started = performance.now();
  const elapsed = () => `${((performance.now() - started) / 1000).toFixed(1)} s`;
  const processes = []; // Watched, in start order
  const browsers = [];
  let tmpDir = null;
  let finished = false;

  async function cleanup() {
    for (const browser of browsers.splice(0).reverse()) {
      await Promise.race([browser.close().catch(() => {}), sleep(5_000)]);
    }
    // Devices before the server they talk to; all at once would do as well.
    await Promise.all(processes.splice(0).reverse().map((p) => terminate(p.child)));
  }

  // Last resort if node itself is going down: never leave a process behind.
  process.on('exit', () => {
    for (const p of processes) {
      if (p.running()) {
        try {
          p.child.kill('SIGKILL');
        } catch {
          /* already gone */
        }
      }
    }
  });

  async function fail(error) {
    if (finished) return;
    finished = true;
    console.error(`e2e: ${name}: FAILED: ${error && error.stack ? error.stack : error}`);
    const logs = processes.map((p) => [p.label, p.logPath]);
    await cleanup();
    for (const [label, logPath] of logs) {
      const log = await readFile(logPath, 'utf8').catch(() => '');
      if (log.trim()) {
        const lines = label === 'server' ? 40 : 20;
        console.error(`--- ${label} log, last ${lines} lines (${logPath}) ---\n${log.trimEnd().split('\n').slice(-lines).join('\n')}`);
      }
    }
    if (tmpDir) console.error(`(temp dir kept for inspection: ${tmpDir})`);
    console.log(`FAIL ${name} (${elapsed()})`);
    process.exit(1);
  }

  for (const signal of ['SIGINT', 'SIGTERM']) {
    process.on(signal, () => fail(new Error(`interrupted by ${signal}`)));
  }
  process.on('uncaughtException', (error) => fail(error));
  process.on('unhandledRejection', (error) => fail(error));

  const watchdog = setTimeout(() => {
    fail(new Error(`timed out after ${OVERALL_TIMEOUT_MS / 1000} s`));
  }, OVERALL_TIMEOUT_MS);

  try {
    tmpDir = await mkdtemp(path.join(os.tmpdir(), `latchkey-e2e-${name}-`));
    await mkdir(SCREENSHOTS, { recursive: true });
    const t = {
      name,
      tmpDir,

      /// Runs a latchkey admin command in the temp dir (where its database lives).
      latchkey(args, stdin) {
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
      },

      /// Starts `bin args` in the temp dir; its output goes to `<label>.log` there.
      spawn(label, bin, args, env = {}) {
        const child = spawn(bin, args, {
          cwd: tmpDir,
          env: { ...process.env, LATCHKEY_LOG: 'warn', ...env },
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        const watched = new Watched(label, child, path.join(tmpDir, `${label}.log`));
        processes.push(watched);
        return watched;
      },

      /// `latchkey serve` on a free loopback port, healthy; returns its issuer URL. With
      /// `host: 'localhost'` the issuer names localhost (WebAuthn needs a domain, not an IP
      /// address, as its relying party id).
      async startServer(extraArgs = [], { host = '127.0.0.1' } = {}) {
        const port = await freePort();
        const issuer = `http://${host}:${port}`;
        const args = ['serve', '--listen', `127.0.0.1:${port}`, ...extraArgs];
        if (host !== '127.0.0.1') args.push('--issuer', issuer);
        const server = t.spawn('server', LATCHKEY_BIN, args);
        const deadline = Date.now() + 20_000;
        let last = 'no answer';
        while (Date.now() < deadline) {
          if (!server.running()) {
            throw new Error(`latchkey serve exited early (${server.describeExit()})`);
          }
          try {
            const response = await fetchWithTimeout(`http://127.0.0.1:${port}/healthz`);
            if (response.status === 200) return issuer;
            last = `HTTP ${response.status}`;
          } catch (error) {
            last = error.cause?.code || error.message;
          }
          await sleep(100);
        }
        throw new Error(`latchkey did not become healthy within 20 s (last: ${last})`);
      },

      /// Headless Chromium that resolves no name at all: every host but 127.0.0.1 and
      /// localhost (which Chromium answers itself) is mapped to a closed loopback port. (A page that tries to go elsewhere, say a redirect to a
      /// fake client before a route answers it, gets a refused connection; were that a failed
      /// DNS lookup, Chromium's error page would run DNS probes to public resolvers such as
      /// 8.8.8.8. A refused connection triggers none.)
      async launchBrowser() {
        const sinkPort = await freePort();
        const browser = await chromium.launch({
          executablePath: CHROMIUM,
          headless: true,
          args: [...CHROMIUM_ARGS, `--host-resolver-rules=MAP * 127.0.0.1:${sinkPort}, EXCLUDE 127.0.0.1, EXCLUDE localhost`],
          timeout: STEP_TIMEOUT_MS,
        });
        browsers.push(browser);
        return browser;
      },
    };

    await main(t);
    clearTimeout(watchdog);
    if (finished) return; // failed meanwhile (timeout, signal): fail() exits
    finished = true;
    await cleanup();
    await rm(tmpDir, { recursive: true, force: true }).catch(() => {});
    console.log(`PASS ${name} (${elapsed()})`);
    process.exit(0);
  } catch (error) {
    clearTimeout(watchdog);
    await fail(error);
  }
}

// ---------------------------------------------------------------------------------------
// Pages.

/// A new page with step timeouts, whose console errors, script errors, failed loads and
/// HTTP errors from `issuer` are collected in the returned `problems` (unless `expected`
/// says so for a response or failed request).
export function watchPage(page, issuer, { expected = () => false } = {}) {
  page.setDefaultTimeout(STEP_TIMEOUT_MS);
  page.setDefaultNavigationTimeout(STEP_TIMEOUT_MS);
  const problems = [];
  page.on('console', (message) => {
    // Chromium also logs each HTTP error as a console error; the response handler below
    // reports those from the issuer (or knows they are expected).
    const source = message.location()?.url;
    if (
      message.text().startsWith('Failed to load resource: the server responded with a status of') &&
      source &&
      URL.canParse(source) &&
      new URL(source).origin === issuer
    ) {
      return;
    }
    if (message.type() === 'error' || message.type() === 'warning') {
      problems.push(`console ${message.type()} on ${page.url()}: ${message.text()}`);
    }
  });
  page.on('pageerror', (error) => problems.push(`page error on ${page.url()}: ${error.message}`));
  page.on('requestfailed', (request) => {
    if (expected({ request, failed: true })) return;
    problems.push(`request failed: ${request.method()} ${request.url()}: ${request.failure()?.errorText}`);
  });
  page.on('response', (response) => {
    const url = new URL(response.url());
    if (url.origin === issuer && response.status() >= 400 && !expected({ request: response.request(), response })) {
      problems.push(`HTTP ${response.status()} for ${response.request().method()} ${response.url()}`);
    }
  });
  return problems;
}

/// Lets the browser context reach `issuer` only; `other(route, url)` may answer a request
/// for anything else (returning true), otherwise it is aborted and listed in the returned
/// array.
export async function confine(context, issuer, other = async () => false) {
  const offHost = [];
  await context.route('**/*', async (route) => {
    const url = new URL(route.request().url());
    if (url.origin === issuer) {
      await route.continue();
    } else if (!(await other(route, url))) {
      offHost.push(route.request().url());
      await route.abort('blockedbyclient');
    }
  });
  return offHost;
}
