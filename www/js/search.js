// Search, newest first; the snippet marks matches between \u0002 and
// \u0003. A result opens its message in its room.
(function () {
var query = '', hits = [];  // shown: drawn again when my blocks change
var next;  // next_before: the next page's start

function result(m) {
  var room = Parley.state.byId[m.room_id], b = button(null, 'result', function () {
    // A room not in the loaded pages is fetched first.
    if (Parley.state.byId[m.room_id]) reveal();
    else Parley.rooms.catchUp(m.id - 1, reveal);
  });
  b.append(span('where', (room ? room.name + ' · ' : '') + m.user.username));
  // As in the room: no words of someone I blocked.
  var text = Parley.moderation.hidden(m) ? Parley.room.hiddenText : m.snippet || m.text;
  var parts = String(text).split(/[\u0002\u0003]/), s = b.appendChild(span('snippet'));
  for (var i = 0; i < parts.length; i++) s.append(i % 2 ? el('mark', null, parts[i]) : parts[i]);
  function reveal() {
    Parley.rooms.open(m.room_id);
    if (Parley.room.currentId() === m.room_id) Parley.room.jump(m.id);
  }
  return b;
}

function draw() {
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
    draw();
    next = d.next_before;
    if (d.has_more && !list.length && n < 9) return run(true, n + 1);
    $('search-note').textContent = err ? errorText(err) : hits.length ? '' : d.has_more ? 'Nothing yet.' : 'Nothing found.';
    show('search-more', d.has_more);
    show('search-section', true);
  });
}

Parley.search = {
  draw: draw
};

on('search-form', 'submit', function () {
  query = $('search-q').value.trim();
  if (query) run(false, 0);
  else show('search-section', false);
});
on('search-more', 'click', run.bind(null, true, 0));
})();
