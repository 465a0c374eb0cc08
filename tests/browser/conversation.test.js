'use strict';
// The conversation view in real Chromium against the real stack: grouping,
// day separators, relative times, avatars, DM bubbles, the "New messages"
// line at the read marker, replies that jump to their original, actions on
// hover and focus, the keyboard flows of the composer, and announcements of
// live messages (not of history).

const { test } = require('node:test');
const assert = require('node:assert/strict');
const h = require('./harness');
const ui = require('./ui');
const fill = require('./fill');

const f = h.fixture();
const logged = f.logged;

const kMonths = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

// A public room made by `owner` (an apiRegister result) over the API.
async function apiRoom(owner, kind = 'public') {
  const r = await fill.api(f.stack, owner.token, 'POST', '/rooms', { name: h.uniqueName('room'), kind });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  return r.body.room;
}

async function join(user, room) {
  await user.page.getByRole('button', { name: `Join ${room.name}` }).click();
  await user.page.locator('#room-title', { hasText: `# ${room.name}` }).waitFor();
}

// Facts about the message <li> whose text is `text`.
function facts(page, text) {
  return ui.item(page, text).evaluate((li) => ({
    cont: li.classList.contains('cont'),
    own: li.classList.contains('own'),
    dividers: Array.from(li.querySelectorAll(':scope > .divider')).map((d) => d.textContent),
    time: li.querySelector('time').textContent,
    title: li.querySelector('time').getAttribute('title'),
    avatar: li.querySelector('.avatar').textContent,
    colour: getComputedStyle(li.querySelector('.avatar')).backgroundColor,
  }));
}

test('grouping, day separators, relative times and avatars', logged(async () => {
  const writer = await h.apiRegister(f.stack.url, h.uniqueName('ann'));
  const other = await h.apiRegister(f.stack.url, h.uniqueName('ben'));
  const room = await apiRoom(writer);
  const now = Date.now();
  const daysAgo = (n, hh, mm) => {
    const d = new Date(now);
    d.setDate(d.getDate() - n);
    d.setHours(hh, mm, 0, 0);
    return d.getTime();
  };
  const w = writer.user;
  const o = other.user;
  await fill.insertMessages(f.stack, room.id, [
    { user: w, text: 'old 1', ts: daysAgo(3, 10, 0) },
    { user: w, text: 'old 2 (2 min later)', ts: daysAgo(3, 10, 2) },
    { user: w, text: 'old 3 (7 min later)', ts: daysAgo(3, 10, 9) },
    { user: o, text: 'old 4 (someone else)', ts: daysAgo(3, 10, 10) },
    { user: w, text: 'yesterday 1', ts: daysAgo(1, 9, 0) },
    { user: w, text: 'today 1', ts: now - 3 * 60 * 1000 },
    { user: w, text: 'today 2', ts: now - 2 * 60 * 1000 },
  ]);

  const cat = await ui.openAs(f.browser, f.stack.url, h.uniqueName('cat'));
  await join(cat, room);
  await ui.waitForMessage(cat.page, 'today 2');
  const d3 = new Date(daysAgo(3, 10, 0));
  const label3 = `${d3.getDate()} ${kMonths[d3.getMonth()]}` +
    (d3.getFullYear() !== new Date(now).getFullYear() ? ` ${d3.getFullYear()}` : '');

  const old1 = await facts(cat.page, 'old 1');
  assert.deepEqual(old1.dividers, [label3], 'the first message of a day carries its date');
  assert.equal(old1.cont, false);
  assert.equal(old1.time, '10:00');
  assert.match(old1.title, new RegExp(String(d3.getFullYear())), `full date on hover: ${old1.title}`);
  assert.equal((await facts(cat.page, 'old 2 (2 min later)')).cont, true, 'same author within 5 min: grouped');
  assert.equal((await facts(cat.page, 'old 3 (7 min later)')).cont, false, '7 minutes later: a new group');
  const old4 = await facts(cat.page, 'old 4 (someone else)');
  assert.equal(old4.cont, false, 'another author: a new group');
  assert.deepEqual((await facts(cat.page, 'yesterday 1')).dividers, ['Yesterday']);
  const today1 = await facts(cat.page, 'today 1');
  assert.deepEqual(today1.dividers, ['Today']);
  assert.equal(today1.cont, false, 'a day separator starts a new group');
  assert.equal(today1.time, '3 min');
  const today2 = await facts(cat.page, 'today 2');
  assert.equal(today2.time, '2 min');
  assert.equal(today2.cont, true);

  // Initials in a circle, one colour per author, the same on every page.
  const initials = (name) => {
    const parts = name.split(/[._-]+/);
    return (parts[0][0] + (parts[1] ? parts[1][0] : parts[0][1])).toUpperCase();
  };
  assert.equal(old1.avatar, initials(w.username));
  assert.equal(old4.avatar, initials(o.username));
  assert.equal(today1.colour, old1.colour);
  await cat.page.reload();
  await ui.waitForMessage(cat.page, 'today 2');
  assert.equal((await facts(cat.page, 'old 1')).colour, old1.colour, 'stable across reloads');
  await ui.finish(cat);
}));

