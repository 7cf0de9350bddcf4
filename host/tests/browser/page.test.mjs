// The chat page's behaviour in Debian's Chromium against the scripted stub server
// (stub_server.mjs): safe rendering, UTF-8 across reads, usage, settings, stop, new chat,
// errors, API key and a phone-sized screen. serve.test.mjs runs it against the real server.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { HTML_REPLY, MODELS, UNICODE_REPLY, startStub } from './stub_server.mjs';
import {
  BROWSER_PREREQUISITE, launchBrowser, missing, openPage, screenshot, skipOrFail,
} from './support.mjs';

const absent = missing([BROWSER_PREREQUISITE]);

/** Types `text` into the composer, sends it and waits until the reply has finished. */
async function ask(page, text) {
  const replies = page.locator('#log .msg:not(.user)');
  const before = await replies.count();
  await page.fill('#prompt', text);
  await page.press('#prompt', 'Enter');
  await replies.nth(before).waitFor();
  await page.waitForFunction(() => !document.getElementById('send').disabled);
  return replies.nth(before);
}

describe('chat page against the stub server', () => {
  let browser;
  let stub;

  before(async () => {
    if (absent) return;
    browser = await launchBrowser();
    stub = await startStub();
  });
  after(async () => {
    await browser?.close();
    await stub?.close();
  });

  /** A fresh page for each test; storage is per origin, so tests reset it first. */
  async function freshPage(t) {
    if (absent) return skipOrFail(t, absent);
    const page = await openPage(browser, stub.url);
    await page.evaluate(() => { localStorage.clear(); sessionStorage.clear(); });
    await page.reload();
    await page.locator('#model option').first().waitFor({ state: 'attached' });
    t.after(() => page.close());
    return page;
  }

  test('a reply containing HTML shows as text and runs nothing', async (t) => {
    const page = await freshPage(t);
    if (!page) return;

    const reply = await ask(page, 'show me some html');
    assert.equal(await reply.locator('.text').textContent(), HTML_REPLY);
    assert.equal(await page.locator('#log img, #log script, #log b').count(), 0);

    // the rendering function itself, given the string directly
    const html = await page.evaluate(() => {
      const item = window.nnedgeChat.addMessage('assistant', '<img src=x onerror=alert(1)>');
      return item.querySelector('.text').innerHTML;
    });
    assert.equal(html, '&lt;img src=x onerror=alert(1)&gt;');
    await page.waitForTimeout(300);
    assert.equal(await page.locator('#log img').count(), 0);
    t.diagnostic(`screenshot: ${await screenshot(page, 'stub-html-as-text')}`);
    assert.deepEqual(page.problems, []);
  });

  test('CJK and emoji split across network reads arrive intact', async (t) => {
    const page = await freshPage(t);
    if (!page) return;

    const reply = await ask(page, 'unicode please');
    assert.equal(await reply.locator('.text').textContent(), UNICODE_REPLY);
    assert.deepEqual(page.problems, []);
  });

  test('the usage chunk gives token counts and tokens/s', async (t) => {
    const page = await freshPage(t);
    if (!page) return;

    const reply = await ask(page, 'count my tokens');
    assert.equal(await reply.locator('.text').textContent(), 'You said: count my tokens');
    const stats = await reply.locator('.stats').textContent();
    assert.match(stats, /^11 prompt tokens · 3 reply tokens · \d+(\.\d)? tokens\/s$/);
  });

  test('settings are remembered and sent with the request', async (t) => {
    const page = await freshPage(t);
    if (!page) return;
    assert.deepEqual(await page.locator('#model option').allTextContents(), MODELS);

    await page.click('summary');
    await page.selectOption('#model', 'stub-large');
    await page.fill('#temperature', '0.2');
    await page.fill('#max-tokens', '42');
    await page.fill('#system', 'Answer briefly.');
    await page.locator('#system').blur();
    await page.reload();
    await page.locator('#model option').first().waitFor({ state: 'attached' });
    assert.equal(await page.inputValue('#model'), 'stub-large');
    assert.equal(await page.inputValue('#temperature'), '0.2');
    assert.equal(await page.inputValue('#max-tokens'), '42');
    assert.equal(await page.inputValue('#system'), 'Answer briefly.');

    await ask(page, 'hello');
    const { body } = stub.chatRequests().at(-1);
    assert.deepEqual(body, {
      model: 'stub-large',
      messages: [{ role: 'system', content: 'Answer briefly.' }, { role: 'user', content: 'hello' }],
      stream: true,
      stream_options: { include_usage: true },
      temperature: 0.2,
      max_tokens: 42,
    });
  });

  test('stop ends the stream and the server sees the client go', async (t) => {
    const page = await freshPage(t);
    if (!page) return;

    await page.fill('#prompt', 'an endless reply');
    await page.click('#send');
    const text = page.locator('#log .msg.assistant .text');
    await page.waitForFunction(() =>
      (document.querySelector('#log .msg.assistant .text')?.textContent ?? '').includes('word3 '));
    await page.click('#stop');
    await page.locator('#log .msg.assistant .stats').waitFor();
    assert.equal(await page.locator('#log .msg.assistant .stats').textContent(), 'stopped');

    const stoppedAt = await text.textContent();
    await page.waitForTimeout(400);
    assert.equal(await text.textContent(), stoppedAt, 'text kept growing after stop');
    assert.ok(await page.isEnabled('#send') && await page.isDisabled('#stop'));
    const request = stub.chatRequests().at(-1);
    assert.ok(request.disconnected, 'the stub never saw the connection close');

    // the partial reply stays in the history of the next turn
    await ask(page, 'and now?');
    const roles = stub.chatRequests().at(-1).body.messages.map((m) => m.role);
    assert.deepEqual(roles, ['user', 'assistant', 'user']);
  });

  test('new chat clears the view and the history sent', async (t) => {
    const page = await freshPage(t);
    if (!page) return;

    await ask(page, 'first');
    await page.click('#new-chat');
    assert.equal(await page.locator('#log .msg').count(), 0);
    await ask(page, 'second');
    assert.deepEqual(stub.chatRequests().at(-1).body.messages, [{ role: 'user', content: 'second' }]);
  });

  test('an error answer shows its message and is left out of the history', async (t) => {
    const page = await freshPage(t);
    if (!page) return;

    const reply = await ask(page, 'please fail');
    assert.equal(await reply.getAttribute('class'), 'msg error');
    assert.equal(await reply.locator('.text').textContent(), '400: the stub refuses this request');
    await ask(page, 'again');
    assert.deepEqual(stub.chatRequests().at(-1).body.messages, [{ role: 'user', content: 'again' }]);

    // an error event after the stream began keeps the text received so far
    await page.click('#new-chat');
    const broken = await ask(page, 'a broken stream');
    assert.equal(await broken.getAttribute('class'), 'msg error');
    assert.equal(await broken.locator('.text').textContent(), 'Half an answer\n\nthe backend failed');
  });

  test('the page fits a phone-sized screen', async (t) => {
    const page = await freshPage(t);
    if (!page) return;

    await page.setViewportSize({ width: 360, height: 740 });
    await ask(page, 'a long unbroken word: ' + 'x'.repeat(200));
    await ask(page, 'unicode on a phone');
    const overflow = await page.evaluate(() =>
      document.documentElement.scrollWidth - document.documentElement.clientWidth);
    assert.equal(overflow, 0, 'the page scrolls sideways');
    const send = await page.locator('#send').boundingBox();
    assert.ok(send.x + send.width <= 360 && send.y + send.height <= 740, 'send button off screen');
    t.diagnostic(`screenshot: ${await screenshot(page, 'stub-phone')}`);
  });
});

