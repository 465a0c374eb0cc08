// Reactions: counts under a message (one click toggles mine), a palette
// behind "React"; `reaction` events change the counts.
(function () {
var kPalette = ['👍', '❤️', '😂', '🎉', '😮', '🙏'];

// muted: only my own can be pressed (to take it back).
function counts(box, m, onToggle, muted) {
  var list = m.reactions || [];
  if (!list.length) return;
  var row = el('div', 'reactions');
  list.forEach(function (r) {
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

function find(list, emoji) {
  return list.filter(function (r) { return r.emoji === emoji; })[0];
}

function toggle(m, emoji, done) {
  var r = find(m.reactions || [], emoji), path = '/messages/' + m.id + '/reactions/' + encodeURIComponent(emoji);
  api(r && r.me ? 'DELETE' : 'PUT', path, null, function (err, data) {
    done(err, data && data.message);
  });
}

// A `reaction` event into m; false if already counted (my PUT's answer).
function apply(m, d) {
  var list = m.reactions = m.reactions || [], r = find(list, d.emoji), isMe = mine(d);
  if (!r) {
    if (!d.added) return false;
    r = {emoji: d.emoji, count: 0, me: false};
    list.push(r);
  }
  if (isMe && r.me === !!d.added) return false;
  if (isMe) r.me = !!d.added;
  r.count += d.added ? 1 : -1;
  if (r.count <= 0) list.splice(list.indexOf(r), 1);
  return true;
}

Parley.reactions = {counts: counts, palette: palette, toggle: toggle, apply: apply};
})();
