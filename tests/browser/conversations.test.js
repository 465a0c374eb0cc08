'use strict';
// Issue 12's conversation features in real Chromium against the real stack:
// reactions (one click to add or remove, live for everyone, counted in
// history), read receipts ("Read" in a DM, "Read by" in a room), search that
// opens a result far back in history in its context, the notification level
// stored on the server, a room list of more rooms than one page (asked
// again when it fails), and the catch-up by ?changed_since= after a reset
// for an old cursor.
// Screenshots of reactions and search when PARLEY_SCREENSHOTS is set;
// axe-core on each.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const h = require('./harness');
const ui = require('./ui');
const fill = require('./fill');
const { assertAccessible, shot } = require('./look');

const f = h.fixture();
const logged = f.logged;
test('reactions: one click adds or removes mine, everyone sees the counts live and in history', logged(async () => {
  const ann = await ui.openAs(f.browser, f.stack.url, h.uniqueName('ann'));
  const bob = await ui.openAs(f.browser, f.stack.url, h.uniqueName('bob'));
  const text = 'react to this, please';
  await ui.sendAndSee(ann.page, text, bob.page);

  // Bob: the React action (on hover), then 👍 from the palette.
  const atBob = ui.item(bob.page, text);
  await atBob.hover();
  await atBob.getByRole('button', { name: 'React', exact: true }).click();
  await atBob.getByRole('button', { name: 'React with 👍' }).click();
  const count = (li, n) => li.locator('.reactions .reaction', { hasText: `👍 ${n}` });
  await count(atBob, 1).waitFor();
  assert.equal(await count(atBob, 1).getAttribute('aria-pressed'), 'true');
  const atAnn = ui.item(ann.page, text);
  await count(atAnn, 1).waitFor();
  assert.equal(await count(atAnn, 1).getAttribute('aria-pressed'), 'false');

  // Ann adds hers with one click on the count; Bob removes his the same way.
  await count(atAnn, 1).click();
  await count(atAnn, 2).waitFor();
  await count(atBob, 2).waitFor();
  assert.equal(await count(atAnn, 2).getAttribute('aria-pressed'), 'true');
  await count(atBob, 2).click();
  await count(atBob, 1).waitFor();
  await count(atAnn, 1).waitFor();
  assert.equal(await count(atBob, 1).getAttribute('aria-pressed'), 'false');

  // From the keyboard alone: React, then 👍 from the palette. The message
  // is drawn again with the count, and the focus stays in it (not lost to
  // the page), so Tab goes on from there.
  await atAnn.focus();
  await ann.page.keyboard.press('Tab');
  assert.equal(await ann.page.evaluate(() => document.activeElement.textContent), '👍 1');
  await ann.page.keyboard.press('Tab');
  await ann.page.keyboard.press('Tab');
  assert.equal(await ann.page.evaluate(() => document.activeElement.textContent), 'React');
  await ann.page.keyboard.press('Enter');
  assert.equal(await ann.page.evaluate(() => document.activeElement.getAttribute('aria-label')), 'React with 👍');
  // Escape shuts the palette and gives the focus back to React; Enter opens it again.
  await ann.page.keyboard.press('Escape');
  assert.equal(await atAnn.locator('.palette').count(), 0);
  assert.equal(await ann.page.evaluate(() => document.activeElement.textContent), 'React');
  await ann.page.keyboard.press('Enter');
  assert.equal(await ann.page.evaluate(() => document.activeElement.getAttribute('aria-label')), 'React with 👍');
  await ann.page.keyboard.press('ArrowRight');
  await ann.page.keyboard.press('Tab');
  assert.equal(await ann.page.evaluate(() => document.activeElement.getAttribute('aria-label')), 'React with ❤️');
  await ann.page.keyboard.press('Enter');
  await atAnn.locator('.reaction', { hasText: '❤️ 1' }).waitFor();
  const focusedIn = () => ann.page.evaluate(() => {
    const li = document.activeElement.closest('li.msg');
    return li ? li.querySelector('.text').textContent : document.activeElement.tagName;
  });
  assert.equal(await focusedIn(), text);
  // Bob's live reaction redraws it again under Ann's keyboard: still there.
  await ann.page.keyboard.press('Tab');
  const before = await ann.page.evaluate(() => document.activeElement.textContent);
  await atBob.getByRole('button', { name: 'React', exact: true }).click();
  await atBob.getByRole('button', { name: 'React with 🎉' }).click();
  await atAnn.locator('.reaction', { hasText: '🎉 1' }).waitFor();
  assert.equal(await focusedIn(), text);
  assert.equal(await ann.page.evaluate(() => document.activeElement.textContent), before);
  await ann.page.keyboard.press('Tab');
  await ann.page.keyboard.press('Enter');
  await atAnn.locator('.reaction', { hasText: '❤️ 1' }).waitFor({ state: 'detached' });

  // History carries the counts: a reload shows the same.
  await bob.page.reload();
  await count(ui.item(bob.page, text), 1).waitFor();
  assert.equal(await count(ui.item(bob.page, text), 1).getAttribute('aria-pressed'), 'false');
  await assertAccessible(ann.page, 'reactions');
  await shot(ann.page, 'reactions.png');
  await ui.finish(ann, bob);
}));

