// Small DOM and formatting helpers shared by the other scripts.
//
// The scripts are plain ES5 (var, function, no arrows or template strings)
// so that old browsers behind old proxies can still parse them; nginx
// serves them as they are, with no build step. User-supplied text is only
// ever put into the page with textContent (never innerHTML), which is what
// makes a message like <img src=x onerror=...> harmless.
var Parley = window.Parley || {};
window.Parley = Parley;

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

Parley.clear = function (node) {
  while (node.firstChild) node.removeChild(node.firstChild);
};

Parley.show = function (node, visible) {
  if (visible) node.removeAttribute('hidden');
  else node.setAttribute('hidden', '');
};

function pad2(n) {
  return n < 10 ? '0' + n : String(n);
}

// A timestamp in the reader's local time: "14:05" today, "3 Nov 14:05"
// this year, "3 Nov 2025 14:05" before.
Parley.formatTime = function (ms, now) {
  var d = new Date(ms);
  var today = now ? new Date(now) : new Date();
  var hm = pad2(d.getHours()) + ':' + pad2(d.getMinutes());
  if (d.toDateString() === today.toDateString()) return hm;
  var months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  var day = d.getDate() + ' ' + months[d.getMonth()];
  if (d.getFullYear() !== today.getFullYear()) day += ' ' + d.getFullYear();
  return day + ' ' + hm;
};

// A client_id for idempotent sends: printable ASCII, well under the
// 64-character limit, unique enough across tabs and reloads.
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
