'use strict';
// A session that ends under a send (401): the page goes back to signing in,
// and the words just sent are not lost; they wait in the composer for the
// same person. A draft (text and files) never outlives its author's
// session for someone else who signs in on that page.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const h = require('./harness');
const ui = require('./ui');

const f = h.fixture();
const logged = f.logged;

test('a send answered 401 keeps its text for after signing in, and only for its author', logged(async () => {
  const name = h.uniqueName('sam');
  const sam = await ui.openAs(f.browser, f.stack.url, name);
  const p = sam.page;
  await ui.openRoom(p, 'general');
  // The session ends on the server as the message goes (a password changed
  // elsewhere, an admin): the send gets 401.
  const ended = (route) => (route.request().method() === 'POST'
    ? route.fulfill({ status: 401, contentType: 'application/json',
      body: '{"error":{"code":"not_signed_in","message":"sign in first"}}' })
    : route.continue());
  await p.route('**/api/rooms/*/messages', ended);
  await ui.send(p, 'a long careful answer');
  await p.locator('#auth-error', { hasText: 'Your session ended' }).waitFor();
  await p.unroute('**/api/rooms/*/messages', ended);

  await ui.signIn(p, name);
  await ui.signedInAs(p, name);
  await p.locator('#room-title', { hasText: '# general' }).waitFor();
  assert.equal(await p.getByRole('textbox', { name: 'Message' }).inputValue(), 'a long careful answer');
  await p.getByRole('textbox', { name: 'Message' }).press('Enter');
  await ui.assertShownOnce(p, 'a long careful answer');

  // A draft left when signing out is not shown to the next person.
  await p.getByRole('textbox', { name: 'Message' }).fill('private thoughts');
  const [chooser] = await Promise.all([
    p.waitForEvent('filechooser'),
    p.getByRole('button', { name: 'Attach files' }).click(),
  ]);
  await chooser.setFiles({ name: 'diary.txt', mimeType: 'text/plain', buffer: Buffer.from('dear diary') });
  await p.locator('#upload-tray .upload.ready').waitFor({ timeout: 15000 });
  await p.getByRole('button', { name: 'Settings' }).click();
  await p.getByRole('button', { name: 'Sign out' }).click();
  const other = h.uniqueName('tom');
  await ui.signIn(p, other, { register: true });
  await ui.signedInAs(p, other);
  await p.locator('#room-title', { hasText: '# general' }).waitFor();
  assert.equal(await p.getByRole('textbox', { name: 'Message' }).inputValue(), '');
  assert.equal(await p.locator('#upload-tray').isHidden(), true, 'no file of sam\'s waits to go with tom\'s next message');
  await ui.finish(sam);
}));
