'use strict';
// Smoke tests of the browser-test infrastructure itself: a real stack
// answers, Debian's Chromium opens the page cleanly, and the buffering proxy
// really is hostile to streams (the property later scenario tests rely on
// when they check that the UI falls back to long-polling).

const { describe, test, before } = require('node:test');
const assert = require('node:assert/strict');
const h = require('./harness');

// Bounds for hooks and tests; tests/browser/run also passes
// --test-timeout=120000 as an outer bound.
const HOOK_TIMEOUT = { timeout: 60000 };
const TEST_TIMEOUT = { timeout: 60000 };

// How long a stream through the proxy must stay silent. The stream's
// preamble leaves the backend at once (see the direct test), so 3 s of
// silence is not a slow start.
const SILENCE_MS = 3000;

// The directive that governs scripts: script-src, or default-src without it.
function scriptSrc(csp) {
  const directives = new Map(
    csp
      .split(';')
      .map((d) => d.trim().split(/\s+/))
      .filter((parts) => parts[0])
      .map(([name, ...values]) => [name.toLowerCase(), values]),
  );
  return directives.get('script-src') || directives.get('default-src') || null;
}

const f = h.fixture({ proxy: true });

describe('smoke', () => {
  let token; // a session for the stream and poll checks

  before(async () => {
    ({ token } = await h.apiRegister(f.stack.url, h.uniqueName('smoke')));
  }, HOOK_TIMEOUT);

  test('GET / is HTML with the security headers', TEST_TIMEOUT, f.logged(async () => {
    const res = await fetch(`${f.stack.url}/`, { signal: AbortSignal.timeout(5000) });
    const body = await res.text();
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') || '', /^text\/html/);
    assert.match(body, /<html/i);

    const csp = res.headers.get('content-security-policy');
    assert.ok(csp, 'Content-Security-Policy header is missing');
    const scripts = scriptSrc(csp);
    assert.ok(scripts, `CSP sets neither script-src nor default-src: ${csp}`);
    assert.ok(!scripts.includes("'unsafe-inline'"), `script-src allows inline scripts: ${csp}`);

    assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
    assert.ok(res.headers.get('referrer-policy'), 'Referrer-Policy header is missing');
  }));

  test('Chromium opens / with no errors', TEST_TIMEOUT, f.logged(async () => {
    const page = await f.browser.newPage();
    try {
      // Console errors include CSP violations and failed loads (a missing
      // script or stylesheet), which is what a broken page mostly shows.
      // Chromium also logs every 4xx answer as "Failed to load resource";
      // from the API those are answers the page handles (the signed-out page
      // asks /api/me and gets 401), so only those are let through.
      const errors = [];
      page.on('console', (msg) => {
        if (msg.type() !== 'error') return;
        const apiAnswer =
          /^Failed to load resource: the server responded with a status of 4\d\d/.test(msg.text()) &&
          new URL(msg.location().url || 'about:blank', f.stack.url).pathname.startsWith('/api/');
        if (!apiAnswer) errors.push(`console: ${msg.text()} (${msg.location().url || 'no url'})`);
      });
      page.on('pageerror', (err) => errors.push(`page error: ${err.message}`));

      const res = await page.goto(`${f.stack.url}/`, { waitUntil: 'load' });
      assert.equal(res.status(), 200);
      assert.match(await page.title(), /Parley/);
      // Late errors (scripts that run after load) get a moment to show up.
      await h.sleep(500);
      assert.deepEqual(errors, []);
    } finally {
      await page.context().close();
    }
  }));

  test('direct stream says hello at once', TEST_TIMEOUT, f.logged(async () => {
    const started = Date.now();
    const r = await h.readStream(`${f.stack.url}/events/stream`, {
      headers: { Authorization: `Bearer ${token}`, 'Accept-Encoding': 'gzip' },
      ms: 5000,
      until: (text) => text.includes('event: hello'),
    });
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type') || '', /^text\/event-stream/);
    assert.ok(r.done, `no hello within 5 s; got ${JSON.stringify(r.text.slice(-300))}`);
    assert.ok(Date.now() - started < 2000, `hello took ${Date.now() - started} ms`);
  }));

  test('through the buffering proxy a stream is silent, a poll is not', TEST_TIMEOUT, f.logged(async () => {
    // Accept-Encoding as a browser sends it: the proxy holds the stream back
    // by compressing it (see startBufferingProxy).
    const headers = { Authorization: `Bearer ${token}`, 'Accept-Encoding': 'gzip, deflate' };
    const stream = await h.readStream(`${f.proxy.url}/events/stream`, {
      headers,
      ms: SILENCE_MS,
      until: (text) => text.length > 0,
    });
    assert.equal(stream.text, '', `the proxy let stream data through: ${JSON.stringify(stream.text.slice(0, 200))}`);

    // since=0 replays this user's events (at least its own "user" event), so
    // the poll answers at once; timeout=1 bounds it anyway.
    const res = await fetch(`${f.proxy.url}/events/poll?since=0&timeout=1`, {
      headers,
      signal: AbortSignal.timeout(5000),
    });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') || '', /^application\/json/);
    const body = await res.json();
    assert.equal(typeof body.epoch, 'string');
    assert.ok(Array.isArray(body.events), `no events array: ${JSON.stringify(body)}`);
    assert.equal(typeof body.next, 'number');
  }));

  test('in Chromium, EventSource gets hello directly and nothing through the proxy', TEST_TIMEOUT, f.logged(async () => {
    const context = await f.browser.newContext();
    try {
      // The session cookie the UI would get from signing in. Cookies ignore
      // the port, so it serves the stack and the proxy alike.
      await context.addCookies([{ name: 'parley_session', value: token, domain: '127.0.0.1', path: '/' }]);
      const page = await context.newPage();

      // Opens an EventSource on the page's origin and reports, after `ms` or
      // at the first hello, what it saw.
      const listen = (ms) =>
        page.evaluate(
          (ms) =>
            new Promise((resolve) => {
              const seen = { open: false, hello: false, errors: 0 };
              const es = new EventSource('/events/stream');
              const done = () => {
                es.close();
                resolve(seen);
              };
              es.onopen = () => (seen.open = true);
              es.onerror = () => seen.errors++;
              es.addEventListener('hello', () => {
                seen.hello = true;
                done();
              });
              setTimeout(done, ms);
            }),
          ms,
        );

      // The page itself comes through the proxy (compressed).
      await page.goto(`${f.proxy.url}/`);
      assert.match(await page.title(), /Parley/);

      // The streams are opened from /api/health, a same-origin document
      // without the UI's scripts, so the UI's own connection (it is signed
      // in by the cookie) does not get in the way.
      await page.goto(`${f.stack.url}/api/health`);
      const direct = await listen(5000);
      assert.ok(direct.hello, `no hello directly: ${JSON.stringify(direct)}`);

      await page.goto(`${f.proxy.url}/api/health`);
      const proxied = await listen(SILENCE_MS);
      assert.deepEqual(proxied, { open: false, hello: false, errors: 0 });
    } finally {
      await context.close();
    }
  }));
});