test('read receipts: "Read" under my DM once the other person read it, "Read by" in a room', logged(async () => {
  const catName = h.uniqueName('cat');
  const danName = h.uniqueName('dan');
  const cat = await ui.openAs(f.browser, f.stack.url, catName);
  const dan = await ui.openAs(f.browser, f.stack.url, danName);
  await cat.page.getByLabel('Message a user').fill(danName);
  await cat.page.getByRole('button', { name: 'Start' }).click();
  await cat.page.locator('#room-title', { hasText: `@ ${danName}` }).waitFor();
  await ui.send(cat.page, 'did you read this?');
  const mine = ui.item(cat.page, 'did you read this?');
  await ui.waitForMessage(cat.page, 'did you read this?');
  assert.equal(await mine.locator('.seen').count(), 0);

  await ui.openRoom(dan.page, catName);
  await ui.waitForMessage(dan.page, 'did you read this?');
  await mine.locator('.seen', { hasText: /^Read$/ }).waitFor({ timeout: 15000 });

  // In general: dan's marker shows under the message he read up to.
  await ui.openRoom(cat.page, 'general');
  await ui.send(cat.page, 'read in the room?');
  await ui.openRoom(dan.page, 'general');
  await ui.waitForMessage(dan.page, 'read in the room?');
  await ui.item(cat.page, 'read in the room?').locator('.seen', { hasText: danName }).waitFor({ timeout: 15000 });
  await ui.finish(cat, dan);
}));

// A new account (over the API) and the id of its room general.
async function inGeneral(prefix) {
  const name = h.uniqueName(prefix);
  const { user, token } = await h.apiRegister(f.stack.url, name);
  const rooms = (await fill.api(f.stack, token, 'GET', '/rooms')).body.rooms;
  return { name, user, token, general: rooms.find((r) => r.name === 'general').id };
}

test('search finds a message 150 messages back and opens it in its context', logged(async () => {
  const { name: eveName, user, general } = await inGeneral('eve');
  const now = Date.now();
  const batch = [{ user, text: 'the quick brown fox jumps over the lazy dog', ts: now - 200000 }];
  for (let i = 0; i < 150; i++) batch.push({ user, text: `filler ${i}`, ts: now - 150000 + i * 1000 });
  const [target] = await fill.insertMessages(f.stack, general, batch);

  const eve = await ui.openAs(f.browser, f.stack.url, eveName, { register: false });
  await ui.waitForMessage(eve.page, 'filler 149');
  assert.equal(await ui.messages(eve.page, 'the quick brown fox jumps over the lazy dog').count(), 0);
  await eve.page.getByRole('searchbox', { name: 'Search messages' }).fill('brown fox');
  await eve.page.getByRole('button', { name: 'Search', exact: true }).click();
  const hit = eve.page.locator('#search-results button.result').first();
  await hit.waitFor();
  assert.deepEqual(await hit.locator('mark').allTextContents(), ['brown', 'fox']);
  assert.match(await hit.locator('.snippet').textContent(), /quick brown fox jumps/);
  await assertAccessible(eve.page, 'search results');

  await hit.click();
  const li = eve.page.locator(`#messages li[data-id="${target}"]`);
  await li.waitFor();
  await eve.page.waitForFunction((id) => document.activeElement.getAttribute('data-id') === String(id), target);
  await shot(eve.page, 'search.png');
  // In context: what came after it is loaded, the latest is not.
  await ui.waitForMessage(eve.page, 'filler 0');
  assert.equal(await ui.messages(eve.page, 'filler 149').count(), 0);
  await eve.page.getByRole('button', { name: 'Jump to the latest messages' }).waitFor();
  await ui.finish(eve);
}));

// The server reads at most 10,000 matches a page (SearchQuery::scan): with
// 25,000 newer ones in a room jay is not in, his first two pages come back
// empty, and the page asks for the next ones by itself.
// 25,000 messages of kim's saying `word`, newer than three of `user`'s in
// general: more than the 10,000 matches a search reads of everyone's
// before keeping the reader's. A word of its own for each test: the stack
// and general are shared.
async function behindTheirs(user, general, word) {
  const other = await inGeneral('kim');
  const room = (await fill.api(f.stack, other.token, 'POST', '/rooms', { name: h.uniqueName('walled'), kind: 'private' })).body.room;
  const now = Date.now();
  await fill.insertMessages(f.stack, general, [0, 1, 2].map((i) => ({ user, text: `${word} mine ${i}`, ts: now - 90000 + i })));
  const theirs = [];
  for (let i = 0; i < 25000; i++) theirs.push({ user: other.user, text: `${word} theirs ${i}`, ts: now - 60000 });
  await fill.insertMessages(f.stack, room.id, theirs);
}

