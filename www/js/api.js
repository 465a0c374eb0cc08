// The REST client over XMLHttpRequest (old browsers lack fetch), global as
// dom.js's words. The session is the HttpOnly cookie: the page never holds
// the token. Words for codes whose server message would not do for a person:
var kErrorText = {
  network: 'The server cannot be reached. Check your connection and try again.',
  throttled: 'Too many attempts. Wait a moment and try again.',
  room_not_found: 'That room does not exist, or you were not invited.',
  invalid_reply: 'The message you replied to is not in this room any more.',
  muted: 'A moderator muted you in this room for now.'
};

function errorText(err) {
  if (!err || typeof err === 'string') return err || '';
  var m = err.message;
  return kErrorText[err.code] || (m ? m.charAt(0).toUpperCase() + m.slice(1) + '.' : 'Something went wrong (HTTP ' + err.status + ').');
}

// err's words (none: nothing) in the element id.
function showError(id, err) {
  $(id).textContent = errorText(err);
}

// Worth trying again: no answer, throttled or a server error.
function transient(err) {
  return !err.status || err.status === 429 || err.status >= 500;
}

// fn(n + 1) in 1, 2, 4... 16 s (jittered, as in transport.js) if err is
// worth it and I am signed in.
function retry(err, n, fn) {
  var again = transient(err) && me();
  if (again) setTimeout(fn, (1000 << Math.min(n, 4)) * (0.8 + 0.4 * Math.random()), n + 1);
  return again;
}

function parse(text) {
  try {
    return JSON.parse(text);
  } catch (e) {
    return null;
  }
}

// done(err, data, status): err null on 2xx, else {status (0: no answer),
// code, message}.
function request(method, url, body, timeoutMs, done) {
  var xhr = new XMLHttpRequest();
  xhr.open(method, url, true);
  xhr.setRequestHeader('Accept', 'application/json');
  if (body != null) xhr.setRequestHeader('Content-Type', 'application/json');
  xhr.timeout = timeoutMs;
  onAnswer(xhr, done);
  xhr.send(body == null ? null : JSON.stringify(body));
  return xhr;
}

// Also for uploads. An XHR ends by one of load, error, timeout or abort.
function onAnswer(xhr, done) {
  xhr.onload = function () {
    var data = parse(xhr.responseText), s = xhr.status, e = (data && data.error) || {};
    done(s >= 200 && s < 300 ? null : {status: s, code: e.code || 'http_' + s, message: e.message || ''}, data, s);
  };
  xhr.onerror = xhr.ontimeout = xhr.onabort = function () {
    done({status: 0, code: 'network', message: ''}, null, 0);
  };
}

function api(method, path, body, done) {
  request(method, '/api' + path, body, 20000, function (err, data, status) {
    // Parley.onSignedOut: app.js's, set before any request.
    if (err && err.status === 401 && path !== '/login' && path !== '/register') Parley.onSignedOut();
    if (done) done(err, data, status);
  });
}

function get(path, done) {
  api('GET', path, null, done);
}

// For the event endpoints: a 200 that is not JSON fails too.
function getJson(url, timeoutMs, done) {
  return request('GET', url, null, timeoutMs, function (err, data, status) {
    if (!err && !data) err = {status: status, code: 'bad_body', message: ''};
    done(err, data);
  });
}
