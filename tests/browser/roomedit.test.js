'use strict';
// Renaming a room and setting its topic from the room's header (PATCH
// /api/rooms/{id}), in real Chromium against the real stack: the owner
// renames a room and sets its topic, and a member's open page shows both
// live; a plain member has no "Edit room" until made a moderator, a DM never
// has one; a name another room has leaves the server's words in the form and
// changes nothing; Escape cancels, the focus back on "Edit room"; a long
// topic ends in an ellipsis (the whole of it in its title), and clearing it
// takes it off the header, and saving it keeps a rename made meanwhile
// elsewhere (only what was changed is sent). axe-core with the form open, in both themes;
// 44 px targets at 375 px.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const h = require('./harness');
const ui = require('./ui');
const fill = require('./fill');
const { assertAccessible } = require('./look');

const f = h.fixture();
const logged = f.logged;

const focusedId = (page) => page.evaluate(() => document.activeElement.id);
const editButton = (page) => page.getByRole('button', { name: 'Edit room' });
const title = (page, name) => page.locator('#room-title', { hasText: new RegExp(`^# ${name}$`) });
const topicIs = (page, text) => page.waitForFunction((t) => document.getElementById('room-topic').textContent === t,
  text, { timeout: 10000 });

// The page has its members (n of them): what it decides from the member
// list (who may edit) is decided. Attached: a phone hides the list.
async function membersLoaded(page, n) {
  await page.locator('#members-count', { hasText: new RegExp(`^${n}$`) }).waitFor({ state: 'attached' });
}

test('the owner renames a room and sets its topic, a member sees both live; a moderator may too, a plain member not', logged(async () => {
  const annName = h.uniqueName('ann');
  const bobName = h.uniqueName('bob');
  const ann = await ui.openAs(f.browser, f.stack.url, annName);
  const bob = await ui.openAs(f.browser, f.stack.url, bobName);
  const room = h.uniqueName('lab');
  await ann.page.getByLabel('New room').fill(room);
  await ann.page.getByRole('button', { name: 'Create' }).click();
  await title(ann.page, room).waitFor();
  await bob.page.getByRole('button', { name: `Join ${room}` }).click();
  await title(bob.page, room).waitFor();
  await membersLoaded(ann.page, 2);
  await membersLoaded(bob.page, 2);

  // A plain member: no control to edit the room.
  assert.equal(await editButton(bob.page).count(), 0, 'a plain member has no Edit room');
  // Bob's page is not reloaded below: this mark would be gone.
  await bob.page.evaluate(() => { window.parleyKept = true; });

  // The owner: the form opens filled with the room as it is, the focus in it.
  await editButton(ann.page).click();
  assert.equal(await editButton(ann.page).getAttribute('aria-expanded'), 'true');
  const name = ann.page.getByLabel('Room name');
  const topic = ann.page.getByLabel(/^Topic/);
  assert.equal(await name.inputValue(), room);
  assert.equal(await topic.inputValue(), '');
  assert.equal(await focusedId(ann.page), 'room-edit-name');
  for (const scheme of ['light', 'dark']) {
    await ann.page.emulateMedia({ colorScheme: scheme });
    await assertAccessible(ann.page, `the room form, ${scheme}`);
  }
  await ann.page.emulateMedia({ colorScheme: 'light' });

  // Enter saves: the header and the room list say the new name and topic,
  // on both pages, and the focus is back on the button.
  const renamed = h.uniqueName('lab2');
  const about = 'Optics on Tuesdays, lasers on Thursdays';
  await name.fill(renamed);
  await topic.fill(about);
  await topic.press('Enter');
  for (const u of [ann, bob]) {
    await title(u.page, renamed).waitFor();
    await topicIs(u.page, about);
    assert.equal(await u.page.locator('#room-topic').getAttribute('title'), about);
    await ui.roomButton(u.page, renamed).waitFor();
  }
  assert.equal(await ann.page.locator('#room-edit').isVisible(), false);
  assert.equal(await focusedId(ann.page), 'room-edit-open');
  assert.equal(await editButton(ann.page).getAttribute('aria-expanded'), 'false');
  assert.equal(await bob.page.evaluate(() => window.parleyKept), true, 'the member\'s page was not reloaded');

  // Made a moderator, Bob gets the control, and his change reaches Ann.
  await ann.page.getByRole('button', { name: `Moderate ${bobName}` }).click();
  await ann.page.getByRole('button', { name: 'Make moderator' }).click();
  await editButton(bob.page).click();
  await bob.page.getByLabel(/^Topic/).fill('Lasers only');
  await bob.page.getByRole('button', { name: 'Save' }).click();
  await topicIs(ann.page, 'Lasers only');
  await title(ann.page, renamed).waitFor();
  await ui.finish(ann, bob);
}));

