// Shared pieces of the browser tests: where things are, Debian's Chromium under Playwright,
// a real `nnedge serve` on 127.0.0.1, and the skip-or-fail rule for missing prerequisites.
//
// Paths come from the environment, with the development cache as fallback (as in host/tests/api):
// - NNEDGE_BIN: the nnedge binary (default $NNEDGE_CACHE/target/host/release/nnedge)
// - NNEDGE_GUEST_DIR: built guests (default $NNEDGE_CACHE/guests)
// - NNEDGE_CHROMIUM: the browser (default /usr/bin/chromium, Debian's `chromium` package)
// - NNEDGE_ARTIFACT_DIR: where screenshots go (default $NNEDGE_CACHE/target/browser)

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { chromium } from 'playwright-core';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const CHAT_PAGE = path.join(REPO, 'guest-apps/llama-api-server/src/chat.html');
const CACHE = process.env.NNEDGE_CACHE || path.join(os.homedir(), '.cache/nnedge');
export const NNEDGE = process.env.NNEDGE_BIN || path.join(CACHE, 'target/host/release/nnedge');
export const GUEST = path.join(process.env.NNEDGE_GUEST_DIR || path.join(CACHE, 'guests'),
  'llama-api-server.wasm');
export const CHROMIUM = process.env.NNEDGE_CHROMIUM || '/usr/bin/chromium';
export const ARTIFACTS = process.env.NNEDGE_ARTIFACT_DIR || path.join(CACHE, 'target/browser');

/** The flags the project starts Chromium with (issue #9), besides a fresh user data dir. */
const CHROMIUM_FLAGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--disable-quic',
];

/** Seconds `nnedge serve` may take to load the model and print its ready line. */
const SERVE_STARTUP_SECONDS = 180;

/**
 * Why the tests cannot run here (a message), or null when they can. With CI set, a missing
 * prerequisite is an error instead: the caller throws the message.
 */
export function missing(paths) {
  for (const [what, file, hint] of paths) {
    if (!fs.existsSync(file)) return `${what} not found at ${file}; ${hint}`;
  }
  return null;
}

/** Skips the test `t` with `message`, or fails it when the environment variable CI is set. */
export function skipOrFail(t, message) {
  if (process.env.CI) throw new Error(`${message} (CI is set, so this fails)`);
  t.skip(message);
}

export const BROWSER_PREREQUISITE = ['Chromium', CHROMIUM, 'install Debian\'s `chromium` package'];

/** Debian's Chromium with a fresh user data dir; `close()` removes the dir too. */
export async function launchBrowser() {
  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'nnedge-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_FLAGS,
    viewport: { width: 1024, height: 720 },
  });
  return {
    context,
    async close() {
      await context.close();
      fs.rmSync(userDataDir, { recursive: true, force: true });
    },
  };
}

/**
 * A page that records as problems any script error, `alert`/`confirm`/`prompt`, and any
 * request to another origin than `url`'s (the page must work offline).
 */
export async function openPage(browser, url) {
  const page = await browser.context.newPage();
  page.problems = [];
  const origin = new URL(url).origin;
  page.on('request', (request) => {
    if (new URL(request.url()).origin !== origin) page.problems.push(`request to ${request.url()}`);
  });
  page.on('pageerror', (error) => page.problems.push(`page error: ${error.message}`));
  page.on('dialog', async (dialog) => {
    page.problems.push(`unexpected ${dialog.type()} dialog: ${dialog.message()}`);
    await dialog.dismiss();
  });
  await page.goto(url);
  return page;
}

/** Saves a PNG screenshot of `page` under the artifact dir; returns its path. */
export async function screenshot(page, name) {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  const file = path.join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

/** A free TCP port on 127.0.0.1. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

/**
 * Starts `nnedge serve --port P` on the default model and waits for its ready line.
 * `env` adds environment variables (e.g. NNEDGE_API_KEY, which never goes on the command line).
 */
export async function startServe(env = {}) {
  const port = await freePort();
  const args = ['serve', '--host', '127.0.0.1', '--port', String(port), '--ctx-size', '2048'];
  const child = spawn(NNEDGE, args, {
    env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  const stderr = [];
  child.stderr.on('data', (bytes) => {
    stderr.push(bytes);
    if (stderr.length > 200) stderr.shift();
  });
  const stop = () => new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    const force = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.once('exit', () => { clearTimeout(force); resolve(); });
    child.kill('SIGTERM');
  });

  // The ready line on stdout, or an early exit, or the deadline.
  const ready = await new Promise((resolve) => {
    let stdout = '';
    const timer = setTimeout(() => resolve('no ready line in time'), SERVE_STARTUP_SECONDS * 1000);
    child.stdout.on('data', (bytes) => {
      stdout += bytes;
      if (stdout.includes('ready on')) { clearTimeout(timer); resolve(null); }
    });
    child.once('exit', (code) => { clearTimeout(timer); resolve(`exited with ${code}`); });
  });
  if (ready) {
    await stop();
    throw new Error(`nnedge serve ${ready}; stderr:\n${Buffer.concat(stderr).toString()}`);
  }
  child.stdout.resume();
  return { url: `http://127.0.0.1:${port}`, stop };
}
