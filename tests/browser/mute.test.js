'use strict';
// A mute seen from the muted member's page: no event marks its end (the
// server only stops refusing at muted_until), so the page must bring the
// composer and the message actions back by itself, at that time. While
// muted, it offers nothing the server would refuse (403 muted): no Edit, no
// React, no Reply, no adding to a reaction's count; taking back my own
// reaction and deleting my own message stay.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const h = require('./harness');
const ui = require('./ui');
const fill = require('./fill');

const f = h.fixture();
const logged = f.logged;

// An owner's public room where `student` wrote "my words", which both
// reacted to (👍 by the owner, 🎉 by the student); the student's page open
// in it.
async function mutedRoom(opts = {}) {
  const owner = await h.apiRegister(f.stack.url, h.uniqueName('owner'));
  const studentName = h.uniqueName('student');
  const student = await h.apiRegister(f.stack.url, studentName);
  const room = (await fill.api(f.stack, owner.token, 'POST', '/rooms', { name: h.uniqueName('hall'), kind: 'public' }))
    .body.room;
  assert.equal((await fill.api(f.stack, student.token, 'POST', `/rooms/${room.id}/join`)).status, 200);
  const sent = await fill.api(f.stack, student.token, 'POST', `/rooms/${room.id}/messages`, { text: 'my words' });
  const id = sent.body.message.id;
  assert.equal((await fill.api(f.stack, owner.token, 'PUT', `/messages/${id}/reactions/${encodeURIComponent('👍')}`)).status, 200);
  assert.equal((await fill.api(f.stack, student.token, 'PUT', `/messages/${id}/reactions/${encodeURIComponent('🎉')}`)).status, 200);
  const page = await ui.openAs(f.browser, f.stack.url, studentName, { register: false, initScript: opts.initScript });
  await ui.openRoom(page.page, room.name);
  await ui.waitForMessage(page.page, 'my words');
  const member = `/rooms/${room.id}/members/${studentName}`;
  const mute = (until) => fill.api(f.stack, owner.token, 'PUT', member, { muted_until: until });
  const kick = () => fill.api(f.stack, owner.token, 'DELETE', member);
  return { page, mute, kick, studentName, mine: ui.item(page.page, 'my words') };
}

const action = (li, name) => li.locator(':scope > .content > .actions').getByRole('button', { name, exact: true });
const count = (li, emoji) => li.locator('.reaction', { hasText: emoji });

test('a mute that runs out brings back the composer, Edit and React without any event', logged(async () => {
  const { page, mute, mine } = await mutedRoom();
  const p = page.page;
  for (const name of ['Reply', 'React', 'Edit', 'Delete']) assert.equal(await action(mine, name).count(), 1, name);

  const until = Date.now() + 6000;
  assert.equal((await mute(until)).status, 200);
  await p.locator('#composer-note', { hasText: 'You are muted in this room until' }).waitFor();
  assert.equal(await p.locator('#composer').isHidden(), true);
  // The server answers 403 muted to these: not offered.
  for (const name of ['Reply', 'React', 'Edit']) assert.equal(await action(mine, name).count(), 0, `no ${name} while muted`);
  assert.equal(await action(mine, 'Delete').count(), 1, 'deleting my own message stays');
  assert.equal(await count(mine, '👍').isDisabled(), true, 'no adding to their reaction');
  assert.equal(await count(mine, '🎉').isDisabled(), false, 'taking mine back stays');
  assert.ok(Date.now() < until, 'checked while the mute still ran (a loaded machine: raise the mute)');

  // No event comes at `until`: the page must notice by itself.
  await p.locator('#composer').waitFor({ state: 'visible', timeout: until - Date.now() + 5000 });
  assert.equal(await p.locator('#composer-note').isHidden(), true);
  for (const name of ['Reply', 'React', 'Edit', 'Delete']) assert.equal(await action(mine, name).count(), 1, `${name} is back`);
  assert.equal(await count(mine, '👍').isDisabled(), false);
  assert.equal(await p.locator('#members .muted').count(), 0, 'the member list no longer says muted');
  await ui.send(p, 'free again');
  await ui.waitForMessage(p, 'free again');
  await ui.finish(page);
}));