test('a direct conversation shows my bubbles right and theirs left', logged(async () => {
  const dora = await ui.openAs(f.browser, f.stack.url, h.uniqueName('dora'));
  const eliName = h.uniqueName('eli');
  const eli = await ui.openAs(f.browser, f.stack.url, eliName);
  const doraName = await dora.page.locator('#me').textContent();
  await dora.page.getByLabel('Message a user').fill(eliName);
  await dora.page.getByRole('button', { name: 'Start' }).click();
  await dora.page.locator('#room-title', { hasText: `@ ${eliName}` }).waitFor();
  await ui.send(dora.page, 'mine, on the right');
  await ui.roomButton(eli.page, doraName).waitFor();
  await ui.openRoom(eli.page, doraName);
  await ui.sendAndSee(eli.page, 'theirs, on the left', dora.page);

  const sides = await dora.page.evaluate(() => {
    const list = document.getElementById('messages').getBoundingClientRect();
    const box = (t) => Array.from(document.querySelectorAll('#messages .msg .text'))
      .find((e) => e.textContent === t).getBoundingClientRect();
    const mine = box('mine, on the right');
    const theirs = box('theirs, on the left');
    return { right: list.right - mine.right, left: theirs.left - list.left, width: list.width, mineWidth: mine.width };
  });
  assert.ok(sides.right < 30, `my bubble ends at the right edge (${sides.right} px from it)`);
  assert.ok(sides.left < 80, `their bubble starts at the left (${sides.left} px)`);
  assert.ok(sides.mineWidth < sides.width / 2, 'a bubble is as wide as its text');
  const bg = await ui.messages(dora.page, 'mine, on the right').evaluate((e) => getComputedStyle(e).backgroundColor);
  assert.notEqual(bg, 'rgba(0, 0, 0, 0)', 'my message is a coloured bubble');
  await ui.finish(dora, eli);
}));

test('"New messages" marks where I stopped reading, also after a reload', logged(async () => {
  const writer = await h.apiRegister(f.stack.url, h.uniqueName('fay'));
  const room = await apiRoom(writer);
  const gus = await ui.openAs(f.browser, f.stack.url, h.uniqueName('gus'));
  await join(gus, room);
  const say = (text) => fill.api(f.stack, writer.token, 'POST', `/rooms/${room.id}/messages`, { text });
  for (const t of ['read 1', 'read 2']) assert.equal((await say(t)).status, 201);
  await ui.waitForMessage(gus.page, 'read 2');
  assert.equal(await gus.page.locator('.divider.new').count(), 0, 'nothing unread while reading');

  // Away in general while two more arrive.
  await ui.openRoom(gus.page, 'general');
  for (const t of ['unread 1', 'unread 2']) assert.equal((await say(t)).status, 201);
  await ui.roomButton(gus.page, room.name).locator('.unread', { hasText: '2' }).waitFor();
  await ui.openRoom(gus.page, room.name);
  await ui.waitForMessage(gus.page, 'unread 2');
  const divided = async () => (await facts(gus.page, 'unread 1')).dividers.includes('New messages');
  assert.ok(await divided(), 'the line is right before the first unread message');
  assert.equal(await gus.page.locator('.divider.new').count(), 1);
  // Its text in the error colour of its rules, names in bold (CSS rules merged to fit the budget).
  const look = await gus.page.locator('.divider.new').evaluate((d) => ({
    text: getComputedStyle(d).color,
    rule: getComputedStyle(d, '::before').borderTopColor,
    author: getComputedStyle(document.querySelector('#messages .author')).fontWeight,
  }));
  assert.equal(look.text, look.rule, 'the "New messages" text has its rules\' colour');
  assert.equal(look.author, '700', 'authors are bold');

  // The server keeps the marker: after a reload the line comes back for
  // what arrived while the page was gone.
  await ui.openRoom(gus.page, 'general');
  await gus.page.waitForTimeout(800);  // the read marker is posted after 0.5 s
  await gus.page.close();
  assert.equal((await say('while away')).status, 201);
  const tab = await ui.newTab(gus.ctx, `${f.stack.url}/#room-${room.id}`);
  await ui.waitForMessage(tab.page, 'while away');
  const line = await ui.item(tab.page, 'while away').locator('.divider.new').count();
  assert.equal(line, 1, 'the line is at the server-side marker');
  assert.equal(await tab.page.locator('.divider.new').count(), 1);
  ui.assertNoErrors(gus, tab);
  await gus.ctx.close();
}));