describe('chat page with an API key (stub server)', () => {
  test('asks for the key once on a 401, keeps it for the tab, sends it as a bearer token',
    async (t) => {
      if (absent) return skipOrFail(t, absent);
      const key = `test-${Math.random().toString(36).slice(2)}`;
      const stub = await startStub({ apiKey: key });
      const browser = await launchBrowser();
      t.after(async () => { await browser.close(); await stub.close(); });

      const page = await openPage(browser, stub.url);
      await page.locator('#key-dialog[open]').waitFor();
      await page.fill('#key-input', key);
      await page.press('#key-input', 'Enter');
      await page.locator('#model option').first().waitFor({ state: 'attached' });
      const reply = await ask(page, 'secret hello');
      assert.equal(await reply.locator('.text').textContent(), 'You said: secret hello');
      assert.equal(stub.chatRequests().at(-1).authorization, `Bearer ${key}`);

      // a reload in the same tab keeps the key: no second question
      await page.reload();
      await page.locator('#model option').first().waitFor({ state: 'attached' });
      assert.equal(await page.locator('#key-dialog[open]').count(), 0);
      assert.deepEqual(stub.requests.map((r) => r.path), [
        '/v1/models', '/v1/models', '/v1/chat/completions', '/v1/models',
      ], 'no request beyond the API calls (no favicon, nothing external)');
      const unauthorized = stub.requests.filter((r) => r.authorization !== `Bearer ${key}`);
      assert.equal(unauthorized.length, 1, 'only the first request went without the key');
      assert.deepEqual(page.problems, []);
    });
});
