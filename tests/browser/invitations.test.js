'use strict';
// Invitations in real Chromium: an invitation is pending until the invitee
// accepts it. bob, online, sees alice's invitations arrive live in the
// sidebar, declines one by keyboard and accepts another, which opens the
// room; alice reads each step as a line in her room and bob never shows in
// her member list before he accepts; a withdrawn one goes away. An
// invitation made while bob is away shows when he loads the page; one
// dropped by a block goes away, one dropped by a ban says so gently on
// Accept. Hostile room names are only text, and the list fits a phone's
// drawer. With PARLEY_SCREENSHOTS set it saves invitations.png (bob's
// screen with two invitations).

const { test } = require('node:test');
const assert = require('node:assert/strict');
const h = require('./harness');
const ui = require('./ui');
const fill = require('./fill');
const { assertAccessible, shot } = require('./look');

const f = h.fixture();
const logged = f.logged;

// bob's row for the room named `name`.
function row(page, name) {
  const label = page.locator('.name', { hasText: new RegExp(`^# ${ui.escape(name)}$`) });
  return page.locator('#invitations li').filter({ has: label });
}

async function createRoom(page, name, kind) {
  await page.getByLabel('New room').fill(name);
  await page.getByLabel('Kind of room').selectOption(kind);
  await page.getByRole('button', { name: 'Create' }).click();
  await page.locator('#room-title', { hasText: `# ${name}` }).waitFor();
}

async function invite(page, username, said) {
  await page.getByRole('textbox', { name: 'Invite' }).fill(username);
  await page.getByRole('button', { name: 'Invite', exact: true }).click();
  await page.locator('#invite-result', { hasText: said }).waitFor();
}

const systemLine = (page, text) => page.locator('#messages .system', { hasText: text });
const listed = (page, name) => page.locator('#members li .name', { hasText: name });

test('bob sees invitations arrive live, declines one, accepts another and lands in the room; alice reads each step', logged(async () => {
  // Plain names (the stack is this file's) make a readable screenshot.
  const alice = await h.apiRegister(f.stack.url, 'alice');
  const aliceName = alice.user.username;
  const bobName = 'bob';
  const a = await ui.openAs(f.browser, f.stack.url, aliceName, { register: false });
  const b = await ui.openAs(f.browser, f.stack.url, bobName);
  await ui.waitForStatus(b.page, 'live');
  assert.equal(await b.page.locator('#invitations-section').isHidden(), true, 'no invitations: no section');

  // Two private rooms of alice's; bob is invited to both, from the form.
  const first = 'weekend-plans';
  const second = 'garden-club';
  await createRoom(a.page, first, 'private');
  await invite(a.page, bobName, `Invitation sent to ${bobName}`);
  await systemLine(a.page, `${aliceName} invited ${bobName}`).waitFor();
  await row(b.page, first).waitFor();
  await createRoom(a.page, second, 'private');
  await ui.send(a.page, 'welcome to the garden');
  await invite(a.page, bobName, `Invitation sent to ${bobName}`);
  await row(b.page, second).waitFor();
  // Asked again: still pending, nothing new (200), no second row.
  await a.page.locator('#invite-result').evaluate((e) => { e.textContent = ''; });
  await invite(a.page, bobName, `Invitation sent to ${bobName}`);
  await b.page.waitForTimeout(300);
  assert.equal(await b.page.locator('#invitations li').count(), 2);
  // The newest first; the room's kind and who invited, as text.
  assert.deepEqual(await b.page.locator('#invitations .name').allTextContents(), [`# ${second}`, `# ${first}`]);
  assert.equal(await row(b.page, first).locator('.tag').textContent(), 'private');
  assert.equal(await row(b.page, first).locator('.last').textContent(), `invited by ${aliceName}`);
  // A pending invitee is no member: not in alice's list, not in the room's.
  assert.equal(await listed(a.page, bobName).count(), 0);
  assert.equal(await ui.roomButton(b.page, second).count(), 0);
  await assertAccessible(b.page, 'invitations (light)');
  await shot(b.page, 'invitations.png');
  await b.page.emulateMedia({ colorScheme: 'dark' });
  await assertAccessible(b.page, 'invitations (dark)');
  await b.page.emulateMedia({ colorScheme: 'light' });

  // Decline by keyboard: the row goes, alice's room says so.
  await ui.openRoom(a.page, first);
  await b.page.getByRole('button', { name: `Decline invitation to #${first}` }).focus();
  await b.page.keyboard.press('Enter');
  await row(b.page, first).waitFor({ state: 'detached' });
  // The focus stays in the list: Tab reaches the next invitation.
  assert.equal(await b.page.evaluate(() => document.activeElement.id), 'invitations');
  await b.page.keyboard.press('Tab');
  assert.equal(await b.page.evaluate(() => document.activeElement.getAttribute('aria-label')), `Accept invitation to #${second}`);
  await systemLine(a.page, `${bobName} declined the invitation`).waitFor();
  assert.equal(await listed(a.page, bobName).count(), 0);

  // Accept: bob lands in the room, reads and writes; alice sees him join.
  await ui.openRoom(a.page, second);
  await b.page.getByRole('button', { name: `Accept invitation to #${second}` }).click();
  await b.page.locator('#room-title', { hasText: `# ${second}` }).waitFor();
  await ui.waitForMessage(b.page, 'welcome to the garden');
  await b.page.locator('#invitations-section').waitFor({ state: 'hidden' });
  await systemLine(a.page, `${bobName} joined`).waitFor();
  await listed(a.page, bobName).waitFor();
  await ui.sendAndSee(b.page, 'thanks for having me', a.page);
  await invite(a.page, bobName, `${bobName} is already a member`);

  // Withdrawn by alice (the API: the page has no control for it yet).
  await ui.openRoom(a.page, first);
  await invite(a.page, bobName, `Invitation sent to ${bobName}`);
  await row(b.page, first).waitFor();
  const gone = await fill.api(f.stack, alice.token, 'DELETE', `/rooms/${(await roomId(alice, first))}/members/${bobName}`);
  assert.equal(gone.status, 204);
  await row(b.page, first).waitFor({ state: 'detached' });
  await systemLine(a.page, `${aliceName} withdrew ${bobName}'s invitation`).waitFor();
  assert.equal(await listed(a.page, bobName).count(), 0);
  await ui.finish(a, b);
}));

