// The round-trip time beside the badge (issue 12 item 8): GET /api/health
// crosses nginx, a worker and SQLite; every 15 s while visible, never by
// sending chat messages.
(function () {
var kEveryMs = 15000;
var now = window.performance && performance.now ? function () { return performance.now(); } : Date.now;

Parley.ping = function () {
  var out = Parley.$('rtt');
  if (!Parley.state || !Parley.state.me || document.hidden) return;
  var t0 = now();
  Parley.request('GET', '/api/health', null, 10000, function (err) {
    out.textContent = err ? '' : Math.max(1, Math.round(now() - t0)) + ' ms';
  });
};
setInterval(Parley.ping, kEveryMs);
})();
