'use strict';
// Ten tabs of one person over plain HTTP/1.1 (issue 12 item 7). A browser
// opens at most six connections to one host; with an event stream per tab
// the seventh tab, and every request it makes, would wait forever. The tabs
// share one stream (tabs.js): the leader holds it and relays its events over
// a BroadcastChannel, and a tab takes over when the leader closes. Also the
// round-trip time beside the connection badge (item 8), from /api/health.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const h = require('./harness');
const ui = require('./ui');

const TABS = 10;
const f = h.fixture();
const logged = f.logged;

// parley-events' own count of open streams (loopback only, as here).
async function streams() {
  const res = await fetch(`${f.stack.url}/events/stats`, { signal: AbortSignal.timeout(5000) });
  return (await res.json()).connections.stream;
}

async function waitForStreams(n, timeoutMs = 15000) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    last = await streams();
    if (last === n) return;
    await h.sleep(200);
  }
  assert.fail(`expected ${n} open streams, parley-events counts ${last}`);
}

// The tabs that hold the stream themselves (the others say "shared").
async function leaders(tabs) {
  const modes = await Promise.all(tabs.map((t) => t.page.evaluate(() => window.Parley.state.transport.mode())));
  return tabs.filter((t, i) => modes[i] !== 'shared');
}

test(`${TABS} tabs over plain HTTP share one stream, all receive and all send`, logged(async () => {
  assert.match(f.stack.url, /^http:\/\/127\.0\.0\.1:/);
  const rae = await ui.openAs(f.browser, f.stack.url, h.uniqueName('rae'));
  const tabs = [rae];
  for (let i = 1; i < TABS; i++) tabs.push({ ...(await ui.newTab(rae.ctx, f.stack.url)), ctx: rae.ctx });
  const sid = await ui.openAs(f.browser, f.stack.url, h.uniqueName('sid'));
  for (const t of tabs) await ui.waitForStatus(t.page, 'live', 20000);
  // One stream for rae's ten tabs, one for sid.
  await waitForStreams(2);
  assert.equal((await leaders(tabs)).length, 1);

  await ui.sendAndSee(sid.page, 'every tab hears this', ...tabs.map((t) => t.page));
  // Every tab sends with its own requests, and the others see it live.
  for (let i = 0; i < TABS; i++) await ui.send(tabs[i].page, `from tab ${i}`);
  for (let i = 0; i < TABS; i++) {
    await ui.assertShownOnce(sid.page, `from tab ${i}`);
    await ui.assertShownOnce(tabs[(i + 1) % TABS].page, `from tab ${i}`);
  }

  // The leader closes: another tab takes the stream over from its cursor.
  const [leader] = await leaders(tabs);
  const rest = tabs.filter((t) => t !== leader);
  await leader.page.close();
  await ui.sendAndSee(sid.page, 'after the leader left', ...rest.map((t) => t.page));
  await waitForStreams(2);
  assert.equal((await leaders(rest)).length, 1);
  for (const t of rest) await ui.waitForStatus(t.page, 'live', 20000);
  await ui.finish(...rest, sid);
}));

test('the header shows the round-trip time, measured without sending messages', logged(async () => {
  const tom = await ui.openAs(f.browser, f.stack.url, h.uniqueName('tom'));
  const asked = [];
  tom.page.on('request', (r) => asked.push(`${r.method()} ${new URL(r.url()).pathname}`));
  await ui.waitForStatus(tom.page, 'live');
  await tom.page.locator('#rtt', { hasText: /^\d+ ms$/ }).waitFor();
  await tom.page.evaluate(() => window.Parley.ping());
  await h.sleep(500);
  assert.ok(asked.includes('GET /api/health'), asked.join(', '));
  assert.ok(!asked.some((a) => /^POST .*\/messages$/.test(a)), asked.join(', '));
  assert.match(await tom.page.locator('#rtt').textContent(), /^\d+ ms$/);
  await ui.finish(tom);
}));
