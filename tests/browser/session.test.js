'use strict';
// Sessions and the edges of sending in real Chromium: readable sign-in
// errors, signing out everywhere, no token the page could leak, a send whose
// answer was lost retried with the same client_id (stored once), and a
// `reset` after the database is restored from a backup.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const { execFileSync } = require('node:child_process');
const path = require('node:path');
const h = require('./harness');
const ui = require('./ui');

const f = h.fixture();
const logged = f.logged;

test('sign-in errors are readable sentences', logged(async () => {
  const taken = h.uniqueName('taken');
  await h.apiRegister(f.stack.url, taken);
  const ctx = await f.browser.newContext();
  const tab = await ui.newTab(ctx, f.stack.url);
  const { page } = tab;
  const error = page.getByRole('alert').filter({ hasText: /./ });

  await ui.signIn(page, taken, { password: 'not the password' });
  await error.filter({ hasText: 'Wrong username or password.' }).waitFor();

  await page.getByRole('button', { name: 'Create account' }).click();
  await error.filter({ hasText: 'That username is taken.' }).waitFor();

  await page.getByLabel('Password').fill('short');
  await page.getByRole('button', { name: 'Create account' }).click();
  await error.filter({ hasText: 'at least 8 characters' }).waitFor();
  assert.equal(await page.locator('#app').isVisible(), false);
  ui.assertNoErrors(tab);
  await ctx.close();
}));

test('signing out ends the session in every tab, and the page never holds the token', logged(async () => {
  const name = h.uniqueName('rita');
  const rita = await ui.openAs(f.browser, f.stack.url, name);
  const tab2 = await ui.newTab(rita.ctx, f.stack.url);
  await ui.signedInAs(tab2.page, name);
  await ui.waitForStatus(tab2.page, 'live');

  // The session is the HttpOnly cookie: invisible to scripts, not stored.
  const visible = await rita.page.evaluate(() => ({
    cookie: document.cookie, local: localStorage.length, session: sessionStorage.length,
  }));
  assert.deepEqual(visible, { cookie: '', local: 0, session: 0 });

  await rita.page.getByRole('button', { name: 'Settings' }).click();
  await rita.page.getByRole('button', { name: 'Sign out' }).click();
  await rita.page.getByRole('button', { name: 'Sign in' }).waitFor();
  // The other tab learns it from its stream, which the daemon closes when
  // it re-checks sessions (every 3 s).
  await tab2.page.getByRole('button', { name: 'Sign in' }).waitFor({ timeout: 15000 });
  await tab2.page.getByRole('alert').filter({ hasText: 'sign in again' }).waitFor();
  await rita.page.reload();
  await rita.page.getByRole('button', { name: 'Sign in' }).waitFor();
  assert.equal(await rita.page.locator('#app').isVisible(), false);

  // Signing in again brings the same account back.
  await ui.signIn(rita.page, name);
  await ui.signedInAs(rita.page, name);
  await ui.finish(rita, tab2);
}));

test('a send whose answer is lost is retried with its client_id and stored once', logged(async () => {
  const sam = await ui.openAs(f.browser, f.stack.url, h.uniqueName('sam'));
  const tess = await ui.openAs(f.browser, f.stack.url, h.uniqueName('tess'));
  await ui.waitForStatus(sam.page, 'live');
  // With the push daemon down, the stored copy cannot come back as an
  // event either: only the retry can reconcile the pending message.
  const down = f.stack.restartEvents(8000);
  await ui.waitForStatus(sam.page, 'reconnecting');
  // The first send reaches the server and is stored, but the browser never
  // hears back (a connection lost on the way back).
  let dropped = 0;
  await sam.page.route('**/api/rooms/*/messages', async (route) => {
    if (route.request().method() !== 'POST' || dropped > 0) return route.fallback();
    dropped++;
    await route.fetch();
    await route.abort('connectionreset');
  });
  await ui.send(sam.page, 'sent once, answered never');
  const mine = sam.page.locator('#messages .msg.pending', { hasText: 'sent once, answered never' });
  await mine.locator('.failed', { hasText: 'Not sent' }).waitFor();

  await sam.page.unroute('**/api/rooms/*/messages');
  await mine.getByRole('button', { name: 'Retry' }).click();
  await mine.waitFor({ state: 'detached' });
  await ui.assertShownOnce(sam.page, 'sent once, answered never');
  assert.equal(dropped, 1);

  // Back online, the event replays: still once, for both.
  await down;
  await ui.waitForStatus(sam.page, 'live', 20000);
  await ui.assertShownOnce(sam.page, 'sent once, answered never');
  await ui.assertShownOnce(tess.page, 'sent once, answered never');
  await ui.finish(sam, tess);
}));