// Searches for `word` and waits for three results, the reader's; the
// /api/search requests the page made meanwhile.
async function searchMine(page, word) {
  const asked = [];
  page.on('request', (r) => { if (r.url().includes('/api/search')) asked.push(r.url()); });
  await page.getByRole('searchbox', { name: 'Search messages' }).fill(word);
  await page.getByRole('button', { name: 'Search', exact: true }).click();
  const results = page.locator('#search-results button.result');
  await results.nth(2).waitFor();
  assert.deepEqual(await results.locator('.snippet').allTextContents(), [2, 1, 0].map((i) => `${word} mine ${i}`));
  assert.equal(await page.getByRole('button', { name: 'More results' }).isHidden(), true);
  assert.equal(await page.locator('#search-note').textContent(), '');
  return asked;
}

test('a search whose newest matches are all in rooms of others finds mine at once', logged(async () => {
  // The server reads on in a reader's few rooms (schema/store_search.cc).
  const { name: jayName, user, general } = await inGeneral('jay');
  await behindTheirs(user, general, 'quince');
  const jay = await ui.openAs(f.browser, f.stack.url, jayName, { register: false });
  const asked = await searchMine(jay.page, 'quince');
  assert.equal(asked.length, 1, asked.join('\n'));
  await ui.finish(jay);
}));

test('a search of a reader in many rooms whose first pages hold nothing goes on by itself', logged(async () => {
  // In 17 rooms, more than the server reads on in: its first two pages
  // stop at their bound empty, and the page asks for the next by itself.
  const { name: leaName, user, general } = await inGeneral('lea');
  await behindTheirs(user, general, 'medlar');
  const rooms = [];
  for (let i = 0; i < 16; i++) {
    const name = h.uniqueName('lea-room');
    rooms.push(`INSERT INTO rooms(name, kind, owner_id, created_ts) VALUES ('${name}', 'public', ${user.id}, 0);`,
      `INSERT INTO members(room_id, user_id, role, joined_ts) VALUES (last_insert_rowid(), ${user.id}, 'member', 0);`);
  }
  await fill.sql(f.stack, `BEGIN IMMEDIATE;\n${rooms.join('\n')}\nCOMMIT;\n`);
  const lea = await ui.openAs(f.browser, f.stack.url, leaName, { register: false });
  const asked = await searchMine(lea.page, 'medlar');
  assert.equal(asked.length, 3, asked.join('\n'));
  await ui.finish(lea);
}));

test('search results come in pages of 20, the next one from where the last stopped', logged(async () => {
  const { name: ivyName, user, general } = await inGeneral('ivy');
  const now = Date.now();
  const batch = [];
  for (let i = 0; i < 25; i++) batch.push({ user, text: `kumquat number ${i}`, ts: now - 60000 + i * 1000 });
  await fill.insertMessages(f.stack, general, batch);

  const ivy = await ui.openAs(f.browser, f.stack.url, ivyName, { register: false });
  await ivy.page.getByRole('searchbox', { name: 'Search messages' }).fill('kumquat');
  await ivy.page.getByRole('button', { name: 'Search', exact: true }).click();
  const results = ivy.page.locator('#search-results button.result');
  const more = ivy.page.getByRole('button', { name: 'More results' });
  await more.waitFor();
  assert.equal(await results.count(), 20);
  await more.click();
  await results.nth(24).waitFor();
  await more.waitFor({ state: 'hidden' });
  const texts = await results.locator('.snippet').allTextContents();
  assert.deepEqual(texts, Array.from({ length: 25 }, (_, i) => `kumquat number ${24 - i}`));
  await ui.finish(ivy);
}));

test('the notification level of a room is stored on the server', logged(async () => {
  const fayName = h.uniqueName('fay');
  const fay = await ui.openAs(f.browser, f.stack.url, fayName);
  const level = fay.page.getByLabel('Notify me of');
  assert.equal(await level.inputValue(), 'all');
  const saved = fay.page.waitForResponse((r) => /\/api\/rooms\/\d+\/notifications$/.test(r.url()));
  await level.selectOption('mentions');
  assert.equal((await saved).status(), 200);
  await fay.page.reload();
  await ui.signedInAs(fay.page, fayName);
  await fay.page.locator('#room-title', { hasText: '# general' }).waitFor();
  assert.equal(await fay.page.getByLabel('Notify me of').inputValue(), 'mentions');
  await ui.finish(fay);
}));

