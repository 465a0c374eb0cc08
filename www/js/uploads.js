// Attachments: upload (picker, drop, paste) with progress, and display:
// images at the server's size (nothing jumps on load), else a link.
(function () {
var kMaxFiles = 10, kBox = 320;  // kBox: an inline image's largest side, CSS px
var tray = [];  // {id|null, xhr|null, node}

function size(n) {
  if (n < 1024) return n + ' B';
  if (n < 1048576) return Math.round(n / 1024) + ' KB';
  return (n / 1048576).toFixed(1) + ' MB';
}

function removeItem(item) {
  if (item.xhr) item.xhr.abort();
  tray = tray.filter(function (t) { return t !== item; });
  remove(item.node);
  show('upload-tray', tray.length > 0);
}

// A tray row with progress, then "ready": the id goes with the next send.
function upload(file) {
  if (tray.length >= kMaxFiles) return;
  var name = file.name || 'pasted.png', node = el('li', 'upload'), xhr = new XMLHttpRequest();
  var item = {id: null, xhr: xhr, node: node};
  node.append(span('upload-name', name));
  var bar = node.appendChild(el('progress', '', null, {max: 100, value: 0, 'aria-label': 'Uploading ' + name}));
  var state = node.appendChild(span('upload-state', 'uploading'));
  node.append(button('×', 'upload-remove', removeItem.bind(null, item), 'Remove ' + name));
  $('upload-tray').append(node);
  show('upload-tray', true);
  tray.push(item);

  xhr.open('POST', '/api/uploads?name=' + encodeURIComponent(name), true);
  xhr.setRequestHeader('Content-Type', file.type || 'application/octet-stream');
  xhr.upload.onprogress = function (e) {
    if (e.lengthComputable) bar.value = Math.round(100 * e.loaded / e.total);
  };
  onAnswer(xhr, function (err, data, status) {
    var up = !err && status === 201 && data && data.upload;
    item.xhr = null;
    if (up) {
      item.id = up.id;
      bar.value = 100;
    }
    state.textContent = up ? 'ready, ' + size(up.size) : errorText(err || {status: status});
    node.className = up ? 'upload ready' : 'upload failed';
  });
  xhr.send(file);
}

// True if list (a FileList, maybe missing) held files.
function uploadAll(list) {
  for (var i = 0; list && i < list.length; ++i) upload(list[i]);
  return i > 0;
}

function attachment(a) {
  var link;
  if (/^image\//.test(a.mime) && a.width && a.height) {
    var scale = Math.min(1, kBox / Math.max(a.width, a.height));
    link = el('a', 'attachment image', null, {href: a.url, target: '_blank', rel: 'noopener'});
    link.append(el('img', null, null, {alt: a.name, width: Math.max(1, Math.round(a.width * scale)),
      height: Math.max(1, Math.round(a.height * scale)), src: a.url}));
  } else {
    link = el('a', 'attachment', null, {href: a.url, download: a.name});
    link.append(span('file-name', a.name), span('file-size', size(a.size)));
  }
  return link;
}

Parley.uploads = {
  render: function (box, attachments) {
    var list = box.appendChild(el('div', 'attachments'));
    attachments.forEach(function (a) { list.append(attachment(a)); });
  },
  take: function () {
    var done = tray.filter(function (item) { return item.id !== null; });
    done.forEach(removeItem);
    return done.map(function (item) { return item.id; });
  }
};

var input = $('attach');
on('attach-button', 'click', function () { input.click(); });
on(input, 'change', function () {
  uploadAll(input.files);
  input.value = '';
});
var room = $('room');
on(room, 'dragover', function (e) {
  if (!e.dataTransfer || !$('composer').offsetParent) return;
  e.preventDefault();
  room.className = 'dropping';
});
on(room, 'dragleave', function () { room.className = ''; });
on(room, 'drop', function (e) {
  room.className = '';
  if ($('composer').offsetParent && uploadAll(e.dataTransfer && e.dataTransfer.files)) e.preventDefault();
});
on('text', 'paste', function (e) {
  if (uploadAll(e.clipboardData && e.clipboardData.files)) e.preventDefault();
});
})();
