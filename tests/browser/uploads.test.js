'use strict';
// Attachments in the web client (issue 12 item 2), in real Chromium through
// real nginx: a photo chosen with the file picker shows a progress bar,
// goes with the next message and appears inline in a direct conversation
// on the other side, at the size the server read from its header before it
// has loaded (no layout jump); a file dropped on the room and an image
// pasted into the composer upload too; a non-image is a download link.
// With PARLEY_SCREENSHOTS set it saves uploads-dm.png there.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const zlib = require('node:zlib');
const h = require('./harness');
const ui = require('./ui');

const f = h.fixture();
const logged = f.logged;

// A real PNG (an evening-sky gradient with a sun), so the screenshot shows
// a picture and Chromium has something to decode.
function png(width, height) {
  const crcTable = [];
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    crcTable.push(c >>> 0);
  }
  const crc = (buf) => {
    let c = 0xffffffff;
    for (const b of buf) c = crcTable[(c ^ b) & 0xff] ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type, data) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type), data]);
    const sum = Buffer.alloc(4);
    sum.writeUInt32BE(crc(body));
    return Buffer.concat([len, body, sum]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8;  // bit depth
  ihdr[9] = 2;  // RGB
  const rows = [];
  for (let y = 0; y < height; y++) {
    const row = Buffer.alloc(1 + 3 * width);
    for (let x = 0; x < width; x++) {
      const t = y / height;
      const dx = x - width * 0.65, dy = y - height * 0.6;
      const sun = dx * dx + dy * dy < (height * 0.12) ** 2;
      row[1 + 3 * x] = sun ? 255 : Math.round(40 + 200 * t);
      row[2 + 3 * x] = sun ? 220 : Math.round(60 + 80 * t);
      row[3 + 3 * x] = sun ? 120 : Math.round(140 - 60 * t);
    }
    rows.push(row);
  }
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', zlib.deflateSync(Buffer.concat(rows))),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

test('a photo by the picker shows inline in a DM, sized before it loads', logged(async () => {
  const opts = { viewport: { width: 1100, height: 760 } };
  // Plain names (this file has a stack of its own) make a readable screenshot.
  const anaName = 'ana';
  const benName = 'ben';
  const ana = await ui.openAs(f.browser, f.stack.url, anaName, opts);
  const ben = await ui.openAs(f.browser, f.stack.url, benName, opts);
  await ana.page.getByLabel('Message a user').fill(benName);
  await ana.page.getByRole('button', { name: 'Start' }).click();
  await ana.page.locator('#room-title', { hasText: `@ ${benName}` }).waitFor();
  await ui.sendAndSee(ana.page, 'Look at tonight\'s sky', ana.page);

  // The picker: a progress bar, then "ready".
  const photo = png(480, 320);
  const [chooser] = await Promise.all([
    ana.page.waitForEvent('filechooser'),
    ana.page.getByRole('button', { name: 'Attach files' }).click(),
  ]);
  await chooser.setFiles({ name: 'sunset.png', mimeType: 'image/png', buffer: photo });
  const row = ana.page.locator('#upload-tray .upload', { hasText: 'sunset.png' });
  await row.locator('progress').waitFor();
  await ana.page.locator('#upload-tray .upload.ready').waitFor({ timeout: 15000 });
  assert.equal(await row.locator('progress').evaluate((p) => p.value), 100);
  await ui.send(ana.page, 'From the office roof');
  await ana.page.locator('#upload-tray').waitFor({ state: 'hidden' });

  // Ben's side: the image is laid out at 320 x 213 (480 x 320 scaled to
  // the 320 px box) from the message's width and height while its bytes
  // are held back, and keeps that box when they arrive.
  let release;
  const gate = new Promise((resolve) => { release = resolve; });
  await ben.page.route(/\/api\/uploads\/\d+$/, async (route) => {
    await gate;
    await route.continue();
  });
  await ui.openRoom(ben.page, anaName);
  const img = ben.page.locator('#messages .attachment.image img[alt="sunset.png"]');
  await img.waitFor();
  assert.equal(await img.getAttribute('width'), '320');
  assert.equal(await img.getAttribute('height'), '213');
  const box = (i) => ({ w: Math.round(i.getBoundingClientRect().width), h: Math.round(i.getBoundingClientRect().height),
                        loaded: i.complete && i.naturalWidth > 0 });
  // Measured once it has a box: a message redrawn meanwhile (the member
  // list or my blocks arriving) is a new element, laid out at the next
  // frame; one the client sized only when its bytes came never gets a box
  // here, its bytes held back.
  const sel = '#messages .attachment.image img[alt="sunset.png"]';
  const before = await (await ben.page.waitForFunction((s) => {
    const i = document.querySelector(s), r = i && i.getBoundingClientRect();
    return r && r.width > 0 ? { w: Math.round(r.width), h: Math.round(r.height), loaded: i.complete && i.naturalWidth > 0 } : null;
  }, sel, { timeout: 10000 })).jsonValue();
  assert.equal(before.loaded, false, 'measured before the image arrived');
  release();
  await ben.page.waitForFunction((sel) => {
    const i = document.querySelector(sel);
    return i && i.complete && i.naturalWidth > 0;
  }, sel, { timeout: 10000 });
  const after = await img.evaluate(box);
  assert.equal(await img.evaluate((i) => i.naturalWidth), 480, 'the real image loaded through nginx (CSP img-src self)');
  assert.deepEqual({ w: before.w, h: before.h }, { w: 320, h: 213 }, 'sized before loading');
  assert.deepEqual({ w: after.w, h: after.h }, { w: 320, h: 213 }, 'no jump when it loads');
  await ui.sendAndSee(ben.page, 'Wow, beautiful!', ana.page);

  if (process.env.PARLEY_SCREENSHOTS) {
    fs.mkdirSync(process.env.PARLEY_SCREENSHOTS, { recursive: true });
    await ben.page.mouse.move(0, 0);
    await ben.page.evaluate(() => document.activeElement && document.activeElement.blur());
    await ben.page.screenshot({ path: path.join(process.env.PARLEY_SCREENSHOTS, 'uploads-dm.png') });
  }
  await ui.finish(ana, ben);
}));

test('drag-and-drop and paste upload too; other files are download links', logged(async () => {
  const cy = await ui.openAs(f.browser, f.stack.url, 'cy');
  await cy.page.locator('#room-title', { hasText: '# general' }).waitFor();

  // A drop on the room, as a file manager would make it.
  await cy.page.evaluate(() => {
    const dt = new DataTransfer();
    dt.items.add(new File(['agenda: 1. uploads'], 'agenda.txt', { type: 'text/plain' }));
    const room = document.getElementById('room');
    room.dispatchEvent(new DragEvent('dragover', { dataTransfer: dt, bubbles: true, cancelable: true }));
    room.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
  });
  // A screenshot pasted into the composer.
  const shot = png(40, 30).toString('base64');
  await cy.page.evaluate((b64) => {
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    const dt = new DataTransfer();
    dt.items.add(new File([bytes], 'image.png', { type: 'image/png' }));
    document.getElementById('text').dispatchEvent(
      new ClipboardEvent('paste', { clipboardData: dt, bubbles: true, cancelable: true }));
  }, shot);
  await cy.page.locator('#upload-tray .upload.ready').nth(1).waitFor({ timeout: 15000 });
  // Attachments alone: no text needed.
  await cy.page.getByRole('textbox', { name: 'Message' }).press('Enter');

  const link = cy.page.locator('#messages .attachment', { hasText: 'agenda.txt' }).last();
  await link.waitFor();
  assert.equal(await link.getAttribute('download'), 'agenda.txt');
  const href = await link.getAttribute('href');
  assert.match(href, /^\/api\/uploads\/\d+$/);
  const pasted = cy.page.locator('#messages .attachment.image img[alt="image.png"]').last();
  await pasted.waitFor();
  assert.equal(await pasted.getAttribute('width'), '40');
  // The download is the file, as an attachment, for this signed-in user.
  const res = await cy.page.evaluate(async (u) => {
    const r = await fetch(u);
    return { status: r.status, body: await r.text(), cd: r.headers.get('content-disposition') };
  }, href);
  assert.equal(res.status, 200);
  assert.equal(res.body, 'agenda: 1. uploads');
  assert.match(res.cd, /^attachment;/);
  await ui.finish(cy);
}));
