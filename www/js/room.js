// The open room: message window, composer, edits, Q&A, typing, members.
// Messages are keyed by id: one copy whatever the path. A send is pending
// under its client_id (Retry reuses it). A window short of the newest
// skips live messages. A live region reads out new ones (the list would
// read history too).
(function () {
var list = $('messages'), kPageSize = 50, kMaxItems = 400, kEdgePx = 120, kTypingSendEveryMs = 3000;
var kTypingShowMs = 6000, kLongPressMs = 500, kAnnounceKeep = 3, mod = Parley.moderation;

// Per-room state (replies, quotes, typing...) is set by open().
var R = {
  room: null,
  nodes: {},  // id -> <li>
  msgs: {},
  oldest: null,
  newest: 0,
  hasMore: false,  // older messages before the window
  atEnd: true,  // it holds the newest
  skipped: 0,  // largest live id not shown
  loading: false,
  gen: 0,  // bumped when the window is replaced: late pages dropped
  lastTypingSent: 0,
  members: [],
  events: 0,  // member and presence events
  seq: 0  // bumped when another room opens: late answers dropped
};

// A message's shell, and regroup(): after each batch of changes it sets
// what depends on neighbours (`cont`, dividers), simpler than patching each
// case. A divider is its message's first child: none is stranded.
var kGroupMs = 5 * 60 * 1000, kHidden = 'Hidden: you blocked this person.';

// alice_k: AK, bob: BO.
function initials(name) {
  var parts = String(name).split(/[._-]+/), a = parts[0] || name;
  var b = parts[1] ? parts[1].charAt(0) : a.charAt(1);
  return (a.charAt(0) + b).toUpperCase();
}

// A stable colour per user, each 4.5:1 or more against white.
var kColours = ['#1f5fbf', '#7b3fb3', '#b3261e', '#1e6b34', '#8a5a00', '#00695c', '#ad1457', '#4a5360'];
function colour(userId) {
  var h = (userId * 2654435761) % 4294967296;  // Knuth's hash spreads neighbours
  return kColours[Math.floor(h / 4294967296 * kColours.length)];
}

function shell(cls, attrs, user, ts) {
  attrs['data-user'] = user.id;
  attrs['data-ts'] = ts;
  var li = el('li', cls, null, attrs);
  var a = li.appendChild(span('avatar', initials(user.username), {'aria-hidden': 'true'}));
  a.style.backgroundColor = colour(user.id);
  return li;
}

function head(user, after) {
  var h = el('div', 'head');
  h.append(span('author', user.username), after);
  return h;
}

// "name: text" for quotes, the room list and the live region, never a
// blocked person's words: none until my blocks are known.
function gist(q) {
  var h = mod.hidden(q);
  return q.user.username + ': ' + (q.deleted ? 'message deleted' : h ? 'hidden' : h == null ? '…' : q.text);
}

function isDivider(node, cls) {
  return node && node.className === 'divider ' + cls;
}

// Sets (text) or removes (null) li's divider cls: "day" first, then "new".
function setDivider(li, cls, text) {
  var c = li.firstChild;
  if (cls === 'new' && isDivider(c, 'day')) c = c.nextSibling;
  var found = isDivider(c, cls) ? c : null;
  if (!text) return found && found.remove();
  if (!found) li.insertBefore(el('div', 'divider ' + cls, text), c);
  else if (found.textContent !== text) found.textContent = text;
}

function regroup() {
  var prev = null, prevTs = 0, myId = String(me() && me().id);  // prev: null after a system note or a question
  // "New" goes before others' first message after the marker, once the
  // window holds what came before.
  var sawRead = !R.hasMore, newDone = !R.unreadAfter;
  for (var node = list.firstChild; node; node = node.nextSibling) {
    var ts = +node.dataset.ts, id = +node.dataset.id;
    if (id && !newDone && id <= R.unreadAfter) sawRead = true;
    if (!ts) {
      prev = null;
      continue;
    }
    var user = node.dataset.user, q = node.classList.contains('question');
    var day = !prevTs || !sameDay(prevTs, ts) ? dayLabel(ts) : null;
    setDivider(node, 'day', day);
    var isNew = false;
    if (!newDone && id > R.unreadAfter && user !== myId) {
      isNew = sawRead;
      newDone = true;
    }
    setDivider(node, 'new', isNew ? 'New messages' : null);
    node.classList.toggle('cont', !!prev && !day && !isNew && !q && prev.user === user && ts - prev.ts < kGroupMs);
    prev = q ? null : {user: user, ts: ts};
    prevTs = ts;
  }
}

function refreshTimes() {
  var now = Date.now();
  [].forEach.call(list.getElementsByTagName('time'), function (time) {
    var t = relativeTime(+time.dataset.ms, now);
    if (time.textContent !== t) time.textContent = t;
  });
}

function newClientId() {
  var a = crypto.getRandomValues(new Uint32Array(2));
  return 'w' + Date.now().toString(36) + '-' + a[0].toString(36) + a[1].toString(36);
}

function inRoom(d) {
  return !!R.room && d.room_id === R.room.id;
}

function isQa() {
  return R.room && R.room.kind === 'qa';
}

var setError = showError.bind(null, 'room-error');

function roomPath(rest) {
  return '/rooms/' + R.room.id + rest;
}

// A reply's original; outside the window, fetched: the message at or
// before its id.
function quoteOf(id) {
  var m = R.msgs[id] || R.quotes[id], seq = R.seq;
  if (m || R.quoteAsked[id] || !R.room) return m;
  R.quoteAsked[id] = true;
  get(roomPath('/messages?limit=1&before=' + (id + 1)), function (err, data) {
    var q = !err && seq === R.seq && (data.messages || [])[0];
    if (!q || q.id !== id) return;
    R.quotes[id] = q;
    for (var k in R.msgs) if (R.msgs[k].reply_to === id) renderMessage(R.msgs[k]);
  });
}

function timeNode(ts) {
  var d = new Date(ts);
  return el('time', 'ts', relativeTime(ts), {datetime: d.toISOString(), 'data-ms': ts, title: d.toLocaleString()});
}

// A reply's quote, a button to the original (q null: not loaded yet).
function quote(q, onJump) {
  var text = q ? gist(q) : 'an earlier message';
  return button('↩ ' + text, 'quote', onJump, 'Reply to ' + text + '. Show the original');
}

// Draws m in its <li>, with what I may do to it.
function renderMessage(m) {
  var li = R.nodes[m.id], own = mine(m), hidden = mod.hidden(m), live = !m.deleted, may = live && !R.muted;
  var prof = !!R.room && R.room.role === 'professor';
  li.classList.add('msg', m.kind);  // a message keeps its kind
  li.classList.toggle('own', own);
  var old = li.querySelector(':scope > .content'), box = el('div', 'content'), h = box.appendChild(head(m.user, timeNode(m.ts)));
  if (m.kind === 'question') h.append(m.answer_id ? span('state answered', 'answered') : span('state open', 'unanswered'));
  if (m.kind === 'answer') h.append(span('kind', 'answer'));
  if (m.reply_to && m.kind !== 'answer') box.append(quote(quoteOf(m.reply_to), jumpTo.bind(null, m.reply_to)));
  if (!live) {
    box.append(el('p', 'text deleted', m.deleted_by ? 'removed by a moderator' : 'message deleted'));
  } else if (hidden) {
    box.appendChild(el('p', 'text deleted', kHidden + ' ')).append(button('Show', 'show', function () {
      mod.show(m.id);
      rerender();  // replies quoting it too
    }));
  } else {
    // dir: a Hebrew or Arabic message reads right to left, its "!" at its end.
    if (m.text || !m.attachments) Parley.mentions.fill(box.appendChild(el('p', 'text', null, {dir: 'auto'})), m.text);
    if (m.attachments) Parley.uploads.render(box, m.attachments);
  }
  li.classList.toggle('mention', Parley.mentions.ofMe(m));
  // After the text: a grouped message shows no head.
  if (m.edited && live) box.append(span('edited', '(edited)'));
  var onReact = react.bind(null, m.id);
  if (live) counts(box, m, onReact, R.muted);

  var actions = el('div', 'actions', null, {role: 'group', 'aria-label': 'Actions for this message'});
  function action(shown, label, fn) {
    if (shown) actions.append(button(label, label.toLowerCase(), fn.bind(null, m.id)));
  }
  // Muted: the server refuses to add a reaction or edit; taking back stays.
  // No Reply to a hidden one: its bar would quote it.
  action(may && !(isQa() && prof) && m.kind !== 'answer' && !hidden, 'Reply', startReply);
  action(may, 'React', function () { palette(box, onReact); });
  action(may && own, 'Edit', startEdit);
  action(live && (own || mod.canDelete(R, m)), 'Delete', removeMessage);
  action(may && prof && m.kind === 'question' && !m.answer_id, 'Answer', startAnswer);
  if (actions.firstChild) box.append(actions);
  keepFocus(li, function () {
    if (old) old.replaceWith(box);
    else li.append(box);
  });
}

// Reactions: counts under a message (one click toggles mine), a palette
// behind "React"; `reaction` events change the counts.
var kPalette = ['👍', '❤️', '😂', '🎉', '😮', '🙏'];

// muted: only my own can be pressed (to take it back).
function counts(box, m, onToggle, muted) {
  var all = m.reactions || [];
  if (!all.length) return;
  var row = el('div', 'reactions');
  all.forEach(function (r) {
    var b = button(r.emoji + ' ' + r.count, 'reaction', onToggle.bind(null, r.emoji));
    b.setAttribute('aria-pressed', !!r.me);
    b.disabled = muted && !r.me;
    b.title = r.me ? 'Remove your ' + r.emoji : 'React with ' + r.emoji;
    row.append(b);
  });
  box.append(row);
}

function palette(box, onToggle) {
  var old = box.querySelector('.palette');
  if (old) return old.remove();
  var p = box.appendChild(el('div', 'palette', null, {role: 'group', 'aria-label': 'Pick a reaction'}));
  kPalette.forEach(function (e) {
    p.append(button(e, null, onToggle.bind(null, e), 'React with ' + e));
  });
  // Escape shuts it, the focus back on React: the WAI-ARIA menu button.
  onEsc(p, function () {
    palette(box);
    box.querySelector('.react').focus();
  });
  p.firstChild.focus();
}

function byEmoji(all, emoji) {
  return all.filter(function (r) { return r.emoji === emoji; })[0];
}

function react(id, emoji) {
  var m = R.msgs[id], r = m && byEmoji(m.reactions || [], emoji);
  if (m) api(r && r.me ? 'DELETE' : 'PUT', '/messages/' + id + '/reactions/' + encodeURIComponent(emoji), null, function (err, data) {
    if (err) setError(err);
    else if (data && data.message && R.msgs[id]) placeMessage(data.message);
  });
}

// A `reaction` event into m; false if already counted (my PUT's answer).
function applyReaction(m, d) {
  var all = m.reactions = m.reactions || [], r = byEmoji(all, d.emoji), isMe = mine(d);
  if (!r) {
    if (!d.added) return false;
    r = {emoji: d.emoji, count: 0, me: false};
    all.push(r);
  }
  if (isMe && r.me === !!d.added) return false;
  if (isMe) r.me = !!d.added;
  r.count += d.added ? 1 : -1;
  if (r.count <= 0) all.splice(all.indexOf(r), 1);
  return true;
}

// "Read" under my last DM message they passed, else (<= 100 members)
// "Read by" names under each one's last read, below forms and answers.
function renderReceipts() {
  [].forEach.call(list.querySelectorAll('.seen'), remove);
  if (!R.room || R.members.length > 100) return;
  var dm = R.room.kind === 'dm', ids = [];
  for (var c = list.firstChild; c; c = c.nextSibling) {
    var id = idOf(c);
    if (R.msgs[id] && (!dm || mine(R.msgs[id]))) ids.push(id);
  }
  if (dm) ids = ids.slice(-1);
  var at = {};
  R.members.forEach(function (mb) {
    if (mine(mb) || !mb.read_event_id) return;
    var k = ids.length - 1;
    while (k >= 0 && ids[k] > mb.read_event_id) k--;
    if (k >= 0) (at[ids[k]] = at[ids[k]] || []).push(mb.user.username);
  });
  for (var mid in at) R.nodes[mid].append(el('p', 'seen', dm ? 'Read' : 'Read by ' + at[mid].join(', ')));
}

function layout() {
  regroup();
  show('older', R.hasMore);
  show('latest', !R.atEnd);
  renderReceipts();
}

// 0 while pending.
function idOf(node) {
  return +node.dataset.id || 0;
}

// Pending ones stay last.
function insertionPoint(id) {
  for (var node = list.lastChild, before = null; node && !(idOf(node) && idOf(node) < id); node = node.previousSibling) before = node;
  return before;
}

function outsideWindow(id) {
  return (!R.atEnd && id > R.newest) || (R.hasMore && R.oldest && id < R.oldest);
}

function placeMessage(m, extending) {
  if (!inRoom(m)) return;
  var p = R.pending[m.client_id];
  if (p) {
    remove(p.li);
    delete R.pending[m.client_id];
  }
  // An answer answers its question; its tombstone (deleted, or replayed
  // after) reopens it if it won, or if a 409's winner (-1) is yet to come.
  var q = m.kind === 'answer' && R.msgs[m.reply_to], a = q && q.answer_id;
  if (q && (m.deleted ? a === m.id || a < 0 : !(a > 0))) {
    q.answer_id = m.deleted ? 0 : m.id;
    if (m.deleted) remove(R.nodes[q.id].querySelector('.lost'));
    renderMessage(q);
  }
  var li = R.nodes[m.id];
  if (!li) {
    if (!extending && outsideWindow(m.id)) {
      if (m.id > R.skipped) R.skipped = m.id;
      return;
    }
    // tabindex: a jump to a reply's original focuses it.
    li = R.nodes[m.id] = shell('', {'data-id': m.id, tabindex: -1}, m.user, m.ts);
    if (m.kind === 'answer' && m.reply_to && R.nodes[m.reply_to]) answersOf(R.nodes[m.reply_to]).append(li);
    else list.insertBefore(li, insertionPoint(m.id));
  }
  R.msgs[m.id] = m;
  if (!R.oldest || m.id < R.oldest) R.oldest = m.id;
  if (m.id > R.newest) R.newest = m.id;
  renderMessage(m);
  if (m.kind === 'question') adoptAnswer(m);
}

function answersOf(questionLi) {
  return questionLi.querySelector('.answers') || questionLi.appendChild(el('ol', 'answers', null, {'aria-label': 'Answer'}));
}

// Answers loaded before their question move under it, in id order, and
// tombstones too (only reply_to ties them).
function adoptAnswer(q) {
  for (var id in R.msgs) {
    var a = R.msgs[id];
    if (a.reply_to === q.id && a.kind === 'answer' && R.nodes[id].parentNode === list) answersOf(R.nodes[q.id]).append(R.nodes[id]);
  }
}

function toBottom() {
  return list.scrollHeight - list.scrollTop - list.clientHeight;
}

function scrollToBottom() {
  list.scrollTop = list.scrollHeight;
}

// Runs change(), keeping the top item of the view in place.
function keepPosition(change) {
  var anchor = list.firstChild;
  while (anchor && anchor.offsetTop + anchor.offsetHeight <= list.scrollTop) anchor = anchor.nextSibling;
  var offset = anchor && anchor.offsetTop - list.scrollTop;
  change();
  if (anchor && anchor.parentNode === list) list.scrollTop = anchor.offsetTop - offset;
}

// True if shown (and laid out).
function systemNote(id, text) {
  if (R.nodes[id] || outsideWindow(id)) return false;
  var li = R.nodes[id] = el('li', 'system', text, {'data-id': id}), stick = toBottom() < 80;
  list.insertBefore(li, insertionPoint(id));
  if (id > R.newest) R.newest = id;
  trim(stick);
  layout();
  if (stick) scrollToBottom();
  return true;
}

function announce(text) {
  var region = $('announcer');
  region.append(el('p', null, text));
  while (region.childNodes.length > kAnnounceKeep) region.firstChild.remove();
}

function bounds() {
  R.oldest = null;
  R.newest = 0;
  for (var c = list.firstChild; c; c = c.nextSibling) {
    var id = idOf(c);
    if (!R.oldest) R.oldest = id;
    if (id > R.newest) R.newest = id;
  }
}

// fromTop: the oldest go (scrolling up loads them again), else the newest
// (behind "Jump"), a live item too. Not while a page loads: a gap.
function trim(fromTop) {
  var trimmed = false;
  while (!R.loading && list.childNodes.length > kMaxItems) {
    var node = fromTop ? list.firstChild : list.lastChild;
    while (!fromTop && node && !idOf(node)) node = node.previousSibling;  // pending stay
    if (!node) break;
    [node].concat([].slice.call(node.querySelectorAll('[data-id]'))).forEach(function (n) {
      delete R.nodes[n.dataset.id];
      delete R.msgs[n.dataset.id];
    });
    node.remove();
    trimmed = true;
  }
  if (!trimmed) return;
  bounds();
  if (fromTop) R.hasMore = true;
  else R.atEnd = false;
}

function clearWindow() {
  R.gen++;
  R.nodes = {};
  R.msgs = {};
  R.hasMore = false;
  R.skipped = 0;
  R.loading = true;
  clear(list);
  bounds();
}

function historyGet(query, done) {
  var gen = R.gen;
  get(roomPath('/messages?' + query), function (err, data) {
    if (gen !== R.gen) return;
    R.loading = false;
    if (err) return setError(err);
    done(data.messages || [], !!data.has_more);
  });
}

function placePage(page) {
  page.forEach(function (m) { placeMessage(m, true); });
}

// Anything skipped while loading is newer: keep going.
function reachedEnd() {
  R.atEnd = R.skipped <= R.newest;
  if (!R.atEnd) loadPage(false);
}

function loadLatest(then) {
  clearWindow();
  R.atEnd = true;  // live messages meanwhile belong at the end
  historyGet('limit=' + kPageSize, function (page, more) {
    placePage(page);
    R.hasMore = more;
    layout();
    scrollToBottom();
    markRead();
    if (then) then();
    fillViewport();
  });
}

function loadAround(id, then) {
  clearWindow();
  R.atEnd = false;
  historyGet('limit=' + Math.floor(kPageSize / 2) + '&before=' + (id + 1), function (before, moreBefore) {
    historyGet('limit=' + kPageSize + '&after=' + id, function (after, moreAfter) {
      placePage(before);
      placePage(after);
      R.hasMore = moreBefore;
      if (!moreAfter) reachedEnd();
      layout();
      then();
      markRead();
    });
  });
}

function loadPage(older) {
  if (R.loading || (older ? !R.hasMore || !R.oldest : R.atEnd || !R.newest)) return;
  R.loading = true;
  historyGet('limit=' + kPageSize + (older ? '&before=' + R.oldest : '&after=' + R.newest), function (page, more) {
    keepPosition(function () {
      placePage(page);
      if (older) R.hasMore = more;
      else if (!more) reachedEnd();
      trim(!older);
      layout();
    });
    if (older) fillViewport();
    else markRead();
  });
}

// A tall window may show a page with no scroll bar (so no scroll event).
function fillViewport() {
  if (R.hasMore && list.scrollHeight <= list.clientHeight + 10) loadPage(true);
}

function focusMessage(id) {
  var li = R.nodes[id];
  if (!li) return;
  li.focus();
  li.scrollIntoView({block: 'center'});
  li.classList.add('flash');
  setTimeout(function () { li.classList.remove('flash'); }, 2000);
}

function jumpTo(id) {
  if (R.nodes[id]) focusMessage(id);
  else loadAround(id, focusMessage.bind(null, id));
}

// Posted 500 ms late: a burst moves the marker once.
function markRead() {
  if (!R.room || document.hidden) return;
  var newest = R.atEnd ? Math.max(R.room.last_event_id || 0, R.newest) : R.newest;
  Parley.rooms.markedRead(R.room.id, newest);
  if (newest <= R.readSent) return;
  R.readSent = newest;
  R.readPending = {path: roomPath('/read'), body: {event_id: newest}};
  if (!R.readTimer) R.readTimer = setTimeout(flushRead, 500);
}

function flushRead() {
  clearTimeout(R.readTimer);
  R.readTimer = null;
  postRead(R.readPending, 0);
  R.readPending = null;
}

// Retried in 2, 4... 32 s, else receipts and my unread counts wait for a
// newer message. The marker only moves forward.
function postRead(p, n) {
  if (p) api('POST', p.path, p.body, function (err) {
    if (err && transient(err) && n < 5) setTimeout(postRead, 2000 << n, p, n + 1);
  });
}

function failPending(clientId, err) {
  var p = R.pending[clientId], h = p.li.querySelector('.head');
  remove(h.querySelector('.sending'));
  remove(p.li.querySelector('.failed'));
  var f = p.li.appendChild(el('div', 'failed'));
  f.append(span('why', 'Not sent: ' + errorText(err)));
  if (transient(err)) {
    f.append(button('Retry', 'retry', function () {
      remove(f);
      h.append(span('sending', 'sending…'));
      post(clientId);
    }));
  }
  f.append(button('Discard', 'discard', function () {
    remove(p.li);
    delete R.pending[clientId];
  }));
}

function post(clientId) {
  var p = R.pending[clientId];
  api('POST', p.path, p.body, function (err, data) {
    // Signed out: the words wait in the composer.
    if (err && err.status === 401 && !$('text').value) $('text').value = p.body.text;
    if (R.pending[clientId] !== p) return;  // another room, or placed
    if (err) return failPending(clientId, err);
    placeMessage(data.message);
    layout();
    markRead();
  });
}

function send(text, attachments) {
  var q = R.replyTo && quoteOf(R.replyTo);
  if (!R.atEnd) loadLatest();
  var clientId = newClientId(), li = shell('msg own pending', {'data-client-id': clientId}, me(), Date.now());
  var c = li.appendChild(el('div', 'content'));
  c.append(head(me(), span('sending', 'sending…')));
  if (q) c.append(el('p', 'quote', '↩ ' + gist(q)));
  c.append(el('p', 'text', text));
  // What is undefined stays out of the JSON.
  var body = {text: text, client_id: clientId, reply_to: R.replyTo || undefined, attachments: attachments.length ? attachments : undefined};
  R.pending[clientId] = {li: li, path: roomPath('/messages'), body: body};
  cancelReply();
  list.append(li);
  trim(1);
  layout();
  scrollToBottom();
  post(clientId);
}

function growComposer() {
  var box = $('text');
  box.style.height = 'auto';
  box.style.height = box.value ? Math.min(box.scrollHeight + 2, 160) + 'px' : '';
}

function lastOwnId() {
  for (var node = list.lastChild; node; node = node.previousSibling) {
    // Not an older one while my newest is being sent.
    if (node.querySelector('.sending')) return null;
    var m = R.msgs[idOf(node)];
    if (m && mine(m) && !m.deleted && m.kind !== 'answer') return m.id;
  }
  return null;
}

function submitComposer() {
  var box = $('text'), text = box.value;
  if (!R.room) return;
  var attachments = Parley.uploads.take();
  if (!text.trim()) text = '';
  if (!text && !attachments.length) return;
  setError('');
  box.value = '';
  growComposer();
  send(text, attachments);
}

function startReply(id) {
  if (!R.msgs[id]) return;
  R.replyTo = id;
  replyText();
  show('reply-bar', true);
  $('text').focus();
}

// Again on rerender(): my blocks may have changed.
function replyText() {
  var q = R.msgs[R.replyTo];
  if (q) $('reply-text').textContent = 'Replying to ' + gist(q);
}

function cancelReply() {
  R.replyTo = null;
  show('reply-bar', false);
}

// Edit or answer: send(text, done); done(err, data) shows err, or places
// data.message and closes.
function inlineEditor(li, label, initial, submitLabel, send) {
  remove(li.querySelector('.inline'));
  var id = 'inline-' + idOf(li), form = el('form', 'inline');
  form.append(el('label', null, label, {'for': id}));
  var box = form.appendChild(el('textarea', null, null, {id: id, rows: 2, maxlength: 4000}));
  box.value = initial;
  var ok = form.appendChild(el('button', null, submitLabel, {type: 'submit'}));
  form.append(button('Cancel', 'cancel', close));
  var msg = form.appendChild(el('p', 'note', null, {role: 'alert'}));
  function close() {
    // Not if the user has moved on (a late answer).
    if (form.contains(document.activeElement) && !$('composer').hidden) $('text').focus();
    remove(form);
  }
  on(form, 'submit', function () {
    if (!box.value.trim()) return;
    ok.disabled = true;
    send(box.value, function (err, data) {
      ok.disabled = false;
      showError(msg, err);
      if (err) return;
      if (data) placeMessage(data.message);
      close();
    });
  });
  on(box, 'keydown', function (e) {
    if (isEsc(e)) close();
    if (isEnter(e)) {
      e.preventDefault();
      ok.click();
    }
  });
  li.insertBefore(form, li.querySelector('.answers,.seen'));
  box.focus();
}

function startEdit(id) {
  inlineEditor(R.nodes[id], 'Edit message', R.msgs[id].text, 'Save', function (text, done) {
    api('PATCH', '/messages/' + id, {text: text}, done);
  });
}

function removeMessage(id) {
  api('DELETE', '/messages/' + id, null, function (err) {
    if (err) return setError(err);
    var m = R.msgs[id];
    if (m) {
      m.deleted = true;
      m.text = '';
      placeMessage(m);
    }
  });
}

function startAnswer(questionId) {
  var clientId = newClientId();  // per form: a retry answers once
  var li = R.nodes[questionId];
  inlineEditor(li, 'Your answer', '', 'Post answer', function (text, done) {
    api('POST', '/messages/' + questionId + '/answer', {text: text, client_id: clientId}, function (err, data) {
      if (!err || err.code !== 'already_answered') return done(err, data);
      // The winner arrives as an event: explain, no error.
      done(null);
      remove(li.querySelector('.lost'));
      li.insertBefore(el('p', 'note lost', 'Already answered by another professor.', {role: 'status'}), li.querySelector('.answers,.seen'));
      var q = R.msgs[questionId];
      if (q && !q.answer_id) q.answer_id = -1;  // no Answer button until it arrives
      if (q) renderMessage(q);
    });
  });
}

function longPress() {
  var timer = null, shown = null;
  function hide() {
    if (shown) shown.classList.remove('touched');
    shown = null;
  }
  on(list, 'touchstart', function (e) {
    clearTimeout(timer);
    var li = e.target.closest('.msg');
    if (shown && shown !== li) hide();
    if (!li) return;
    timer = setTimeout(function () {
      hide();
      shown = li;
      li.classList.add('touched');
    }, kLongPressMs);
  });
  ['touchmove', 'touchend', 'touchcancel'].forEach(function (type) {
    on(list, type, function () { clearTimeout(timer); });
  });
}

function renderMembers() {
  keepFocus($('members'), drawMembers);
}

function drawMembers() {
  var ul = clear('members'), sorted = R.members.slice().sort(function (a, b) {
    return !a.online - !b.online || (a.user.username < b.user.username ? -1 : 1);
  });
  var amOwner = mod.power(R) === 2;
  sorted.forEach(function (m) {
    var state = m.online ? 'online' : 'offline', li = el('li', state);
    li.append(span('dot'), span('name', m.user.username), span('visually-hidden', ' (' + state + ')'));
    if (isQa() && amOwner && !mine(m)) {
      li.append(roleSelect(m));
    } else if (isQa() || m.owner) {
      li.append(span('role', m.owner ? 'owner' + (isQa() ? ', ' + m.role : '') : m.role));
    }
    mod.member(li, m, R);
    ul.append(li);
  });
  $('members-count').textContent = sorted.length + (R.more ? '+' : '');
}

function roleSelect(m) {
  var s = el('select', 'role-select', null, {'aria-label': 'Role of ' + m.user.username});
  s.append(el('option', null, 'student'), el('option', null, 'professor'));
  s.value = m.role === 'professor' ? 'professor' : 'student';
  on(s, 'change', function () {
    api('PUT', roomPath('/members/' + encodeURIComponent(m.user.username)), {role: s.value}, setError);
  });
  return s;
}

// Member events change the list in place (asked again, every open page
// read all of `general` at each registration). Removed, I still hear of my
// kept mute: not a return. A list cut at 1,000 stays so.
function applyMember(d) {
  var m = byUser(R.members, d.user.id);
  if (/^(left|kicked|banned|unbanned)$/.test(d.action)) {
    if (m) R.members.splice(R.members.indexOf(m), 1);
  } else if (m || mine(d) && !R.removed || !R.more && /^(joined|added)$/.test(d.action)) {
    if (!m) R.members.push(m = {user: d.user});
    if (d.role) m.role = d.role;
    if ('moderator' in d) {
      m.moderator = d.moderator;
      m.muted_until = d.muted_until;
    }
  }
}

// laidOut: layout() just drew the receipts.
function membersChanged(laidOut) {
  renderMembers();
  renderHeader();
  rerender();
  if (!laidOut) renderReceipts();
}

function readTo(userId, eventId) {
  var mb = byUser(R.members, userId);
  if (mb && eventId > (mb.read_event_id || 0)) mb.read_event_id = eventId;
}

// Page one (1,000), and my entry if not on it (my mute, powers); again if
// a member or presence event came meanwhile.
var loadMembers = soon(function () {
  if (!R.room) return;
  var seq = R.seq, seen = R.events;
  get(roomPath('/members'), function (err, data) {
    if (seq !== R.seq || err) return;
    if (seen !== R.events && R.tries++ < 3) return loadMembers();
    R.members = data.members || [];
    R.more = !!data.next;
    if (R.more && !byUser(R.members, me().id)) {
      get(roomPath('/members/' + me().username), function (e, one) {
        if (seq === R.seq && !e && !byUser(R.members, me().id)) R.members.push(one.member);
        membersChanged();
      });
    }
    membersChanged();
  });
}, 50);

function renderTyping() {
  var now = Date.now(), names = [];
  for (var name in R.typing) {
    if (R.typing[name] > now) names.push(name);
    else delete R.typing[name];
  }
  $('typing').textContent = names.length > 2 ? 'Several people are typing…'
    : names.length ? names.join(' and ') + (names[1] ? ' are' : ' is') + ' typing…' : '';
}

function renderHeader() {
  var room = R.room, dm = room.kind === 'dm', qa = room.kind === 'qa', prof = qa && room.role === 'professor';
  var topic = $('room-topic'), editor = mod.power(R) > 0;
  $('room-title').textContent = (dm ? '@ ' : '# ') + room.name;
  topic.textContent = topic.title = room.topic || '';
  show('room-edit-open', editor);
  if (!editor) editRoom(false);
  var kind = dm ? 'direct conversation' : (qa ? 'Q&A' : room.kind) + ' room';
  if (qa && room.role) kind += ' · you are a ' + room.role;
  $('room-kind').textContent = kind;
  list.className = dm ? 'dm' : '';
  show('leave', !dm && room.member);
  show('invite-form', !dm && !R.removed);
  var muted = mod.mutedUntil(R.members), label = qa && !prof ? 'Ask a question' : 'Message';
  var note = R.removed || (muted ? mod.mutedText(muted) : prof ? 'Professors answer questions: use Answer on a question.' : '');
  $('composer-note').textContent = note;
  $('text-label').textContent = label;
  $('text').placeholder = label + (dm ? ' to ' + room.name : '');
  show('composer', !note);
  show('composer-note', note);
  // No event ends a mute: wake at the first to end, mine or in the list (a
  // delay past 2^31-1 ms fires at once).
  R.muted = !!muted;
  clearTimeout(R.muteTimer);
  var end = Math.min.apply(null, R.members.map(function (m) { return m.muted_until > Date.now() ? m.muted_until : 9e15; }));
  if (end < 9e15) R.muteTimer = setTimeout(function () { if (R.room) membersChanged(true); }, Math.min(end - Date.now() + 50, 2e9));
}

// The owner and moderators rename the room and set its topic (a DM is
// named after its people). focus: to the form, or back to its button.
function editRoom(open, focus) {
  var b = $('room-edit-open');
  show('room-edit', open);
  b.setAttribute('aria-expanded', open);
  $('room-edit-error').textContent = '';
  $('room-edit-name').defaultValue = R.room.name;
  $('room-edit-topic').defaultValue = R.room.topic || '';
  $('room-edit').reset();
  if (focus) (open ? $('room-edit-name') : b).focus();
}

function rerender() {
  for (var id in R.msgs) if (R.nodes[id]) renderMessage(R.msgs[id]);
  replyText();
}

function open(room) {
  flushRead();
  R.seq++;
  R.room = room;
  R.pending = {};  // client_id -> {li, path, body}
  R.quotes = {};  // replies' originals outside the window
  R.quoteAsked = {};
  R.typing = {};  // username -> expiry
  R.members = [];
  R.more = false;  // members beyond the list
  R.tries = 0;
  R.removed = '';
  R.readSent = 0;
  // "New messages" stays at my read marker on opening, if unread.
  R.unreadAfter = room.unread > 0 && room.read_event_id > 0 ? room.read_event_id : null;
  cancelReply();
  editRoom(false);
  clear('members');
  clear('announcer');
  setError(R.notice);
  R.notice = $('invite-result').textContent = '';
  renderTyping();
  renderHeader();
  show('room', true);
  if (!R.unreadAfter) loadLatest();
  else loadAround(R.unreadAfter, function () {
    var divider = list.querySelector('.divider.new');
    if (divider) list.scrollTop = divider.parentNode.offsetTop - 8;
    else scrollToBottom();
  });
  loadMembers();
}

Parley.room = {
  currentId: function () {
    return R.room ? R.room.id : null;
  },
  members: function () {
    return R.members;
  },
  jump: jumpTo,
  open: open,
  update: function (room) {
    var roleChanged = R.room.role !== room.role;
    R.room = room;
    renderHeader();
    if (roleChanged) rerender();
  },
  close: function () {
    R.seq++;
    R.gen++;
    R.room = null;
    show('room', false);
  },
  // A reset: sends waiting for Retry stay.
  reload: function () {
    var p = R.pending;
    if (!R.room) return;
    this.open(R.room);
    R.pending = p;
    for (var k in p) list.append(p[k].li);
  },
  onMessageEvent: function (type, m) {
    if (!inRoom(m)) return;
    var stick = toBottom() < 80;
    if (type === 'edit' || type === 'delete') {
      if (R.msgs[m.id] || R.msgs[m.reply_to] && m.kind === 'answer') placeMessage(m);
      return;
    }
    var isNew = !R.nodes[m.id];
    readTo(m.user.id, m.id);  // its author read it; layout() shows it
    placeMessage(m);
    trim(stick);  // the end away from the reader
    layout();
    if (isNew && !mine(m)) announce(gist(m));
    if (R.typing[m.user.username]) {
      delete R.typing[m.user.username];
      renderTyping();
    }
    if (stick && R.atEnd) scrollToBottom();
    markRead();
  },
  onMemberEvent: function (d, id) {
    if (!inRoom(d)) return;
    var note = mod.note(d), isMe = mine(d);
    // An invitee is no member: a line, no change to the list.
    if (Parley.invitations.about(d)) return systemNote(id, note);
    if (isMe && /^(kicked|banned)$/.test(d.action)) {
      R.removed = note;
      // Shown in the room app.js opens next.
      R.notice = note.replace('this room', 'the room ' + R.room.name);
    }
    if (isMe && d.action === 'joined') R.removed = '';
    R.events++;
    applyMember(d);
    // The note before the header: hiding the composer moves the bottom.
    membersChanged(note && systemNote(id, note));
  },
  onTyping: function (d) {
    if (!inRoom(d) || mine(d) || mod.hidden(d) !== false) return;
    R.typing[d.user.username] = Date.now() + kTypingShowMs;
    renderTyping();
    setTimeout(renderTyping, kTypingShowMs + 50);
  },
  onReaction: function (d) {
    var m = R.msgs[d.message_id];
    if (m && applyReaction(m, d)) renderMessage(m);
  },
  onReceipt: function (d) {
    if (!inRoom(d)) return;
    readTo(d.user.id, d.event_id);
    renderReceipts();
  },
  onPresence: function (d) {
    var m = byUser(R.members, d.user.id);
    if (m) m.online = d.online;
    R.events++;
    if (m && R.room) renderMembers();  // presence comes for all my rooms
  },
  visible: markRead,
  rerender: rerender,
  gist: gist,
  hiddenText: kHidden
};

on('composer', 'submit', submitComposer);
on('text', 'keydown', function (e) {
  if (isEnter(e)) {
    e.preventDefault();
    submitComposer();
  } else if (e.key === 'ArrowUp' && !$('text').value) {
    var id = lastOwnId();
    if (id) {
      e.preventDefault();
      startEdit(id);
    }
  } else if (isEsc(e) && R.replyTo) {
    cancelReply();
  }
});
on('text', 'input', function () {
  growComposer();
  var now = Date.now();
  if (!R.room || now - R.lastTypingSent < kTypingSendEveryMs || !$('text').value) return;
  R.lastTypingSent = now;
  api('POST', roomPath('/typing'));
});
on('older', 'click', loadPage.bind(null, true));
on('latest', 'click', function () {
  loadLatest(function () { $('text').focus(); });
});
on('reply-cancel', 'click', function () {
  cancelReply();
  $('text').focus();
});
on(list, 'scroll', function () {
  if (list.scrollTop < kEdgePx) loadPage(true);
  else if (toBottom() < kEdgePx) loadPage(false);
});
// Arrows, Home and End move between messages; Tab reaches the actions.
on(list, 'keydown', function (e) {
  var step = {ArrowUp: -1, ArrowDown: 1, Home: -2, End: 2}[e.key], t = e.target;
  if (!step || (t !== list && !t.classList.contains('msg'))) return;
  var all = list.querySelectorAll('.msg[data-id]');
  if (!all.length) return;
  var at = [].indexOf.call(all, t);
  var next = step === -2 ? 0 : step === 2 || at < 0 ? all.length - 1 : Math.max(0, Math.min(all.length - 1, at + step));
  e.preventDefault();
  all[next].focus();
});
longPress();
setInterval(function () {
  if (!R.room) return;
  refreshTimes();
  layout();
}, 30000);
var closeEdit = editRoom.bind(null, false, 1);
on('room-edit-open', 'click', function () {
  editRoom($('room-edit').hidden, 1);
});
// Only what I changed: another's rename meanwhile stays. The room event
// redraws the header.
on('room-edit', 'submit', function () {
  var seq = R.seq, body = {};
  ['name', 'topic'].forEach(function (k) {
    var f = $('room-edit-' + k), v = f.value.trim();
    if (v !== f.defaultValue) body[k] = v;
  });
  api('PATCH', roomPath(''), body, function (err) {
    if (seq !== R.seq) return;
    showError('room-edit-error', err);
    if (!err) editRoom(false, 1);
  });
});
on('room-edit-cancel', 'click', closeEdit);
onEsc('room-edit', closeEdit);
// Pending until they accept; a member already: said so.
on('invite-form', 'submit', function () {
  var name = $('invite-user').value.trim(), seq = R.seq;
  if (!name || !R.room) return;
  api('POST', roomPath('/members'), {username: name}, function (err, data) {
    if (seq !== R.seq) return;
    setError(err);
    $('invite-result').textContent = err ? '' : data.member ? data.member.user.username + ' is already a member' : 'Invitation sent to ' + data.invitation.user.username;
    if (!err) $('invite-user').value = '';
  });
});
})();
