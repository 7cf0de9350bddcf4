// A scripted stand-in for the API server guest, on 127.0.0.1, for the page behaviours a real
// model cannot be made to show on demand: HTML in a reply, UTF-8 characters split across
// network reads, an endless reply to stop, an error, an API key. It serves the real
// chat.html and frames its streams as the guest does (guest-apps/llama-api-server/src/job.rs):
// a role chunk, content chunks, a finish chunk, a usage chunk with no choices, `[DONE]`.
//
// What it answers depends on the last user message:
// - contains "html": a reply with markup in it, split mid-tag across chunks;
// - contains "unicode": UNICODE_REPLY, written a few bytes at a time (characters split);
// - contains "endless": a word every 40 ms until the client goes away;
// - contains "fail": a 400 error in OpenAI's JSON shape;
// - contains "broken": some text, then an error event inside the stream (as the guest sends
//   when generation fails after the stream began);
// - anything else: "You said: <message>" in three chunks.

import fs from 'node:fs';
import http from 'node:http';

import { CHAT_PAGE } from './support.mjs';

export const HTML_REPLY = 'Try <img src=x onerror=alert(1)> and <script>alert(2)</script> & <b>bold</b>';
export const UNICODE_REPLY = '東京は日本の首都です。🗼🇯🇵 Ünïcödé ✓ 👩‍💻';
export const MODELS = ['stub-small', 'stub-large'];

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Starts the stub; `apiKey` makes every route but `/` demand `Authorization: Bearer <key>`.
 * Returns `{ url, requests, close }`; `requests` records each API request as
 * `{ method, path, authorization, body, disconnected }`.
 */
export async function startStub({ apiKey } = {}) {
  const requests = [];
  const server = http.createServer((req, res) => {
    let raw = '';
    req.setEncoding('utf8');
    req.on('data', (piece) => { raw += piece; });
    req.on('end', () => answer(req, res, raw).catch((error) => res.destroy(error)));
  });

  async function answer(req, res, raw) {
    if (req.method === 'GET' && req.url === '/') {
      res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
      return res.end(fs.readFileSync(CHAT_PAGE));
    }
    const record = {
      method: req.method, path: req.url, authorization: req.headers.authorization ?? null,
      body: raw ? JSON.parse(raw) : null, disconnected: false,
    };
    requests.push(record);
    if (apiKey && req.headers.authorization !== `Bearer ${apiKey}`) {
      return sendError(res, 401, 'missing or incorrect API key', 'invalid_api_key');
    }
    if (req.method === 'GET' && req.url === '/v1/models') {
      const data = MODELS.map((id) => ({ id, object: 'model', created: 0, owned_by: 'stub' }));
      return sendJson(res, 200, { object: 'list', data });
    }
    if (req.method === 'POST' && req.url === '/v1/chat/completions') {
      res.on('close', () => { record.disconnected = !res.writableFinished; });
      return streamReply(res, record.body);
    }
    return sendError(res, 404, `no route for ${req.url}`, 'not_found');
  }

  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    requests,
    chatRequests: () => requests.filter((r) => r.path === '/v1/chat/completions'),
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(resolve); }),
  };
}

function sendJson(res, status, value) {
  res.writeHead(status, { 'Content-Type': 'application/json' });
  res.end(JSON.stringify(value));
}

function sendError(res, status, message, code) {
  sendJson(res, status, { error: { message, type: 'invalid_request_error', code } });
}

async function streamReply(res, body) {
  const users = body.messages.filter((m) => m.role === 'user');
  const last = users[users.length - 1]?.content ?? '';
  if (last.includes('fail')) return sendError(res, 400, 'the stub refuses this request', null);

  res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache' });
  const envelope = { id: 'chatcmpl-stub', object: 'chat.completion.chunk', created: 0,
    model: body.model, system_fingerprint: null, usage: null };
  const event = (choices, extra = {}) =>
    `data: ${JSON.stringify({ ...envelope, choices, ...extra })}\n\n`;
  const delta = (content) => [{ index: 0, delta: { content }, logprobs: null, finish_reason: null }];
  res.write(event([{ index: 0, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null }]));

  let pieces;
  if (last.includes('endless')) {
    for (let n = 0; n < 10000 && !res.destroyed; n++) {
      res.write(event(delta(`word${n} `)));
      await sleep(40);
    }
    return res.end();
  } else if (last.includes('unicode')) {
    // One event per character, sent 2 bytes at a time, so most characters straddle reads.
    const bytes = Buffer.from([...UNICODE_REPLY].map((c) => event(delta(c))).join(''));
    for (let at = 0; at < bytes.length; at += 2) {
      res.write(bytes.subarray(at, at + 2));
      await sleep(1);
    }
    pieces = [];
  } else if (last.includes('broken')) {
    res.write(event(delta('Half an answer')));
    await sleep(20);
    const error = { message: 'the backend failed', type: 'server_error', code: null };
    return res.end(`data: ${JSON.stringify({ error })}\n\ndata: [DONE]\n\n`);
  } else if (last.includes('html')) {
    pieces = ['Try <img src=x ', 'onerror=alert(1)> and <scr', 'ipt>alert(2)</script> & <b>bold</b>'];
  } else {
    pieces = ['You said: ', last.slice(0, last.length >> 1), last.slice(last.length >> 1)];
  }
  for (const piece of pieces) {
    res.write(event(delta(piece)));
    await sleep(20);
  }

  const completion = last.includes('unicode') ? [...UNICODE_REPLY].length : pieces.length;
  res.write(event([{ index: 0, delta: {}, logprobs: null, finish_reason: 'stop' }]));
  res.write(event([], { usage: { prompt_tokens: 11, completion_tokens: completion,
    total_tokens: 11 + completion } }));
  res.end('data: [DONE]\n\n');
}
