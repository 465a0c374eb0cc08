// The open room: its messages (history paged backwards as you scroll up,
// live events merged in id order), the composer with optimistic sends, edit
// and delete, Q&A questions and answers, typing, and the member list.
//
// Design note. A message is keyed by its id (= its event id) in `nodes`, so
// whatever path it comes by (history page, the send's response, the live
// event, a replay after a reconnect) it is shown once and updated in place.
// A message being sent is shown at once as "pending" under its client_id;
// the stored copy replaces it, whichever of the response and the event
// comes first. A failed send keeps its client_id, so "Retry" can never
// store a second copy.
var Parley = window.Parley || {};
window.Parley = Parley;

(function () {
  var $ = Parley.$;
  var el = Parley.el;
  var kPageSize = 50;
  var kTypingSendEveryMs = 3000;
  var kTypingShowMs = 6000;

  var R = {
    room: null,        // the room object from GET /api/rooms
    nodes: {},         // message id -> <li>
    msgs: {},          // message id -> message object
    pending: {},       // client_id -> {li, text, kind, questionId}
    oldest: null,      // smallest loaded message id
    newest: 0,         // largest, for the read marker
    hasMore: false,
    loading: false,
    typing: {},        // username -> expiry (ms)
    lastTypingSent: 0,
    members: [],
    online: {},        // user id -> true/false, from members and presence
    readSent: 0,
    readTimer: null,
    seq: 0             // bumped when another room opens: late answers are dropped
  };

  function me() {
    return Parley.state.me;
  }

  function myRole() {
    return R.room ? R.room.role : null;
  }

  function isQa() {
    return R.room && R.room.kind === 'qa';
  }

  function setError(text) {
    $('room-error').textContent = text || '';
  }

  // --- rendering ---------------------------------------------------------

  function timeNode(ts) {
    var t = el('time', 'ts', Parley.formatTime(ts));
    var d = new Date(ts);
    t.setAttribute('datetime', d.toISOString());
    t.setAttribute('title', d.toLocaleString());
    return t;
  }

  function button(label, cls, onClick) {
    var b = el('button', cls, label);
    b.type = 'button';
    b.addEventListener('click', onClick);
    return b;
  }

  function renderContent(li, m) {
    var old = li.querySelector('.content');
    var c = el('div', 'content');
    var head = el('div', 'head');
    head.appendChild(el('span', 'author', m.user.username));
    head.appendChild(timeNode(m.ts));
    if (m.kind === 'question') {
      var state = el('span', 'state ' + (m.answer_id ? 'answered' : 'open'), m.answer_id ? 'answered' : 'unanswered');
      head.appendChild(state);
    }
    if (m.kind === 'answer') head.appendChild(el('span', 'kind', 'answer'));
    if (m.edited && !m.deleted) head.appendChild(el('span', 'edited', '(edited)'));
    c.appendChild(head);
    if (m.deleted) c.appendChild(el('p', 'text deleted', 'message deleted'));
    else c.appendChild(el('p', 'text', m.text));

    var actions = el('div', 'actions');
    if (!m.deleted && me() && m.user.id === me().id) {
      actions.appendChild(button('Edit', 'edit', function () { startEdit(m.id); }));
      actions.appendChild(button('Delete', 'delete', function () { removeMessage(m.id); }));
    }
    if (m.kind === 'question' && !m.answer_id && !m.deleted && myRole() === 'professor') {
      actions.appendChild(button('Answer', 'answer', function () { startAnswer(m.id); }));
    }
    if (actions.firstChild) c.appendChild(actions);
    if (old) li.replaceChild(c, old);
    else li.insertBefore(c, li.firstChild);
  }

  function classFor(m) {
    var cls = 'msg ' + m.kind;
    if (me() && m.user.id === me().id) cls += ' own';
    return cls;
  }

  // The <li> before which a message with this id belongs: the first loaded
  // message with a larger id, or the first pending one (pending stay last).
  function insertionPoint(list, id) {
    var node = list.lastChild;
    var before = null;
    while (node) {
      var nid = node.getAttribute('data-id');
      if (!node.classList.contains('pending') && nid && parseInt(nid, 10) < id) break;
      before = node;
      node = node.previousSibling;
    }
    return before;
  }

  function placeMessage(m) {
    if (!R.room || m.room_id !== R.room.id) return;
    if (m.client_id && R.pending[m.client_id]) {
      var p = R.pending[m.client_id];
      if (p.li.parentNode) p.li.parentNode.removeChild(p.li);
      delete R.pending[m.client_id];
    }
    R.msgs[m.id] = m;
    if (R.oldest === null || m.id < R.oldest) R.oldest = m.id;
    if (m.id > R.newest) R.newest = m.id;
    var li = R.nodes[m.id];
    if (!li) {
      li = el('li', classFor(m));
      li.setAttribute('data-id', String(m.id));
      R.nodes[m.id] = li;
      var container = $('messages');
      if (m.kind === 'answer' && m.reply_to && R.nodes[m.reply_to]) {
        container = answersOf(R.nodes[m.reply_to]);
        container.appendChild(li);
      } else {
        container.insertBefore(li, insertionPoint(container, m.id));
      }
      if (m.kind === 'question') adoptAnswer(m);
    } else {
      li.className = classFor(m);
    }
    renderContent(li, m);
    if (m.kind === 'answer' && m.reply_to && R.msgs[m.reply_to] && !(R.msgs[m.reply_to].answer_id > 0)) {
      R.msgs[m.reply_to].answer_id = m.id;
      placeMessage(R.msgs[m.reply_to]);
    }
  }

  function answersOf(questionLi) {
    var a = questionLi.querySelector('.answers');
    if (!a) {
      a = el('ol', 'answers');
      a.setAttribute('aria-label', 'Answer');
      questionLi.appendChild(a);
    }
    return a;
  }

  // An answer loaded before its question (a page boundary) moves under it.
  function adoptAnswer(q) {
    if (!q.answer_id || !R.nodes[q.answer_id]) return;
    var a = R.nodes[q.answer_id];
    answersOf(R.nodes[q.id]).appendChild(a);
  }

  function nearBottom() {
    var list = $('messages');
    return list.scrollHeight - list.scrollTop - list.clientHeight < 80;
  }

  function scrollToBottom() {
    var list = $('messages');
    list.scrollTop = list.scrollHeight;
  }

  function systemNote(id, text) {
    if (R.nodes[id]) return;
    var li = el('li', 'system', text);
    li.setAttribute('data-id', String(id));
    R.nodes[id] = li;
    var list = $('messages');
    var stick = nearBottom();
    list.insertBefore(li, insertionPoint(list, id));
    if (stick) scrollToBottom();
  }

  // --- history -----------------------------------------------------------

  function loadLatest() {
    var seq = R.seq;
    R.loading = true;
    Parley.api('GET', '/rooms/' + R.room.id + '/messages?limit=' + kPageSize, null, function (err, data) {
      if (seq !== R.seq) return;
      R.loading = false;
      if (err) {
        setError(Parley.errorText(err));
        return;
      }
      var list = data.messages || [];
      for (var i = 0; i < list.length; i++) placeMessage(list[i]);
      R.hasMore = !!data.has_more;
      Parley.show($('older'), R.hasMore);
      scrollToBottom();
      markRead();
      fillViewport();
    });
  }

  // Loads the page before the oldest shown message, keeping what the reader
  // looks at in place.
  function loadOlder() {
    if (R.loading || !R.hasMore || R.oldest === null) return;
    var seq = R.seq;
    R.loading = true;
    var path = '/rooms/' + R.room.id + '/messages?limit=' + kPageSize + '&before=' + R.oldest;
    Parley.api('GET', path, null, function (err, data) {
      if (seq !== R.seq) return;
      R.loading = false;
      if (err) {
        setError(Parley.errorText(err));
        return;
      }
      var list = $('messages');
      var fromBottom = list.scrollHeight - list.scrollTop;
      var page = data.messages || [];
      for (var i = page.length - 1; i >= 0; i--) placeMessage(page[i]);
      R.hasMore = !!data.has_more;
      Parley.show($('older'), R.hasMore);
      list.scrollTop = list.scrollHeight - fromBottom;
      fillViewport();
    });
  }

  // A tall window may show a whole page without a scroll bar, and then no
  // scroll event ever asks for more.
  function fillViewport() {
    var list = $('messages');
    if (R.hasMore && list.scrollHeight <= list.clientHeight + 10) loadOlder();
  }

  // The read marker moves when the reader can see the newest message.
  function markRead() {
    if (!R.room || document.hidden) return;
    var newest = Math.max(R.room.last_event_id || 0, R.newest);
    Parley.rooms.markedRead(R.room.id, newest);
    if (newest <= R.readSent || R.readTimer) return;
    R.readTimer = setTimeout(function () {
      R.readTimer = null;
      if (!R.room || newest <= R.readSent) return;
      R.readSent = newest;
      Parley.api('POST', '/rooms/' + R.room.id + '/read', {event_id: newest}, null);
    }, 500);
  }

  // --- sending -------------------------------------------------------------

  function pendingLi(text, clientId) {
    var li = el('li', 'msg own pending');
    li.setAttribute('data-client-id', clientId);
    var c = el('div', 'content');
    var head = el('div', 'head');
    head.appendChild(el('span', 'author', me().username));
    head.appendChild(el('span', 'sending', 'sending…'));
    c.appendChild(head);
    c.appendChild(el('p', 'text', text));
    li.appendChild(c);
    return li;
  }

  function failPending(clientId, err) {
    var p = R.pending[clientId];
    if (!p) return;
    var head = p.li.querySelector('.head');
    var sending = head.querySelector('.sending');
    if (sending) head.removeChild(sending);
    var old = p.li.querySelector('.failed');
    if (old) old.parentNode.removeChild(old);
    var f = el('div', 'failed');
    f.appendChild(el('span', 'why', 'Not sent: ' + Parley.errorText(err)));
    // A rejected message (too long, not allowed) would fail again; a lost
    // connection or a throttle is worth another try, with the same client_id.
    if (err.status === 0 || err.status === 429 || err.status >= 500) {
      f.appendChild(button('Retry', 'retry', function () {
        f.parentNode.removeChild(f);
        head.appendChild(el('span', 'sending', 'sending…'));
        post(clientId);
      }));
    }
    f.appendChild(button('Discard', 'discard', function () {
      if (p.li.parentNode) p.li.parentNode.removeChild(p.li);
      delete R.pending[clientId];
    }));
    p.li.appendChild(f);
  }

  function post(clientId) {
    var p = R.pending[clientId];
    var seq = R.seq;
    Parley.api('POST', '/rooms/' + p.roomId + '/messages', {text: p.text, client_id: clientId}, function (err, data) {
      if (seq !== R.seq) return;
      if (err) {
        failPending(clientId, err);
        return;
      }
      placeMessage(data.message);
      markRead();
    });
  }

  function send(text) {
    var clientId = Parley.newClientId();
    var li = pendingLi(text, clientId);
    R.pending[clientId] = {li: li, text: text, roomId: R.room.id};
    $('messages').appendChild(li);
    scrollToBottom();
    post(clientId);
  }

  function onComposerKey(e) {
    // Enter sends; Shift+Enter is a new line. Not while an input method is
    // composing a character (isComposing), which also uses Enter.
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      submitComposer();
    }
  }

  function submitComposer(e) {
    if (e) e.preventDefault();
    var box = $('text');
    var text = box.value;
    if (!R.room || !text.replace(/\s+/g, '')) return;
    setError('');
    box.value = '';
    send(text);
  }

  function onComposerInput() {
    var now = Date.now();
    if (!R.room || now - R.lastTypingSent < kTypingSendEveryMs || !$('text').value) return;
    R.lastTypingSent = now;
    Parley.api('POST', '/rooms/' + R.room.id + '/typing', null, null);
  }

  // --- edit, delete, answer ----------------------------------------------

  // An inline editor (textarea + two buttons) in the message's place.
  function inlineEditor(li, label, initial, submitLabel, onSubmit) {
    var old = li.querySelector('.inline');
    if (old) old.parentNode.removeChild(old);
    var form = el('form', 'inline');
    var id = 'inline-' + li.getAttribute('data-id');
    var lab = el('label', null, label);
    lab.setAttribute('for', id);
    var box = el('textarea');
    box.id = id;
    box.rows = 2;
    box.maxLength = 4000;
    box.value = initial;
    var ok = el('button', null, submitLabel);
    ok.type = 'submit';
    var cancel = button('Cancel', 'cancel', function () { close(); });
    var msg = el('p', 'note');
    msg.setAttribute('role', 'alert');
    function close() {
      if (form.parentNode) form.parentNode.removeChild(form);
    }
    form.appendChild(lab);
    form.appendChild(box);
    form.appendChild(ok);
    form.appendChild(cancel);
    form.appendChild(msg);
    form.addEventListener('submit', function (e) {
      e.preventDefault();
      if (!box.value.replace(/\s+/g, '')) return;
      ok.disabled = true;
      onSubmit(box.value, function (errText) {
        ok.disabled = false;
        if (errText) msg.textContent = errText;
        else close();
      });
    });
    box.addEventListener('keydown', function (e) {
      if (e.key === 'Escape') close();
      if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
        e.preventDefault();
        ok.click();
      }
    });
    li.insertBefore(form, li.querySelector('.answers'));
    box.focus();
    return form;
  }

  function startEdit(id) {
    var m = R.msgs[id];
    inlineEditor(R.nodes[id], 'Edit message', m.text, 'Save', function (text, done) {
      Parley.api('PATCH', '/messages/' + id, {text: text}, function (err, data) {
        if (err) {
          done(Parley.errorText(err));
          return;
        }
        placeMessage(data.message);
        done(null);
      });
    });
  }

  function removeMessage(id) {
    Parley.api('DELETE', '/messages/' + id, null, function (err) {
      if (err) {
        setError(Parley.errorText(err));
        return;
      }
      var m = R.msgs[id];
      if (m) {
        m.deleted = true;
        m.text = '';
        placeMessage(m);
      }
    });
  }

  function startAnswer(questionId) {
    var clientId = Parley.newClientId();  // one per answer form: a retry cannot answer twice
    var li = R.nodes[questionId];
    inlineEditor(li, 'Your answer', '', 'Post answer', function (text, done) {
      Parley.api('POST', '/messages/' + questionId + '/answer', {text: text, client_id: clientId}, function (err, data) {
        if (err) {
          if (err.code === 'already_answered') {
            // The winning answer is on its way as an event; say why ours
            // is not there instead of showing an error.
            done(null);
            var note = el('p', 'note lost', 'Already answered by another professor.');
            note.setAttribute('role', 'status');
            var prev = li.querySelector('.lost');
            if (prev) li.removeChild(prev);
            li.insertBefore(note, li.querySelector('.answers'));
            var q = R.msgs[questionId];
            if (q && !q.answer_id) q.answer_id = -1;  // hide the Answer button until the answer arrives
            if (q) renderContent(li, q);
            return;
          }
          done(Parley.errorText(err));
          return;
        }
        placeMessage(data.message);
        done(null);
      });
    });
  }

  // --- members, typing -----------------------------------------------------

  function renderMembers() {
    var ul = $('members');
    Parley.clear(ul);
    var list = R.members.slice().sort(function (a, b) {
      var ao = R.online[a.user.id] ? 0 : 1;
      var bo = R.online[b.user.id] ? 0 : 1;
      return ao - bo || (a.user.username < b.user.username ? -1 : 1);
    });
    var amOwner = R.room && R.room.owner && me() && R.room.owner.id === me().id;
    for (var i = 0; i < list.length; i++) {
      var m = list[i];
      var online = !!R.online[m.user.id];
      var li = el('li', online ? 'online' : 'offline');
      li.appendChild(el('span', 'dot'));
      li.appendChild(el('span', 'name', m.user.username));
      li.appendChild(el('span', 'visually-hidden', online ? ' (online)' : ' (offline)'));
      if (isQa() && amOwner && m.user.id !== me().id) {
        li.appendChild(roleSelect(m));
      } else if (isQa() || m.owner) {
        li.appendChild(el('span', 'role', m.owner ? 'owner' + (isQa() ? ', ' + m.role : '') : m.role));
      }
      ul.appendChild(li);
    }
    $('members-count').textContent = String(list.length);
  }

  function roleSelect(m) {
    var s = el('select', 'role-select');
    s.setAttribute('aria-label', 'Role of ' + m.user.username);
    var roles = ['student', 'professor'];
    for (var i = 0; i < roles.length; i++) {
      var o = el('option', null, roles[i]);
      o.value = roles[i];
      if (m.role === roles[i]) o.selected = true;
      s.appendChild(o);
    }
    s.addEventListener('change', function () {
      var path = '/rooms/' + R.room.id + '/members/' + encodeURIComponent(m.user.username);
      Parley.api('PUT', path, {role: s.value}, function (err) {
        if (err) setError(Parley.errorText(err));
      });
    });
    return s;
  }

  var membersTimer = null;
  function loadMembers() {
    if (membersTimer) return;
    membersTimer = setTimeout(function () {
      membersTimer = null;
      if (!R.room) return;
      var seq = R.seq;
      Parley.api('GET', '/rooms/' + R.room.id + '/members', null, function (err, data) {
        if (seq !== R.seq || err) return;
        R.members = data.members || [];
        for (var i = 0; i < R.members.length; i++) R.online[R.members[i].user.id] = R.members[i].online;
        renderMembers();
      });
    }, 50);
  }

  function renderTyping() {
    var now = Date.now();
    var names = [];
    for (var name in R.typing) {
      if (!R.typing.hasOwnProperty(name)) continue;
      if (R.typing[name] > now) names.push(name);
      else delete R.typing[name];
    }
    var text = '';
    if (names.length === 1) text = names[0] + ' is typing…';
    else if (names.length === 2) text = names[0] + ' and ' + names[1] + ' are typing…';
    else if (names.length > 2) text = 'Several people are typing…';
    $('typing').textContent = text;
  }

  // --- the room header and composer for this kind of room ------------------

  function renderHeader() {
    var room = R.room;
    $('room-title').textContent = room.kind === 'dm' ? '@ ' + room.name : '# ' + room.name;
    var kinds = {public: 'public room', private: 'private room', qa: 'Q&A room', dm: 'direct conversation'};
    var kind = kinds[room.kind] || room.kind;
    if (room.kind === 'qa' && room.role) kind += ' · you are a ' + room.role;
    $('room-kind').textContent = kind;
    Parley.show($('leave'), room.kind !== 'dm' && room.member);
    Parley.show($('invite-form'), room.kind === 'private');
    var label = 'Message';
    var canWrite = true;
    if (room.kind === 'qa') {
      if (room.role === 'professor') {
        canWrite = false;
        $('composer-note').textContent = 'Professors answer questions: use Answer on a question.';
      } else {
        label = 'Ask a question';
      }
    }
    $('text-label').textContent = label;
    $('text').setAttribute('placeholder', label + (room.kind === 'dm' ? ' to ' + room.name : ''));
    Parley.show($('composer'), canWrite);
    Parley.show($('composer-note'), !canWrite);
  }

  // --- public interface ----------------------------------------------------

  Parley.room = {
    currentId: function () {
      return R.room ? R.room.id : null;
    },

    open: function (room) {
      R.seq++;
      R.room = room;
      R.nodes = {};
      R.msgs = {};
      R.pending = {};
      R.oldest = null;
      R.newest = 0;
      R.hasMore = false;
      R.loading = false;
      R.typing = {};
      R.members = [];
      R.readSent = 0;
      Parley.clear($('messages'));
      Parley.clear($('members'));
      setError('');
      renderTyping();
      renderHeader();
      Parley.show($('room'), true);
      loadLatest();
      loadMembers();
    },

    // The room object changed (role, name) without leaving it.
    update: function (room) {
      var roleChanged = R.room && R.room.role !== room.role;
      R.room = room;
      renderHeader();
      if (roleChanged) {
        for (var id in R.msgs) {
          if (R.msgs.hasOwnProperty(id)) placeMessage(R.msgs[id]);
        }
      }
    },

    close: function () {
      R.seq++;
      R.room = null;
      Parley.show($('room'), false);
    },

    // After a reset: what is shown may have gaps; load it again.
    reload: function () {
      if (R.room) this.open(R.room);
    },

    onMessageEvent: function (type, m) {
      if (!R.room || m.room_id !== R.room.id) return;
      var stick = nearBottom();
      if (type === 'edit' || type === 'delete') {
        if (R.msgs[m.id]) placeMessage(m);
        return;
      }
      placeMessage(m);
      if (m.user && R.typing[m.user.username]) {
        delete R.typing[m.user.username];
        renderTyping();
      }
      if (stick) scrollToBottom();
      markRead();
    },

    onMemberEvent: function (d, id) {
      if (!R.room || d.room_id !== R.room.id) return;
      var verbs = {joined: ' joined', added: ' was added', left: ' left', role: ' is now a ' + d.role};
      if (verbs[d.action]) systemNote(id, d.user.username + verbs[d.action]);
      loadMembers();
    },

    onTyping: function (d) {
      if (!R.room || d.room_id !== R.room.id || (me() && d.user.id === me().id)) return;
      R.typing[d.user.username] = Date.now() + kTypingShowMs;
      renderTyping();
      setTimeout(renderTyping, kTypingShowMs + 50);
    },

    onPresence: function (d) {
      R.online[d.user.id] = !!d.online;
      if (R.room) renderMembers();
    },

    visible: function () {
      markRead();
    },

    init: function () {
      $('composer').addEventListener('submit', submitComposer);
      $('text').addEventListener('keydown', onComposerKey);
      $('text').addEventListener('input', onComposerInput);
      $('older').addEventListener('click', loadOlder);
      $('messages').addEventListener('scroll', function () {
        if ($('messages').scrollTop < 80) loadOlder();
      });
      $('invite-form').addEventListener('submit', function (e) {
        e.preventDefault();
        var name = $('invite-user').value.replace(/^\s+|\s+$/g, '');
        if (!name || !R.room) return;
        Parley.api('POST', '/rooms/' + R.room.id + '/members', {username: name}, function (err) {
          if (err) {
            setError(Parley.errorText(err));
            return;
          }
          $('invite-user').value = '';
          setError('');
          loadMembers();
        });
      });
    }
  };
})();