async function roomId(user, name) {
  const r = await fill.api(f.stack, user.token, 'GET', '/rooms');
  return r.body.rooms.find((x) => x.name === name).id;
}

test('public and Q&A rooms invite too; an invitation made while bob was away shows when he loads the page', logged(async () => {
  const alice = await h.apiRegister(f.stack.url, h.uniqueName('alice'));
  const bob = await h.apiRegister(f.stack.url, h.uniqueName('bob'));
  const bobName = bob.user.username;
  const a = await ui.openAs(f.browser, f.stack.url, alice.user.username, { register: false });
  const lecture = h.uniqueName('lecture');
  await createRoom(a.page, lecture, 'qa');
  await invite(a.page, bobName, `Invitation sent to ${bobName}`);
  const hall = h.uniqueName('hall');
  await createRoom(a.page, hall, 'public');
  await invite(a.page, bobName, `Invitation sent to ${bobName}`);
  // A DM has no invite form.
  await a.page.getByLabel('Message a user').fill(bobName);
  await a.page.getByRole('button', { name: 'Start' }).click();
  await a.page.locator('#room-title', { hasText: `@ ${bobName}` }).waitFor();
  assert.equal(await a.page.locator('#invite-form').isHidden(), true);

  const b = await ui.openAs(f.browser, f.stack.url, bobName, { register: false });
  await row(b.page, lecture).locator('.tag', { hasText: 'Q&A' }).waitFor();
  await row(b.page, hall).waitFor();
  // Joining the public room from "Other rooms" ends its invitation too.
  await b.page.getByRole('button', { name: `Join ${hall}` }).click();
  await b.page.locator('#room-title', { hasText: `# ${hall}` }).waitFor();
  await row(b.page, hall).waitFor({ state: 'detached' });
  await b.page.getByRole('button', { name: `Accept invitation to #${lecture}` }).click();
  await b.page.locator('#room-kind', { hasText: 'you are a student' }).waitFor();
  await ui.finish(a, b);
}));

