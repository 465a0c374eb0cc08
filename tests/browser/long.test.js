'use strict';
// A room of 10,000 messages in real Chromium: the page keeps a window of at
// most ~500 message elements however far one scrolls, older pages load
// without moving what the reader reads, a reply's original far back in
// history loads in context, and the way back to the latest works; live
// messages at the bottom keep the window (400 items) too. Also the
// client's weight and first paint, measured by Chromium itself.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const h = require('./harness');
const ui = require('./ui');
const fill = require('./fill');

const f = h.fixture();
const logged = f.logged;

const kMessages = 10000;
const kMaxElements = 500;

test('a room of 10,000 messages keeps a window of at most 500 elements', logged(async (t) => {
  const writers = [await h.apiRegister(f.stack.url, h.uniqueName('mo')), await h.apiRegister(f.stack.url, h.uniqueName('ned'))];
  const made = await fill.api(f.stack, writers[0].token, 'POST', '/rooms', { name: h.uniqueName('long'), kind: 'public' });
  assert.equal(made.status, 201);
  const room = made.body.room;
  // Two authors taking turns, a message every 30 s over ~3.5 days; the
  // last one replies to the fifth.
  const start = Date.now() - kMessages * 30000;
  const rows = [];
  for (let i = 1; i <= kMessages; i++) {
    rows.push({ user: writers[Math.floor(i / 3) % 2].user, text: `long ${i}`, ts: start + i * 30000 });
  }
  rows[kMessages - 1].text = 'the last one, replying to the fifth';
  rows[kMessages - 1].replyTo = 4;
  const filled = Date.now();
  const ids = await fill.insertMessages(f.stack, room.id, rows);
  t.diagnostic(`filled ${kMessages} messages in ${Date.now() - filled} ms`);

  const olga = await ui.openAs(f.browser, f.stack.url, h.uniqueName('olga'), { viewport: { width: 1100, height: 720 } });
  await olga.page.getByRole('button', { name: `Join ${room.name}` }).click();
  await ui.waitForMessage(olga.page, 'the last one, replying to the fifth', 20000);
  const count = () => olga.page.locator('#messages .msg').count();
  assert.ok(await count() <= 60, 'one page at first');

  // Scroll up through 15 pages: the window never exceeds the limit, and
  // each page that loads leaves the message at the top of the view where
  // it was.
  const list = olga.page.locator('#messages');
  let maxSeen = 0;
  let longestTask = 0;
  await olga.page.evaluate(() => {
    window.__longest = 0;
    new PerformanceObserver((l) => {
      for (const e of l.getEntries()) window.__longest = Math.max(window.__longest, e.duration);
    }).observe({ type: 'longtask', buffered: false });
  });
  for (let i = 0; i < 15; i++) {
    const before = await list.evaluate((el) => {
      el.scrollTop = 0;
      const first = el.querySelector('.msg');
      return { id: first.getAttribute('data-id'), top: first.getBoundingClientRect().top };
    });
    // scrollTop = 0 fires a scroll event, which loads the page before.
    await olga.page.waitForFunction((id) => {
      const first = document.querySelector('#messages .msg');
      return first && first.getAttribute('data-id') !== id;
    }, before.id, { timeout: 10000 });
    await olga.page.waitForTimeout(50);
    const after = await olga.page.evaluate((id) => {
      const li = document.querySelector(`#messages li[data-id="${id}"]`);
      return { top: li ? li.getBoundingClientRect().top : null, count: document.querySelectorAll('#messages .msg').length };
    }, before.id);
    assert.ok(after.top !== null, 'the anchor message is still there');
    assert.ok(Math.abs(after.top - before.top) <= 2, `reading position kept (moved ${after.top - before.top} px)`);
    maxSeen = Math.max(maxSeen, after.count);
    assert.ok(after.count <= kMaxElements, `${after.count} message elements`);
  }
  assert.ok(maxSeen >= 350, `the window filled up to its size (${maxSeen})`);
  assert.equal(await ui.messages(olga.page, 'the last one, replying to the fifth').count(), 0,
    'the newest end was trimmed');
  await olga.page.getByRole('button', { name: 'Jump to the latest messages' }).waitFor();
  longestTask = await olga.page.evaluate(() => window.__longest);
  t.diagnostic(`largest window ${maxSeen} message elements; longest task while paging ${longestTask.toFixed(0)} ms`);

  // Scrolling back down loads the newer pages again, trimming the top.
  for (let i = 0; i < 20 && !(await ui.messages(olga.page, 'the last one, replying to the fifth').count()); i++) {
    const last = await list.evaluate((el) => {
      el.scrollTop = el.scrollHeight;
      const all = el.querySelectorAll(':scope > .msg');
      return all[all.length - 1].getAttribute('data-id');
    });
    await olga.page.waitForFunction((id) => {
      const all = document.querySelectorAll('#messages > .msg');
      return all[all.length - 1].getAttribute('data-id') !== id || !document.getElementById('latest').offsetParent;
    }, last, { timeout: 10000 });
    assert.ok(await count() <= kMaxElements);
  }
  await ui.waitForMessage(olga.page, 'the last one, replying to the fifth');
  await olga.page.locator('#latest').waitFor({ state: 'hidden' });
  const texts = await olga.page.locator('#messages > .msg > .content > .text').allTextContents();
  const numbers = texts.filter((s) => s.startsWith('long ')).map((s) => Number(s.slice(5)));
  assert.deepEqual(numbers, Array.from({ length: numbers.length }, (_, i) => numbers[0] + i), 'no gap and no repeat');
  await list.evaluate((el) => { el.scrollTop = el.scrollHeight; });

  // The reply's original is 9,995 messages back: the quote loads it in context.
  // (The only reply in the room. ui.item's :scope filter is too slow for
  // 400 items: Playwright evaluates it per candidate.)
  await olga.page.locator('#messages .quote').click();
  await olga.page.waitForFunction((id) => document.activeElement &&
    document.activeElement.getAttribute('data-id') === String(id), ids[4], { timeout: 10000 });
  await ui.waitForMessage(olga.page, 'long 1');
  await ui.waitForMessage(olga.page, 'long 30');
  assert.ok(await count() <= kMaxElements);
  const visible = await olga.page.evaluate((id) => {
    const r = document.querySelector(`#messages li[data-id="${id}"]`).getBoundingClientRect();
    const l = document.getElementById('messages').getBoundingClientRect();
    return r.top >= l.top && r.bottom <= l.bottom;
  }, ids[4]);
  assert.ok(visible, 'the original is in view');

  // A live message while reading old history does not land in the gap; the
  // jump button brings the reader back to it.
  assert.equal((await fill.api(f.stack, writers[0].token, 'POST', `/rooms/${room.id}/messages`, { text: 'fresh' })).status, 201);
  await olga.page.waitForTimeout(500);
  assert.equal(await ui.messages(olga.page, 'fresh').count(), 0);
  await olga.page.getByRole('button', { name: 'Jump to the latest messages' }).click();
  await ui.waitForMessage(olga.page, 'fresh');
  assert.equal(await ui.messages(olga.page, 'long 1').count(), 0);
  await ui.finish(olga);
}));