test('a name another room has: the server\'s words in the form, nothing changes; Escape cancels; no control in a DM', logged(async () => {
  const ann = await h.apiRegister(f.stack.url, h.uniqueName('ann'));
  const bob = await h.apiRegister(f.stack.url, h.uniqueName('bob'));
  const taken = h.uniqueName('taken');
  const mine = h.uniqueName('mine');
  assert.equal((await fill.api(f.stack, ann.token, 'POST', '/rooms', { name: taken, kind: 'public' })).status, 201);
  const room = (await fill.api(f.stack, ann.token, 'POST', '/rooms', { name: mine, kind: 'private' })).body.room;
  const page = await ui.openAs(f.browser, f.stack.url, ann.user.username, { register: false });
  await ui.openRoom(page.page, mine);
  await membersLoaded(page.page, 1);

  // From the keyboard: Enter on the button, the name, Enter.
  await editButton(page.page).focus();
  await page.page.keyboard.press('Enter');
  assert.equal(await focusedId(page.page), 'room-edit-name');
  await page.page.keyboard.press('ControlOrMeta+a');
  await page.page.keyboard.type(taken.toUpperCase());
  await page.page.keyboard.press('Enter');
  await page.page.locator('#room-edit-error', { hasText: 'A room with that name exists.' }).waitFor();
  assert.equal(await page.page.locator('#room-edit-error').getAttribute('role'), 'alert');
  // The form stays as it was, the room too.
  assert.equal(await page.page.getByLabel('Room name').inputValue(), taken.toUpperCase());
  await title(page.page, mine).waitFor();
  const stored = await fill.api(f.stack, ann.token, 'GET', `/rooms/${room.id}`);
  assert.equal(stored.body.room.name, mine);

  // Escape cancels: the form shut, the focus back on its button; opened
  // again, it starts from the room as it is, without the old error.
  await page.page.keyboard.press('Escape');
  assert.equal(await page.page.locator('#room-edit').isVisible(), false);
  assert.equal(await focusedId(page.page), 'room-edit-open');
  await page.page.keyboard.press('Enter');
  assert.equal(await page.page.getByLabel('Room name').inputValue(), mine);
  assert.equal(await page.page.locator('#room-edit-error').textContent(), '');
  await page.page.getByRole('button', { name: 'Cancel' }).click();
  assert.equal(await focusedId(page.page), 'room-edit-open');
  // Saved unchanged, the form just closes (an empty patch changes nothing).
  await page.page.keyboard.press('Enter');
  await page.page.getByLabel('Room name').press('Enter');
  await page.page.locator('#room-edit').waitFor({ state: 'hidden' });
  assert.equal(await page.page.locator('#room-edit-error').textContent(), '');

  // A direct conversation is named after its people: nothing to edit.
  await page.page.getByLabel('Message a user').fill(bob.user.username);
  await page.page.getByRole('button', { name: 'Start' }).click();
  await page.page.locator('#room-title', { hasText: `@ ${bob.user.username}` }).waitFor();
  await membersLoaded(page.page, 2);
  assert.equal(await editButton(page.page).count(), 0, 'no Edit room in a DM');
  await ui.finish(page);
}));

test('a long topic ends in an ellipsis; cleared, it leaves the header; 44 px targets on a phone', logged(async () => {
  const ann = await h.apiRegister(f.stack.url, h.uniqueName('ann'));
  const bob = await h.apiRegister(f.stack.url, h.uniqueName('bob'));
  const name = h.uniqueName('forum');
  const room = (await fill.api(f.stack, ann.token, 'POST', '/rooms', { name, kind: 'public' })).body.room;
  assert.equal((await fill.api(f.stack, bob.token, 'POST', `/rooms/${room.id}/join`)).status, 200);
  const long = `${'A topic that goes on and on '.repeat(8)}until the end`.slice(0, 250);
  const set = await fill.api(f.stack, ann.token, 'PATCH', `/rooms/${room.id}`, { topic: long });
  assert.equal(set.status, 200);
  assert.equal(set.body.room.topic, long);

  const phone = { viewport: { width: 375, height: 740 }, hasTouch: true, register: false };
  const a = await ui.openAs(f.browser, `${f.stack.url}/#room-${room.id}`, ann.user.username, phone);
  const b = await ui.openAs(f.browser, `${f.stack.url}/#room-${room.id}`, bob.user.username, { register: false });
  for (const u of [a, b]) {
    await title(u.page, name).waitFor();
    await topicIs(u.page, long);
  }
  const shown = await a.page.locator('#room-topic').evaluate((e) => ({
    clipped: e.scrollWidth > e.clientWidth, ellipsis: getComputedStyle(e).textOverflow, title: e.title,
    overflow: document.documentElement.scrollWidth - window.innerWidth,
  }));
  assert.deepEqual(shown, { clipped: true, ellipsis: 'ellipsis', title: long, overflow: 0 });

  // On the phone: the button and every control of the form at least 44 px.
  await membersLoaded(a.page, 2);
  await editButton(a.page).click();
  const small = await a.page.evaluate(() => Array.from(document.querySelectorAll('#room-edit-open, #room-edit button, #room-edit input'))
    .map((e) => ({ id: e.id || e.textContent, r: e.getBoundingClientRect() }))
    .filter(({ r }) => r.width < 44 || r.height < 44)
    .map(({ id, r }) => `${id} ${r.width.toFixed(0)}x${r.height.toFixed(0)}`));
  assert.deepEqual(small, [], 'touch targets of at least 44 px');
  assert.ok(await a.page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth), 'no sideways scrolling');

  // Renamed meanwhile elsewhere (Ann's other device) while the form is
  // open: saving the topic alone keeps that name, the form sends only what
  // was changed in it.
  const meanwhile = h.uniqueName('agora');
  assert.equal((await fill.api(f.stack, ann.token, 'PATCH', `/rooms/${room.id}`, { name: meanwhile })).status, 200);
  await title(b.page, meanwhile).waitFor();
  // Cleared (an empty field), the topic leaves both headers.
  await a.page.getByLabel(/^Topic/).fill('');
  await a.page.getByRole('button', { name: 'Save' }).click();
  for (const u of [a, b]) await topicIs(u.page, '');
  assert.equal(await b.page.locator('#room-topic').getAttribute('title'), '');
  const after = (await fill.api(f.stack, bob.token, 'GET', `/rooms/${room.id}`)).body.room;
  assert.equal(after.topic, undefined);
  assert.equal(after.name, meanwhile, 'the rename made meanwhile stays');
  await title(b.page, meanwhile).waitFor();
  await ui.finish(a, b);
}));
