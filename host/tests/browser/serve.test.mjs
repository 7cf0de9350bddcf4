// The chat page served by a real `nnedge serve` on the default model (SmolLM2-135M-Instruct),
// in Debian's Chromium: the API key prompt, a real streamed answer with its token counts,
// stopping a long reply, and screenshots at desktop and phone sizes.
//
// The server runs with an API key (through NNEDGE_API_KEY, never on the command line), so the
// page's key handling is checked against the real guest too.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';

import {
  BROWSER_PREREQUISITE, GUEST, NNEDGE, launchBrowser, missing, openPage, screenshot, skipOrFail,
  startServe,
} from './support.mjs';

const BUILD_HINT = 'build it with `cargo xtask build`';
const absent = missing([
  BROWSER_PREREQUISITE,
  ['the nnedge binary', NNEDGE, BUILD_HINT],
  ['the llama-api-server guest', GUEST, 'build the guests with `cargo xtask guests`'],
]);

/** The reply (the last message not from the user) once `#send` is enabled again. */
async function waitForReply(page) {
  await page.waitForFunction(() => !document.getElementById('send').disabled,
    null, { timeout: 120_000 });
  return page.locator('#log .msg:not(.user)').last();
}

describe('chat page on a real nnedge serve', () => {
  const key = randomBytes(12).toString('hex');
  let server;
  let browser;
  let page;
  let unavailable = absent;

  before(async () => {
    if (unavailable) return;
    server = await startServe({ NNEDGE_API_KEY: key });
    const response = await fetch(`${server.url}/`);
    if (response.status !== 200) {
      unavailable = `GET / answered ${response.status}: the guest at ${GUEST} was built without `
        + 'src/chat.html; rebuild the guests with `cargo xtask guests`';
      return;
    }
    assert.match(response.headers.get('content-type'), /^text\/html/);
    browser = await launchBrowser();
    page = await openPage(browser, server.url);
  });
  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  test('asks for the API key and lists the model', async (t) => {
    if (unavailable) return skipOrFail(t, unavailable);
    await page.locator('#key-dialog[open]').waitFor();
    await page.fill('#key-input', key);
    await page.click('#key-dialog button[value=ok]');
    await page.locator('#model option').first().waitFor({ state: 'attached' });
    assert.match(await page.inputValue('#model'), /SmolLM2/i);
  });

  test('streams the answer to "What is the capital of France?" with token counts', async (t) => {
    if (unavailable) return skipOrFail(t, unavailable);
    await page.click('summary');
    await page.fill('#temperature', '0');
    await page.fill('#max-tokens', '64');
    await page.locator('#max-tokens').blur();

    await page.fill('#prompt', 'What is the capital of France?');
    await page.click('#send');
    await page.waitForFunction(() =>
      /Paris/.test(document.querySelector('#log .msg.assistant .text')?.textContent ?? ''),
    null, { timeout: 120_000 });
    const reply = await waitForReply(page);
    const stats = await reply.locator('.stats').textContent();
    t.diagnostic(`reply: ${await reply.locator('.text').textContent()} [${stats}]`);
    const counts = stats.match(/^(\d+) prompt tokens · (\d+) reply tokens · ([\d.]+) tokens\/s/);
    assert.ok(counts, `no token counter in "${stats}"`);
    assert.ok(Number(counts[1]) > 5 && Number(counts[2]) > 0 && Number(counts[3]) > 0, stats);
    t.diagnostic(`screenshot: ${await screenshot(page, 'serve-desktop')}`);
  });

  test('stop ends a long reply mid-stream and the server answers the next question', async (t) => {
    if (unavailable) return skipOrFail(t, unavailable);
    await page.fill('#max-tokens', '2000');
    await page.locator('#max-tokens').blur();
    await page.click('#new-chat');

    await page.fill('#prompt', 'Tell me a very long story about a dragon who learns to bake bread.');
    await page.click('#send');
    const text = page.locator('#log .msg.assistant .text').last();
    await page.waitForFunction(() =>
      (document.querySelector('#log .msg.assistant:last-child .text')?.textContent ?? '').length > 40,
    null, { timeout: 120_000 });
    await page.click('#stop');
    const reply = await waitForReply(page);
    assert.equal(await reply.locator('.stats').textContent(), 'stopped');
    const stoppedAt = await text.textContent();
    await page.waitForTimeout(1000);
    assert.equal(await text.textContent(), stoppedAt, 'the reply kept growing after stop');

    // the slot was freed: a next question gets a complete answer
    await page.fill('#max-tokens', '16');
    await page.fill('#prompt', 'Say hello.');
    await page.click('#send');
    const next = await waitForReply(page);
    assert.match(await next.locator('.stats').textContent(), /reply tokens/);
  });

  test('reads well on a phone-sized screen', async (t) => {
    if (unavailable) return skipOrFail(t, unavailable);
    await page.setViewportSize({ width: 390, height: 844 });
    const overflow = await page.evaluate(() =>
      document.documentElement.scrollWidth - document.documentElement.clientWidth);
    assert.equal(overflow, 0, 'the page scrolls sideways');
    t.diagnostic(`screenshot: ${await screenshot(page, 'serve-phone')}`);
    assert.deepEqual(page.problems, []);
  });
});