test('after the database is restored from a backup the page resets and carries on', logged(async () => {
  const uma = await ui.openAs(f.browser, f.stack.url, h.uniqueName('uma'));
  const vic = await ui.openAs(f.browser, f.stack.url, h.uniqueName('vic'));
  await ui.send(vic.page, 'in the backup');
  await ui.waitForMessage(uma.page, 'in the backup');

  const backup = path.join(f.stack.dir, 'backup.db');
  execFileSync(path.join(h.BUILD, 'tools/parleyctl'), ['--db', path.join(f.stack.dir, 'parley.db'), 'backup', backup],
    { timeout: 10000 });
  await ui.send(vic.page, 'after the backup');
  await ui.waitForMessage(uma.page, 'after the backup');

  // The restored database is behind the page's cursor: the stream answers
  // `reset`, and the page reloads what it shows from the server.
  await f.stack.restoreDatabase(backup);
  await ui.messages(uma.page, 'after the backup').waitFor({ state: 'detached', timeout: 20000 });
  await ui.waitForMessage(uma.page, 'in the backup');
  await ui.waitForStatus(uma.page, 'live', 20000);

  await ui.waitForStatus(vic.page, 'live', 20000);
  await ui.sendAndSee(vic.page, 'after the restore', uma.page);
  await ui.finish(uma, vic);
}));

test('a reset keeps my messages that failed to send, with their Retry', logged(async () => {
  const wes = await ui.openAs(f.browser, f.stack.url, h.uniqueName('wes'));
  const p = wes.page;
  await ui.send(p, 'wes before the backup');
  await ui.waitForMessage(p, 'wes before the backup');
  const backup = path.join(f.stack.dir, 'backup-wes.db');
  execFileSync(path.join(h.BUILD, 'tools/parleyctl'), ['--db', path.join(f.stack.dir, 'parley.db'), 'backup', backup],
    { timeout: 10000 });
  await ui.send(p, 'wes after the backup');
  await ui.waitForMessage(p, 'wes after the backup');
  // A send that never reaches the server waits for Retry.
  const sends = '**/api/rooms/*/messages';
  await p.route(sends, (route) => (route.request().method() === 'POST' ? route.abort('connectionreset') : route.fallback()));
  await ui.send(p, 'waiting for Retry');
  const failed = p.locator('#messages .msg.pending', { hasText: 'waiting for Retry' });
  await failed.locator('.failed', { hasText: 'Not sent' }).waitFor();

  // The restore answers `reset`: the room reloads from the server.
  await f.stack.restoreDatabase(backup);
  await ui.messages(p, 'wes after the backup').waitFor({ state: 'detached', timeout: 20000 });
  await ui.waitForMessage(p, 'wes before the backup');
  assert.equal(await failed.count(), 1, 'the failed message is still there');
  assert.equal(await failed.getByRole('button', { name: 'Retry' }).count(), 1);

  await p.unroute(sends);
  await ui.waitForStatus(p, 'live', 20000);
  await failed.getByRole('button', { name: 'Retry' }).click();
  await failed.waitFor({ state: 'detached' });
  await ui.assertShownOnce(p, 'waiting for Retry');
  await ui.finish(wes);
}));
