'use strict';
// How the page looks and who can use it, in real Chromium: axe-core (from
// npm, run inside the page) finds no serious or critical violation on the
// sign-in screen, a room, a direct conversation, a Q&A room and the
// settings, in the light and the dark theme; the dark theme follows the
// system and the settings; at 375 px the page is one column with the rooms
// in a drawer, no horizontal scrolling and 44 px touch targets. With
// PARLEY_SCREENSHOTS set it saves desktop-light.png, desktop-dark.png and
// phone.png there.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const h = require('./harness');
const ui = require('./ui');

const f = h.fixture();
const logged = f.logged;
const { assertAccessible, shot } = require('./look');

const background = (page, sel) => page.locator(sel).evaluate((e) => getComputedStyle(e).backgroundColor);
const dark = (rgb) => {
  const [r, g, b] = rgb.match(/\d+/g).map(Number);
  return r + g + b < 3 * 80;
};

// A conversation worth looking at: two people in a room, with a reply.
// Plain names (each test file has a stack of its own) make readable
// screenshots; each scene has its own pair.
async function scene(colorScheme, [first, second, roomName]) {
  const opts = { viewport: { width: 1200, height: 760 } };
  const ana = await ui.openAs(f.browser, f.stack.url, first, opts);
  const benName = second;
  const ben = await ui.openAs(f.browser, f.stack.url, benName, opts);
  await ana.page.emulateMedia({ colorScheme });
  const anaName = await ana.page.locator('#me').textContent();
  // A room of their own: the stack is shared by this file's tests.
  const room = roomName;
  await ana.page.getByLabel('New room').fill(room);
  await ana.page.getByRole('button', { name: 'Create' }).click();
  await ana.page.locator('#room-title', { hasText: `# ${room}` }).waitFor();
  await ben.page.getByRole('button', { name: `Join ${room}` }).click();
  await ben.page.locator('#room-title', { hasText: `# ${room}` }).waitFor();
  await ui.sendAndSee(ben.page, 'Morning! Is the demo still at 10?', ana.page);
  await ui.send(ben.page, 'I can bring the projector.');
  await ui.waitForMessage(ana.page, 'I can bring the projector.');
  await ui.item(ana.page, 'Morning! Is the demo still at 10?').getByRole('button', { name: 'Reply' }).click();
  await ui.send(ana.page, 'Yes, 10 sharp, room 4.');
  await ui.send(ana.page, 'Thanks for the projector!');
  await ui.waitForMessage(ben.page, 'Thanks for the projector!');
  return { ana, ben, anaName, benName };
}

test('axe finds no serious violation: sign-in, room, DM, Q&A room, settings (light)', logged(async () => {
  const ctx = await f.browser.newContext();
  const first = await ui.newTab(ctx, f.stack.url);
  await first.page.getByLabel('Username').waitFor();
  await assertAccessible(first.page, 'sign-in');
  await ctx.close();

  const { ana, ben, benName } = await scene('light', ['ana.lima', 'ben_okafor', 'design-review']);
  assert.equal(dark(await background(ana.page, 'body')), false, 'light theme');
  await assertAccessible(ana.page, 'a room');
  await shot(ana.page, 'desktop-light.png');

  await ana.page.getByLabel('Message a user').fill(benName);
  await ana.page.getByRole('button', { name: 'Start' }).click();
  await ana.page.locator('#room-title', { hasText: `@ ${benName}` }).waitFor();
  await ui.send(ana.page, 'See you there');
  await ui.waitForMessage(ana.page, 'See you there');
  await assertAccessible(ana.page, 'a direct conversation');

  const physics = h.uniqueName('physics');
  await ana.page.getByLabel('New room').fill(physics);
  await ana.page.getByLabel('Kind of room').selectOption('qa');
  await ana.page.getByRole('button', { name: 'Create' }).click();
  await ana.page.locator('#room-kind', { hasText: 'you are a professor' }).waitFor();
  await ben.page.getByRole('button', { name: `Join ${physics}` }).click();
  await ben.page.locator('#room-kind', { hasText: 'you are a student' }).waitFor();
  await ui.send(ben.page, 'Why is the sky blue?');
  await ui.item(ana.page, 'Why is the sky blue?', 'question').locator('.state', { hasText: 'unanswered' }).waitFor();
  await assertAccessible(ana.page, 'a Q&A room (professor)');
  await assertAccessible(ben.page, 'a Q&A room (student)');

  await ana.page.getByRole('button', { name: 'Settings' }).click();
  await ana.page.getByRole('radio', { name: 'Dark' }).waitFor();
  await assertAccessible(ana.page, 'the settings');
  await ui.finish(ana, ben);
}));

