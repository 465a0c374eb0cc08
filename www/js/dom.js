// DOM helpers, loaded first: the global Parley the others extend. Plain ES5,
// served as is, so old browsers parse it. User text goes in only by
// textContent, never innerHTML, so <img onerror=...> stays harmless.
var Parley = window.Parley = {};

Parley.$ = function (id) {
  return document.getElementById(id);
};

// el('li', 'msg own', 'text') -> <li class="msg own">text</li>
Parley.el = function (tag, className, text) {
  var node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
};

// type=button: never submits its form.
Parley.button = function (label, cls, onClick, ariaLabel) {
  var b = Parley.el('button', cls, label);
  b.type = 'button';
  if (ariaLabel) b.setAttribute('aria-label', ariaLabel);
  if (onClick) b.addEventListener('click', onClick);
  return b;
};

Parley.clear = function (node) {
  while (node.firstChild) node.removeChild(node.firstChild);
};

Parley.remove = function (node) {
  if (node && node.parentNode) node.parentNode.removeChild(node);
};

Parley.show = function (node, visible) {
  if (visible) node.removeAttribute('hidden');
  else node.setAttribute('hidden', '');
};

function pad2(n) {
  return n < 10 ? '0' + n : String(n);
}

// A client_id for idempotent sends: ASCII, under 64 chars, unique enough.
Parley.newClientId = function () {
  var rnd = '';
  if (window.crypto && window.crypto.getRandomValues) {
    var a = new Uint32Array(2);
    window.crypto.getRandomValues(a);
    rnd = a[0].toString(36) + a[1].toString(36);
  } else {
    rnd = Math.random().toString(36).slice(2) + Math.random().toString(36).slice(2);
  }
  return 'w' + Date.now().toString(36) + '-' + rnd;
};

var kMonths = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
var kMinuteMs = 60 * 1000;

function dayStart(ms) {
  var d = new Date(ms);
  return new Date(d.getFullYear(), d.getMonth(), d.getDate()).getTime();
}

// "now", "2 min", then the clock time (day dividers say the day).
Parley.relativeTime = function (ms, now) {
  now = now || Date.now();
  var ago = now - ms;
  if (ago < kMinuteMs) return 'now';
  if (ago < 60 * kMinuteMs) return Math.floor(ago / kMinuteMs) + ' min';
  var d = new Date(ms);
  return pad2(d.getHours()) + ':' + pad2(d.getMinutes());
};

// "Today", "Yesterday", "3 Nov", or "3 Nov 2025" before this year.
Parley.dayLabel = function (ms, now) {
  var today = dayStart(now || Date.now());
  var day = dayStart(ms);
  // Rounded: a day across a daylight-saving change is 23 or 25 hours.
  var days = Math.round((today - day) / (24 * 60 * kMinuteMs));
  if (days === 0) return 'Today';
  if (days === 1) return 'Yesterday';
  var d = new Date(ms);
  var label = d.getDate() + ' ' + kMonths[d.getMonth()];
  if (d.getFullYear() !== new Date(today).getFullYear()) label += ' ' + d.getFullYear();
  return label;
};

Parley.sameDay = function (a, b) {
  return dayStart(a) === dayStart(b);
};

// "alice_k" -> "AK", "bob" -> "BO".
Parley.initials = function (name) {
  var parts = String(name).split(/[._\-]+/);
  var a = parts[0] || name;
  var b = parts.length > 1 && parts[1] ? parts[1].charAt(0) : a.charAt(1);
  return (a.charAt(0) + (b || '')).toUpperCase();
};

// A stable colour per user id, each 4.5:1 or more against white initials.
var kAvatarColours = ['#1f5fbf', '#7b3fb3', '#b3261e', '#1e6b34', '#8a5a00', '#00695c', '#ad1457', '#4a5360'];
Parley.avatarColour = function (userId) {
  var h = (userId * 2654435761) % 4294967296;  // Knuth's hash spreads neighbours
  return kAvatarColours[Math.floor(h / 4294967296 * kAvatarColours.length)];
};

// "system", "light" or "dark"; the only thing the page stores.
Parley.theme = {
  get: function () {
    try {
      return window.localStorage.getItem('parley-theme') || 'system';
    } catch (e) {
      return 'system';
    }
  },
  set: function (theme) {
    try {
      if (theme === 'system') window.localStorage.removeItem('parley-theme');
      else window.localStorage.setItem('parley-theme', theme);
    } catch (e) {
      // storage off (private mode): the choice lasts until reload
    }
    Parley.theme.apply(theme);
  },
  apply: function (theme) {
    if (theme === 'light' || theme === 'dark') document.documentElement.setAttribute('data-theme', theme);
    else document.documentElement.removeAttribute('data-theme');
  }
};
Parley.theme.apply(Parley.theme.get());
