// Mentions: @names, mine highlighted, @ completion from members, and a
// Notification while hidden if the room's level and Settings allow.
(function () {
// As the server reads (schema/mentions.cc), left to right: an address, from
// "http://" or "https://" to ASCII white space, names nobody, nor "x@";
// "@name" and an "@" right after it.
var kWord = /(https?:\/\/[^ \t\n\r\f\v]*)|[\w.-]@|(@[\w.-]+)@?/gi, matches = [], mod = Parley.moderation;
// An address's link runs to any space, less an end mark (a "(…)" stays);
// the rest is plain text.
var kLink = /^https?:\/\/(?:\([^\s()]*\)|[^\s()])*(?:\([^\s()]*\)|[^\s().,;:!?'"\]>])/i;

// "@Bob" and "@bob." (a sentence's end) name bob.
function isMe(word) {
  var n = word.slice(1).toLowerCase(), myName = me() ? me().username.toLowerCase() : '';
  return n === myName || n.replace(/\.+$/, '') === myName;
}

// As the server counts; not from someone I blocked, nor while my blocks
// are unknown (hidden() null): no highlight, count or notification.
function ofMe(m) {
  return !!me() && !mine(m) && !m.deleted && mod.hidden(m) === false && (m.mentions || []).indexOf(me().id) >= 0;
}

// A mention where the server reads a name: 1-32 characters, not "." or
// "..", while it holds fewer than 20 names (each also less its end dots).
function fill(p, text) {
  var m, at = 0, names = [], a, w, add = function (n) {
    if (n && names.indexOf(n) < 0) names.push(n);
  };
  for (text = String(text), kWord.lastIndex = 0; (m = kWord.exec(text)); at = kWord.lastIndex) {
    a = m[1] && kLink.exec(m[1]);
    w = !names[19] && /^@(?!\.\.?$)[\w.-]{1,32}$/.test(m[2]) && m[2];
    p.append(text.slice(at, m.index), a ? el('a', null, a = a[0], {href: a, target: '_blank', rel: 'noopener'})
      : w ? span(isMe(w) ? 'at me' : 'at', w) : '', m[0].slice((a || w || '').length));
    if (w) add(w = w.slice(1)), add(w.replace(/\.+$/, ''));
  }
  p.append(text.slice(at));
}

// Members whose name starts with the @word before the caret.
function suggest() {
  var box = $('text'), at = /(^|\s)@([\w.-]*)$/.exec(box.value.slice(0, box.selectionStart));
  var w = at && at[2].toLowerCase(), ul = clear('mention-list'), full = false;
  matches = [];
  (at ? Parley.room.members() : []).forEach(function (mb) {
    var name = mb.user.username, low = name.toLowerCase();
    full = full || low === w;
    if (low.indexOf(w) === 0 && name !== me().username && matches.length < 5) matches.push(name);
  });
  // A name typed in full needs no offer (Enter sends).
  if (full) matches = [];
  matches.forEach(function (name) {
    ul.appendChild(el('li')).append(button('@' + name, 'pick', complete.bind(null, name)));
  });
  show(ul, matches.length);
}

function complete(name) {
  var box = $('text'), at = box.selectionStart;
  var head = box.value.slice(0, at).replace(/@[\w.-]*$/, '@' + name + ' ');
  box.value = head + box.value.slice(at);
  box.focus();
  box.setSelectionRange(head.length, head.length);
  suggest();
}

function wanted(room, m) {
  var level = room.notifications || 'all';
  return level === 'all' || (level === 'mentions' && (room.kind === 'dm' || ofMe(m)));
}

function notify(room, m) {
  if (!window.Notification || Notification.permission !== 'granted' || !document.hidden) return;
  // None from someone I blocked, nor while my blocks are unknown.
  if (mine(m) || mod.hidden(m) !== false || !wanted(room, m)) return;
  // One tag per message: shown once by all my hidden tabs.
  var pop = function () {
    var n = new Notification(m.user.username + (room.kind === 'dm' ? '' : ' in #' + room.name),
      {body: m.text.slice(0, 200), tag: 'parley-' + m.id});
    n.onclick = function () {
      window.focus();
      location.hash = 'room-' + room.id;
      n.close();
    };
  };
  var t = Parley.state.transport;
  if (t.unlessVisible) t.unlessVisible(pop);
  else pop();
}

Parley.mentions = {ofMe: ofMe, fill: fill, notify: notify};

function showAllow() {
  show('notify-allow', !!window.Notification && Notification.permission === 'default');
}

on('text', 'input', suggest);
// Captured before room.js's keys: Tab or Enter picks, Escape closes.
on('composer', 'keydown', function (e) {
  if (!matches.length || e.target !== $('text')) return;
  if (isEnter(e) || (e.key === 'Tab' && !e.shiftKey && !e.isComposing)) {
    e.preventDefault();
    e.stopPropagation();
    complete(matches[0]);
  } else if (isEsc(e)) {
    e.stopPropagation();
    matches = [];
    show(clear('mention-list'), false);
  }
}, true);
on('composer', 'submit', suggest);
showAllow();
on('notify-allow', 'click', function () {
  Notification.requestPermission(showAllow);
});
on('notify-level', 'change', function () {
  var room = Parley.state.byId[Parley.room.currentId()], level = $('notify-level');
  api('PUT', '/rooms/' + room.id + '/notifications', {level: level.value}, function (err, data) {
    if (!err) room.notifications = data.room.notifications;
    level.value = room.notifications || 'all';
    showError('room-error', err);
  });
});

})();