test('dark theme follows the system and the settings, and passes axe too', logged(async () => {
  const { ana, ben } = await scene('dark', ['cleo', 'dev.patel', 'launch-plan']);
  assert.ok(dark(await background(ana.page, 'body')), 'prefers-color-scheme: dark gives the dark theme');
  assert.ok(dark(await background(ana.page, '#room')));
  await assertAccessible(ana.page, 'a room, dark');
  // The hover toolbar and a focused message, in the dark.
  await ui.item(ana.page, 'I can bring the projector.').hover();
  await assertAccessible(ana.page, 'a room with actions shown, dark');
  await ana.page.mouse.move(0, 0);
  await shot(ana.page, 'desktop-dark.png');

  // Settings override the system, both ways, and survive a reload.
  await ana.page.getByRole('button', { name: 'Settings' }).click();
  await ana.page.getByRole('radio', { name: 'Light' }).check();
  assert.equal(dark(await background(ana.page, 'body')), false, 'light forced on a dark system');
  await ana.page.reload();
  await ui.waitForMessage(ana.page, 'Thanks for the projector!');
  assert.equal(dark(await background(ana.page, 'body')), false, 'the choice is kept');
  await ana.page.getByRole('button', { name: 'Settings' }).click();
  await ana.page.getByRole('radio', { name: 'Same as the system' }).check();
  assert.ok(dark(await background(ana.page, 'body')));
  await ana.page.emulateMedia({ colorScheme: 'light' });
  await ana.page.getByRole('radio', { name: 'Dark' }).check();
  assert.ok(dark(await background(ana.page, 'body')), 'dark forced on a light system');
  await assertAccessible(ana.page, 'settings, dark');
  await ana.page.getByRole('radio', { name: 'Same as the system' }).check();
  assert.equal(await ana.page.evaluate(() => localStorage.length), 0, 'the default stores nothing');
  await ui.finish(ana, ben);
}));

test('at 375 px: one column, rooms in a drawer, no horizontal scroll, 44 px targets', logged(async () => {
  const phone = { viewport: { width: 375, height: 740 }, hasTouch: true };
  const pia = await ui.openAs(f.browser, f.stack.url, 'pia', phone);
  const quin = await ui.openAs(f.browser, f.stack.url, 'quinn');
  // A direct conversation: bubbles, on a phone.
  await quin.page.getByLabel('Message a user').fill('pia');
  await quin.page.getByRole('button', { name: 'Start' }).click();
  await quin.page.locator('#room-title', { hasText: '@ pia' }).waitFor();
  await ui.send(quin.page, 'Are you on your phone?');
  await ui.roomButton(pia.page, 'quinn').waitFor({ state: 'attached' });
  await pia.page.getByRole('button', { name: 'Rooms' }).click();
  await ui.openRoom(pia.page, 'quinn');
  await ui.assertShownOnce(pia.page, 'Are you on your phone?');
  await ui.sendAndSee(pia.page, 'Yes, it fits the screen: one column, no sideways scrolling.', quin.page);
  await ui.send(quin.page, 'A long word to wrap: ' + 'x'.repeat(120));
  await pia.page.locator('#messages .msg .text', { hasText: 'A long word to wrap' }).waitFor();

  const layout = await pia.page.evaluate(() => {
    const visible = (e) => e.offsetParent !== null && getComputedStyle(e).visibility !== 'hidden';
    const small = Array.from(document.querySelectorAll('button, input, select, textarea, [tabindex="0"]'))
      .filter(visible)
      .filter((e) => !e.closest('.actions') || getComputedStyle(e.closest('.actions')).opacity !== '0')
      .map((e) => ({ e, r: e.getBoundingClientRect() }))
      .filter(({ r }) => r.width > 0 && (r.width < 44 || r.height < 44) && !(r.width >= 200 && r.height >= 44))
      .filter(({ e }) => e.id !== 'messages')
      .map(({ e, r }) => `${e.tagName}#${e.id}.${e.className} ${r.width.toFixed(0)}x${r.height.toFixed(0)}`);
    return {
      overflow: document.documentElement.scrollWidth - window.innerWidth,
      roomWidth: document.getElementById('room').getBoundingClientRect().width,
      sidebar: visible(document.getElementById('sidebar')),
      members: visible(document.getElementById('members-panel')),
      small,
    };
  });
  assert.ok(layout.overflow <= 0, `no horizontal scrolling (${layout.overflow} px too wide)`);
  assert.ok(layout.roomWidth >= 360, `the room takes the width (${layout.roomWidth} px)`);
  assert.equal(layout.sidebar, false, 'the room list is in a closed drawer');
  assert.equal(layout.members, false);
  assert.deepEqual(layout.small, [], 'touch targets of at least 44 px');
  await assertAccessible(pia.page, 'phone');
  await shot(pia.page, 'phone.png');

  // The drawer opens from its button, closes with Escape or by choosing a room.
  const menu = pia.page.getByRole('button', { name: 'Rooms' });
  await menu.focus();
  await pia.page.keyboard.press('Enter');
  assert.ok(await pia.page.locator('#sidebar').isVisible());
  assert.equal(await pia.page.evaluate(() => document.activeElement.closest('#sidebar') !== null), true,
    'the keyboard lands in the drawer');
  const overflow = await pia.page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, 'the open drawer does not widen the page');
  await pia.page.keyboard.press('Escape');
  assert.equal(await pia.page.locator('#sidebar').isVisible(), false);
  assert.equal(await menu.getAttribute('aria-expanded'), 'false');
  assert.equal(await pia.page.evaluate(() => document.activeElement.id), 'menu', 'and back on the button after Escape');
  await menu.click();
  await ui.openRoom(pia.page, 'general');
  assert.equal(await pia.page.locator('#sidebar').isVisible(), false);
  await ui.finish(pia, quin);
}));
