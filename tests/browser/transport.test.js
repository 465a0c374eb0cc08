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

test('when the push daemon restarts, the page reconnects and misses nothing', logged(async () => {
  const pia = await ui.openAs(f.browser, f.stack.url, h.uniqueName('pia'));
  const quinn = await ui.openAs(f.browser, f.stack.url, h.uniqueName('quinn'));
  await ui.waitForStatus(pia.page, 'live');
  await ui.send(quinn.page, 'before the restart');
  await ui.waitForMessage(pia.page, 'before the restart');

  // Down for 3 s: the API still takes messages; the page says so and
  // keeps retrying (1 s, 2 s, ...) from its last event id.
  const restarted = f.stack.restartEvents(3000);
  await ui.waitForStatus(pia.page, 'reconnecting');
  await ui.send(quinn.page, 'while the daemon was down 1');
  // Stored before the next is sent: two sends at once may be stored in
  // either order (two workers), and the page shows them in stored order.
  await ui.waitForMessage(quinn.page, 'while the daemon was down 1');
  await ui.send(quinn.page, 'while the daemon was down 2');
  await restarted;
  await ui.waitForStatus(pia.page, 'live', 20000);
  await ui.assertShownOnce(pia.page, 'while the daemon was down 1');
  await ui.assertShownOnce(pia.page, 'while the daemon was down 2');
  await ui.sendAndSee(quinn.page, 'after the restart', pia.page);
  const texts = await pia.page.locator('#messages .msg .text').allTextContents();
  assert.deepEqual(texts.slice(-4), ['before the restart', 'while the daemon was down 1',
    'while the daemon was down 2', 'after the restart']);
  await ui.finish(pia, quinn);
}));

// An upgrade in place (events/reexec.h): the stream ends with a retry
// hint, the page reconnects to the new binary from its last event id, and
// messages sent meanwhile arrive once, in order. The reconnect finds the
// socket there: the page never needs its fallback poll.
test('when the push daemon is upgraded in place, the page reconnects and misses nothing', logged(async () => {
  const rae = await ui.openAs(f.browser, f.stack.url, h.uniqueName('rae'));
  const sol = await ui.openAs(f.browser, f.stack.url, h.uniqueName('sol'));
  await ui.waitForStatus(rae.page, 'live');
  await ui.sendAndSee(sol.page, 'before the upgrade', rae.page);
  const failed = [];
  rae.page.on('response', (r) => {
    if (r.url().includes('/events/') && r.status() !== 200) failed.push(`${r.status()} ${r.url()}`);
  });
  const upgraded = f.stack.upgradeEvents();
  await ui.send(sol.page, 'during the upgrade 1');
  await ui.waitForMessage(sol.page, 'during the upgrade 1');
  await ui.send(sol.page, 'during the upgrade 2');
  await upgraded;
  await ui.waitForStatus(rae.page, 'live', 20000);
  await ui.assertShownOnce(rae.page, 'during the upgrade 1');
  await ui.assertShownOnce(rae.page, 'during the upgrade 2');
  await ui.sendAndSee(sol.page, 'after the upgrade', rae.page);
  const texts = await rae.page.locator('#messages .msg .text').allTextContents();
  assert.deepEqual(texts.slice(-4), ['before the upgrade', 'during the upgrade 1', 'during the upgrade 2',
    'after the upgrade']);
  assert.deepEqual(failed, [], 'no request to /events/ failed during the upgrade');
  await ui.finish(rae, sol);
}));