// The room list and the events are two sources: a list answered before a
// message, but delivered after its event, must not take the count back.
test('a room list older than a message does not undo its unread count', logged(async () => {
  const writer = await h.apiRegister(f.stack.url, h.uniqueName('hal'));
  const room = await apiRoom(writer);
  const ida = await ui.openAs(f.browser, f.stack.url, h.uniqueName('ida'));
  await join(ida, room);
  await ui.openRoom(ida.page, 'general');
  let fetched;
  let release;
  const answered = new Promise((r) => { fetched = r; });
  const held = new Promise((r) => { release = r; });
  const isList = (url) => url.pathname === '/api/rooms' && url.searchParams.has('limit');
  await ida.page.route(isList, async (route) => {
    const response = await route.fetch();  // the server's answer now...
    fetched();
    await held;
    await route.fulfill({ response });  // ...delivered after the message
  });
  await apiRoom(writer);  // a new public room: ida's page asks for the list again
  await answered;
  const said = await fill.api(f.stack, writer.token, 'POST', `/rooms/${room.id}/messages`, { text: 'after the list' });
  assert.equal(said.status, 201);
  const badge = ui.roomButton(ida.page, room.name).locator('.unread', { hasText: '1' });
  await badge.waitFor();
  // The list's answer is applied (and the directory asked for) at once.
  const directory = ida.page.waitForRequest((req) => new URL(req.url()).pathname === '/api/rooms/directory');
  release();
  await directory;
  assert.equal(await badge.count(), 1, 'the unread count survives the older list');
  assert.equal(await ui.roomButton(ida.page, room.name).locator('.last').textContent(), `${writer.user.username}: after the list`);
  await ida.page.unroute(isList);
  await ui.finish(ida);
}));

test('a room list made before my read marker was stored does not count what I read', logged(async () => {
  const writer = await h.apiRegister(f.stack.url, h.uniqueName('jon'));
  const room = await apiRoom(writer);
  const kim = await ui.openAs(f.browser, f.stack.url, h.uniqueName('kim'));
  // Kim's read markers for the room are held on their way to the server.
  let release;
  const held = new Promise((r) => { release = r; });
  const isRead = (url) => url.pathname === `/api/rooms/${room.id}/read`;
  const reads = [];
  await kim.page.route(isRead, (route) => {
    reads.push(held.then(() => route.continue()));
  });
  await join(kim, room);
  const say = (text) => fill.api(f.stack, writer.token, 'POST', `/rooms/${room.id}/messages`, { text });
  for (const t of ['seen 1', 'seen 2']) assert.equal((await say(t)).status, 201);
  await ui.waitForMessage(kim.page, 'seen 2');
  await ui.openRoom(kim.page, 'general');
  // A list answered now counts both messages unread: the server has no marker.
  const isList = (res) => {
    const url = new URL(res.url());
    return url.pathname === '/api/rooms' && url.searchParams.has('limit');
  };
  const listed = kim.page.waitForResponse(isList);
  const directory = kim.page.waitForRequest((req) => new URL(req.url()).pathname === '/api/rooms/directory');
  await apiRoom(writer);  // a new public room: kim's page asks for the list again
  const answer = await (await listed).json();
  assert.equal(answer.rooms.find((r) => r.id === room.id).unread, 2, 'the server counted what kim read');
  await directory;  // the list's answer is applied just before
  assert.equal(await ui.roomButton(kim.page, room.name).locator('.unread').count(), 0, 'what I read is not unread');
  release();
  await Promise.all(reads);
  await kim.page.unroute(isRead);
  assert.equal((await say('new')).status, 201);
  await ui.roomButton(kim.page, room.name).locator('.unread', { hasText: '1' }).waitFor();
  await ui.finish(kim);
}));

