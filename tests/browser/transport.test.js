'use strict';
// The page keeps chatting when Server-Sent Events cannot work: without
// EventSource at all, and behind a proxy that buffers the stream (the page
// notices the missing hello and falls back to long-poll by itself); and
// across a restart of the push daemon, from the last event id, and across
// an upgrade of it in place.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const h = require('./harness');
const ui = require('./ui');

const f = h.fixture({ proxy: true, stack: { eventsCopy: true } });
const logged = f.logged;

test('without EventSource, messages still arrive by long-poll', logged(async () => {
  const noSse = { initScript: 'delete window.EventSource;' };
  const lou = await ui.openAs(f.browser, f.stack.url, h.uniqueName('lou'), noSse);
  const mia = await ui.openAs(f.browser, f.stack.url, h.uniqueName('mia'));
  assert.equal(await lou.page.evaluate(() => typeof window.EventSource), 'undefined');
  await ui.waitForStatus(lou.page, 'long-poll');
  await ui.waitForStatus(mia.page, 'live');

  await ui.sendAndSee(mia.page, 'can you hear me by long-poll?', lou.page);
  await ui.sendAndSee(lou.page, 'loud and clear', mia.page, lou.page);
  // Several in a row, each once and in order, across re-polls. Each send
  // waits for its stored copy: sends in flight together may be stored in
  // any order, and the page rightly shows the stored order.
  for (let i = 1; i <= 5; i++) {
    await ui.send(mia.page, `burst ${i}`);
    await mia.page.locator('#messages .pending').waitFor({ state: 'detached' });
  }
  await ui.waitForMessage(lou.page, 'burst 5');
  const texts = await lou.page.locator('#messages .msg .text').allTextContents();
  assert.deepEqual(texts.filter((t) => t.startsWith('burst ')), ['burst 1', 'burst 2', 'burst 3', 'burst 4', 'burst 5']);
  await ui.finish(lou, mia);
}));

test('behind a buffering proxy the page falls back to long-poll by itself', logged(async () => {
  const ned = await ui.openAs(f.browser, f.proxy.url, h.uniqueName('ned'));
  const ola = await ui.openAs(f.browser, f.stack.url, h.uniqueName('ola'));
  // EventSource exists, but the proxy holds the stream's hello back.
  assert.equal(await ned.page.evaluate(() => typeof window.EventSource), 'function');
  const started = Date.now();
  await ui.waitForStatus(ned.page, 'long-poll', 12000);
  const fellBackAfter = Date.now() - started;
  assert.ok(fellBackAfter < 12000, `fell back after ${fellBackAfter} ms`);

  await ui.send(ola.page, 'through the proxy?');
  const sent = Date.now();
  await ui.waitForMessage(ned.page, 'through the proxy?', 5000);
  assert.ok(Date.now() - sent < 5000);
  await ui.sendAndSee(ned.page, 'yes, by long-poll', ola.page, ned.page);
  await ui.finish(ned, ola);
}));

// Two pages, a reader and a sender; `disrupt()` (a promise) takes the push
// daemon away while the sender sends two messages, after `whileDown(reader)`.
// The reader must show all four messages once, in order, and be live again.
// Returns the reader's failed /events/ requests.
async function acrossADisruption(what, disrupt, whileDown = async () => {}) {
  const reader = await ui.openAs(f.browser, f.stack.url, h.uniqueName('pia'));
  const sender = await ui.openAs(f.browser, f.stack.url, h.uniqueName('quinn'));
  await ui.waitForStatus(reader.page, 'live');
  await ui.sendAndSee(sender.page, `before the ${what}`, reader.page);
  const failed = [];
  reader.page.on('response', (r) => {
    if (r.url().includes('/events/') && r.status() !== 200) failed.push(`${r.status()} ${r.url()}`);
  });
  const done = disrupt();
  await whileDown(reader);
  await ui.send(sender.page, `during the ${what} 1`);
  // Stored before the next is sent: two sends at once may be stored in
  // either order (two workers), and the page shows them in stored order.
  await ui.waitForMessage(sender.page, `during the ${what} 1`);
  await ui.send(sender.page, `during the ${what} 2`);
  await done;
  await ui.waitForStatus(reader.page, 'live', 20000);
  await ui.assertShownOnce(reader.page, `during the ${what} 1`);
  await ui.assertShownOnce(reader.page, `during the ${what} 2`);
  await ui.sendAndSee(sender.page, `after the ${what}`, reader.page);
  const texts = await reader.page.locator('#messages .msg .text').allTextContents();
  assert.deepEqual(texts.slice(-4), [`before the ${what}`, `during the ${what} 1`, `during the ${what} 2`,
    `after the ${what}`]);
  await ui.finish(reader, sender);
  return failed;
}

// Down for 3 s: the API still takes messages; the page says so and keeps
// retrying (1 s, 2 s, ...) from its last event id.
test('when the push daemon restarts, the page reconnects and misses nothing', logged(async () => {
  await acrossADisruption('restart', () => f.stack.restartEvents(3000),
    (reader) => ui.waitForStatus(reader.page, 'reconnecting'));
}));

// An upgrade in place (events/reexec.h): the stream ends with a retry
// hint, the page reconnects to the new binary from its last event id, and
// messages sent meanwhile arrive once, in order. The reconnect finds the
// socket there: no request to /events/ fails (a restart here gave 502s on
// the stream and the page's fallback poll).
test('when the push daemon is upgraded in place, the page reconnects and misses nothing', logged(async () => {
  const failed = await acrossADisruption('upgrade', () => f.stack.upgradeEvents());
  assert.deepEqual(failed, [], 'no request to /events/ failed during the upgrade');
}));
