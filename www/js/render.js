// How a conversation looks: one message's element (avatar, name, relative
// time, reply quote, text, hover actions), and the pass that groups
// consecutive messages and places the day and "New messages" dividers.
//
// Design note. Grouping depends on neighbours, and neighbours change as
// pages load, windows trim and live messages arrive. Instead of patching
// each case, regroup() walks the list's top-level items (never more than the
// window's ~400) after each batch of changes and sets what depends on
// position: the `cont` class (same author within 5 minutes, no divider in
// between) and the dividers, kept as the first children of the message they
// precede so that inserting and removing messages never strands one.
var Parley = window.Parley || {};
window.Parley = Parley;

(function () {
  var el = Parley.el;
  var kGroupMs = 5 * 60 * 1000;

  function button(label, cls, onClick, ariaLabel) {
    var b = el('button', cls, label);
    b.type = 'button';
    if (ariaLabel) b.setAttribute('aria-label', ariaLabel);
    b.addEventListener('click', onClick);
    return b;
  }

  function timeNode(ts) {
    var d = new Date(ts);
    var t = el('time', 'ts', Parley.relativeTime(ts));
    t.setAttribute('datetime', d.toISOString());
    t.setAttribute('data-ms', String(ts));
    t.setAttribute('title', d.toLocaleString());
    return t;
  }

  function avatar(user) {
    var a = el('span', 'avatar', Parley.initials(user.username));
    a.setAttribute('aria-hidden', 'true');
    a.style.backgroundColor = Parley.avatarColour(user.id);
    return a;
  }

  // A new <li> for message m (its content comes from content() below).
  function item(m, mine) {
    var li = el('li', '');
    li.setAttribute('data-id', String(m.id));
    li.setAttribute('data-user', String(m.user.id));
    li.setAttribute('data-ts', String(m.ts));
    li.tabIndex = -1;  // a jump to a reply's original focuses it
    li.appendChild(avatar(m.user));
    setClass(li, m, mine);
    return li;
  }

  function setClass(li, m, mine) {
    var keep = /\b(cont|touched|flash)\b/g;
    var extra = (li.className.match(keep) || []).join(' ');
    li.className = 'msg ' + m.kind + (mine ? ' own' : '') + (extra ? ' ' + extra : '');
  }

  // The quoted line of a reply: who and what it answers; a button that
  // jumps to the original. q: {username, text, deleted} or null (not known
  // yet: the original is outside the loaded window).
  function quote(m, q, onJump) {
    var text = q ? q.username + ': ' + (q.deleted ? 'message deleted' : q.text) : 'an earlier message';
    var b = button('↩ ' + text, 'quote', onJump, 'Reply to ' + text + '. Show the original');
    return b;
  }

  // Fills (or refills) li's .content for message m. ctx: {mine, canReply,
  // canAnswer, quoteOf(id), onReply, onEdit, onDelete, onAnswer, onJump,
  // onReact(id, emoji)}.
  function content(li, m, ctx) {
    setClass(li, m, ctx.mine);
    var old = null;
    for (var c = li.firstChild; c; c = c.nextSibling) {
      if (c.className === 'content') old = c;
    }
    var box = el('div', 'content');
    var head = el('div', 'head');
    head.appendChild(el('span', 'author', m.user.username));
    head.appendChild(timeNode(m.ts));
    if (m.kind === 'question') {
      var answered = !!m.answer_id;
      head.appendChild(el('span', 'state ' + (answered ? 'answered' : 'open'), answered ? 'answered' : 'unanswered'));
    }
    if (m.kind === 'answer') head.appendChild(el('span', 'kind', 'answer'));
    box.appendChild(head);
    if (m.reply_to && m.kind !== 'answer') {
      box.appendChild(quote(m, ctx.quoteOf(m.reply_to), function () { ctx.onJump(m.reply_to); }));
    }
    if (m.deleted) {
      box.appendChild(el('p', 'text deleted', m.deleted_by ? 'removed by a moderator' : 'message deleted'));
    } else if (ctx.hidden) {
      var p = el('p', 'text deleted', 'Hidden: you blocked this person. ');
      p.appendChild(button('Show', 'show', function () { ctx.onShow(m.id); }));
      box.appendChild(p);
    } else {
      if (m.text || !m.attachments) Parley.mentions.fill(box.appendChild(el('p', 'text')), m.text);
      if (m.attachments) Parley.uploads.render(box, m.attachments);
    }
    toggle(li, 'mention', Parley.mentions.ofMe(m));
    // After the text, not in the head: a grouped message shows no head.
    if (m.edited && !m.deleted) box.appendChild(el('span', 'edited', '(edited)'));
    var react = function (emoji) { ctx.onReact(m.id, emoji); };
    if (!m.deleted) Parley.reactions.counts(box, m, react);

    var actions = el('div', 'actions');
    actions.setAttribute('role', 'group');
    actions.setAttribute('aria-label', 'Actions for this message');
    if (!m.deleted && ctx.canReply) actions.appendChild(button('Reply', 'reply', function () { ctx.onReply(m.id); }));
    if (!m.deleted) actions.appendChild(button('React', 'react', function () { Parley.reactions.palette(box, react); }));
    if (!m.deleted && ctx.mine) {
      actions.appendChild(button('Edit', 'edit', function () { ctx.onEdit(m.id); }));
      actions.appendChild(button('Delete', 'delete', function () { ctx.onDelete(m.id); }));
    }
    if (!m.deleted && !ctx.mine && ctx.canDelete) {
      actions.appendChild(button('Delete', 'delete', function () { ctx.onDelete(m.id); }));
    }
    if (ctx.canAnswer) actions.appendChild(button('Answer', 'answer', function () { ctx.onAnswer(m.id); }));
    if (actions.firstChild) box.appendChild(actions);
    if (old) li.replaceChild(box, old);
    else li.appendChild(box);
  }

  // The optimistic copy of a message being sent; quoted: the line of the
  // message it replies to, if any.
  function pending(text, clientId, me, quoted) {
    var li = el('li', 'msg own pending');
    li.setAttribute('data-client-id', clientId);
    li.setAttribute('data-user', String(me.id));
    li.setAttribute('data-ts', String(Date.now()));
    li.appendChild(avatar(me));
    var c = el('div', 'content');
    var head = el('div', 'head');
    head.appendChild(el('span', 'author', me.username));
    head.appendChild(el('span', 'sending', 'sending…'));
    c.appendChild(head);
    if (quoted) c.appendChild(el('p', 'quote', '↩ ' + quoted));
    c.appendChild(el('p', 'text', text));
    li.appendChild(c);
    return li;
  }

  function isDivider(node, cls) {
    return node && node.nodeType === 1 && node.className === 'divider ' + cls;
  }

  // Puts (text) or removes (null) li's divider of class cls ("day" first,
  // then "new").
  function setDivider(li, cls, text) {
    var found = null;
    for (var c = li.firstChild; c && (isDivider(c, 'day') || isDivider(c, 'new')); c = c.nextSibling) {
      if (isDivider(c, cls)) found = c;
    }
    if (!text) {
      if (found) li.removeChild(found);
      return;
    }
    if (found) {
      if (found.textContent !== text) found.textContent = text;
      return;
    }
    var d = el('div', 'divider ' + cls, text);
    var before = li.firstChild;
    if (cls === 'new' && isDivider(before, 'day')) before = before.nextSibling;
    li.insertBefore(d, before);
  }

  function toggle(node, cls, on) {
    var has = (' ' + node.className + ' ').indexOf(' ' + cls + ' ') >= 0;
    if (on && !has) node.className += ' ' + cls;
    if (!on && has) node.className = (' ' + node.className + ' ').replace(' ' + cls + ' ', ' ').replace(/^\s+|\s+$/g, '');
  }

  // ctx: {unreadAfter: id or null, startsRoom: the window begins at the
  // room's first message, meId}.
  function regroup(list, ctx) {
    var prev = null;  // {user, ts, kind} of the previous message, null after a system note
    var prevTs = 0;
    // The divider goes before the first message of someone else after the
    // marker, once we know the window holds what came before it.
    var sawRead = ctx.startsRoom;
    var newDone = ctx.unreadAfter === null;
    for (var node = list.firstChild; node; node = node.nextSibling) {
      var ts = parseInt(node.getAttribute('data-ts'), 10);
      var id = parseInt(node.getAttribute('data-id') || '', 10);
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
      var kind = /\bquestion\b/.test(node.className) ? 'question' : 'message';
      var cont = !!prev && !day && !isNew && prev.user === user && prev.kind === 'message' && kind === 'message' &&
        ts - prev.ts < kGroupMs;
      toggle(node, 'cont', cont);
      prev = {user: user, ts: ts, kind: kind};
      prevTs = ts;
    }
  }

  // Relative times age; the timer in room.js calls this every 30 s.
  function refreshTimes(list) {
    var times = list.getElementsByTagName('time');
    var now = Date.now();
    for (var i = 0; i < times.length; i++) {
      var t = Parley.relativeTime(parseInt(times[i].getAttribute('data-ms'), 10), now);
      if (times[i].textContent !== t) times[i].textContent = t;
    }
  }

  Parley.render = {
    button: button,
    item: item,
    content: content,
    pending: pending,
    regroup: regroup,
    refreshTimes: refreshTimes,
    toggle: toggle
  };
})();
