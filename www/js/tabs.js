// One event stream for all of a person's tabs (issue 12 item 7). Over
// HTTP/1.1 a browser opens at most six connections to a site: with a stream
// per tab, the seventh tab would wait forever, and so would its sends.
//
// Design note. The tab holding the Web Lock "parley-stream-<user id>" leads:
// it runs the real Parley.Transport and relays every event, its status and
// its cursor to the other tabs over a BroadcastChannel. When it closes or
// signs out, the browser grants the lock to a waiting tab, which starts a
// transport from the last cursor it heard, so the hand-over loses nothing
// (without a cursor yet it reloads what it shows, as after a reset). Every
// tab sends with its own requests. A browser without Web Locks or
// BroadcastChannel keeps one stream per tab, as before.
var Parley = window.Parley || {};
window.Parley = Parley;

// Same interface as Parley.Transport: start(), stop(), the same handlers.
Parley.SharedTransport = function (userId, handlers) {
  if (!window.BroadcastChannel || !navigator.locks) return new Parley.Transport(handlers);
  this.h = handlers;
  this.name = 'parley-stream-' + userId;
  this.lastId = null;
  this.epoch = null;
  this.status = '';
  this.inner = null;    // the Transport, in the leader only
  this.release = null;  // frees the lock
  this.stopped = true;
};

(function () {
  var S = Parley.SharedTransport.prototype;

  S.start = function () {
    var self = this;
    this.stopped = false;
    this.ch = new BroadcastChannel(this.name);
    this.ch.onmessage = function (e) { self.heard(e.data); };
    navigator.locks.request(this.name, {ifAvailable: true}, function (lock) {
      if (self.stopped) return null;
      if (lock) return self.lead(true);
      // A follower: what it fetches now plus what the channel brings from
      // here on is everything. The leader answers "hi" with its status.
      self.setStatus('connecting');
      self.ch.postMessage({t: 'hi'});
      self.h.onReady(null);
      return navigator.locks.request(self.name, function () { return self.lead(false); });
    });
  };

  S.stop = function () {
    this.stopped = true;
    var t = this.inner;
    this.inner = null;
    if (t) t.stop();
    if (this.release) this.release();
    if (this.ch) this.ch.close();
    this.setStatus('stopped');
  };

  S.mode = function () {
    return this.inner ? this.inner.mode() : 'shared';
  };

  S.setStatus = function (s) {
    if (s === this.status) return;
    this.status = s;
    if (this.h.onStatus) this.h.onStatus(s);
  };

  // To the other tabs, with the leader's status and cursor.
  S.post = function (m) {
    var t = this.inner;
    m.s = this.status;
    m.cur = t.lastId;
    m.epoch = t.epoch;
    this.ch.postMessage(m);
  };

  // Holds the lock (the returned promise) until stop().
  S.lead = function (first) {
    var self = this;
    if (this.stopped) return null;
    var resume = this.lastId !== null;
    var t = new Parley.Transport({
      onStatus: function (s) {
        if (self.inner !== t) return;
        self.setStatus(s);
        self.post({t: 'st'});
      },
      onReady: function (head) {
        if (first) self.h.onReady(head);
        else if (!resume) self.h.onReset(head);
      },
      onReset: function (head, d) {
        self.post({t: 'reset', d: d});
        self.h.onReset(head, d);
      },
      onSignedOut: function () { self.h.onSignedOut(); },
      onEvent: function (type, data, id) {
        self.post({t: 'ev', type: type, data: data, id: id});
        self.h.onEvent(type, data, id);
      }
    });
    this.inner = t;
    t.lastId = this.lastId;
    t.epoch = this.epoch;
    t.start();
    return new Promise(function (resolve) { self.release = resolve; });
  };

  S.heard = function (m) {
    if (this.stopped) return;
    if (m.t === 'hi') {
      if (this.inner) this.post({t: 'st'});
      return;
    }
    if (this.inner) return;
    if (m.t === 'ev' && m.id && this.lastId !== null && m.id <= this.lastId) return;
    if (m.cur !== null) this.lastId = m.cur;
    if (m.epoch) this.epoch = m.epoch;
    if (m.s) this.setStatus(m.s);
    if (m.t === 'ev') this.h.onEvent(m.type, m.data, m.id);
    else if (m.t === 'reset') this.h.onReset(m.cur, m.d);
  };
})();
