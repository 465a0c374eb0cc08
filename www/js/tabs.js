// One stream for all my tabs (HTTP/1.1 allows six connections a site): the
// tab holding the Web Lock runs the Transport and relays over a
// BroadcastChannel; when it closes, a waiting tab takes the lock and goes
// on from the last cursor heard.
Parley.SharedTransport = function (userId, handlers) {
  if (!window.BroadcastChannel || !navigator.locks) return new Parley.Transport(handlers);
  this.h = handlers;
  this.name = 'parley-stream-' + userId;
  this.lastId = this.epoch = this.inner = this.release = null;  // inner: the leader's
  this.status = '';
};

var S = Parley.SharedTransport.prototype;

S.start = function () {
  var self = this;
  this.ch = new BroadcastChannel(this.name);
  this.ch.onmessage = function (e) { self.heard(e.data); };
  navigator.locks.request(this.name, {ifAvailable: true}, function (lock) {
    if (self.stopped) return null;
    if (lock) return self.lead(true);
    // A follower: the leader answers "hi" with its status.
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
  this.ch.close();
  this.setStatus('stopped');
};

S.mode = function () {
  return this.inner ? this.inner.mode() : 'shared';
};

S.setStatus = T.setStatus;

S.post = function (m) {
  m.s = this.status;
  m.cur = this.inner.lastId;
  m.epoch = this.inner.epoch;
  this.ch.postMessage(m);
};

// Holds the lock (the promise) until stop().
S.lead = function (first) {
  var self = this;
  if (this.stopped) return null;
  var resume = this.lastId !== null;
  var t = this.inner = new Parley.Transport({
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
    onSignedOut: this.h.onSignedOut,
    onEvent: function (type, data, id) {
      self.post({t: 'ev', type: type, data: data, id: id});
      self.h.onEvent(type, data, id);
    }
  });
  t.lastId = this.lastId;
  t.epoch = this.epoch;
  t.start();
  return new Promise(function (resolve) { self.release = resolve; });
};

// fn() unless another of my tabs answers "visible" within 300 ms (asked
// each time: a crashed tab leaves no stale answer).
S.unlessVisible = function (fn) {
  var self = this;
  this.seenVisible = false;
  this.ch.postMessage({t: 'visible?'});
  setTimeout(function () { if (!self.seenVisible && !self.stopped) fn(); }, 300);
};

S.heard = function (m) {
  if (m.t === 'visible?' && !document.hidden) this.ch.postMessage({t: 'visible'});
  if (m.t === 'visible') this.seenVisible = true;
  if (/^visible/.test(m.t)) return;
  if (this.stopped || (this.inner && m.t !== 'hi')) return;
  if (m.t === 'hi') return this.inner && this.post({t: 'st'});
  if (m.t === 'ev' && m.id && this.lastId !== null && m.id <= this.lastId) return;
  if (m.cur !== null) this.lastId = m.cur;
  if (m.epoch) this.epoch = m.epoch;
  if (m.s) this.setStatus(m.s);
  if (m.t === 'ev') this.h.onEvent(m.type, m.data, m.id);
  if (m.t === 'reset') this.h.onReset(m.cur, m.d);
};
