// Moderation (DESIGN 3.1): the member menu, who may delete what, blocked
// users (hidden until shown), the password change.
(function () {
var blocked = null;  // user id -> username; null until loaded
var shown = {};  // message ids shown anyway
var kMutes = [['Mute 10 minutes', 10], ['Mute 1 hour', 60], ['Mute 1 day', 1440]];

// Owner 2, moderator 1, or 0, for me in the open room (w: room.js's state,
// its room and members).
function power(w) {
  var room = w.room;
  if (!room || !me() || room.kind === 'dm') return 0;
  if (room.owner && room.owner.id === me().id) return 2;
  var own = byUser(w.members, me().id);
  return own && own.moderator ? 1 : 0;
}

// As the server: the owner acts on anyone, a moderator on members.
function mayActOn(w, userId) {
  var p = power(w);
  if (!p || userId === me().id || (w.room.owner && w.room.owner.id === userId)) return false;
  var target = byUser(w.members, userId);
  return p === 2 || !(target && target.moderator);
}

// The clock, after the date unless today.
function stamp(ms) {
  return (sameDay(ms, Date.now()) ? '' : new Date(ms).toLocaleDateString() + ' ') + clock(ms);
}

function menu(li, m, w) {
  var room = w.room, list = el('ul', 'mod-list', null, {hidden: ''});
  var open = button('⋯', 'mod-open', function () { toggle(list.hidden); }, 'Moderate ' + m.user.username);
  // The focus goes to the first item, and back to the button on a pick or
  // Escape: the WAI-ARIA menu button.
  function toggle(opening) {
    show(list, opening);
    open.setAttribute('aria-expanded', opening);
    (opening ? list.firstChild.firstChild : open).focus();
  }
  open.setAttribute('aria-expanded', 'false');
  onEsc(list, toggle.bind(null, false));
  function item(label, method, path, body) {
    list.appendChild(el('li')).append(button(label, 'mod-item', function () {
      toggle(false);
      api(method, path, body, function (err) { showError('room-error', err); });
    }));
  }
  var who = encodeURIComponent(m.user.username), path = '/rooms/' + room.id + '/members/' + who;
  if (power(w) === 2) item(m.moderator ? 'Remove moderator' : 'Make moderator', 'PUT', path, {moderator: !m.moderator});
  if (m.muted_until) item('Unmute', 'PUT', path, {muted_until: null});
  kMutes.forEach(function (t) {
    item(t[0], 'PUT', path, {muted_until: Date.now() + t[1] * 60000});
  });
  item('Remove from room', 'DELETE', path);
  item('Ban from room', 'PUT', '/rooms/' + room.id + '/bans/' + who);
  li.append(open, list);
}

function renderBlocks() {
  var ul = clear('blocks');
  for (var id in blocked) {
    ul.appendChild(el('li', null, blocked[id] + ' ')).append(button('Unblock', 'unblock', setBlock.bind(null, 'DELETE', blocked[id]), 'Unblock ' + blocked[id]));
  }
  if (!ul.firstChild) ul.append(el('li', 'note', 'Nobody.'));
}

// The list follows my block's event (app.js).
function setBlock(method, name, then) {
  api(method, '/me/blocks/' + encodeURIComponent(name), null, function (err) {
    showError('blocks-error', err);
    if (!err && then) then();
  });
}

// fresh: signing in (not the last person's blocks). Asked again after a
// failure; meanwhile hidden() is null (unknown).
function load(fresh, n) {
  if (fresh) blocked = null;
  get('/me/blocks', function (err, data) {
    if (err) return retry(err, n || 0, load.bind(null, 0));
    blocked = {};
    data.blocks.forEach(function (b) { blocked[b.id] = b.username; });
    renderBlocks();
    Parley.room.rerender();
    Parley.rooms.render();
    Parley.search.draw();
  });
}

Parley.moderation = {
  member: function (li, m, w) {
    if (m.moderator) li.append(span('role', 'moderator'));
    if (m.muted_until > Date.now()) li.append(span('role muted', 'muted until ' + stamp(m.muted_until)));
    if (mayActOn(w, m.user.id)) menu(li, m, w);
  },
  canDelete: function (w, m) {
    return !mine(m) && mayActOn(w, m.user.id);
  },
  // My mute's end (ms), or 0.
  mutedUntil: function (members) {
    var own = me() && byUser(members, me().id);
    return own && own.muted_until > Date.now() ? own.muted_until : 0;
  },
  mutedText: function (until) {
    return 'You are muted in this room until ' + stamp(until) + '.';
  },
  note: function (d) {
    var who = d.user.username, by = d.by ? ' by ' + d.by.username : '';
    if (mine(d)) {
      if (/^(kicked|banned)$/.test(d.action)) return 'You were removed from this room' + by + '.';
      if (d.action === 'muted') return this.mutedText(d.muted_until);
      if (d.action === 'unmuted') return 'Your mute in this room was lifted.';
    }
    var verbs = {
      joined: ' joined', added: ' was added', left: ' left', role: ' is now a ' + d.role,
      kicked: ' was removed' + by, banned: ' was banned' + by, unbanned: ' may come back' + by,
      muted: ' is muted until ' + stamp(d.muted_until || 0), unmuted: ' may write again',
      moderator: d.moderator ? ' is now a moderator' : ' is no longer a moderator', declined: ' declined the invitation'
    }, from = d.by ? d.by.username + ' ' : '';
    if (d.action === 'invited') return from + 'invited ' + who;
    if (d.action === 'uninvited') return from + 'withdrew ' + who + "'s invitation";
    return verbs[d.action] ? who + verbs[d.action] : '';
  },
  // null: not known yet.
  hidden: function (m) {
    return blocked && !!blocked[m.user.id] && !shown[m.id];
  },
  show: function (id) {
    shown[id] = true;
  },
  power: power,
  load: load
};

on('block-form', 'submit', function () {
  var name = $('block-user').value.trim();
  if (name) setBlock('PUT', name, function () { $('block-user').value = ''; });
});
on('password-form', 'submit', function () {
  var out = $('password-result'), body = {old_password: $('old-password').value, new_password: $('new-password').value};
  api('POST', '/me/password', body, function (err) {
    out.className = err ? 'error' : 'note';
    out.textContent = errorText(err) || 'Password changed. You were signed out everywhere else.';
    if (!err) $('password-form').reset();
  });
});
// Once (the button hides), from index.html's <template>, which says why.
on('password-open', 'click', function () {
  var form = $('password-form');
  form.append($('password-fields').content);
  show(form, true);
  show('password-open', false);
  $('old-password').focus();
});
})();