test('live messages at the bottom trim the oldest: at most 400 items, and scrolling up brings them back', logged(async () => {
  // A tab left open at the bottom of a busy room: 450 messages of another
  // person arrive live (the push daemon delivers what fill writes), more
  // than the window's 400 items (README).
  const writer = await h.apiRegister(f.stack.url, h.uniqueName('busy'));
  const room = (await fill.api(f.stack, writer.token, 'POST', '/rooms', { name: h.uniqueName('busy'), kind: 'public' })).body.room;
  const pia = await ui.openAs(f.browser, f.stack.url, h.uniqueName('pia'));
  const p = pia.page;
  await p.getByRole('button', { name: `Join ${room.name}` }).click();
  await p.locator('#room-title', { hasText: room.name }).waitFor();
  await ui.waitForStatus(p, 'live');
  const start = Date.now() - 450 * 1000;
  await fill.insertMessages(f.stack, room.id, Array.from({ length: 450 },
    (_, i) => ({ user: writer.user, text: `busy ${i + 1}`, ts: start + i * 1000 })));
  await ui.waitForMessage(p, 'busy 450', 30000);
  const list = p.locator('#messages');
  const shown = () => list.evaluate((el) => ({
    items: el.children.length,
    numbers: [...el.querySelectorAll(':scope > .msg > .content > .text')].map((t) => Number(t.textContent.slice(5))),
    toBottom: el.scrollHeight - el.scrollTop - el.clientHeight,
  }));
  let now = await shown();
  assert.ok(now.items <= 400, `${now.items} items in the list`);
  assert.ok(now.toBottom < 80, `still at the bottom (${now.toBottom} px above it)`);
  assert.ok(now.numbers[0] > 1, `the oldest went (the first is ${now.numbers[0]})`);
  assert.equal(now.numbers[now.numbers.length - 1], 450, 'the newest stayed');

  // Scrolling up loads what was trimmed, with no gap.
  for (let i = 0; i < 10 && now.numbers[0] !== 1; i++) {
    const first = await list.evaluate((el) => {
      el.scrollTop = 0;
      return el.querySelector('.msg').dataset.id;
    });
    await p.waitForFunction((id) => document.querySelector('#messages .msg').dataset.id !== id, first, { timeout: 10000 });
    now = await shown();
    assert.ok(now.items <= 400, `${now.items} items in the list`);
  }
  assert.equal(now.numbers[0], 1, 'the first message is back');
  assert.deepEqual(now.numbers, Array.from({ length: now.numbers.length }, (_, i) => i + 1), 'no gap and no repeat');
  await ui.finish(pia);
}));

