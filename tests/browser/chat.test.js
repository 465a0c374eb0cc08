'use strict';
// Chatting in real Chromium against the real stack: two people in two
// browser contexts (two cookie jars), both ways, in a room and in a direct
// conversation; reload and a second tab; edit, delete, typing, presence,
// unread counts, rooms, invitations, history paging, and text that looks
// like HTML staying text.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const h = require('./harness');
const ui = require('./ui');
const fill = require('./fill');

const f = h.fixture();
const logged = f.logged;

test('two users chat both ways in a room and in a direct conversation', logged(async () => {
  const alice = await ui.openAs(f.browser, f.stack.url, h.uniqueName('alice'));
  const bobName = h.uniqueName('bob');
  const bob = await ui.openAs(f.browser, f.stack.url, bobName);
  const aliceName = await alice.page.locator('#me').textContent();
  await ui.waitForStatus(alice.page, 'live');
  await ui.waitForStatus(bob.page, 'live');

  // Both land in general.
  await alice.page.locator('#room-title', { hasText: '# general' }).waitFor();
  await bob.page.locator('#room-title', { hasText: '# general' }).waitFor();
  await ui.sendAndSee(alice.page, 'hello bob, this is alice', bob.page, alice.page);
  await ui.sendAndSee(bob.page, 'hi alice!', alice.page);
  // The sender's own copy is reconciled with the stored one: no "sending".
  await alice.page.locator('#messages .pending').waitFor({ state: 'detached' });

  // A direct conversation, started by searching the username.
  await alice.page.getByLabel('Message a user').fill(bobName);
  await alice.page.getByRole('button', { name: 'Start' }).click();
  await alice.page.locator('#room-title', { hasText: `@ ${bobName}` }).waitFor();
  await ui.send(alice.page, 'just between us');
  // Bob is still in general: the conversation appears with one unread.
  // It is a request of his ("request": true) until he answers it.
  const dm = ui.roomButton(bob.page, aliceName);
  await dm.locator('.unread', { hasText: '1' }).waitFor();
  await dm.locator('.tag', { hasText: 'request' }).waitFor();
  assert.equal(await ui.roomButton(alice.page, bobName).locator('.tag').count(), 0, 'not for the one who opened it');
  await ui.openRoom(bob.page, aliceName);
  await ui.assertShownOnce(bob.page, 'just between us');
  await dm.locator('.unread').waitFor({ state: 'detached' });
  await ui.sendAndSee(bob.page, 'sure, only us', alice.page);
  await dm.locator('.tag').waitFor({ state: 'detached' });

  // Timestamps are in the reader's local time.
  const shown = await bob.page.locator('#messages .msg time').first().getAttribute('datetime');
  assert.ok(!Number.isNaN(Date.parse(shown)));

  if (process.env.PARLEY_SCREENSHOTS) {
    fs.mkdirSync(process.env.PARLEY_SCREENSHOTS, { recursive: true });
    await ui.openRoom(alice.page, 'general');
    await ui.waitForMessage(alice.page, 'hi alice!');
    await alice.page.screenshot({ path: path.join(process.env.PARLEY_SCREENSHOTS, 'chat.png') });
  }
  await ui.finish(alice, bob);
}));

test('reload keeps the session and the history; a second tab receives too', logged(async () => {
  const name = h.uniqueName('carol');
  const carol = await ui.openAs(f.browser, f.stack.url, name);
  const dave = await ui.openAs(f.browser, f.stack.url, h.uniqueName('dave'));
  await ui.send(carol.page, 'before the reload');
  await ui.waitForMessage(carol.page, 'before the reload');

  await carol.page.reload();
  await ui.signedInAs(carol.page, name);  // the same user, not a new one
  await ui.waitForMessage(carol.page, 'before the reload');
  await ui.waitForStatus(carol.page, 'live');

  const tab2 = await ui.newTab(carol.ctx, f.stack.url);
  await ui.signedInAs(tab2.page, name);
  await ui.waitForStatus(tab2.page, 'live');
  await ui.sendAndSee(dave.page, 'to both of your tabs', carol.page, tab2.page);
  // What one tab sends, the other shows.
  await ui.sendAndSee(tab2.page, 'from the second tab', carol.page);

  await ui.finish(carol, dave, tab2);
}));