test('a room list longer than a page: most recent first, more as it scrolls', logged(async () => {
  const gusName = h.uniqueName('gus');
  const { user } = await h.apiRegister(f.stack.url, gusName);
  const now = Date.now();
  const rows = [];
  for (let i = 0; i < 70; i++) {
    const name = `${gusName.slice(0, 20)}-r${String(i).padStart(2, '0')}`;
    rows.push(`INSERT INTO rooms(name, kind, owner_id, created_ts) VALUES ('${name}', 'public', ${user.id}, ${now});`);
    rows.push(`INSERT INTO members(room_id, user_id, role, joined_ts) VALUES (last_insert_rowid(), ${user.id}, 'member', ${now});`);
  }
  await fill.sql(f.stack, `BEGIN IMMEDIATE;\n${rows.join('\n')}\nCOMMIT;\n`);
  const gus = await ui.openAs(f.browser, f.stack.url, gusName, { register: false });
  const buttons = gus.page.locator('#rooms button.room');
  await buttons.first().waitFor();
  // 71 rooms (general and the 70) come in pages of 50 as the list scrolls.
  await gus.page.locator('#sidebar').evaluate((s) => { s.scrollTop = s.scrollHeight; });
  await gus.page.waitForFunction(() => document.querySelectorAll('#rooms button.room').length === 71, null, { timeout: 10000 });
  await gus.page.locator('#sidebar').evaluate((s) => { s.scrollTop = 0; });
  await assertAccessible(gus.page, 'room list');
  await ui.finish(gus);
}));

test('a room list that fails to load says so and is asked again until it comes', logged(async () => {
  const ctx = await f.browser.newContext({ viewport: { width: 1100, height: 720 } });
  // The first two answers are server errors: a retry, then a longer one.
  let asked = 0;
  await ctx.route(/\/api\/rooms\?limit=50$/, (route) => (asked++ > 1 ? route.continue()
    : route.fulfill({ status: 503, contentType: 'application/json', body: '{"error":{"code":"busy","message":"busy"}}' })));
  const u = await ui.newTab(ctx, f.stack.url);
  u.ctx = ctx;
  const p = u.page;
  const name = h.uniqueName('jo');
  await ui.signIn(p, name, { register: true });
  await ui.signedInAs(p, name);
  await p.getByRole('alert').filter({ hasText: 'The rooms could not be loaded. Trying again…' }).waitFor();
  await ui.roomButton(p, 'general').waitFor({ timeout: 15000 });
  await p.locator('#room-title', { hasText: '# general' }).waitFor();
  await p.locator('#rooms-retry').waitFor({ state: 'hidden' });
  assert.ok(asked >= 3, `asked ${asked} times`);
  await ctx.unroute(/\/api\/rooms\?limit=50$/);
  await ui.finish(u);
}));

test('after a reset for an old cursor the room list asks only for what changed', logged(async () => {
  const hal = await h.apiRegister(f.stack.url, h.uniqueName('hal'));
  const ida = await h.apiRegister(f.stack.url, h.uniqueName('ida'));
  const room = h.uniqueName('away');
  const made = await fill.api(f.stack, ida.token, 'POST', '/rooms', { name: room, kind: 'public' });
  await fill.api(f.stack, hal.token, 'POST', `/rooms/${made.body.room.id}/join`);
  const page = await ui.openAs(f.browser, f.stack.url, hal.user.username, { register: false });
  await ui.waitForStatus(page.page, 'live');
  const asked = [];
  page.page.on('request', (r) => asked.push(new URL(r.url()).pathname + new URL(r.url()).search));

  // While the push daemon is down, ida writes and the log drops everything
  // up to then: the page's cursor is older than the log keeps.
  const down = f.stack.restartEvents(4000);
  await ui.waitForStatus(page.page, 'reconnecting');
  const path = `/rooms/${made.body.room.id}/messages`;
  const first = await fill.api(f.stack, ida.token, 'POST', path, { text: 'while you were away' });
  assert.equal((await fill.api(f.stack, ida.token, 'POST', path, { text: 'and more' })).status, 201);
  await fill.sql(f.stack, `DELETE FROM events WHERE id <= ${first.body.message.id};`);
  await down;
  await ui.waitForStatus(page.page, 'live', 20000);
  await ui.roomButton(page.page, room).locator('.last', { hasText: 'and more' }).waitFor({ timeout: 15000 });
  assert.ok(asked.some((a) => /^\/api\/rooms\?changed_since=\d+$/.test(a)), asked.join('\n'));
  assert.ok(!asked.some((a) => /^\/api\/rooms\?limit=/.test(a)), asked.join('\n'));
  await ui.finish(page);
}));
