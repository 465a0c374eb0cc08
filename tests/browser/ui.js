'use strict';
// Page-level helpers for the browser tests: a user signed in through the
// real page, and the few actions every scenario repeats. They drive the UI
// the way a person does (labels, buttons, Enter), so a test breaks when the
// page stops being usable, not when an id is renamed.

const assert = require('node:assert/strict');

const PASSWORD = 'correct horse battery';

// opens a new browser context (its own cookie jar: one "device") signed in
// as `name`. opts.register (default true) creates the account through the
// page; opts.initScript runs before the page's own scripts (to remove
// EventSource, say); opts.url overrides the stack's URL (a proxy);
// opts.timeout (ms) how long the page may take to come up signed in
// (default: the context's action timeout).
// Returns {ctx, page, errors}: `errors` collects uncaught page errors and
// console errors, which each test asserts stay empty.
async function openAs(browser, url, name, opts = {}) {
  const ctx = await browser.newContext({ viewport: opts.viewport || { width: 1100, height: 720 } });
  if (opts.initScript) await ctx.addInitScript(opts.initScript);
  const user = await newTab(ctx, url);
  await signIn(user.page, name, { password: opts.password, register: opts.register !== false });
  await signedInAs(user.page, name, opts.timeout);
  return { ctx, page: user.page, errors: user.errors };
}

// Fills the sign-in form of `page` as `name` (opts.password, default
// PASSWORD) and presses "Sign in", or "Create account" when opts.register.
// It does not wait for the outcome: the caller waits for what it expects
// (signedInAs, an error, the page's content).
async function signIn(page, name, opts = {}) {
  await page.getByLabel('Username').fill(name);
  await page.getByLabel('Password').fill(opts.password || PASSWORD);
  await page.getByRole('button', { name: opts.register ? 'Create account' : 'Sign in', exact: true }).click();
}

// Another tab in the same context (the same signed-in browser).
async function newTab(ctx, url) {
  const page = await ctx.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    // The browser logs every non-2xx response as "Failed to load
    // resource"; the page causes some on purpose (the 401 of /api/me before
    // signing in, a 409 in the Q&A race). Script errors are what count.
    if (m.type() === 'error' && !/Failed to load resource/.test(m.text())) errors.push(`console: ${m.text()}`);
  });
  page.on('dialog', (d) => {
    errors.push(`dialog opened: ${d.message()}`);
    d.dismiss().catch(() => {});
  });
  await page.goto(url);
  return { page, errors };
}

async function signedInAs(page, name, timeout) {
  // Attached, not visible: at phone width the name is not shown.
  await page.locator('#me', { hasText: name }).waitFor({ state: 'attached', timeout });
}

// Waits for the connection badge to say `status` ("live", "long-poll").
async function waitForStatus(page, status, timeout = 10000) {
  await page.locator(`#status.${status}`).waitFor({ timeout });
}

async function send(page, text) {
  const box = page.getByRole('textbox', { name: /^(Message|Ask a question)$/ });
  await box.fill(text);
  await box.press('Enter');
}

// The message bodies in the open room whose text is exactly `text`.
function messages(page, text) {
  return page.locator('#messages .msg .text').filter({ hasText: exactly(text) });
}

// The <li> of the message whose own text (not a nested answer's) is `text`.
function item(page, text, kind = 'msg') {
  return page.locator(`#messages .${kind}`)
    .filter({ has: page.locator(':scope > .content > .text', { hasText: exactly(text) }) });
}

// Waits until the message is stored: shown from the server's answer or its
// event, not only as my own copy still being sent.
async function waitForMessage(page, text, timeout = 10000) {
  await page.locator('#messages .msg:not(.pending) .text').filter({ hasText: exactly(text) })
    .first().waitFor({ timeout });
}

// Asserts the text shows exactly once in the open room (no duplicate from
// the send's response and its event).
async function assertShownOnce(page, text) {
  await waitForMessage(page, text);
  // A duplicate, if any, lands when the event arrives; give it a moment.
  await page.waitForTimeout(300);
  assert.equal(await messages(page, text).count(), 1, `"${text}" should show exactly once`);
}

function escape(text) {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function exactly(text) {
  return new RegExp(`^${escape(text)}$`);
}

// Clicks a room (or direct conversation) in the sidebar by name.
async function openRoom(page, name) {
  await roomButton(page, name).click();
  await page.locator('#room-title', { hasText: exactly(`# ${name}`) })
    .or(page.locator('#room-title', { hasText: exactly(`@ ${name}`) })).waitFor();
}

// The sidebar button of a room ("# name") or direct conversation ("@ name").
function roomButton(page, name) {
  const label = page.locator('.name', { hasText: new RegExp(`^[#@] ${escape(name)}$`) });
  return page.locator('#sidebar button.room').filter({ has: label });
}

function assertNoErrors(...users) {
  const all = users.flatMap((u) => u.errors);
  assert.deepEqual(all, [], 'no script errors, console errors or dialogs');
}

// Sends `text` from `from` and checks that each of `pages` shows it once.
async function sendAndSee(from, text, ...pages) {
  await send(from, text);
  for (const page of pages) await assertShownOnce(page, text);
}

// The end of a test: no page had an error, then each browser closes (a
// tab from newTab shares its opener's context and has none of its own).
async function finish(...users) {
  assertNoErrors(...users);
  for (const ctx of new Set(users.map((u) => u.ctx).filter(Boolean))) await ctx.close();
}

module.exports = {
  PASSWORD,
  openAs,
  signIn,
  newTab,
  signedInAs,
  waitForStatus,
  send,
  messages,
  item,
  waitForMessage,
  assertShownOnce,
  sendAndSee,
  finish,
  openRoom,
  roomButton,
  assertNoErrors,
  escape,
};