test('a mute of a month does not spin the page (setTimeout fires at once beyond 2^31-1 ms)', logged(async () => {
  // Counts the page's timers: a wake-up at the mute's end that fired at
  // once would set the next one at once, hundreds a second.
  const initScript = () => {
    const st = window.setTimeout;
    window.timersSet = 0;
    window.setTimeout = function () {
      window.timersSet++;
      return st.apply(this, arguments);
    };
  };
  const { page, mute, mine } = await mutedRoom({ initScript });
  const p = page.page;
  assert.equal((await mute(Date.now() + 31 * 24 * 3600 * 1000)).status, 200);
  await p.locator('#composer-note', { hasText: 'You are muted in this room until' }).waitFor();
  await p.waitForTimeout(300);
  const before = await p.evaluate(() => window.timersSet);
  await p.waitForTimeout(1000);
  const set = (await p.evaluate(() => window.timersSet)) - before;
  assert.ok(set < 20, `${set} timers set in a second while idle`);
  assert.equal(await p.locator('#composer').isHidden(), true, 'still muted');
  assert.equal(await action(mine, 'Edit').count(), 0);
  await ui.finish(page);
}));

test('another member\'s "muted until" leaves the member list when the mute runs out, without any event', logged(async () => {
  const owner = await h.apiRegister(f.stack.url, h.uniqueName('owner'));
  const ben = await h.apiRegister(f.stack.url, h.uniqueName('ben'));
  const room = (await fill.api(f.stack, owner.token, 'POST', '/rooms', { name: h.uniqueName('hall'), kind: 'public' }))
    .body.room;
  assert.equal((await fill.api(f.stack, ben.token, 'POST', `/rooms/${room.id}/join`)).status, 200);
  const cat = await ui.openAs(f.browser, f.stack.url, h.uniqueName('cat'));
  const p = cat.page;
  await p.getByRole('button', { name: `Join ${room.name}` }).click();
  await p.locator('#room-title', { hasText: `# ${room.name}` }).waitFor();
  const benLabel = p.locator('#members li', { has: p.locator('.name', { hasText: ben.user.username }) }).locator('.muted');
  const until = Date.now() + 6000;
  assert.equal((await fill.api(f.stack, owner.token, 'PUT', `/rooms/${room.id}/members/${ben.user.username}`,
    { muted_until: until })).status, 200);
  await benLabel.waitFor();
  assert.ok(Date.now() < until, 'seen while the mute still ran (a loaded machine: raise the mute)');
  // No event comes at `until`, and nothing else redraws the list.
  await benLabel.waitFor({ state: 'detached', timeout: until - Date.now() + 3000 });
  await ui.finish(cat);
}));

// A mute outlives the membership, and the owner may lift it while its
// member is out. The event reaches the removed member's page, which took
// it for a return and listed them again if it came before the page left
// the room (it leaves once the room list, asked again, says so): that
// list's answer is held here, as a slow network would, to open the window.
test('a kept mute lifted while I am out of the room does not put me back in its member list', logged(async () => {
  const { page, mute, kick, studentName } = await mutedRoom();
  const p = page.page;
  const meListed = p.locator('#members li', { has: p.locator('.name', { hasText: studentName }) });
  await meListed.waitFor();
  assert.equal((await mute(Date.now() + 3600000)).status, 200);
  let release;
  const held = new Promise((r) => { release = r; });
  const isList = (url) => url.pathname === '/api/rooms';
  await p.route(isList, async (route) => {
    const response = await route.fetch();
    await held;
    // Several lists may be held; one still waiting when unroute() or the
    // page's close comes first is handled already, and nobody reads it.
    await route.fulfill({ response }).catch(() => {});
  });
  assert.equal((await kick()).status, 204);
  await p.locator('#composer-note', { hasText: 'You were removed from this room' }).waitFor();
  await meListed.waitFor({ state: 'detached' });
  const lifted = await mute(null);
  assert.equal(lifted.status, 200);
  assert.deepEqual(lifted.body, { member: null, muted_until: null });
  await p.locator('#messages li.system', { hasText: 'Your mute in this room was lifted.' }).waitFor();
  assert.equal(await meListed.count(), 0, 'not listed: still out of the room');
  release();
  await p.unroute(isList);
  await ui.finish(page);
}));
