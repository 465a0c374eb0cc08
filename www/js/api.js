// The REST client over XMLHttpRequest (old browsers lack fetch). The session
// is the HttpOnly cookie; the page never stores the token, so injected script
// cannot steal it.
// Words for codes a user can cause; else the server's message.
var kErrorText = {
  network: 'The server cannot be reached. Check your connection and try again.',
  invalid_credentials: 'Wrong username or password.',
  username_taken: 'That username is taken. Pick another one.',
  throttled: 'Too many attempts. Wait a moment and try again.',
  already_answered: 'Already answered: another professor answered this question first.',
  answer_limit_reached: 'You have answered as many questions as this room allows.',
  professors_cannot_ask: 'Professors answer questions; they do not ask them.',
  not_professor: 'Only professors can answer questions.',
  room_name_taken: 'A room with that name already exists.',
  user_not_found: 'No user with that name.',
  room_not_found: 'That room does not exist, or you were not invited.',
  not_signed_in: 'Please sign in again.',
  invalid_reply: 'The message you replied to is not in this room any more.',
  muted: 'A moderator muted you in this room for now.',
  banned: 'That person is banned from this room.',
  blocked: 'That person does not accept messages from you.',
  wrong_password: 'The current password is not right.',
  account_deactivated: 'This account was deactivated by an admin.'
};

// err: an error as request() gives it, a text, or null for none.
Parley.errorText = function (err) {
  if (!err || typeof err === 'string') return err || '';
  return kErrorText[err.code] || err.message || 'Something went wrong (HTTP ' + err.status + ').';
};

// Set by app.js; called on any 401 (signed out elsewhere, expired).
Parley.onSignedOut = null;

// done(err, data, status): err null on 2xx, else {status (0: no answer),
// code, message}. Returns the xhr.
Parley.request = function (method, url, body, timeoutMs, done) {
  var xhr = new XMLHttpRequest();
  xhr.open(method, url, true);
  xhr.setRequestHeader('Accept', 'application/json');
  if (body !== undefined && body !== null) xhr.setRequestHeader('Content-Type', 'application/json');
  xhr.timeout = timeoutMs;
  Parley.onAnswer(xhr, done);
  xhr.send(body === undefined || body === null ? null : JSON.stringify(body));
  return xhr;
};

// Calls done(err, data, status) as above once xhr (also an upload) ends.
Parley.onAnswer = function (xhr, done) {
  var finished = false;
  function finish(err, data, status) {
    if (finished) return;
    finished = true;
    done(err, data, status);
  }
  xhr.onload = function () {
    var data = null;
    try {
      data = xhr.responseText ? JSON.parse(xhr.responseText) : null;
    } catch (e) {
      data = null;
    }
    if (xhr.status >= 200 && xhr.status < 300) {
      finish(null, data, xhr.status);
      return;
    }
    var e = (data && data.error) || {};
    finish({status: xhr.status, code: e.code || 'http_' + xhr.status, message: e.message || ''}, data, xhr.status);
  };
  xhr.onerror = xhr.ontimeout = xhr.onabort = function () {
    finish({status: 0, code: 'network', message: ''}, null, 0);
  };
};

Parley.api = function (method, path, body, done) {
  return Parley.request(method, '/api' + path, body, 20000, function (err, data, status) {
    if (err && err.status === 401 && Parley.onSignedOut && path !== '/login' && path !== '/register') {
      Parley.onSignedOut();
    }
    if (done) done(err, data, status);
  });
};

Parley.get = function (path, done) {
  return Parley.api('GET', path, null, done);
};

// For the event endpoints: a 200 that is not JSON fails too.
Parley.getJson = function (url, timeoutMs, done) {
  return Parley.request('GET', url, null, timeoutMs, function (err, data, status) {
    if (!err && !data) err = {status: status, code: 'bad_body', message: ''};
    done(err, data);
  });
};
