// A message's element, and regroup(): after each batch of changes it sets
// what depends on neighbours (`cont`, dividers), simpler than patching each
// case. A divider is its message's first child: none is stranded.
(function () {
var kGroupMs = 5 * 60 * 1000;

function timeNode(ts) {
  var d = new Date(ts);
  return el('time', 'ts', Parley.relativeTime(ts), {datetime: d.toISOString(), 'data-ms': ts, title: d.toLocaleString()});
}

function shell(cls, attrs, user, ts) {
  attrs['data-user'] = user.id;
  attrs['data-ts'] = ts;
  var li = el('li', cls, null, attrs);
  var a = li.appendChild(el('span', 'avatar', Parley.initials(user.username), {'aria-hidden': 'true'}));
  a.style.backgroundColor = Parley.avatarColour(user.id);
  return li;
}

function head(user) {
  var h = el('div', 'head');
  h.appendChild(el('span', 'author', user.username));
  return h;
}

// Filled by content(). tabindex: a jump to a reply's original focuses it.
function item(m) {
  return shell('', {'data-id': m.id, tabindex: -1}, m.user, m.ts);
}

function setClass(li, m, mine) {
  var keep = /\b(cont|touched|flash)\b/g, extra = (li.className.match(keep) || []).join(' ');
  li.className = 'msg ' + m.kind + (mine ? ' own' : '') + (extra ? ' ' + extra : '');
}

// A reply's quote, a button to the original (q null: not loaded yet).
function quote(q, onJump) {
  var text = q ? q.user.username + ': ' + (q.deleted ? 'message deleted' : q.text) : 'an earlier message';
  return button('↩ ' + text, 'quote', onJump, 'Reply to ' + text + '. Show the original');
}

// ctx: room.js's rights and callbacks.
function content(li, m, ctx) {
  setClass(li, m, ctx.mine);
  var old = null;
  for (var c = li.firstChild; c; c = c.nextSibling) {
    if (c.className === 'content') old = c;
  }
  var box = el('div', 'content'), h = box.appendChild(head(m.user));
  h.appendChild(timeNode(m.ts));
  if (m.kind === 'question') {
    var st = m.answer_id ? 'answered' : 'open';
    h.appendChild(el('span', 'state ' + st, m.answer_id ? 'answered' : 'unanswered'));
  }
  if (m.kind === 'answer') h.appendChild(el('span', 'kind', 'answer'));
  if (m.reply_to && m.kind !== 'answer') {
    box.appendChild(quote(ctx.quoteOf(m.reply_to), function () { ctx.onJump(m.reply_to); }));
  }
  if (m.deleted) {
    box.appendChild(el('p', 'text deleted', m.deleted_by ? 'removed by a moderator' : 'message deleted'));
  } else if (ctx.hidden) {
    box.appendChild(el('p', 'text deleted', 'Hidden: you blocked this person. '))
      .appendChild(button('Show', 'show', ctx.onShow.bind(null, m.id)));
  } else {
    if (m.text || !m.attachments) Parley.mentions.fill(box.appendChild(el('p', 'text')), m.text);
    if (m.attachments) Parley.uploads.render(box, m.attachments);
  }
  li.classList.toggle('mention', Parley.mentions.ofMe(m));
  // After the text: a grouped message shows no head.
  if (m.edited && !m.deleted) box.appendChild(el('span', 'edited', '(edited)'));
  var react = function (emoji) { ctx.onReact(m.id, emoji); };
  if (!m.deleted) Parley.reactions.counts(box, m, react);

  var actions = el('div', 'actions', null, {role: 'group', 'aria-label': 'Actions for this message'});
  var live = !m.deleted;
  var action = function (shown, label, onClick) {
    if (shown) actions.appendChild(button(label, label.toLowerCase(), onClick));
  };
  action(live && ctx.canReply, 'Reply', ctx.onReply.bind(null, m.id));
  action(live, 'React', function () { Parley.reactions.palette(box, react); });
  action(live && ctx.mine, 'Edit', ctx.onEdit.bind(null, m.id));
  action(live && (ctx.mine || ctx.canDelete), 'Delete', ctx.onDelete.bind(null, m.id));
  action(ctx.canAnswer, 'Answer', ctx.onAnswer.bind(null, m.id));
  if (actions.firstChild) box.appendChild(actions);
  keepFocus(li, function () {
    if (old) li.replaceChild(box, old);
    else li.appendChild(box);
  });
}

function pending(text, clientId, me, quoted) {
  var li = shell('msg own pending', {'data-client-id': clientId}, me, Date.now()), c = el('div', 'content');
  c.appendChild(head(me)).appendChild(el('span', 'sending', 'sending…'));
  if (quoted) c.appendChild(el('p', 'quote', '↩ ' + quoted));
  c.appendChild(el('p', 'text', text));
  li.appendChild(c);
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
  if (!text) return found && li.removeChild(found);
  if (!found) li.insertBefore(el('div', 'divider ' + cls, text), c);
  else if (found.textContent !== text) found.textContent = text;
}

function regroup(list, ctx) {
  var prev = null;  // null after a system note
  var prevTs = 0;
  // "New" goes before others' first message after the marker, once the
  // window holds what came before.
  var sawRead = ctx.startsRoom, newDone = ctx.unreadAfter === null;
  for (var node = list.firstChild; node; node = node.nextSibling) {
    var ts = parseInt(node.getAttribute('data-ts'), 10), id = parseInt(node.getAttribute('data-id') || '', 10);
    if (!ts) {
      prev = null;
      if (id && ctx.unreadAfter !== null && id <= ctx.unreadAfter) sawRead = true;
      continue;
    }
    var user = node.getAttribute('data-user');
    var day = !prevTs || !Parley.sameDay(prevTs, ts) ? Parley.dayLabel(ts) : null;
    setDivider(node, 'day', day);
    var isNew = false;
    if (!newDone && id && id > ctx.unreadAfter && user !== String(ctx.meId)) {
      isNew = sawRead;
      newDone = true;
    }
    if (id && ctx.unreadAfter !== null && id <= ctx.unreadAfter) sawRead = true;
    setDivider(node, 'new', isNew ? 'New messages' : null);
    var kind = node.classList.contains('question') ? 'question' : 'message';
    var cont = !!prev && !day && !isNew && prev.user === user && prev.kind === 'message' && kind === 'message' &&
      ts - prev.ts < kGroupMs;
    node.classList.toggle('cont', cont);
    prev = {user: user, ts: ts, kind: kind};
    prevTs = ts;
  }
}

function refreshTimes(list) {
  var times = list.getElementsByTagName('time'), now = Date.now();
  for (var i = 0; i < times.length; i++) {
    var t = Parley.relativeTime(parseInt(times[i].getAttribute('data-ms'), 10), now);
    if (times[i].textContent !== t) times[i].textContent = t;
  }
}

Parley.render = {
  item: item,
  content: content,
  pending: pending,
  regroup: regroup,
  refreshTimes: refreshTimes
};
})();