test('blocking the inviter drops the invitation; one dropped by a ban says so gently on Accept', logged(async () => {
  const alice = await h.apiRegister(f.stack.url, h.uniqueName('alice'));
  const carol = await h.apiRegister(f.stack.url, h.uniqueName('carol'));
  const bob = await h.apiRegister(f.stack.url, h.uniqueName('bob'));
  const bobName = bob.user.username;
  const make = async (owner, name, kind = 'private') => {
    const room = (await fill.api(f.stack, owner.token, 'POST', '/rooms', { name, kind })).body.room;
    const r = await fill.api(f.stack, owner.token, 'POST', `/rooms/${room.id}/members`, { username: bobName });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    assert.equal(r.body.invitation.user.username, bobName);
    return room;
  };
  const b = await ui.openAs(f.browser, f.stack.url, bobName, { register: false });
  await ui.waitForStatus(b.page, 'live');
  const byAlice = await make(alice, h.uniqueName('alices'));
  const byCarol = await make(carol, h.uniqueName('carols'));
  const carolsHall = await make(carol, h.uniqueName('hall'), 'public');
  await row(b.page, byAlice.name).waitFor();
  await row(b.page, byCarol.name).waitFor();
  await row(b.page, carolsHall.name).waitFor();

  // bob blocks alice: her invitation goes (no event of its own: the page
  // asks again on the block's).
  await b.page.getByRole('button', { name: 'Settings' }).click();
  await b.page.getByLabel('Block a user').fill(alice.user.username);
  await b.page.getByRole('button', { name: 'Block', exact: true }).click();
  await row(b.page, byAlice.name).waitFor({ state: 'detached' });
  await b.page.getByRole('button', { name: 'Close' }).click();

  // carol bans bob from both rooms: nothing tells his page (a ban of
  // someone not in the room reaches the room only), so Accept finds each
  // gone: the private room's 404, the public room's 403 banned.
  for (const room of [byCarol, carolsHall]) {
    assert.equal((await fill.api(f.stack, carol.token, 'PUT', `/rooms/${room.id}/bans/${bobName}`)).status, 204);
    await b.page.getByRole('button', { name: `Accept invitation to #${room.name}` }).click();
    await row(b.page, room.name).waitFor({ state: 'detached' });
    assert.equal(await b.page.locator('#invitations-note').textContent(), 'That invitation is no longer open.');
  }
  assert.equal(await b.page.locator('#invitations li').count(), 0);
  assert.equal(await b.page.locator('#invitations-note').getAttribute('class'), 'note');
  assert.equal(await b.page.locator('#sidebar-error').textContent(), '');
  await ui.finish(b);
}));

test('hostile room names are only text, and the list fits the phone\'s drawer', logged(async () => {
  const alice = await h.apiRegister(f.stack.url, h.uniqueName('alice'));
  const bob = await h.apiRegister(f.stack.url, h.uniqueName('bob'));
  const names = ['<img src=x onerror=window.pwned=1>', 'שלום עולם <b>!</b>', 'W'.repeat(64)];
  for (const name of names) {
    const room = (await fill.api(f.stack, alice.token, 'POST', '/rooms', { name, kind: 'private' })).body.room;
    assert.ok(room, name);
    assert.equal((await fill.api(f.stack, alice.token, 'POST', `/rooms/${room.id}/members`, { username: bob.user.username })).status, 201);
  }
  const b = await ui.openAs(f.browser, f.stack.url, bob.user.username, { register: false, viewport: { width: 375, height: 700 } });
  const p = b.page;
  // Opening the first room shuts the drawer: open it after.
  await p.locator('#room-title', { hasText: '# general' }).waitFor();
  await p.getByRole('button', { name: 'Rooms' }).click();
  for (const name of names) await row(p, name).waitFor();
  assert.equal(await p.locator('#sidebar img, #sidebar b').count(), 0);
  assert.equal(await p.evaluate(() => window.pwned), undefined);
  for (const name of names) {
    assert.equal(await row(p, name).locator('.last').textContent(), `invited by ${alice.user.username}`);
    await row(p, name).getByRole('button', { name: `Accept invitation to #${name}` }).waitFor();
  }
  // A right-to-left name leaves "invited by" reading left to right.
  const [first, last] = await row(p, names[1]).locator('.last').evaluate((e) => {
    const at = (i) => {
      const r = document.createRange();
      r.setStart(e.firstChild, i);
      r.setEnd(e.firstChild, i + 1);
      return r.getBoundingClientRect().left;
    };
    return [at(0), at(e.firstChild.length - 1)];
  });
  assert.ok(first < last, `"invited by" left to right (${first} < ${last})`);
  // Nothing wider than the drawer; buttons big enough to touch.
  const wide = await p.evaluate(() => {
    const side = document.getElementById('sidebar');
    return [document.documentElement.scrollWidth - window.innerWidth, side.scrollWidth - side.clientWidth];
  });
  assert.deepEqual(wide, [0, 0], 'no horizontal overflow');
  for (const box of await p.locator('#invitations button').evaluateAll((bs) => bs.map((x) => x.getBoundingClientRect().height))) {
    assert.ok(box >= 44, `a button ${box} px tall`);
  }
  await ui.finish(b);
}));
