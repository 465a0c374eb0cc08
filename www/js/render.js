// A message's element, and regroup(): after each batch of changes it sets
// what depends on neighbours (`cont`, dividers), simpler than patching each
// case. A divider is its message's first child: none is stranded.
(function () {
var kGroupMs = 5 * 60 * 1000, kHidden = 'Hidden: you blocked this person.';

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

function head(user, after) {
  var h = el('div', 'head');
  h.append(el('span', 'author', user.username), after);
  return h;
}

// Filled by content(). tabindex: a jump to a reply's original focuses it.
function item(m) {
  return shell('', {'data-id': m.id, tabindex: -1}, m.user, m.ts);
}

// "name: text" for quotes, the room list and the live region, never a
// blocked person's words: none until my blocks are known.
function gist(q) {
  var h = Parley.moderation.hidden(q);
  return q.user.username + ': ' + (q.deleted ? 'message deleted' : h ? 'hidden' : h == null ? '…' : q.text);
}

// A reply's quote, a button to the original (q null: not loaded yet).
function quote(q, onJump) {
  var text = q ? gist(q) : 'an earlier message';
  return button('↩ ' + text, 'quote', onJump, 'Reply to ' + text + '. Show the original');
}

// ctx: room.js's rights and callbacks.
function content(li, m, ctx) {
  li.classList.add('msg', m.kind);  // a message keeps its kind
  li.classList.toggle('own', ctx.mine);
  var old = li.querySelector(':scope > .content'), box = el('div', 'content'), h = box.appendChild(head(m.user, timeNode(m.ts))), live = !m.deleted;
  if (m.kind === 'question') h.append(m.answer_id ? el('span', 'state answered', 'answered') : el('span', 'state open', 'unanswered'));
  if (m.kind === 'answer') h.append(el('span', 'kind', 'answer'));
  if (m.reply_to && m.kind !== 'answer') box.append(quote(ctx.quoteOf(m.reply_to), ctx.onJump.bind(null, m.reply_to)));
  if (!live) {
    box.append(el('p', 'text deleted', m.deleted_by ? 'removed by a moderator' : 'message deleted'));
  } else if (ctx.hidden) {
    box.appendChild(el('p', 'text deleted', kHidden + ' '))
      .append(button('Show', 'show', ctx.onShow.bind(null, m.id)));
  } else {
    // dir: a Hebrew or Arabic message reads right to left, its "!" at its end.
    if (m.text || !m.attachments) Parley.mentions.fill(box.appendChild(el('p', 'text', null, {dir: 'auto'})), m.text);
    if (m.attachments) Parley.uploads.render(box, m.attachments);
  }
  li.classList.toggle('mention', Parley.mentions.ofMe(m));
  // After the text: a grouped message shows no head.
  if (m.edited && live) box.append(el('span', 'edited', '(edited)'));
  var react = ctx.onReact.bind(null, m.id);
  if (live) Parley.reactions.counts(box, m, react, ctx.muted);

  var actions = el('div', 'actions', null, {role: 'group', 'aria-label': 'Actions for this message'});
  // Reply runs ctx.onReply(m.id), and so on.
  var action = function (shown, label, onClick) {
    if (shown) actions.append(button(label, label.toLowerCase(), onClick || ctx['on' + label].bind(null, m.id)));
  };
  action(live && ctx.canReply && !ctx.hidden, 'Reply');  // its bar would quote it
  // Muted: the server refuses to add a reaction or edit; taking back stays.
  action(live && !ctx.muted, 'React', function () { Parley.reactions.palette(box, react); });
  action(live && ctx.mine && !ctx.muted, 'Edit');
  action(live && (ctx.mine || ctx.canDelete), 'Delete');
  action(ctx.canAnswer, 'Answer');
  if (actions.firstChild) box.append(actions);
  keepFocus(li, function () {
    if (old) old.replaceWith(box);
    else li.append(box);
  });
}

function pending(text, clientId, me, quoted) {
  var li = shell('msg own pending', {'data-client-id': clientId}, me, Date.now()), c = li.appendChild(el('div', 'content'));
  c.append(head(me, el('span', 'sending', 'sending…')));
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

function regroup(list, ctx) {
  var prev = null, prevTs = 0;  // prev: null after a system note or a question
  // "New" goes before others' first message after the marker, once the
  // window holds what came before.
  var sawRead = ctx.startsRoom, newDone = ctx.unreadAfter === null;
  for (var node = list.firstChild; node; node = node.nextSibling) {
    var ts = +node.dataset.ts, id = +node.dataset.id;
    if (id && ctx.unreadAfter !== null && id <= ctx.unreadAfter) sawRead = true;
    if (!ts) {
      prev = null;
      continue;
    }
    var user = node.dataset.user, q = node.classList.contains('question');
    var day = !prevTs || !Parley.sameDay(prevTs, ts) ? Parley.dayLabel(ts) : null;
    setDivider(node, 'day', day);
    var isNew = false;
    if (!newDone && id > ctx.unreadAfter && user !== String(ctx.meId)) {
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
  content: content,
  pending: pending,
  regroup: regroup,
  refreshTimes: refreshTimes
};
})();