test('a message I send from another device clears the room\'s unread count, here and after a reload', logged(async () => {
  const writer = await h.apiRegister(f.stack.url, h.uniqueName('max'));
  const room = await apiRoom(writer);
  const name = h.uniqueName('liv');
  const phone = await h.apiRegister(f.stack.url, name);  // her other device: a token of her own
  assert.equal((await fill.api(f.stack, phone.token, 'POST', `/rooms/${room.id}/join`)).status, 200);
  const liv = await ui.openAs(f.browser, f.stack.url, name, { register: false });
  await ui.openRoom(liv.page, 'general');
  for (const t of ['missed 1', 'missed 2']) {
    assert.equal((await fill.api(f.stack, writer.token, 'POST', `/rooms/${room.id}/messages`, { text: t })).status, 201);
  }
  const badge = ui.roomButton(liv.page, room.name).locator('.unread');
  await badge.filter({ hasText: '2' }).waitFor();
  const said = await fill.api(f.stack, phone.token, 'POST', `/rooms/${room.id}/messages`, { text: 'from my phone' });
  assert.equal(said.status, 201);
  // Whoever writes in a room has read it: the server moved her marker.
  await badge.waitFor({ state: 'detached' });
  await liv.page.reload();
  await ui.signedInAs(liv.page, name);
  await ui.roomButton(liv.page, room.name).locator('.last', { hasText: 'from my phone' }).waitFor();
  assert.equal(await badge.count(), 0, 'the server counts nothing unread either');
  await ui.finish(liv);
}));

test('actions show on hover, focus and long-press; a reply quotes and jumps to its original', logged(async () => {
  const hal = await ui.openAs(f.browser, f.stack.url, h.uniqueName('hal'));
  const halName = await hal.page.locator('#me').textContent();
  const ida = await ui.openAs(f.browser, f.stack.url, h.uniqueName('ida'));
  await ui.sendAndSee(hal.page, 'the original', ida.page, hal.page);
  for (let i = 1; i <= 3; i++) await ui.send(hal.page, `filler ${i}`);
  await ui.waitForMessage(ida.page, 'filler 3');

  const original = ui.item(ida.page, 'the original');
  const actions = original.locator('.actions');
  const opacity = () => actions.evaluate((e) => getComputedStyle(e).opacity);
  await ida.page.mouse.move(0, 0);
  assert.equal(await opacity(), '0', 'no permanent buttons');
  assert.equal(await original.getByRole('button', { name: 'Edit' }).count(), 0, 'edit is for the author');
  await original.hover();
  assert.equal(await opacity(), '1', 'hover shows them');
  await ida.page.mouse.move(0, 0);
  await original.getByRole('button', { name: 'Reply' }).focus();
  assert.equal(await opacity(), '1', 'keyboard focus shows them');

  // Reply by keyboard: Enter on Reply, type, Enter.
  await ida.page.keyboard.press('Enter');
  await ida.page.locator('#reply-bar', { hasText: `Replying to ${halName}: the original` }).waitFor();
  assert.equal(await ida.page.evaluate(() => document.activeElement.id), 'text');
  await ida.page.keyboard.type('the reply');
  await ida.page.keyboard.press('Enter');
  await ui.waitForMessage(hal.page, 'the reply');
  await ida.page.locator('#reply-bar').waitFor({ state: 'hidden' });
  const quoteOn = (page) => ui.item(page, 'the reply').locator('.quote');
  assert.equal(await quoteOn(hal.page).textContent(), `↩ ${halName}: the original`);
  // The quote jumps to the original and focuses it.
  await quoteOn(hal.page).click();
  const focused = await hal.page.evaluate(() => document.activeElement.querySelector(':scope > .content > .text').textContent);
  assert.equal(focused, 'the original');

  // Escape cancels a reply being written.
  await ui.item(hal.page, 'filler 1').getByRole('button', { name: 'Reply' }).click();
  await hal.page.locator('#reply-bar').waitFor();
  await hal.page.keyboard.press('Escape');
  await hal.page.locator('#reply-bar').waitFor({ state: 'hidden' });

  // Long-press on a touch screen (real touch events through the DevTools
  // protocol) shows the actions of that message.
  const touch = await f.browser.newContext({ viewport: { width: 375, height: 700 }, hasTouch: true, isMobile: true });
  const tab = await ui.newTab(touch, f.stack.url);
  await ui.signIn(tab.page, halName);
  await ui.waitForMessage(tab.page, 'filler 3');
  // Once the room's members are in, the page draws its messages again
  // (room.js rerender: new .content nodes); measured before that, the node
  // may be gone by the time boundingBox() looks (null; 2 runs in 20).
  await tab.page.locator('#members li', { hasText: halName }).waitFor({ state: 'attached' });
  const target = ui.item(tab.page, 'filler 2');
  const box = await target.locator('.text').boundingBox();
  const cdp = await touch.newCDPSession(tab.page);
  const point = [{ x: box.x + 5, y: box.y + box.height / 2 }];
  await cdp.send('Input.dispatchTouchEvent', { type: 'touchStart', touchPoints: point });
  await tab.page.waitForTimeout(800);
  await cdp.send('Input.dispatchTouchEvent', { type: 'touchEnd', touchPoints: [] });
  await target.locator('.actions').evaluate(async (e) => {
    for (let i = 0; i < 50 && getComputedStyle(e).opacity !== '1'; i++) await new Promise((r) => setTimeout(r, 50));
  });
  assert.equal(await target.locator('.actions').evaluate((e) => getComputedStyle(e).opacity), '1');
  assert.ok(await target.getByRole('button', { name: 'Edit' }).isVisible());
  await ui.finish(hal, ida, tab);
  await touch.close();
}));

