// The page: sign-in, the room list, DMs, new rooms, routing events. The
// cursor is known before rooms and history are fetched: nothing is lost.
(function () {
var view = Parley.room, mod = Parley.moderation, inv = Parley.invitations, kRoomsPage = '/rooms?limit=50', kUsername = /^[\w.-]{1,32}$/;

var state = Parley.state = {
  me: null,
  rooms: [],
  byId: {},
  transport: null,
  seen: 0,  // the newest event id routed: a reset catches up from it
  next: null  // the room list's next page
};

// The first usable screen, the app or the sign-in form (timed by the tests).
function ready(app) {
  show('boot', false);
  show('app', app);
  show('auth', !app);
  performance.mark('parley-ready');
}

function showAuth(message) {
  ready(false);
  $('auth-error').textContent = message;
  $('username').focus();
}

function authenticate(path) {
  var username = $('username').value.trim(), password = $('password').value;
  var bad = !kUsername.test(username) ? 'A username is 1 to 32 letters, digits, dots, dashes or underscores.'
    : password.length < 8 ? 'A password has at least 8 characters.' : '';
  $('auth-error').textContent = bad;
  if (bad) return;
  $('login').disabled = $('register').disabled = true;
  api('POST', path, {username: username, password: password}, function (err, data) {
    $('login').disabled = $('register').disabled = false;
    showError('auth-error', err);
    if (err) return;
    $('password').value = '';
    signedIn(data.user);
  });
}

function signedIn(user) {
  // A draft kept over a lost session is for its author only (files too:
  // the server refuses another's upload).
  if (user.id !== state.was) {
    $('text').value = '';
    Parley.uploads.take();
  }
  state.me = user;
  state.was = user.id;
  $('me').textContent = user.username;
  mod.load(1);
  ready(true);
  state.transport = new Parley.SharedTransport(user.id, {
    onStatus: showStatus,
    onReady: function (head) {
      state.seen = head || 0;
      loadRooms(true);
      inv.load();
    },
    onReset: function (head, d) {
      if (d && d.reason === 'cursor_too_old' && state.seen) catchUp(state.seen);
      else loadRooms(false);
      mod.load();
      inv.load();
      view.reload();
    },
    onSignedOut: Parley.onSignedOut,
    onEvent: route
  });
  state.transport.start();
}

function signedOut(message) {
  if (state.transport) state.transport.stop();
  state.transport = state.me = null;
  state.rooms = [];
  state.byId = {};
  view.close();
  inv.clear();
  show('settings', false);
  clear('people');
  show('people-section', false);
  show('search-section', false);
  showAuth(message);
}

function showStatus(s) {
  var badge = $('status');
  badge.textContent = s;
  badge.className = 'badge ' + s;
  if (s === 'live' || s === 'long-poll') ping();
  else $('rtt').textContent = '';
}

// The round-trip time beside the badge: GET /api/health (nginx, a worker,
// SQLite) every 15 s while visible.
var ping = Parley.ping = function () {
  if (!me() || document.hidden) return;
  var t0 = Date.now();
  request('GET', '/api/health', null, 10000, function (err) {
    $('rtt').textContent = err ? '' : Math.max(1, Date.now() - t0) + ' ms';
  });
};
setInterval(ping, 15000);

// Replaces rooms by id; ours stays if it counted newer events or read further
// (a read marker not stored yet).
function merge(rooms, prev) {
  (rooms || []).forEach(function (r) {
    var old = (prev || state.byId)[r.id] || {};
    if (old.read_event_id > (r.read_event_id || 0) || old.last_event_id > r.last_event_id) {
      for (var k in {unread: 0, unread_mentions: 0, last_event_id: 0, last_message: 0, read_event_id: 0}) r[k] = old[k];
    }
    var at = state.rooms.indexOf(state.byId[r.id]);
    if (at >= 0) state.rooms[at] = r;
    else state.rooms.push(r);
    state.byId[r.id] = r;
  });
}

// Without it the page is empty: asked again after a failure, saying so.
function fetchRooms(then, n) {
  get(kRoomsPage, function (err, data) {
    show('rooms-retry', err && retry(err, n || 0, fetchRooms.bind(null, then)));
    if (err) return;
    var prev = state.byId;
    state.rooms = [];
    state.byId = {};
    state.next = data.next;
    merge(data.rooms, prev);
    then();
    moreRooms();
    get('/rooms/directory', function (e, dir) {
      if (e) return;
      merge(dir.rooms);
      renderRooms();
    });
  });
}

function moreRooms() {
  var side = $('sidebar');
  if (!state.next || state.paging || side.scrollHeight - side.scrollTop - side.clientHeight > 300) return;
  state.paging = true;
  get(kRoomsPage + '&before=' + encodeURIComponent(state.next), function (err, data) {
    state.paging = false;
    if (err) return;
    state.next = data.next;
    merge(data.rooms);
    renderRooms();
    moreRooms();
  });
}

// After a cursor_too_old reset: only the rooms changed since.
function catchUp(since, then) {
  get('/rooms?changed_since=' + since, function (err, data) {
    if (err) return loadRooms(false);
    (data.left || []).forEach(function (id) {
      if (state.byId[id]) state.byId[id].member = false;
    });
    merge(data.rooms);
    if (then) then();
    else afterRooms(false);
  });
}

function loadRooms(openInitial) {
  fetchRooms(afterRooms.bind(null, openInitial));
}

function afterRooms(openInitial) {
  var current = view.currentId();
  if (current) {
    var now = state.byId[current];
    if (!now || !now.member) openRoom(defaultRoom());
    else {
      now.unread = 0;
      view.update(now);
    }
  } else if (openInitial) {
    openRoom(roomFromHash() || defaultRoom());
  }
  renderRooms();
}

var loadRoomsSoon = soon(function () {
  if (state.me) loadRooms(false);
}, 150);

function roomFromHash() {
  var m = /^#room-(\d+)$/.exec(location.hash), r = m && state.byId[m[1]];
  return r && r.member ? r.id : null;
}

function defaultRoom() {
  var first = null;
  for (var i = 0; i < state.rooms.length; i++) {
    var r = state.rooms[i];
    if (!r.member) continue;
    if (r.name === 'general' && r.kind === 'public') return r.id;
    if (!first) first = r.id;
  }
  return first;
}

function openRoom(id) {
  var room = state.byId[id];
  if (!room || !room.member) {
    view.close();
    renderRooms();
    return;
  }
  if (location.hash !== '#room-' + id) history.replaceState(null, '', '#room-' + id);
  view.open(room);  // before unread is cleared: it places "New messages"
  $('notify-level').value = room.notifications || 'all';
  room.unread = room.unread_mentions = 0;
  renderRooms();
  toggleMenu(false);
}

function roomButton(room) {
  var b = label(button(null, 'room', openRoom.bind(null, room.id)), room);
  b.dataset.roomId = room.id;
  if (room.unread > 0) b.append(span('unread', room.unread > 99 ? '99+' : room.unread, {'aria-label': room.unread + ' unread'}));
  var last = room.last_message;
  if (last) b.append(span('last', view.gist(last)));
  if (room.id === view.currentId()) b.setAttribute('aria-current', 'true');
  return b;
}

function label(node, room) {
  node.append(span('name', (room.kind === 'dm' ? '@ ' : '# ') + room.name));
  var tag = room.request ? 'request' : {qa: 'Q&A', 'private': 'private'}[room.kind];
  if (tag) node.append(span('tag', tag));
  return node;
}

function renderRooms() {
  var mine = clear('rooms'), dms = clear('dms'), others = clear('public-rooms'), unread = 0;
  var sorted = state.rooms.slice().sort(function (a, b) {
    if (a.member && b.member) return (b.last_event_id || 0) - (a.last_event_id || 0) || a.id - b.id;
    return a.name.toLowerCase() < b.name.toLowerCase() ? -1 : 1;
  });
  sorted.forEach(function (r) {
    if (r.member) {
      unread += (r.kind === 'dm' ? r.unread : r.unread_mentions) || 0;
      (r.kind === 'dm' ? dms : mine).appendChild(el('li')).append(roomButton(r));
    } else {
      others.appendChild(label(el('li'), r)).append(joinButton(r));
    }
  });
  show('dms-section', dms.firstChild);
  show('public-section', others.firstChild);
  document.title = (unread > 0 ? '(' + unread + ') ' : '') + 'Parley';
}

function joinButton(room) {
  return button('Join', 'join', function () {
    roomChange('POST', '/rooms/' + room.id + '/join', null, function () { return room.id; }, this);
  }, 'Join ' + room.name);
}

// Join, leave, a DM or a new room; then the list again, and the room
// opened(data) names opened (null: the default).
function roomChange(method, path, body, opened, busy) {
  if (busy) busy.disabled = true;
  api(method, path, body, function (err, data) {
    if (busy) busy.disabled = false;
    showError('sidebar-error', err);
    if (!err) enter(opened(data));
  });
}

// The list again, then room id (null: the default).
function enter(id) {
  fetchRooms(function () {
    openRoom(state.byId[id] ? id : defaultRoom());
  });
}

Parley.rooms = {
  open: openRoom,
  enter: enter,
  label: label,
  render: renderRooms,
  catchUp: catchUp,
  markedRead: function (roomId, eventId) {
    var r = state.byId[roomId];
    if (!r) return;
    var changed = r.unread !== 0 || r.unread_mentions > 0;
    r.unread = r.unread_mentions = 0;
    if (eventId > (r.last_event_id || 0)) r.last_event_id = eventId;
    if (eventId > (r.read_event_id || 0)) r.read_event_id = eventId;
    if (changed) renderRooms();
  }
};

function addPerson(user) {
  if (user.id === me().id) return;
  var list = $('people'), li = el('li');
  li.append(span('name', user.username),
    button('Message', 'dm', startDm.bind(null, user.username), 'Message ' + user.username));
  list.prepend(li);
  while (list.childNodes.length > 10) list.lastChild.remove();
  show('people-section', true);
}

function startDm(username) {
  roomChange('POST', '/dm', {username: username}, function (data) {
    $('dm-user').value = '';
    return data.room.id;
  });
}

function route(type, d, id) {
  if (!state.me || !d) return;
  if (id > state.seen) state.seen = id;
  var simple = {typing: view.onTyping, presence: view.onPresence, reaction: view.onReaction, receipt: view.onReceipt};
  if (type === 'message' || type === 'question' || type === 'answer') onNewMessage(d, id);
  else if (type === 'edit' || type === 'delete') view.onMessageEvent(type, d);
  else if (type === 'room') loadRoomsSoon();
  else if (type === 'user') 'blocked' in d ? (mod.load(), inv.load(), loadRoomsSoon()) : d.user && addPerson(d.user);
  else if (type === 'member') {
    if (d.user && !inv.onMember(d) && mine(d)) loadRoomsSoon();
    view.onMemberEvent(d, id);
  } else if (simple[type]) simple[type].call(view, d);
}

function onNewMessage(m, id) {
  var room = state.byId[m.room_id];
  if (!room) {
    loadRoomsSoon();  // a conversation someone just started with us
    return;
  }
  var listed = id <= room.last_event_id;  // counted by the room list
  if (!listed) room.last_event_id = id;
  room.last_message = m;
  if (mine(m)) room.request = 0;  // a DM request answered
  var current = room.id === view.currentId();
  if (current) view.onMessageEvent('message', m);
  if (!listed && mine(m)) Parley.rooms.markedRead(room.id, id);  // so on the server too
  else if (!listed && (!current || document.hidden) && !mod.hidden(m)) {
    room.unread = (room.unread || 0) + 1;
    if (Parley.mentions.ofMe(m)) room.unread_mentions = (room.unread_mentions || 0) + 1;
  }
  renderRooms();
  Parley.mentions.notify(room, m);
}

function toggleMenu(open) {
  var side = $('sidebar'), was = side.className === 'open';
  if (open === undefined) open = !was;
  $('menu').setAttribute('aria-expanded', open);
  side.className = open ? 'open' : '';
  var here = open && !was && (side.querySelector('[aria-current=true]') || side.querySelector('button'));
  if (here) here.focus();
}

function toggleSettings(open) {
  var b = $('settings-open');
  show('settings', open);
  b.setAttribute('aria-expanded', open);
  if (!open) return b.focus();
  [].forEach.call(document.getElementsByName('theme'), function (r) {
    r.checked = r.value === Parley.theme.get();
    if (r.checked) r.focus();
  });
}

// Search, newest first; the snippet marks matches between \u0002 and
// \u0003. A result opens its message in its room.
var query = '', hits = [];  // shown: drawn again when my blocks change
var next;  // next_before: the next page's start

function result(m) {
  var room = state.byId[m.room_id], b = button(null, 'result', function () {
    // A room not in the loaded pages is fetched first.
    if (state.byId[m.room_id]) reveal();
    else catchUp(m.id - 1, reveal);
  });
  b.append(span('where', (room ? room.name + ' · ' : '') + m.user.username));
  // As in the room: no words of someone I blocked.
  var text = mod.hidden(m) ? view.hiddenText : m.snippet || m.text;
  var parts = String(text).split(/[\u0002\u0003]/), s = b.appendChild(span('snippet'));
  for (var i = 0; i < parts.length; i++) s.append(i % 2 ? el('mark', null, parts[i]) : parts[i]);
  function reveal() {
    openRoom(m.room_id);
    if (view.currentId() === m.room_id) view.jump(m.id);
  }
  return b;
}

function drawResults() {
  var ul = clear('search-results');
  hits.forEach(function (m) { ul.appendChild(el('li')).append(result(m)); });
}

// n: pages asked by this click; an empty one (the server reads 10,000
// matches a page) goes on by itself, 10 at most.
function run(more, n) {
  var q = 'q=' + encodeURIComponent(query) + '&limit=20' + (more ? '&before=' + next : '');
  get('/search?' + q, function (err, data) {
    var d = data || {}, list = d.results || [];
    hits = (more ? hits : []).concat(list);
    drawResults();
    next = d.next_before;
    if (d.has_more && !list.length && n < 9) return run(true, n + 1);
    $('search-note').textContent = err ? errorText(err) : hits.length ? '' : d.has_more ? 'Nothing yet.' : 'Nothing found.';
    show('search-more', d.has_more);
    show('search-section', true);
  });
}

Parley.search = {draw: drawResults};

on('search-form', 'submit', function () {
  query = $('search-q').value.trim();
  if (query) run(false, 0);
  else show('search-section', false);
});
on('search-more', 'click', run.bind(null, true, 0));

on('settings-open', 'click', function () {
  toggleSettings($('settings').hidden);
});
on('settings-close', 'click', toggleSettings.bind(null, false));
on('settings', 'change', function (e) {
  if (e.target.name === 'theme') Parley.theme.set(e.target.value);
});
onEsc(document, function () {
  if (!$('settings').hidden) toggleSettings(false);
  else if ($('sidebar').className === 'open') {
    toggleMenu(false);
    $('menu').focus();
  }
});
Parley.onSignedOut = function () {
  if (state.me) signedOut('Your session ended. Please sign in again.');
};
on('auth-form', 'submit', authenticate.bind(null, '/login'));
on('register', 'click', authenticate.bind(null, '/register'));
on('logout', 'click', function () {
  toggleSettings(false);
  api('POST', '/logout', null, signedOut.bind(null, ''));
});
on('menu', 'click', function () { toggleMenu(); });
on('sidebar', 'scroll', moreRooms);
on('leave', 'click', function () {
  var id = view.currentId();
  if (!id) return;
  roomChange('POST', '/rooms/' + id + '/leave', null, function () {
    view.close();
    return null;
  });
});
on('room-form', 'submit', function (e) {
  var name = $('room-name').value.trim();
  if (!name) return;
  roomChange('POST', '/rooms', {name: name, kind: $('room-kind-select').value}, function (data) {
    $('room-name').value = '';
    return data.room.id;
  }, e.submitter);
});
on('dm-form', 'submit', function () {
  var name = $('dm-user').value.trim();
  if (name) startDm(name);
});
var searchTimer = null;
on('dm-user', 'input', function () {
  clearTimeout(searchTimer);
  var prefix = $('dm-user').value.trim();
  if (!kUsername.test(prefix)) return;
  searchTimer = setTimeout(function () {
    get('/users?limit=10&prefix=' + encodeURIComponent(prefix), function (err, data) {
      if (err) return;
      var list = clear('dm-suggestions');
      (data.users || []).forEach(function (u) {
        if (!state.me || u.id !== state.me.id) list.append(el('option', null, null, {value: u.username}));
      });
    });
  }, 200);
});
on(document, 'visibilitychange', view.visible);  // nothing while hidden
on(window, 'hashchange', function () {
  var id = roomFromHash();
  if (id && id !== view.currentId()) openRoom(id);
});

// The cookie is HttpOnly: only the server knows if we are signed in.
get('/me', function (err, data) {
  if (err) showAuth(err.status === 401 ? '' : errorText(err));
  else signedIn(data.user);
});
})();
