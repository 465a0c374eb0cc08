// A message's shell, and regroup(): after each batch of changes it sets
// what depends on neighbours (`cont`, dividers), simpler than patching each
// case. A divider is its message's first child: none is stranded.
(function () {
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

// Filled by room.js. tabindex: a jump to a reply's original focuses it.
function item(m) {
  return shell('', {'data-id': m.id, tabindex: -1}, m.user, m.ts);
}

// "name: text" for quotes, the room list and the live region, never a
// blocked person's words: none until my blocks are known.
function gist(q) {
  var h = Parley.moderation.hidden(q);
  return q.user.username + ': ' + (q.deleted ? 'message deleted' : h ? 'hidden' : h == null ? '…' : q.text);
}

function pending(text, clientId, me, quoted) {
  var li = shell('msg own pending', {'data-client-id': clientId}, me, Date.now()), c = li.appendChild(el('div', 'content'));
  c.append(head(me, span('sending', 'sending…')));
  if (quoted) c.append(el('p', 'quote', '↩ ' + quoted));
  c.append(el('p', 'text', text));
  return li;
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

// w: room.js's window (unreadAfter, hasMore).
function regroup(list, w) {
  var prev = null, prevTs = 0, myId = String(me() && me().id);  // prev: null after a system note or a question
  // "New" goes before others' first message after the marker, once the
  // window holds what came before.
  var sawRead = !w.hasMore, newDone = !w.unreadAfter;
  for (var node = list.firstChild; node; node = node.nextSibling) {
    var ts = +node.dataset.ts, id = +node.dataset.id;
    if (id && !newDone && id <= w.unreadAfter) sawRead = true;
    if (!ts) {
      prev = null;
      continue;
    }
    var user = node.dataset.user, q = node.classList.contains('question');
    var day = !prevTs || !Parley.sameDay(prevTs, ts) ? Parley.dayLabel(ts) : null;
    setDivider(node, 'day', day);
    var isNew = false;
    if (!newDone && id > w.unreadAfter && user !== myId) {
      isNew = sawRead;
      newDone = true;
    }
    setDivider(node, 'new', isNew ? 'New messages' : null);
    node.classList.toggle('cont', !!prev && !day && !isNew && !q && prev.user === user && ts - prev.ts < kGroupMs);
    prev = q ? null : {user: user, ts: ts};
    prevTs = ts;
  }
}

function refreshTimes(list) {
  var now = Date.now();
  [].forEach.call(list.getElementsByTagName('time'), function (time) {
    var t = Parley.relativeTime(+time.dataset.ms, now);
    if (time.textContent !== t) time.textContent = t;
  });
}

Parley.render = {
  hiddenText: kHidden,
  gist: gist,
  item: item,
  head: head,
  pending: pending,
  regroup: regroup,
  refreshTimes: refreshTimes
};
})();