test('text that looks like HTML is shown as text and runs nothing', logged(async () => {
  const eve = await ui.openAs(f.browser, f.stack.url, h.uniqueName('eve'));
  const frank = await ui.openAs(f.browser, f.stack.url, h.uniqueName('frank'));
  const payloads = [
    '<img src=x onerror=alert(1)>',
    '<script>alert(2)</script>',
    '"><svg onload=alert(3)>',
  ];
  for (const p of payloads) await ui.send(eve.page, p);
  for (const p of payloads) await ui.assertShownOnce(frank.page, p);
  for (const page of [eve.page, frank.page]) {
    assert.equal(await page.locator('#messages img, #messages script, #messages svg').count(), 0);
  }
  // ui.openAs records any dialog (alert) as an error.
  await ui.finish(eve, frank);
}));

test('edit, delete, typing and presence reach the other person', logged(async () => {
  const gina = await ui.openAs(f.browser, f.stack.url, h.uniqueName('gina'));
  const hankName = h.uniqueName('hank');
  const hank = await ui.openAs(f.browser, f.stack.url, hankName);
  const ginaName = await gina.page.locator('#me').textContent();

  // Presence: each sees the other online in the member list.
  const online = (page, who) => page.locator('#members li.online .name', { hasText: who });
  await online(hank.page, ginaName).waitFor();
  await online(gina.page, hankName).waitFor();

  // Typing.
  await gina.page.getByRole('textbox', { name: 'Message' }).pressSequentially('typ', { delay: 30 });
  await hank.page.locator('#typing', { hasText: `${ginaName} is typing` }).waitFor();
  await gina.page.getByRole('textbox', { name: 'Message' }).fill('');

  await ui.send(gina.page, 'first version');
  await ui.waitForMessage(hank.page, 'first version');
  const mine = ui.item(gina.page, 'first version');
  await mine.getByRole('button', { name: 'Edit' }).click();
  const editor = gina.page.getByRole('textbox', { name: 'Edit message' });
  await editor.fill('second version');
  await editor.press('Enter');
  await ui.waitForMessage(hank.page, 'second version');
  const theirs = ui.item(hank.page, 'second version');
  await theirs.locator('.edited').waitFor();
  // Only the author gets the buttons.
  assert.equal(await theirs.getByRole('button', { name: 'Edit' }).count(), 0);

  const edited = ui.item(gina.page, 'second version');
  await edited.getByRole('button', { name: 'Delete' }).click();
  await hank.page.locator('#messages .text.deleted').waitFor();
  assert.equal(await ui.messages(hank.page, 'second version').count(), 0);

  // Going away: hank sees gina offline after the grace period.
  await gina.ctx.close();
  await hank.page.locator('#members li.offline .name', { hasText: ginaName }).waitFor({ timeout: 15000 });
  ui.assertNoErrors(gina, hank);
  await hank.ctx.close();
}));

