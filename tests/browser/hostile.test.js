'use strict';
// What a careless or hostile user can type, against the page: names and
// words without a space as long as the API allows, markup in every field,
// right-to-left text. Nothing may run, and nothing may widen the page, the
// sidebar or the conversation sideways.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const h = require('./harness');
const ui = require('./ui');
const fill = require('./fill');

const f = h.fixture();
const logged = f.logged;

// Elements of the page whose content is wider than their box, where that
// box does not clip it on purpose (an ellipsis) and the page or a scrolling
// panel would grow: the document, the sidebar, the room's head.
function overflows(page) {
  return page.evaluate(() => {
    const out = [];
    const doc = document.documentElement.scrollWidth - window.innerWidth;
    if (doc > 0) out.push(`the page by ${doc} px`);
    for (const e of document.querySelectorAll('#sidebar, .room-head *, #messages, .attachment')) {
      if (!e.getClientRects().length || getComputedStyle(e).textOverflow === 'ellipsis' || e.matches('.visually-hidden')) continue;
      if (e.scrollWidth > e.clientWidth + 1) out.push(`${e.tagName}#${e.id}.${e.className} ${e.scrollWidth} > ${e.clientWidth}`);
    }
    return out;
  });
}

test('names, file names and words without a space as long as allowed do not widen anything', logged(async () => {
  const owner = await h.apiRegister(f.stack.url, h.uniqueName('owner'));
  const readerName = h.uniqueName('reader');
  const reader = await h.apiRegister(f.stack.url, readerName);
  const name = 'W'.repeat(64);
  const room = (await fill.api(f.stack, owner.token, 'POST', '/rooms', { name, kind: 'public' })).body.room;
  assert.equal((await fill.api(f.stack, reader.token, 'POST', `/rooms/${room.id}/join`)).status, 200);
  const say = (body) => fill.api(f.stack, owner.token, 'POST', `/rooms/${room.id}/messages`, body);
  await say({ text: `see https://example.com/${'x'.repeat(1500)} overlong` });
  const up = await fetch(`${f.stack.url}/api/uploads?name=${'n'.repeat(190)}.txt`, {
    method: 'POST', headers: { Authorization: `Bearer ${owner.token}`, 'Content-Type': 'text/plain' }, body: 'hello',
  });
  assert.equal(up.status, 201);
  await say({ text: 'the file', attachments: [(await up.json()).upload.id] });

  for (const viewport of [{ width: 375, height: 700 }, { width: 1100, height: 720 }]) {
    const u = await ui.openAs(f.browser, f.stack.url, readerName, { register: false, viewport });
    const p = u.page;
    // A result names its room once the room list is in.
    await p.locator(`button.room[data-room-id="${room.id}"]`).waitFor({ state: 'attached' });
    if (viewport.width < 760) await p.getByRole('button', { name: 'Rooms' }).click();
    // A search result names the room.
    await p.locator('#search-q').fill('overlong');
    await p.locator('#search-q').press('Enter');
    await p.locator('#search-results .where', { hasText: name }).waitFor();
    assert.deepEqual(await overflows(p), [], `the sidebar at ${viewport.width} px`);
    await p.locator(`button.room[data-room-id="${room.id}"]`).click();
    await ui.waitForMessage(p, 'the file');
    assert.deepEqual(await overflows(p), [], `the room at ${viewport.width} px`);
    // The file's size, after its name, is on screen inside the conversation.
    const [right, listRight] = await p.evaluate(() => [document.querySelector('.attachment .file-size'), document.getElementById('messages')]
      .map((e) => e.getBoundingClientRect().right));
    assert.ok(right > 0 && right <= listRight, `the file size shows at ${viewport.width} px (${right} > ${listRight})`);
    await ui.finish(u);
  }
}));

