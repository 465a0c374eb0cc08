'use strict';
// A Q&A room's history paged backwards: answers come after their question,
// so an answer is often loaded on a newer page than the question it
// answers, and must move under it when the question arrives. A deleted
// answer's question no longer names it (answer_id), but its tombstone
// still says which question it answered (reply_to): it too belongs under
// the question, not stranded in the main list.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const h = require('./harness');
const ui = require('./ui');
const fill = require('./fill');

const f = h.fixture();
const logged = f.logged;

test('answers loaded before their question, deleted or not, move under it in id order', logged(async () => {
  const prof = await h.apiRegister(f.stack.url, h.uniqueName('prof'));
  const studentName = h.uniqueName('student');
  const student = await h.apiRegister(f.stack.url, studentName);
  const room = (await fill.api(f.stack, prof.token, 'POST', '/rooms', { name: h.uniqueName('physics'), kind: 'qa' }))
    .body.room;
  assert.equal((await fill.api(f.stack, student.token, 'POST', `/rooms/${room.id}/join`)).status, 200);
  const q = (await fill.api(f.stack, student.token, 'POST', `/rooms/${room.id}/messages`, { text: 'Why is the sky blue?' }))
    .body.message;
  assert.equal(q.kind, 'question');
  // More than a page between the question and its answers.
  const now = Date.now();
  await fill.insertMessages(f.stack, room.id, Array.from({ length: 70 }, (_, i) => ({
    user: student.user, text: `filler ${i}`, ts: now + i,
  })));
  const answer = (text) => fill.api(f.stack, prof.token, 'POST', `/messages/${q.id}/answer`, { text });
  const first = (await answer('Rayleigh scattering')).body.message;
  assert.equal((await fill.api(f.stack, prof.token, 'DELETE', `/messages/${first.id}`)).status, 204);
  const second = (await answer('Shorter wavelengths scatter more')).body.message;
  // All read: the room opens on its latest page (not around the marker).
  assert.equal((await fill.api(f.stack, student.token, 'POST', `/rooms/${room.id}/read`, { event_id: second.id })).status, 204);

  const page = await ui.openAs(f.browser, f.stack.url, studentName, { register: false });
  const p = page.page;
  await ui.openRoom(p, room.name);
  await ui.waitForMessage(p, 'Shorter wavelengths scatter more');
  // Back to the start of the room, a page at a time.
  const question = ui.item(p, 'Why is the sky blue?', 'question');
  for (let i = 0; i < 10 && !(await question.count()); i++) {
    await p.locator('#messages').evaluate((list) => { list.scrollTop = 0; });
    await p.waitForTimeout(300);
  }
  await question.waitFor();
  const under = await question.locator('.answers > li').evaluateAll((lis) => lis.map((li) => +li.dataset.id));
  assert.deepEqual(under, [first.id, second.id], 'both answers under their question, oldest first');
  assert.equal(await p.locator('#messages > li.answer').count(), 0, 'no answer left in the main list');
  await question.locator('.answers .text.deleted', { hasText: 'message deleted' }).waitFor();
  await ui.finish(page);
}));