test('the member list follows joins, leaves and moderation without asking the server again', logged(async () => {
  // In `general`, which every new user joins, a list asked again at each
  // member event was every open page reading the whole room at each
  // registration. Ivy's page asks once, when the room opens; the rest comes
  // from the events.
  const ivyName = h.uniqueName('ivy');
  const ivy = await ui.openAs(f.browser, f.stack.url, ivyName);
  await ui.waitForStatus(ivy.page, 'live');
  await ivy.page.locator('#members li .name', { hasText: ivyName }).waitFor();  // the list is in
  const asked = [];
  ivy.page.on('request', (r) => {
    if (r.method() === 'GET' && /\/api\/rooms\/\d+\/members/.test(r.url())) asked.push(r.url());
  });
  const names = ivy.page.locator('#members li .name');
  const count = async () => Number(await ivy.page.locator('#members-count').textContent());
  const before = await count();

  const kate = await h.apiRegister(f.stack.url, h.uniqueName('kate'));
  await ivy.page.locator('#members li .name', { hasText: kate.user.username }).waitFor();
  assert.equal(await count(), before + 1);
  assert.equal((await fill.api(f.stack, kate.token, 'POST', '/rooms/1/leave')).status, 204);
  await ivy.page.locator('#messages .system', { hasText: `${kate.user.username} left` }).waitFor();
  await ivy.page.waitForFunction((n) => !Array.from(document.querySelectorAll('#members li .name'))
    .some((e) => e.textContent === n), kate.user.username);
  assert.equal(await count(), before);

  // A room of ivy's: jack joins, becomes a moderator, is muted, then kicked,
  // each by the API (ivy's own clicks would ask for the list after them).
  const owner = await h.apiRegister(f.stack.url, h.uniqueName('owner'));
  const club = (await fill.api(f.stack, owner.token, 'POST', '/rooms', { name: h.uniqueName('club'), kind: 'public' })).body.room;
  await ivy.page.getByRole('button', { name: `Join ${club.name}` }).click();
  await ivy.page.locator('#room-title', { hasText: `# ${club.name}` }).waitFor();
  await ivy.page.locator('#members li .name', { hasText: owner.user.username }).waitFor();
  const askedBefore = asked.length;
  const jack = await h.apiRegister(f.stack.url, h.uniqueName('jack'));
  assert.equal((await fill.api(f.stack, jack.token, 'POST', `/rooms/${club.id}/join`)).status, 200);
  const jackItem = ivy.page.locator('#members li', { hasText: jack.user.username });
  await jackItem.waitFor();
  const put = (body) => fill.api(f.stack, owner.token, 'PUT', `/rooms/${club.id}/members/${jack.user.username}`, body);
  assert.equal((await put({ moderator: true })).status, 200);
  await jackItem.locator('.role', { hasText: 'moderator' }).waitFor();
  assert.equal((await put({ muted_until: Date.now() + 600000 })).status, 200);
  await jackItem.locator('.role.muted').waitFor();
  assert.equal((await put({ muted_until: null })).status, 200);
  await jackItem.locator('.role.muted').waitFor({ state: 'detached' });
  assert.equal((await fill.api(f.stack, owner.token, 'DELETE', `/rooms/${club.id}/members/${jack.user.username}`)).status, 204);
  await jackItem.waitFor({ state: 'detached' });
  assert.equal(await names.count(), 2);  // the owner and ivy
  assert.deepEqual(asked.slice(askedBefore), [], 'no member list asked after the room opened');
  ui.assertNoErrors(ivy);
  await ivy.ctx.close();
}));