test('keyboard: Enter, Shift+Enter, Up edits my last message, Escape cancels, the composer grows', logged(async () => {
  const jo = await ui.openAs(f.browser, f.stack.url, h.uniqueName('jo'));
  const box = jo.page.getByRole('textbox', { name: 'Message' });
  await box.focus();
  const height = () => box.evaluate((e) => e.getBoundingClientRect().height);
  const h0 = await height();
  await jo.page.keyboard.type('line one');
  await jo.page.keyboard.press('Shift+Enter');
  await jo.page.keyboard.type('line two');
  assert.ok(await height() > h0, 'the composer grows with its text');
  await jo.page.keyboard.press('Enter');
  await ui.waitForMessage(jo.page, 'line one\nline two');
  assert.equal(await box.inputValue(), '');
  assert.equal(await height(), h0, 'and shrinks back once sent');
  await box.fill(Array.from({ length: 40 }, (_, i) => `row ${i}`).join('\n'));
  await box.dispatchEvent('input');
  const tall = await height();
  assert.ok(tall <= 170, `up to a limit (${tall} px)`);
  await box.fill('');
  await box.dispatchEvent('input');

  // While my newest message is still being sent, Up opens no older one.
  let release;
  const held = new Promise((r) => { release = r; });
  await jo.page.route('**/api/rooms/*/messages', async (route) => {
    if (route.request().method() === 'POST') await held;
    await route.fallback();
  });
  await ui.send(jo.page, 'last of mine');
  await jo.page.locator('#messages .sending').waitFor();
  await box.focus();
  await jo.page.keyboard.press('ArrowUp');
  const editor = jo.page.getByRole('textbox', { name: 'Edit message' });
  await jo.page.waitForTimeout(300);
  assert.equal(await editor.count(), 0, 'Up opens no older message while mine is being sent');
  release();
  await ui.waitForMessage(jo.page, 'last of mine');
  await jo.page.unroute('**/api/rooms/*/messages');
  await box.focus();
  await jo.page.keyboard.press('ArrowUp');
  await editor.waitFor();
  assert.equal(await editor.inputValue(), 'last of mine');
  assert.equal(await jo.page.evaluate(() => document.activeElement.getAttribute('aria-label') || document.activeElement.id),
    await editor.evaluate((e) => e.id));
  // The caret at the end, as typing on expects (the textarea's value put it there).
  assert.deepEqual(await editor.evaluate((e) => [e.selectionStart, e.selectionEnd]), [12, 12]);
  await jo.page.keyboard.press('Escape');
  await editor.waitFor({ state: 'detached' });
  assert.equal(await jo.page.evaluate(() => document.activeElement.id), 'text', 'Escape returns to the composer');

  // The edit's answer is held until the user has moved on: the edit event
  // shows the new text first (as on a busy server), and the late answer
  // must not take the focus back to the composer.
  let answerEdit;
  const editAnswered = new Promise((r) => { answerEdit = r; });
  let editDone;
  const editFulfilled = new Promise((r) => { editDone = r; });
  await jo.page.route('**/api/messages/*', async (route) => {
    if (route.request().method() !== 'PATCH') return route.fallback();
    const response = await route.fetch();
    await editAnswered;
    await route.fulfill({ response });
    editDone();
  });
  await jo.page.keyboard.press('ArrowUp');
  await editor.waitFor();
  await editor.fill('last of mine, edited');
  await jo.page.keyboard.press('Enter');
  await ui.waitForMessage(jo.page, 'last of mine, edited');
  await ui.item(jo.page, 'last of mine, edited').locator('.edited').waitFor();

  // The message list by keyboard: End, Up and Down pick a message, which
  // shows its actions; Tab reaches them.
  await jo.page.locator('#messages').focus();
  await jo.page.keyboard.press('End');
  const focusedText = () => jo.page.evaluate(() => document.activeElement.querySelector(':scope > .content > .text').textContent);
  assert.equal(await focusedText(), 'last of mine, edited');
  answerEdit();
  await editFulfilled;
  await editor.waitFor({ state: 'detached' });
  await jo.page.unroute('**/api/messages/*');
  assert.equal(await focusedText(), 'last of mine, edited', 'the late answer left the focus where it was');
  await jo.page.keyboard.press('ArrowUp');
  assert.equal(await focusedText(), 'line one\nline two');
  await jo.page.keyboard.press('ArrowDown');
  assert.equal(await focusedText(), 'last of mine, edited');
  const shown = ui.item(jo.page, 'last of mine, edited').locator('.actions');
  assert.equal(await shown.evaluate((e) => getComputedStyle(e).opacity), '1');
  await jo.page.keyboard.press('Tab');
  assert.equal(await jo.page.evaluate(() => document.activeElement.textContent), 'Reply');

  // Settings by keyboard: open, choose a theme with the arrows, Escape.
  await jo.page.getByRole('button', { name: 'Settings' }).focus();
  await jo.page.keyboard.press('Enter');
  const checked = () => jo.page.evaluate(() => document.activeElement.value);
  assert.equal(await checked(), 'system');
  await jo.page.keyboard.press('ArrowDown');
  assert.equal(await checked(), 'light');
  assert.equal(await jo.page.evaluate(() => document.documentElement.getAttribute('data-theme')), 'light');
  await jo.page.keyboard.press('ArrowUp');
  assert.equal(await jo.page.evaluate(() => document.documentElement.getAttribute('data-theme')), 'system');
  await jo.page.keyboard.press('Escape');
  await jo.page.locator('#settings').waitFor({ state: 'hidden' });
  assert.equal(await jo.page.evaluate(() => document.activeElement.id), 'settings-open');
  await ui.finish(jo);
}));