test('a right-to-left message reads right to left; markup anywhere is only text', logged(async () => {
  const owner = await h.apiRegister(f.stack.url, h.uniqueName('owner'));
  const readerName = h.uniqueName('reader');
  const reader = await h.apiRegister(f.stack.url, readerName);
  const name = '<img src=x onerror=alert(1)>';
  const room = (await fill.api(f.stack, owner.token, 'POST', '/rooms', { name, kind: 'public' })).body.room;
  assert.equal((await fill.api(f.stack, reader.token, 'POST', `/rooms/${room.id}/join`)).status, 200);
  const say = (text) => fill.api(f.stack, owner.token, 'POST', `/rooms/${room.id}/messages`, { text });
  await say('<script>alert(1)</script><b>bold</b>');
  await say('שלום, עולם!');
  const u = await ui.openAs(f.browser, f.stack.url, readerName, { register: false });
  const p = u.page;
  await ui.openRoom(p, name);
  await ui.waitForMessage(p, '<script>alert(1)</script><b>bold</b>');
  assert.equal(await p.locator('#messages b, #messages script, #sidebar img, #room-title img').count(), 0);
  // In a right-to-left paragraph the final "!" is the leftmost character,
  // as a Hebrew reader expects; a left-to-right one puts it on the right.
  // Found and measured in one step: a redraw (the member list or my blocks
  // arriving) replaces the paragraph, and a detached one measures 0 px.
  const measured = await p.waitForFunction((t) => {
    const node = [...document.querySelectorAll('#messages .msg .text')].find((e) => e.textContent === t);
    const text = node && node.firstChild, at = (i) => {
      const r = document.createRange();
      r.setStart(text, i);
      r.setEnd(text, i + 1);
      return r.getBoundingClientRect().left;
    };
    return text ? [at(0), at(text.length - 1)] : null;
  }, 'שלום, עולם!');
  const [first, last] = await measured.jsonValue();
  assert.ok(last < first, `"!" (at ${last} px) left of the first letter (at ${first} px)`);
  await ui.finish(u);
}));

test('a reply does not quote the words of someone I blocked', logged(async () => {
  const { room, users: [ana, ben, cat], say } = await fill.club(f.stack, ['cat']);
  const spam = await say(ben, 'buy cheap watches');
  await say(cat, { text: 'no thanks', reply_to: spam.id });
  const u = await ui.openAs(f.browser, f.stack.url, ana.user.username, { register: false });
  const p = u.page;
  await ui.openRoom(p, room.name);
  await ui.waitForMessage(p, 'no thanks');
  await p.locator('#messages .text', { hasText: 'Hidden: you blocked this person' }).waitFor();
  assert.equal(await p.locator('#messages', { hasText: 'watches' }).count(), 0, 'the blocked words are nowhere in the room');
  // Replying shows the words replied to above the composer: not offered.
  const hidden = p.locator('#messages .msg', { has: p.locator(':scope > .content > .text', { hasText: 'Hidden: you blocked' }) });
  assert.equal(await hidden.getByRole('button', { name: 'Reply', exact: true }).count(), 0);
  await p.getByRole('button', { name: 'Show', exact: true }).click();
  await ui.item(p, 'buy cheap watches').getByRole('button', { name: 'Reply', exact: true }).waitFor({ state: 'attached' });
  await p.locator('.quote', { hasText: 'buy cheap watches' }).waitFor();
  await ui.finish(u);
}));

test('the room list never shows the last words of someone I blocked, before or after my blocks load', logged(async () => {
  const { room, users: [ana, ben], say } = await fill.club(f.stack);
  await say(ben, 'buy cheap watches');
  // Every text the sidebar ever shows, from before the page's scripts run.
  const initScript = () => {
    window.sidebarSaw = [];
    new MutationObserver(() => {
      const s = document.getElementById('sidebar');
      if (s) window.sidebarSaw.push(s.textContent);
    }).observe(document, { childList: true, subtree: true, characterData: true });
  };
  const ctx = await f.browser.newContext({ viewport: { width: 1100, height: 720 } });
  await ctx.addInitScript(initScript);
  // The blocks answer late: the room list is drawn first.
  let release;
  const held = new Promise((r) => { release = r; });
  await ctx.route('**/api/me/blocks', async (route) => {
    await held;
    await route.continue();
  });
  const u = await ui.newTab(ctx, f.stack.url);
  u.ctx = ctx;
  const p = u.page;
  await ui.signIn(p, ana.user.username);
  await ui.signedInAs(p, ana.user.username);
  const last = ui.roomButton(p, room.name).locator('.last');
  await last.waitFor();
  release();
  await last.filter({ hasText: `${ben.user.username}: hidden` }).waitFor();
  // Live: a new message of theirs is hidden in the list too.
  await say(ben, 'watches again');
  await last.filter({ hasText: `${ben.user.username}: hidden` }).waitFor();
  await p.waitForTimeout(500);
  const saw = await p.evaluate(() => window.sidebarSaw);
  assert.ok(saw.length > 0);
  assert.equal(saw.filter((t) => /watches/.test(t)).length, 0, 'the blocked words never showed in the sidebar');
  await ctx.unroute('**/api/me/blocks');
  await ui.finish(u);
}));

