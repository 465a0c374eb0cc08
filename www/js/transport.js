// The event connection for all my rooms (DESIGN 4): SSE, else long-poll
// for good (why below). Events at or below lastId are dropped: a replay
// shows once. The epoch goes along: a new database answers `reset`, not a
// gap. We reopen from our cursor, not EventSource's, with jittered backoff
// (tabs must not all hit a restarted server).
var kHelloTimeoutMs = 5000, kSilenceCheckMs = 45000, kBackoffMinMs = 1000, kBackoffMaxMs = 16000, kPollTimeoutS = 25;
var kEventTypes = ['message', 'question', 'answer', 'edit', 'delete', 'room', 'member', 'user',
  'typing', 'presence', 'reset', 'reaction', 'receipt'];

// handlers: onEvent(type, data, id), onStatus(s), onReady(head) (once,
// when the cursor is known), onReset(head, data), onSignedOut().
Parley.Transport = function (handlers) {
  this.h = handlers;
  this.lastId = this.epoch = this.es = this.xhr = null;
  this.ready = false;
  this.usePoll = !window.EventSource;
  this.backoff = kBackoffMinMs;
  this.stopped = true;
  this.timers = {};
  this.status = '';
  this.streamFailures = 0;
  this.generation = 0;  // bumped on each (re)connect: stale callbacks check it
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
  if (s !== this.status) this.h.onStatus(this.status = s);
};

// One timer a name; clearing one that has fired does nothing.
T.timer = function (name, ms, fn) {
  clearTimeout(this.timers[name]);
  this.timers[name] = setTimeout(fn.bind(this), ms);
};

T.teardown = function () {
  this.generation++;
  for (var name in this.timers) clearTimeout(this.timers[name]);
  if (this.es) this.es.close();
  if (this.xhr) this.xhr.abort();
  this.es = this.xhr = null;
};

T.cursorQuery = function (name) {
  if (this.lastId === null) return '';
  return name + '=' + this.lastId + (this.epoch ? '&epoch=' + encodeURIComponent(this.epoch) : '');
};

T.connect = function () {
  if (this.stopped) return;
  this.teardown();
  if (this.status !== (this.usePoll ? 'long-poll' : 'live')) this.setStatus(this.ready ? 'reconnecting' : 'connecting');
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
  console.info('parley: falling back to long-poll: ' + why);
  this.usePoll = true;
  this.connect();
};

T.deliver = function (type, data, id) {
  if (id) {
    if (this.lastId !== null && id <= this.lastId) return;
    this.lastId = id;
  }
  if (type !== 'reset') return this.h.onEvent(type, data, id);
  // Cursor too old or a new database: go on from the head.
  if (data && typeof data.head === 'number') this.lastId = data.head;
  this.h.onReset(this.lastId, data);
};

T.becameReady = function (head, epoch) {
  this.backoff = kBackoffMinMs;
  if (epoch) this.epoch = epoch;
  if (this.lastId === null) this.lastId = head;
  if (!this.ready) {
    this.ready = true;
    this.h.onReady(this.lastId);
  }
};

// fn(...) as this, unless the connection it was made for is gone.
T.live = function (fn) {
  var self = this, gen = this.generation;
  return function () {
    if (gen === self.generation) return fn.apply(self, arguments);
  };
};

T.openStream = function () {
  var q = this.cursorQuery('last_event_id'), helloSeen = false;
  var es = this.es = new EventSource('/events/stream' + (q ? '?' + q : ''));

  this.timer('hello', kHelloTimeoutMs, function () {
    this.switchToPoll('no hello within ' + kHelloTimeoutMs + ' ms (a buffering proxy?)');
  });

  es.addEventListener('hello', this.live(function (e) {
    var d = parse(e.data) || {};
    helloSeen = true;
    this.streamFailures = 0;
    clearTimeout(this.timers.hello);
    this.becameReady(d.head, d.epoch);
    this.setStatus('live');
    this.armSilenceCheck();
  }));

  kEventTypes.forEach(function (type) {
    es.addEventListener(type, this.live(function (e) {
      // EventSource repeats the last id on ephemeral events, which have none.
      var ephemeral = /^(typing|presence|reset|receipt)$/.test(type);
      this.deliver(type, parse(e.data), e.lastEventId && !ephemeral ? parseInt(e.lastEventId, 10) : 0);
      this.armSilenceCheck();
    }));
  }, this);

  es.onerror = this.live(function () {
    if (helloSeen) return this.retryLater();
    // Failed before hello; a poll tells why: 401 signed out, failing:
    // retry, working (twice): long-poll.
    this.teardown();
    this.setStatus('reconnecting');
    getJson('/events/poll?timeout=0', 10000, this.live(function (err) {
      if (err && err.status === 401) return this.h.onSignedOut();
      if (!err && ++this.streamFailures >= 2) return this.switchToPoll('the stream fails where a poll works');
      this.retryLater();
    }));
  });
};

// After 45 s without an event, a quick poll: events it finds that the
// stream lacks 2 s later mean it is stuck.
T.armSilenceCheck = function () {
  this.timer('silence', kSilenceCheckMs, function () {
    var from = this.lastId;
    getJson('/events/poll?' + this.cursorQuery('since') + '&timeout=0', 10000, this.live(function (err, body) {
      var newest = 0, events = (!err && body.events) || [];
      for (var i = 0; i < events.length; i++) newest = Math.max(newest, events[i].id || 0);
      if (newest <= from) return this.armSilenceCheck();
      this.timer('silence', 2000, function () {
        if (this.lastId < newest) this.switchToPoll('the stream is silent but events are waiting');
        else this.armSilenceCheck();
      });
    }));
  });
};

T.poll = function () {
  var q = this.cursorQuery('since'), url = '/events/poll?' + (q ? q + '&' : '') + 'timeout=' + kPollTimeoutS;
  this.xhr = getJson(url, (kPollTimeoutS + 15) * 1000, this.live(function (err, body) {
    this.xhr = null;
    if (err) return err.status === 401 ? this.h.onSignedOut() : this.retryLater();
    var gen = this.generation, events = body.events || [];
    this.becameReady(body.next, body.epoch);
    this.setStatus('long-poll');
    for (var i = 0; i < events.length && gen === this.generation; i++) {
      this.deliver(events[i].type, events[i].data, events[i].id || 0);
    }
    if (gen !== this.generation) return;
    // `next` rules (after a reset it may go down).
    if (typeof body.next === 'number') this.lastId = body.next;
    this.poll();
  }));
};