test('live messages are announced once; history is not', logged(async () => {
  const writer = await h.apiRegister(f.stack.url, h.uniqueName('kai'));
  const room = await apiRoom(writer);
  const say = (text) => fill.api(f.stack, writer.token, 'POST', `/rooms/${room.id}/messages`, { text });
  for (let i = 1; i <= 5; i++) assert.equal((await say(`history ${i}`)).status, 201);
  const lee = await ui.openAs(f.browser, f.stack.url, h.uniqueName('lee'));
  await join(lee, room);
  await ui.waitForMessage(lee.page, 'history 5');
  const announced = () => lee.page.locator('#announcer p').allTextContents();
  assert.deepEqual(await announced(), [], 'loading history announces nothing');
  assert.equal(await lee.page.locator('#messages').getAttribute('aria-live'), null, 'the list itself is not live');
  assert.equal(await lee.page.locator('#announcer').getAttribute('aria-live'), 'polite');

  assert.equal((await say('live one')).status, 201);
  await ui.waitForMessage(lee.page, 'live one');
  assert.deepEqual(await announced(), [`${writer.user.username}: live one`]);
  await ui.send(lee.page, 'my own');
  await ui.waitForMessage(lee.page, 'my own');
  await lee.page.waitForTimeout(300);
  assert.deepEqual(await announced(), [`${writer.user.username}: live one`], 'my own messages are not read back');
  await ui.finish(lee);
}));