test('my blocks that fail to load at sign-in are asked again: the blocked person is hidden once they come', logged(async () => {
  const { room, users: [ana, ben, cat], say } = await fill.club(f.stack, ['cat']);
  await say(ben, 'buy cheap watches');
  await say(cat, 'hello there');
  const ctx = await f.browser.newContext({ viewport: { width: 1100, height: 720 } });
  // The first answer is a server error; the next ones go through.
  let asked = 0;
  await ctx.route('**/api/me/blocks', (route) => (asked++ ? route.continue()
    : route.fulfill({ status: 503, contentType: 'application/json', body: '{"error":{"code":"busy","message":"busy"}}' })));
  const u = await ui.newTab(ctx, f.stack.url);
  u.ctx = ctx;
  const p = u.page;
  await ui.signIn(p, ana.user.username);
  await ui.signedInAs(p, ana.user.username);
  await ui.openRoom(p, room.name);
  await ui.waitForMessage(p, 'hello there');
  await p.locator('#messages .text', { hasText: 'Hidden: you blocked this person' }).waitFor();
  assert.equal(await p.locator('#messages', { hasText: 'watches' }).count(), 0, 'the blocked words are nowhere in the room');
  assert.ok(asked >= 2, `asked ${asked} times`);
  // The room list's previews have their words (not "…", blocks unknown).
  await ui.roomButton(p, room.name).locator('.last', { hasText: `${cat.user.username}: hello there` }).waitFor();
  assert.equal(await p.locator('#sidebar .last', { hasText: '…' }).count(), 0);
  await ctx.unroute('**/api/me/blocks');
  await ui.finish(u);
}));

test('a screen reader does not read out the live words of someone I blocked', logged(async () => {
  const { room, users: [ana, ben], say } = await fill.club(f.stack);
  const u = await ui.openAs(f.browser, f.stack.url, ana.user.username, { register: false });
  const p = u.page;
  await ui.openRoom(p, room.name);
  await ui.waitForStatus(p, 'live');
  await say(ben, 'buy cheap watches');
  await p.locator('#messages .text', { hasText: 'Hidden: you blocked this person' }).waitFor();
  await p.locator('#announcer', { hasText: `${ben.user.username}: hidden` }).waitFor({ state: 'attached' });
  assert.equal(await p.locator('#announcer', { hasText: 'watches' }).count(), 0, 'the live region holds no blocked words');
  await ui.finish(u);
}));

test('a search shows none of the words of someone I blocked, as the room shows none', logged(async () => {
  const { room, users: [ana, ben, cat], say } = await fill.club(f.stack, ['cat']);
  await say(ben, 'buy cheap watches');
  await say(cat, 'my watches broke');
  const u = await ui.openAs(f.browser, f.stack.url, ana.user.username, { register: false });
  const p = u.page;
  await p.locator(`button.room[data-room-id="${room.id}"]`).waitFor();
  await p.locator('#search-q').fill('watches');
  await p.locator('#search-q').press('Enter');
  const results = p.locator('#search-results li');
  await results.filter({ hasText: 'my watches broke' }).waitFor();
  assert.equal(await results.count(), 2);
  const benHit = results.filter({ hasText: ben.user.username });
  assert.equal(await benHit.locator('.snippet').textContent(), 'Hidden: you blocked this person.');
  assert.equal(await p.locator('#search-results', { hasText: 'cheap' }).count(), 0, 'no blocked words in the results');
  // The hit opens the message, hidden there as well.
  await benHit.getByRole('button').click();
  await p.locator('#messages .text', { hasText: 'Hidden: you blocked this person' }).waitFor();
  assert.equal(await p.locator('#messages', { hasText: 'cheap' }).count(), 0);
  await ui.finish(u);
}));

test('blocking someone while replying to them takes their words off the Reply bar and the search results', logged(async () => {
  const { room, users: [ana, ben], say } = await fill.club(f.stack, [], { blocked: false });
  await say(ben, 'buy cheap watches');
  const u = await ui.openAs(f.browser, f.stack.url, ana.user.username, { register: false });
  const p = u.page;
  await ui.openRoom(p, room.name);
  await ui.waitForMessage(p, 'buy cheap watches');
  await ui.item(p, 'buy cheap watches').getByRole('button', { name: 'Reply', exact: true }).click();
  await p.locator('#reply-text', { hasText: 'buy cheap watches' }).waitFor();
  await p.locator('#search-q').fill('watches');
  await p.locator('#search-q').press('Enter');
  const snippet = p.locator('#search-results .snippet');
  await snippet.filter({ hasText: 'buy cheap watches' }).waitFor();
  await p.getByRole('button', { name: 'Settings' }).click();
  await p.getByLabel('Block a user').fill(ben.user.username);
  await p.getByRole('button', { name: 'Block', exact: true }).click();
  await p.locator('#messages .text', { hasText: 'Hidden: you blocked this person' }).waitFor();
  await p.locator('#reply-text', { hasText: `${ben.user.username}: hidden` }).waitFor();
  assert.equal(await p.locator('#reply-bar', { hasText: 'watches' }).count(), 0);
  await snippet.filter({ hasText: 'Hidden: you blocked this person.' }).waitFor();
  assert.equal(await p.locator('#search-results', { hasText: 'cheap' }).count(), 0);
  await ui.finish(u);
}));
