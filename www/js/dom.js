// Loaded first: the global Parley the others extend, and the DOM words all
// files use, global too. ES5 as served; IIFE bodies unindented. Scripts are
// deferred: each wires its handlers as it loads. User text goes in by
// textContent only. for-in walks our own maps (nothing extends
// Object.prototype).
var Parley = window.Parley = {};

// An id, or already the node (or window).
function $(id) {
  return typeof id === 'string' ? document.getElementById(id) : id;
}

// Null text or attributes are left out.
function el(tag, cls, text, attrs) {
  var node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text != null) node.textContent = text;
  for (var k in attrs) if (attrs[k] != null) node.setAttribute(k, attrs[k]);
  return node;
}

function span(cls, text, attrs) {
  return el('span', cls, text, attrs);
}

function button(label, cls, onClick, ariaLabel) {
  var b = el('button', cls, label, {type: 'button', 'aria-label': ariaLabel});
  on(b, 'click', onClick);
  return b;
}

function me() {
  return Parley.state.me;
}

// A message, member or event: its user is me.
function mine(x) {
  return !!me() && x.user.id === me().id;
}

function byUser(list, id) {
  return list.filter(function (x) { return x.user.id === id; })[0];
}

// A submit also stops the page from loading.
function on(id, type, fn, capture) {
  $(id).addEventListener(type, type !== 'submit' ? fn : function (e) {
    e.preventDefault();
    fn(e);
  }, capture);
}

// Runs redraw() on node. Focus it took away (a reaction, someone online)
// goes back to the control with the same class, text and label, else to
// node: keyboard users keep their place.
function keepFocus(node, redraw) {
  var had = document.activeElement, inside = node.contains(had);
  redraw();
  if (!inside || node.contains(document.activeElement)) return;
  var same = [].filter.call(node.querySelectorAll('button, select'), function (c) {
    return c.className === had.className && c.textContent === had.textContent &&
      c.getAttribute('aria-label') === had.getAttribute('aria-label');
  });
  (same[0] || node).focus();
}

// Runs fn() ms after its first call: a burst costs one run.
function soon(fn, ms) {
  var timer = null;
  return function () {
    if (!timer) timer = setTimeout(function () { timer = null; fn(); }, ms);
  };
}

function clear(node) {
  node = $(node);
  node.textContent = '';
  return node;
}

function remove(node) {
  if (node) node.remove();
}

function show(node, visible) {
  $(node).hidden = !visible;
}

// Shift+Enter breaks the line; an input method composing uses Enter.
function isEnter(e) {
  return e.key === 'Enter' && !e.shiftKey && !e.isComposing;
}

function isEsc(e) {
  return e.key === 'Escape';
}

// Escape in node runs close() and stops there: one key shuts one thing.
function onEsc(node, close) {
  on(node, 'keydown', function (e) {
    if (!isEsc(e)) return;
    e.stopPropagation();
    close();
  });
}

// HH:MM, local: every toTimeString() starts with HH:MM:SS.
function clock(ms) {
  return new Date(ms).toTimeString().slice(0, 5);
}

var kMinuteMs = 60 * 1000;

function dayStart(ms) {
  var d = new Date(ms);
  return new Date(d.getFullYear(), d.getMonth(), d.getDate()).getTime();
}

// "now", "2 min", then the clock (dividers say the day).
function relativeTime(ms, now) {
  var ago = (now || Date.now()) - ms;
  if (ago < kMinuteMs) return 'now';
  if (ago < 60 * kMinuteMs) return Math.floor(ago / kMinuteMs) + ' min';
  return clock(ms);
}

function dayLabel(ms) {
  var today = dayStart(Date.now());
  // Rounded: a daylight-saving day lasts 23 or 25 hours.
  var days = Math.round((today - dayStart(ms)) / (24 * 60 * kMinuteMs));
  if (days === 0) return 'Today';
  if (days === 1) return 'Yesterday';
  var d = new Date(ms), label = d.getDate() + ' ' + d.toLocaleString('en-US', {month: 'short'});
  if (d.getFullYear() !== new Date(today).getFullYear()) label += ' ' + d.getFullYear();
  return label;
}

function sameDay(a, b) {
  return dayStart(a) === dayStart(b);
}

// "system", "light" or "dark" (the CSS knows the last two): the only thing
// the page stores, and not the default; with storage off, until reload.
Parley.theme = {
  get: function () {
    try {
      var t = localStorage.getItem('parley-theme');
    } catch (e) {}
    return t || 'system';
  },
  set: function (theme) {
    document.documentElement.dataset.theme = theme;
    try {
      if (theme === 'system') localStorage.removeItem('parley-theme');
      else localStorage.setItem('parley-theme', theme);
    } catch (ignored) {}
  }
};
Parley.theme.set(Parley.theme.get());
