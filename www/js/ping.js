// The round-trip time beside the badge: GET /api/health (nginx, a worker,
// SQLite) every 15 s while visible.
Parley.ping = function () {
  var out = $('rtt');
  if (!me() || document.hidden) return;
  var t0 = Date.now();
  Parley.request('GET', '/api/health', null, 10000, function (err) {
    out.textContent = err ? '' : Math.max(1, Date.now() - t0) + ' ms';
  });
};
setInterval(Parley.ping, 15000);
