// The round-trip time beside the connection badge (issue 12 item 8),
// measured with GET /api/health (nginx, a worker and one SQLite read: the
// cheapest request that crosses the whole path) every 15 s while the tab
// is visible; never by sending chat messages.
var Parley = window.Parley || {};
window.Parley = Parley;

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