test('a member list answered late keeps the joins and presence that came meanwhile', logged(async () => {
  // The race of a busy machine, made certain: ivy's page asks for the list
  // when it opens `general`; the answer (read at once, so without jack) is
  // held until jack has joined and come online, which the page learns from
  // its stream first. The late answer may not undo either.
  const ivyName = h.uniqueName('ivy');
  const ctx = await f.browser.newContext({ viewport: { width: 1100, height: 720 } });
  let release;
  const go = new Promise((resolve) => { release = resolve; });
  let held = 0;
  await ctx.route('**/api/rooms/*/members', async (route) => {
    if (route.request().method() !== 'GET') return route.fallback();
    const snapshot = await route.fetch();
    held++;
    await go;
    await route.fulfill({ response: snapshot });
  });
  const ivy = await ui.newTab(ctx, f.stack.url);
  await ui.signIn(ivy.page, ivyName, { register: true });
  await ui.signedInAs(ivy.page, ivyName);
  await ui.waitForStatus(ivy.page, 'live');
  const deadline = Date.now() + 10000;
  while (held < 1) {
    assert.ok(Date.now() < deadline, 'the page never asked for the member list');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const jackName = h.uniqueName('jack');
  const jack = await ui.openAs(f.browser, f.stack.url, jackName);
  await ui.waitForStatus(jack.page, 'live');
  await ivy.page.locator('#messages .system', { hasText: `${jackName} joined` }).waitFor();
  await new Promise((resolve) => setTimeout(resolve, 500));  // jack's presence, handled by the page
  release();
  await ivy.page.locator('#members li .name', { hasText: ivyName }).waitFor();  // the list is in
  await ivy.page.locator('#members li.online .name', { hasText: jackName }).waitFor();
  await ctx.unroute('**/api/rooms/*/members');
  ui.assertNoErrors(ivy, jack);
  await ctx.close();
  await jack.ctx.close();
}));

test('rooms: create, join, leave, invite, unread counts and new people', logged(async () => {
  const ivy = await ui.openAs(f.browser, f.stack.url, h.uniqueName('ivy'));
  const jackName = h.uniqueName('jack');
  const jack = await ui.openAs(f.browser, f.stack.url, jackName);
  const room = h.uniqueName('lobby');

  // A public room: jack sees it under "Other rooms" at once and joins.
  await ivy.page.getByLabel('New room').fill(room);
  await ivy.page.getByRole('button', { name: 'Create' }).click();
  await ivy.page.locator('#room-title', { hasText: `# ${room}` }).waitFor();
  await jack.page.getByRole('button', { name: `Join ${room}` }).click();
  await jack.page.locator('#room-title', { hasText: `# ${room}` }).waitFor();
  await ivy.page.locator('#messages .system', { hasText: `${jackName} joined` }).waitFor();

  // Unread: ivy writes in the new room while jack reads general.
  await ui.openRoom(jack.page, 'general');
  await ui.send(ivy.page, 'one');
  await ui.send(ivy.page, 'two');
  await ui.roomButton(jack.page, room).locator('.unread', { hasText: '2' }).waitFor();
  await ui.openRoom(jack.page, room);
  await ui.waitForMessage(jack.page, 'two');
  await jack.page.getByRole('button', { name: 'Leave' }).click();
  await jack.page.locator('#room-title', { hasText: '# general' }).waitFor();
  await ivy.page.locator('#messages .system', { hasText: `${jackName} left` }).waitFor();
  // After a reload the count is the server's: jack read everything.
  await jack.page.reload();
  await ui.waitForStatus(jack.page, 'live');

  // A private room: invisible to jack until ivy invites him and he accepts.
  const secret = h.uniqueName('secret');
  await ivy.page.getByLabel('New room').fill(secret);
  await ivy.page.getByLabel('Kind of room').selectOption('private');
  await ivy.page.getByRole('button', { name: 'Create' }).click();
  await ivy.page.locator('#room-title', { hasText: `# ${secret}` }).waitFor();
  await ui.send(ivy.page, 'secret plans');
  assert.equal(await jack.page.locator('#sidebar', { hasText: secret }).count(), 0);
  await ivy.page.getByRole('textbox', { name: 'Invite' }).fill(jackName);
  await ivy.page.getByRole('button', { name: 'Invite', exact: true }).click();
  await ivy.page.locator('#invite-result', { hasText: `Invitation sent to ${jackName}` }).waitFor();
  await jack.page.getByRole('button', { name: `Accept invitation to #${secret}` }).click();
  await jack.page.locator('#room-title', { hasText: `# ${secret}` }).waitFor();
  await ui.waitForMessage(jack.page, 'secret plans');
  await ivy.page.locator('#messages .system', { hasText: `${jackName} joined` }).waitFor();

  // New people appear as they register.
  const newcomer = h.uniqueName('newcomer');
  await h.apiRegister(f.stack.url, newcomer);
  await ivy.page.locator('#people .name', { hasText: newcomer }).waitFor();

  await ui.finish(ivy, jack);
}));

test('a second Enter on a new room asks nothing: one request, the room made once, no error', logged(async () => {
  const kim = await ui.openAs(f.browser, f.stack.url, h.uniqueName('kim'));
  const room = h.uniqueName('twice');
  // The answer held back, so the second Enter comes while the first waits.
  const posts = [];
  await kim.page.route('**/api/rooms', async (route) => {
    if (route.request().method() !== 'POST') return route.continue();
    posts.push(route.request().postData());
    await new Promise((resolve) => setTimeout(resolve, 400));
    return route.continue();
  });
  const name = kim.page.getByLabel('New room');
  await name.fill(room);
  await name.press('Enter');
  assert.ok(await kim.page.getByRole('button', { name: 'Create' }).isDisabled(), 'Create is off while it waits');
  await name.press('Enter');
  await kim.page.locator('#room-title', { hasText: `# ${room}` }).waitFor();
  assert.equal(posts.length, 1, `one POST /api/rooms: ${JSON.stringify(posts)}`);
  assert.equal(await kim.page.locator('#sidebar-error').textContent(), '');
  assert.ok(await kim.page.getByRole('button', { name: 'Create' }).isEnabled(), 'Create is back once answered');
  await ui.finish(kim);
}));

test('history loads older pages as you scroll up', logged(async () => {
  // 75 messages (a page and a half) from three accounts (the per-user send
  // quota allows a burst of 30), in a room of their own.
  const writers = [];
  for (let i = 0; i < 3; i++) writers.push(await h.apiRegister(f.stack.url, h.uniqueName('writer')));
  const api = (token, method, p, body) => fetch(`${f.stack.url}/api${p}`, {
    method,
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
    body: body && JSON.stringify(body),
    signal: AbortSignal.timeout(10000),
  }).then(async (r) => ({ status: r.status, body: await r.json().catch(() => null) }));
  const roomName = h.uniqueName('archive');
  const created = await api(writers[0].token, 'POST', '/rooms', { name: roomName, kind: 'public' });
  assert.equal(created.status, 201);
  const roomId = created.body.room.id;
  for (const w of writers.slice(1)) assert.equal((await api(w.token, 'POST', `/rooms/${roomId}/join`)).status, 200);
  for (let i = 1; i <= 75; i++) {
    const w = writers[i % 3];
    const r = await api(w.token, 'POST', `/rooms/${roomId}/messages`, { text: `archived ${i}`, client_id: `a-${i}` });
    assert.equal(r.status, 201, JSON.stringify(r.body));
  }

  const kim = await ui.openAs(f.browser, f.stack.url, h.uniqueName('kim'), { viewport: { width: 1000, height: 600 } });
  await kim.page.getByRole('button', { name: `Join ${roomName}` }).click();
  await ui.waitForMessage(kim.page, 'archived 75');
  assert.equal(await ui.messages(kim.page, 'archived 1').count(), 0, 'only the latest page at first');
  // Scroll to the top: the next page loads, and the reader stays where
  // they were (the message at the top before stays in view).
  await kim.page.locator('#messages').evaluate((el) => { el.scrollTop = 0; });
  await ui.waitForMessage(kim.page, 'archived 1');
  await kim.page.locator('#older').waitFor({ state: 'hidden' });
  const texts = await kim.page.locator('#messages .msg .text').allTextContents();
  const numbers = texts.filter((t) => t.startsWith('archived ')).map((t) => Number(t.slice(9)));
  assert.deepEqual(numbers, Array.from({ length: 75 }, (_, i) => i + 1), 'every message once, in order');
  await ui.finish(kim);
}));

test('at phone width the room fits the screen and the room list opens from a button', logged(async () => {
  const pat = await ui.openAs(f.browser, f.stack.url, h.uniqueName('pat'), { viewport: { width: 390, height: 760 } });
  await ui.send(pat.page, 'typed on a phone');
  await ui.waitForMessage(pat.page, 'typed on a phone');
  const overflow = await pat.page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `no horizontal scrolling (${overflow} px too wide)`);
  assert.ok(await pat.page.getByRole('textbox', { name: 'Message' }).isVisible());
  // The room list is behind the "Rooms" button, reachable by keyboard.
  const menu = pat.page.getByRole('button', { name: 'Rooms' });
  assert.equal(await pat.page.locator('#sidebar').isVisible(), false);
  await menu.focus();
  await pat.page.keyboard.press('Enter');
  assert.equal(await menu.getAttribute('aria-expanded'), 'true');
  await ui.openRoom(pat.page, 'general');
  assert.equal(await pat.page.locator('#sidebar').isVisible(), false, 'choosing a room closes the list');
  await ui.finish(pat);
}));
