'use strict';
// The page over HTTPS and HTTP/2 (PARLEY_TLS=on, the self-signed certificate
// tools/nginx-conf makes): a person with eight tabs open at once receives
// every message live in each of them. Over HTTP/1.1 a browser opens at most
// six connections to one host, and each tab's event stream holds one, so the
// seventh tab would wait forever; HTTP/2 carries them all over one
// connection.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const h = require('./harness');
const ui = require('./ui');

const TABS = 8;
const f = { stack: null, browser: null };
before(async () => {
  f.stack = await h.startStack({ tls: true });
  f.browser = await h.launchBrowser({ context: { ignoreHTTPSErrors: true } });
});
after(async () => {
  if (f.browser) await f.browser.close();
  if (f.stack) await f.stack.stop();
});
const logged = (fn) => h.withLogs(fn, () => f.stack);

test(`over HTTPS and HTTP/2, ${TABS} tabs of one person all receive live messages`, logged(async () => {
  assert.match(f.stack.url, /^https:\/\/127\.0\.0\.1:/);
  const rae = await ui.openAs(f.browser, f.stack.url, h.uniqueName('rae'));
  const tabs = [rae];
  for (let i = 1; i < TABS; i++) tabs.push({ ...(await ui.newTab(rae.ctx, f.stack.url)), ctx: rae.ctx });
  const sid = await ui.openAs(f.browser, f.stack.url, h.uniqueName('sid'));

  for (const t of tabs) {
    await ui.waitForStatus(t.page, 'live', 20000);
    assert.equal(await t.page.evaluate(() => performance.getEntriesByType('navigation')[0].nextHopProtocol), 'h2');
    assert.equal(await t.page.evaluate(() => window.isSecureContext), true);
  }
  // The session cookie is Secure (and still HttpOnly).
  const cookie = (await rae.ctx.cookies()).find((c) => c.name === 'parley_session');
  assert.ok(cookie && cookie.secure && cookie.httpOnly, JSON.stringify(cookie));

  await ui.sendAndSee(sid.page, 'every tab hears this', ...tabs.map((t) => t.page));
  // And back: a cookie-authenticated send from the last tab passes the CSRF
  // check with the https origin.
  await ui.sendAndSee(tabs[TABS - 1].page, 'sent from the last tab', sid.page, tabs[0].page);
  await ui.finish(...tabs, sid);
}));
