// The event transport: one connection per tab that carries every event of
// every room the user is in (DESIGN §4), by Server-Sent Events when they
// work and by long-poll when they do not.
//
// Design note.
// - The cursor (`lastId`) is the id of the last event handed to the page.
//   Events at or below it are dropped, so a replay after a reconnect, or a
//   switch from stream to poll, never shows anything twice; resuming from
//   it loses nothing. The epoch travels with the cursor, so a recreated
//   database answers `reset` instead of silently skipping.
// - EventSource's own reconnect is not used: on any error the stream is
//   closed and reopened by us, 1 s after the first failure, doubling to
//   16 s (with some jitter so a restarted server is not hit by every tab
//   in the same millisecond), from our cursor.
// - Fallback to long-poll, for good (for this page): when EventSource is
//   missing; when a stream sends no `hello` within 5 s (a proxy or
//   antivirus that buffers the response holds it back); or when a stream
//   stays silent for 45 s and a quick poll shows events it should have
//   delivered, or when it fails twice before its hello while polls work. Heartbeats are SSE comments, which EventSource never shows
//   to the page, so "silent" means "no event"; the poll tells a quiet
//   stream from a stuck one.
// - Status for the badge: "connecting", "live" (stream), "long-poll",
//   "reconnecting".
var Parley = window.Parley || {};
window.Parley = Parley;

var kHelloTimeoutMs = 5000;
var kSilenceCheckMs = 45000;
var kBackoffMinMs = 1000;
var kBackoffMaxMs = 16000;
var kPollTimeoutS = 25;
var kEventTypes = ['message', 'question', 'answer', 'edit', 'delete', 'room', 'member', 'user',
  'typing', 'presence', 'reset', 'reaction', 'receipt'];

// handlers: onEvent(type, data, id), onStatus(status), onReady(head),
// onReset(head), onSignedOut(). onReady fires once, when the cursor is
// known: the page loads history after it, so nothing falls in between.
Parley.Transport = function (handlers) {
  this.h = handlers;
  this.lastId = null;
  this.epoch = null;
  this.ready = false;
  this.usePoll = !window.EventSource;
  this.backoff = kBackoffMinMs;
  this.stopped = true;
  this.es = null;
  this.xhr = null;
  this.timers = {};
  this.status = '';
  this.streamFailures = 0;
  this.generation = 0;  // bumped on every (re)connect; stale callbacks check it
};

var T = Parley.Transport.prototype;

T.start = function () {
  this.stopped = false;
  this.connect();
};

T.stop = function () {
  this.stopped = true;
  this.teardown();
  this.setStatus('stopped');
};

T.mode = function () {
  return this.usePoll ? 'poll' : 'sse';
};

T.setStatus = function (s) {
  if (s === this.status) return;
  this.status = s;
  if (this.h.onStatus) this.h.onStatus(s);
};

T.timer = function (name, ms, fn) {
  this.clearTimer(name);
  var self = this;
  this.timers[name] = setTimeout(function () {
    delete self.timers[name];
    fn.call(self);
  }, ms);
};

T.clearTimer = function (name) {
  if (this.timers[name]) {
    clearTimeout(this.timers[name]);
    delete this.timers[name];
  }
};

T.teardown = function () {
  this.generation++;
  for (var name in this.timers) {
    if (this.timers.hasOwnProperty(name)) clearTimeout(this.timers[name]);
  }
  this.timers = {};
  if (this.es) {
    this.es.close();
    this.es = null;
  }
  if (this.xhr) {
    var x = this.xhr;
    this.xhr = null;
    x.abort();
  }
};

T.cursorQuery = function (name) {
  if (this.lastId === null) return '';
  var q = name + '=' + this.lastId;
  if (this.epoch) q += '&epoch=' + encodeURIComponent(this.epoch);
  return q;
};

T.connect = function () {
  if (this.stopped) return;
  this.teardown();
  if (this.usePoll) this.poll();
  else this.openStream();
};

T.retryLater = function () {
  if (this.stopped) return;
  this.teardown();
  this.setStatus('reconnecting');
  var delay = this.backoff * (0.8 + 0.4 * Math.random());
  this.backoff = Math.min(this.backoff * 2, kBackoffMaxMs);
  this.timer('retry', delay, this.connect);
};

T.switchToPoll = function (why) {
  if (window.console) console.info('parley: falling back to long-poll: ' + why);
  this.usePoll = true;
  this.connect();
};

// One event from either transport. Returns false when it was a duplicate.
T.deliver = function (type, data, id) {
  if (id) {
    if (this.lastId !== null && id <= this.lastId) return false;
    this.lastId = id;
  }
  if (type === 'reset') {
    // Our cursor cannot be served (too old, or the database changed):
    // carry on from the head, and let the page refetch what it shows.
    if (data && typeof data.head === 'number') this.lastId = data.head;
    if (this.h.onReset) this.h.onReset(this.lastId, data);
    return true;
  }
  if (this.h.onEvent) this.h.onEvent(type, data, id);
  return true;
};

