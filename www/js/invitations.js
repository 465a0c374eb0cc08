// My pending invitations, newest first: fetched when the cursor is known
// and after a reset, then kept by `member` events; those heard during a
// fetch go again onto its answer, which may predate them.
(function () {
var list = [], heard = null, seq = 0, kAbout = /^(invited|declined|uninvited)$/;

// d: a `member` event of mine, or {room_id} to drop.
function apply(d) {
  list = list.filter(function (v) { return v.room.id !== d.room_id; });
  if (d.action === 'invited') list.unshift(d.invitation);
}

// note: the outcome of my last Accept or Decline, until the next change.
function draw(note) {
  var out = $('invitations-note');
  out.textContent = note || '';
  keepFocus($('invitations'), function () {
    var ul = clear('invitations');
    list.forEach(function (v) {
      var r = v.room, to = ' invitation to #' + r.name;
      Parley.rooms.label(ul.appendChild(el('li')), r).append(span('last', 'invited by ' + v.by.username),
        button('Accept', 'accept', answer.bind(null, r.id, 1), 'Accept' + to),
        button('Decline', 'decline', answer.bind(null, r.id, 0), 'Decline' + to));
    });
  });
  show('invitations-section', list.length || out.textContent);
}

// Accept joins and opens the room. A 404 (or a public room's 403 banned):
// dropped meanwhile by my block or a ban, said gently.
function answer(id, accepting, e) {
  var b = e.target;
  $('invitations').focus();  // a disabled button loses it to the page
  b.disabled = true;
  api(accepting ? 'POST' : 'DELETE', accepting ? '/rooms/' + id + '/join' : '/me/invitations/' + id, null, function (err) {
    var gone = err && (err.status === 404 || err.code === 'banned');
    b.disabled = false;
    if (!err || gone) apply({room_id: id});
    if (!err && accepting) Parley.rooms.enter(id);
    draw(gone ? (accepting ? 'That invitation is no longer open.' : '') : errorText(err));
  });
}

// n: tries after a failure.
function load(n) {
  var at = ++seq;
  heard = [];
  get('/me/invitations', function (err, data) {
    if (at !== seq) return;
    if (err) return retry(err, n || 0, load) || (heard = null);
    list = data.invitations;
    heard.forEach(apply);
    heard = null;
    draw();
  });
}

Parley.invitations = {
  load: load,
  // A `member` event about an invitation, not a membership.
  about: function (d) {
    return kAbout.test(d.action);
  },
  // Returns about(d).
  onMember: function (d) {
    var about = this.about(d);
    if (mine(d) && (about || /^(joined|banned)$/.test(d.action))) {
      apply(d);
      if (heard) heard.push(d);
      draw();
    }
    return about;
  },
  clear: function () {
    seq++;
    list = [];
    heard = null;
    draw();
  }
};
})();
