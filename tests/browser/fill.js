'use strict';
// Test data for the conversation tests, written straight into a test
// stack's SQLite file with Debian's sqlite3 shell: 10,000 messages in well
// under a second, and timestamps in the past (days ago, minutes apart),
// which the API cannot produce. Rows are exactly what the store writes for
// a send: an event (whose id is the message's id) and a message row, in one
// transaction. The push daemon notices the commit (PRAGMA data_version)
// and delivers the events like any other; open pages after filling.

const assert = require('node:assert/strict');
const { execFile } = require('node:child_process');
const path = require('node:path');
const h = require('./harness');

// Runs SQL on the stack's database (bounded in time); resolves with stdout.
function sql(stack, text) {
  return new Promise((resolve, reject) => {
    const db = path.join(stack.dir, 'parley.db');
    // .timeout: wait for a daemon's write transaction instead of failing.
    execFile('sqlite3', ['-batch', '-cmd', '.timeout 10000', db],
      { timeout: 60000 }, (err, stdout, stderr) => {
        if (err) reject(new Error(`sqlite3: ${err.message}\n${stderr}`));
        else resolve(stdout);
      }).stdin.end(text);
  });
}

function quote(s) {
  return `'${String(s).replace(/'/g, "''")}'`;
}

// Appends messages to a room. messages: [{user: {id, username}, text, ts,
// replyTo? (index into this array)}]. Resolves with their ids, in order.
async function insertMessages(stack, roomId, messages) {
  const base = Number((await sql(stack, "SELECT COALESCE(MAX(id), 0) FROM events;")).trim());
  const rows = [];
  messages.forEach((m, i) => {
    const id = base + 1 + i;
    const reply = m.replyTo === undefined ? null : base + 1 + m.replyTo;
    const data = JSON.stringify({
      id, room_id: roomId, user: m.user, kind: 'message', text: m.text,
      ...(reply ? { reply_to: reply } : {}), ts: m.ts,
    });
    rows.push(`INSERT INTO events(id, ts, type, room_id, audience, data) VALUES (${id}, ${m.ts}, 'message', ${roomId}, 'room', ${quote(data)});`);
    // seq: its place in the room, as Store::InsertMessage gives it (unread counts read it).
    rows.push(`INSERT INTO messages(id, room_id, user_id, kind, text, reply_to, ts, seq) VALUES (${id}, ${roomId}, ${m.user.id}, 'message', ${quote(m.text)}, ${reply || 'NULL'}, ${m.ts}, COALESCE((SELECT seq FROM messages WHERE room_id = ${roomId} ORDER BY id DESC LIMIT 1), 0) + 1);`);
  });
  // Indexed for search in the same transaction, as Parley does before each COMMIT (migration 009).
  rows.push('INSERT INTO messages_fts(rowid, text, room_id) SELECT m.id, m.text, m.room_id FROM messages_fts_pending p JOIN messages m ON m.id = p.id ORDER BY p.id;');
  rows.push('DELETE FROM messages_fts_pending;');
  await sql(stack, `BEGIN IMMEDIATE;\n${rows.join('\n')}\nCOMMIT;\n`);
  return messages.map((_, i) => base + 1 + i);
}

// A JSON API call with a Bearer token (test set-up, not the page).
async function api(stack, token, method, p, body) {
  const res = await fetch(`${stack.url}/api${p}`, {
    method,
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
    body: body && JSON.stringify(body),
    signal: AbortSignal.timeout(10000),
  });
  return { status: res.status, body: await res.json().catch(() => null) };
}

// The blocking tests' cast: ana, ben and one user for each name prefix in
// `others`, all in a new public room of ana's, where ana has blocked ben
// unless opts.blocked is false. say(u, text or body) posts as u in the room
// and resolves with the stored message.
async function club(stack, others = [], opts = {}) {
  const users = [];
  for (const n of ['ana', 'ben', ...others]) users.push(await h.apiRegister(stack.url, h.uniqueName(n)));
  const [ana, ben] = users;
  const room = (await api(stack, ana.token, 'POST', '/rooms', { name: h.uniqueName('club'), kind: 'public' })).body.room;
  for (const u of users.slice(1)) assert.equal((await api(stack, u.token, 'POST', `/rooms/${room.id}/join`)).status, 200);
  if (opts.blocked !== false) assert.equal((await api(stack, ana.token, 'PUT', `/me/blocks/${ben.user.username}`)).status, 204);
  const say = async (u, body) => {
    const res = await api(stack, u.token, 'POST', `/rooms/${room.id}/messages`, typeof body === 'string' ? { text: body } : body);
    assert.equal(res.status, 201);
    return res.body.message;
  };
  return { room, users, say };
}

module.exports = { sql, insertMessages, api, club };