T.becameReady = function (head, epoch) {
  if (epoch) this.epoch = epoch;
  if (this.lastId === null) this.lastId = head;
  if (!this.ready) {
    this.ready = true;
    if (this.h.onReady) this.h.onReady(this.lastId);
  }
};

// --- Server-Sent Events ------------------------------------------------

T.openStream = function () {
  var self = this;
  var gen = this.generation;
  var q = this.cursorQuery('last_event_id');
  var es = new EventSource('/events/stream' + (q ? '?' + q : ''));
  var helloSeen = false;
  this.es = es;
  if (this.status !== 'live') this.setStatus(this.ready ? 'reconnecting' : 'connecting');

  this.timer('hello', kHelloTimeoutMs, function () {
    this.switchToPoll('no hello within ' + kHelloTimeoutMs + ' ms (a buffering proxy?)');
  });

  function parse(e) {
    try {
      return JSON.parse(e.data);
    } catch (err) {
      return null;
    }
  }

  es.addEventListener('hello', function (e) {
    if (gen !== self.generation) return;
    var d = parse(e) || {};
    helloSeen = true;
    self.streamFailures = 0;
    self.clearTimer('hello');
    self.backoff = kBackoffMinMs;
    self.becameReady(d.head, d.epoch);
    self.setStatus('live');
    self.armSilenceCheck();
  });

  function onTyped(type) {
    es.addEventListener(type, function (e) {
      if (gen !== self.generation) return;
      var id = e.lastEventId ? parseInt(e.lastEventId, 10) : 0;
      // Ephemeral events carry no id: EventSource then repeats the last
      // one it saw, so only an id above our cursor is a new durable event.
      if (type === 'typing' || type === 'presence' || type === 'reset' || type === 'receipt') id = 0;
      self.deliver(type, parse(e), id);
      self.armSilenceCheck();
    });
  }
  for (var i = 0; i < kEventTypes.length; i++) onTyped(kEventTypes[i]);

  es.onerror = function () {
    if (gen !== self.generation) return;
    // Closed by the server (rotation, restart) or never opened.
    if (helloSeen) {
      self.retryLater();
      return;
    }
    // It failed before its hello, and EventSource does not say why. A poll
    // tells: refused too (401) means signed out; failing too means the
    // push service is down or restarting (retry the stream later); working
    // means something between us and the server breaks event streams
    // (twice is enough: long-poll from then on).
    self.teardown();
    self.setStatus('reconnecting');
    var checking = self.generation;
    Parley.getJson('/events/poll?timeout=0', 10000, function (err) {
      if (checking !== self.generation || self.stopped) return;
      if (err && err.status === 401) {
        if (self.h.onSignedOut) self.h.onSignedOut();
        return;
      }
      if (!err && ++self.streamFailures >= 2) {
        self.switchToPoll('the stream fails where a poll works');
        return;
      }
      self.retryLater();
    });
  };
};

// After 45 s without an event, one quick poll from our cursor: if it finds
// events the stream has not delivered 2 s later, the stream is stuck.
T.armSilenceCheck = function () {
  this.timer('silence', kSilenceCheckMs, function () {
    var self = this;
    var gen = this.generation;
    var from = this.lastId;
    Parley.getJson('/events/poll?' + this.cursorQuery('since') + '&timeout=0', 10000, function (err, body) {
      if (gen !== self.generation) return;
      var newest = 0;
      if (!err && body && body.events) {
        for (var i = 0; i < body.events.length; i++) newest = Math.max(newest, body.events[i].id || 0);
      }
      if (newest <= from) {
        self.armSilenceCheck();
        return;
      }
      self.timer('silence', 2000, function () {
        if (this.lastId < newest) this.switchToPoll('the stream is silent but events are waiting');
        else this.armSilenceCheck();
      });
    });
  });
};

// --- Long-poll ---------------------------------------------------------

T.poll = function () {
  var self = this;
  var gen = this.generation;
  if (this.status !== 'long-poll') this.setStatus(this.ready ? 'reconnecting' : 'connecting');
  var q = this.cursorQuery('since');
  var url = '/events/poll?' + (q ? q + '&' : '') + 'timeout=' + kPollTimeoutS;
  this.xhr = Parley.getJson(url, (kPollTimeoutS + 15) * 1000, function (err, body) {
    if (gen !== self.generation) return;
    self.xhr = null;
    if (err) {
      if (err.status === 401) {
        if (self.h.onSignedOut) self.h.onSignedOut();
        return;
      }
      self.retryLater();
      return;
    }
    self.backoff = kBackoffMinMs;
    self.becameReady(body.next, body.epoch);
    self.setStatus('long-poll');
    var events = body.events || [];
    for (var i = 0; i < events.length && gen === self.generation; i++) {
      var ev = events[i];
      self.deliver(ev.type, ev.data, ev.id || 0);
    }
    if (gen !== self.generation) return;
    // `next` is authoritative (after a reset it may even go down).
    if (typeof body.next === 'number') self.lastId = body.next;
    self.poll();
  });
};
