// Runs the end-to-end tests one after the other, each in its own node process (so one
// test's leftovers, late errors or exit cannot touch the next), and prints one summary
// line: `e2e: N passed, M failed`. Exit code 0 only if every test passed.
//
//   node all.mjs                 every test
//   node all.mjs device_flow     only the tests named
//
// Each test has its own limit (E2E_TIMEOUT_MS, 60 s) and stops what it started; a test
// process still there 20 s after that is sent SIGTERM (its harness then cleans up), and
// SIGKILL 10 s later. SIGINT/SIGTERM to this runner is passed on to the running test, and
// the tests not yet run are not started.

import { spawn } from 'node:child_process';
import path from 'node:path';
import { HERE, OVERALL_TIMEOUT_MS } from './lib.mjs';

const TESTS = ['login_consent', 'device_flow', 'demo_app', 'two_step', 'passkey'];

const wanted = process.argv.slice(2).map((name) => name.replace(/\.mjs$/, ''));
const unknown = wanted.filter((name) => !TESTS.includes(name));
if (unknown.length > 0) {
  console.error(`e2e: unknown test(s): ${unknown.join(', ')} (known: ${TESTS.join(', ')})`);
  process.exit(2);
}
const selected = wanted.length > 0 ? TESTS.filter((name) => wanted.includes(name)) : TESTS;

let current = null; // the running test's ChildProcess
let interrupted = null;
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    interrupted = signal;
    if (current && current.exitCode === null && current.signalCode === null) current.kill(signal);
  });
}

function runOne(name) {
  return new Promise((resolve) => {
    const started = performance.now();
    const child = spawn(process.execPath, [path.join(HERE, `${name}.mjs`)], { stdio: 'inherit' });
    current = child;
    let note = '';
    const term = setTimeout(() => {
      note = `still running after ${(OVERALL_TIMEOUT_MS + 20_000) / 1000} s: sent SIGTERM`;
      child.kill('SIGTERM');
    }, OVERALL_TIMEOUT_MS + 20_000);
    const kill = setTimeout(() => {
      note = `still running after ${(OVERALL_TIMEOUT_MS + 30_000) / 1000} s: sent SIGKILL`;
      child.kill('SIGKILL');
    }, OVERALL_TIMEOUT_MS + 30_000);
    const done = (code, signal, error) => {
      clearTimeout(term);
      clearTimeout(kill);
      current = null;
      const seconds = (performance.now() - started) / 1000;
      if (error) note = `could not start: ${error.message}`;
      else if (signal) note ||= `killed by ${signal}`;
      resolve({ name, passed: !error && code === 0, seconds, note });
    };
    child.once('error', (error) => done(null, null, error));
    child.once('exit', (code, signal) => done(code, signal, null));
  });
}

const results = [];
for (const name of selected) {
  if (interrupted) break;
  console.log(`--- ${name}`);
  results.push(await runOne(name));
}

const passed = results.filter((r) => r.passed).length;
const failed = results.length - passed + (interrupted ? selected.length - results.length : 0);
console.log('---');
for (const r of results) {
  console.log(`  ${r.passed ? 'passed' : 'FAILED'}  ${r.name.padEnd(14)} ${r.seconds.toFixed(1).padStart(5)} s${r.note ? `  (${r.note})` : ''}`);
}
for (const name of selected.slice(results.length)) {
  console.log(`  FAILED  ${name.padEnd(14)}     -    (not run: interrupted by ${interrupted})`);
}
console.log(`e2e: ${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