test('with 120 unread, the room opens at the "New messages" line, not at the end', logged(async () => {
  const writer = await h.apiRegister(f.stack.url, h.uniqueName('max'));
  const room = await apiRoom(writer);
  assert.equal((await fill.api(f.stack, writer.token, 'POST', `/rooms/${room.id}/messages`, { text: 'seen' })).status, 201);
  const nia = await ui.openAs(f.browser, f.stack.url, h.uniqueName('nia'));
  await join(nia, room);
  await ui.waitForMessage(nia.page, 'seen');
  await ui.openRoom(nia.page, 'general');
  await nia.page.waitForTimeout(800);  // the read marker is posted after 0.5 s
  const now = Date.now();
  const rows = Array.from({ length: 120 }, (_, i) => ({ user: writer.user, text: `backlog ${i + 1}`, ts: now - (120 - i) * 1000 }));
  await fill.insertMessages(f.stack, room.id, rows);
  await ui.roomButton(nia.page, room.name).locator('.unread', { hasText: '99+' }).waitFor();
  await ui.openRoom(nia.page, room.name);
  await ui.waitForMessage(nia.page, 'backlog 1');
  assert.ok((await facts(nia.page, 'backlog 1')).dividers.includes('New messages'));
  const inView = await nia.page.evaluate(() => {
    const d = document.querySelector('#messages .divider.new').getBoundingClientRect();
    const l = document.getElementById('messages').getBoundingClientRect();
    return d.top >= l.top && d.bottom <= l.bottom;
  });
  assert.ok(inView, 'the line is in view');
  assert.equal(await ui.messages(nia.page, 'backlog 120').count(), 0, 'the end is not loaded yet');
  await nia.page.getByRole('button', { name: 'Jump to the latest messages' }).click();
  await ui.waitForMessage(nia.page, 'backlog 120');
  await ui.finish(nia);
}));

test('a read marker lost on the way or refused by the server is sent again', logged(async () => {
  const writer = await h.apiRegister(f.stack.url, h.uniqueName('lea'));
  const room = await apiRoom(writer);
  const kimName = h.uniqueName('kim');
  const kim = await ui.openAs(f.browser, f.stack.url, kimName);
  await join(kim, room);
  await kim.page.waitForTimeout(1000);  // the join's own marker is sent
  // Kim's next two markers fail: a 503, then a connection lost.
  const isRead = (url) => url.pathname === `/api/rooms/${room.id}/read`;
  let failed = 0;
  await kim.page.route(isRead, (route) => {
    if (failed >= 2) return route.continue();
    failed++;
    if (failed === 2) return route.abort('connectionreset');
    return route.fulfill({ status: 503, contentType: 'application/json', body: '{"error":{"code":"unavailable","message":"busy"}}' });
  });
  const sent = (await fill.api(f.stack, writer.token, 'POST', `/rooms/${room.id}/messages`, { text: 'read me' })).body.message;
  await ui.waitForMessage(kim.page, 'read me');
  // No newer message comes: only a retry can move the stored marker.
  const marker = async () => {
    const r = await fill.api(f.stack, writer.token, 'GET', `/rooms/${room.id}/members`);
    return r.body.members.find((m) => m.user.username === kimName).read_event_id || 0;
  };
  const deadline = Date.now() + 15000;
  for (let at = await marker(); at < sent.id; at = await marker()) {
    assert.ok(Date.now() < deadline, `kim's stored marker stayed at ${at}, below ${sent.id} (${failed} failed)`);
    await kim.page.waitForTimeout(250);
  }
  assert.equal(failed, 2);
  await kim.page.unroute(isRead);
  await ui.finish(kim);
}));