test('first paint under 300 ms on loopback, and the client within its size budget', logged(async (t) => {
  // Paint timing from Chromium: first contentful paint, and the app's own
  // mark for the first usable screen (the sign-in form, or the room once
  // signed in). Best of five loads, each from a cold cache (a fresh
  // context): the machine is shared, and one slow load says more about it
  // than about the page.
  const measure = async (ctxOpts, prepare) => {
    const runs = [];
    for (let i = 0; i < 5; i++) {
      const c = await f.browser.newContext(ctxOpts);
      if (prepare) await prepare(c);
      const p = await c.newPage();
      await p.goto(f.stack.url, { waitUntil: 'load' });
      await p.waitForFunction(() => performance.getEntriesByName('parley-ready').length > 0);
      runs.push(await p.evaluate(() => ({
        fcp: (performance.getEntriesByName('first-contentful-paint')[0] || {}).startTime,
        ready: performance.getEntriesByName('parley-ready')[0].startTime,
      })));
      await c.close();
    }
    return runs;
  };
  const fmt = (runs, k) => runs.map((r) => (r[k] === undefined ? '?' : r[k].toFixed(0))).join(', ');
  const signedOut = await measure({});
  t.diagnostic(`signed out: first contentful paint ${fmt(signedOut, 'fcp')} ms; sign-in form ${fmt(signedOut, 'ready')} ms`);
  const { token } = await h.apiRegister(f.stack.url, h.uniqueName('pam'));
  const cookie = (c) => c.addCookies([{ name: 'parley_session', value: token, domain: '127.0.0.1', path: '/' }]);
  const signedIn = await measure({}, cookie);
  t.diagnostic(`signed in: first contentful paint ${fmt(signedIn, 'fcp')} ms; room shown ${fmt(signedIn, 'ready')} ms`);
  for (const runs of [signedOut, signedIn]) {
    assert.ok(runs.every((r) => typeof r.fcp === 'number'), 'Chromium reports a paint');
    const best = Math.min(...runs.map((r) => r.fcp));
    assert.ok(best < 300, `first paint ${best} ms`);
  }

  const ctx = await f.browser.newContext();
  const page = await ctx.newPage();
  await page.goto(f.stack.url, { waitUntil: 'load' });
  const sizes = await page.evaluate(() => performance.getEntriesByType('resource')
    .filter((e) => /\.(js|css)$/.test(new URL(e.name).pathname))
    .map((e) => ({ name: new URL(e.name).pathname, bytes: e.decodedBodySize })));
  const total = sizes.reduce((a, s) => a + s.bytes, 0);
  t.diagnostic(`client: ${total} bytes of JS and CSS (${sizes.map((s) => `${s.name} ${s.bytes}`).join(', ')})`);
  assert.ok(sizes.length >= 7, `every script and the stylesheet: ${JSON.stringify(sizes)}`);
  // Issue 13's target: the whole client under 100,000 bytes of JS and CSS,
  // as Chromium decodes them (README). Pending invitations took it to
  // 103,947; a slim pass (shared helpers, a file that served only one other
  // folded into it, each script wiring its own handlers) back to 99,789;
  // the DM request's mark took 86 more (99,875).
  assert.ok(total < 100000, `${total} bytes`);
  await ctx.close();
}));
