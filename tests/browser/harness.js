'use strict';
// Helpers for Parley's browser tests (tests/browser/*.test.js, run by
// tests/browser/run under `node --test`).
//
//   startStack(opts)          a real Parley stack (nginx + parley-fcgi +
//                             parley-events) in a fresh temp dir on a free
//                             127.0.0.1 port, started the way tools/run does
//   startBufferingProxy(stack) a second nginx in front of a stack that holds
//                             streams back like a hostile corporate proxy
//   readStream(url, opts)     read a streaming response for a bounded time
//   withLogs(fn, ...sources)  a test body whose failures carry the logs
//   launchBrowser(opts)       Debian's headless Chromium via playwright-core
//   apiRegister(url, u, p)    create a user over the JSON API (test set-up)
//   uniqueName(prefix)        a valid, unique username
//
// Everything here is bounded in time, and every process it starts runs in
// its own process group that is killed when the test stops it, when the test
// process exits or is signalled, and (as a last resort, if the test process
// is SIGKILLed) by a small watchdog shell. Nothing outlives a test run.

const { spawn } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');

const REPO = path.resolve(__dirname, '..', '..');
const BUILD = path.resolve(process.env.PARLEY_BUILD || path.join(REPO, 'build'));
const CHROMIUM = '/usr/bin/chromium';

// How long start-up may take before we give up and show the logs. Starting
// the stack takes well under a second; 20 s (as in tools/run) leaves room for
// a loaded CI machine.
const READY_TIMEOUT_MS = 20000;
// Grace for a SIGTERMed process group before SIGKILL (tools/run: 5 s).
const STOP_GRACE_MS = 5000;

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// ---------------------------------------------------------------------------
// Process groups we started and have not stopped yet. Each child is spawned
// detached, i.e. after setsid(): its pid is its process group id, and the
// group also holds whatever it forks (nginx and parley-fcgi workers), which
// must die with it or they would keep the port and the sockets.
const liveGroups = new Set();

function killGroup(pgid, signal) {
  try {
    process.kill(-pgid, signal);
  } catch {
    // ESRCH: the group is already gone.
  }
}

// Temp dirs of stacks and proxies not stopped yet.
const liveDirs = new Set();

// The test process may end without calling stop(): a failed assertion that
// skipped the cleanup, a test-runner timeout, `timeout` sending SIGTERM to
// tests/browser/run's process group. 'exit' handlers run synchronously on
// every normal exit and process.exit(), so kill the groups (SIGKILL, no time
// for grace) and remove the dirs here. The dirs lose their .pgids list first
// so the watchdog (below) finds nothing left to kill.
function cleanUpNow() {
  for (const pgid of liveGroups) killGroup(pgid, 'SIGKILL');
  liveGroups.clear();
  for (const dir of liveDirs) {
    fs.rmSync(path.join(dir, '.pgids'), { force: true });
    removeDir(dir);
  }
  liveDirs.clear();
}
process.on('exit', cleanUpNow);
// Node dies on these signals without running 'exit' handlers unless someone
// listens. Clean up, then exit with the status the signal would have given.
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => {
    cleanUpNow();
    process.exit(128 + os.constants.signals[sig]);
  });
}

// A watchdog per temp dir for the one case the handlers above cannot cover:
// the test process killed with SIGKILL (`timeout --kill-after`, the OOM
// killer). It is a detached shell blocked reading its stdin, a pipe whose
// other end only this process holds: when we die, however we die, the kernel
// closes it, the read returns, and the shell kills every group listed in
// DIR/.pgids and removes DIR (unless PARLEY_KEEP_TMP). No polling, and no
// children of its own that could outlive it. Returns its pid (= its group).
//
// stop() kills the watchdog once the processes are down. After a normal
// exit it wakes up, finds no .pgids (cleanUpNow removed it) and at most
// removes an already removed dir.
function startWatchdog(dir) {
  const keep = process.env.PARLEY_KEEP_TMP ? '1' : '';
  // /bin/sh is dash on Debian: its kill takes no "--".
  const script = `
    read -r _
    for g in $(cat "$1/.pgids" 2>/dev/null); do kill -KILL "-$g" 2>/dev/null; done
    [ -n "$2" ] || rm -rf -- "$1"
  `;
  const child = spawn('/bin/sh', ['-c', script, 'parley-watchdog', dir, keep], {
    detached: true,
    stdio: ['pipe', 'ignore', 'ignore'],
  });
  // Neither the pipe nor the child may keep the test process alive.
  child.stdin.on('error', () => {});
  child.stdin.unref();
  child.unref();
  return child.pid;
}

// A fresh directory for one stack or proxy, with its watchdog. Short on
// purpose: unix socket paths (DIR/events.sock) must fit in 107 bytes.
// Returns {dir, release()}: release() kills the watchdog and removes the dir
// (unless PARLEY_KEEP_TMP); call it after the processes are stopped.
function makeTempDir(prefix) {
  const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), prefix)));
  liveDirs.add(dir);
  const watchdog = startWatchdog(dir);
  const release = () => {
    killGroup(watchdog, 'SIGKILL');
    liveDirs.delete(dir);
    removeDir(dir);
  };
  return { dir, release };
}

function removeDir(dir) {
  if (process.env.PARLEY_KEEP_TMP) return;
  fs.rmSync(dir, { recursive: true, force: true });
}

// Spawns one long-running program in its own process group, stdout and
// stderr appended to logPath. Returns {name, pid, exited, exitStatus()}:
// `exited` resolves when the leader has exited.
function spawnGroup(dir, name, argv, env, logPath) {
  const fd = fs.openSync(logPath, 'a');
  let child;
  try {
    child = spawn(argv[0], argv.slice(1), {
      cwd: REPO,
      env,
      detached: true, // setsid(): own session and process group
      stdio: ['ignore', fd, fd],
    });
  } finally {
    fs.closeSync(fd); // the child has its own copy
  }
  // unref: a test process must be able to exit even if a test forgot to
  // stop the stack; the 'exit' handler above then kills the group.
  child.unref();
  let status = null;
  const exited = new Promise((resolve) => {
    child.once('exit', (code, signal) => {
      status = signal ? `killed by ${signal}` : `exit status ${code}`;
      resolve();
    });
    // spawn() failures (ENOENT: not built?) arrive as 'error', not 'exit'.
    child.once('error', (err) => {
      status = `could not start: ${err.message}`;
      resolve();
    });
  });
  if (child.pid !== undefined) {
    liveGroups.add(child.pid);
    fs.appendFileSync(path.join(dir, '.pgids'), `${child.pid}\n`);
  }
  return { name, pid: child.pid, exited, exitStatus: () => status };
}

// SIGTERM the leaders (as tools/run does: nginx and parley-fcgi shut down
// gracefully on it), wait up to STOP_GRACE_MS for them, then SIGKILL every
// group, which also takes workers a dead leader left behind.
async function stopGroups(procs) {
  const running = procs.filter((p) => p.pid !== undefined);
  for (const p of running) {
    if (p.exitStatus() === null) {
      try {
        process.kill(p.pid, 'SIGTERM');
      } catch {
        // already gone
      }
    }
  }
  let timer;
  await Promise.race([
    Promise.all(running.map((p) => p.exited)),
    new Promise((resolve) => {
      timer = setTimeout(resolve, STOP_GRACE_MS);
    }),
  ]);
  clearTimeout(timer);
  for (const p of running) {
    killGroup(p.pid, 'SIGKILL');
    liveGroups.delete(p.pid);
  }
}

// Runs a short program to completion (bounded); rejects with its output on
// failure.
function runTool(argv, env, timeoutMs = 10000) {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0], argv.slice(1), { cwd: REPO, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`${argv[0]}: ${err.message}`));
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new Error(`${argv.join(' ')} failed (${signal || code}):\n${out}`));
    });
  });
}

// A port on 127.0.0.1 that was free a moment ago. Another process could take
// it before nginx binds; start-up notices (nginx exits) and tries again.
function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

// /usr/sbin is not on an ordinary user's PATH on Debian.
function nginxBinary() {
  for (const d of (process.env.PATH || '').split(':')) {
    const p = path.join(d || '.', 'nginx');
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return p;
    } catch {
      // not here
    }
  }
  return '/usr/sbin/nginx';
}

// The last `bytes` of every *.log in dir, each under a header: what a failed
// test prints so the cause is visible in CI output.
function logTails(dir, bytes = 3000) {
  let names;
  try {
    names = fs.readdirSync(dir).filter((n) => n.endsWith('.log')).sort();
  } catch {
    return `(no logs: ${dir} is gone)`;
  }
  return names
    .map((n) => {
      let text;
      try {
        const buf = fs.readFileSync(path.join(dir, n));
        text = buf.subarray(Math.max(0, buf.length - bytes)).toString('utf8');
      } catch (err) {
        text = `(unreadable: ${err.message})`;
      }
      return `--- ${path.join(dir, n)} (last ${bytes} bytes) ---\n${text.trimEnd() || '(empty)'}`;
    })
    .join('\n');
}

// GET url until it answers 200 or deadlineMs passes. Returns true on 200,
// false when a process listed in procs exits first or time runs out.
async function waitFor200(url, deadlineMs, procs) {
  while (Date.now() < deadlineMs) {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
      await res.arrayBuffer();
      if (res.status === 200) return true;
    } catch {
      // not listening yet
    }
    if (procs.some((p) => p.exitStatus() !== null)) return false;
    await sleep(100);
  }
  return false;
}

// Starts the processes of one stack (or proxy) via startFn(port) and waits
// until every URL in readyPaths answers 200. If nginx loses the race for the
// free port (it exits at once), tries again with another port.
async function startOnFreePort(dir, what, startFn, readyPaths, scheme = 'http') {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const procs = await startFn(port);
    const url = `${scheme}://127.0.0.1:${port}`;
    let ok = true;
    for (const p of readyPaths) {
      if (!(await waitFor200(url + p, deadline, procs))) {
        ok = false;
        break;
      }
    }
    if (ok) return { port, url, procs };

    const dead = procs.filter((p) => p.exitStatus() !== null);
    const why = dead.length
      ? dead.map((p) => `${p.name} (${p.exitStatus()})`).join(', ') + ' exited during start-up'
      : `no 200 from ${url}${readyPaths.join(', ')} within ${READY_TIMEOUT_MS / 1000} s`;
    await stopGroups(procs);
    const logs = logTails(dir);
    const portTaken = /Address already in use/.test(logs);
    if (portTaken && attempt < 3 && Date.now() < deadline) {
      // Truncate the logs so the retry's are not mixed with these.
      for (const n of fs.readdirSync(dir).filter((f) => f.endsWith('.log'))) {
        fs.truncateSync(path.join(dir, n));
      }
      continue;
    }
    throw new Error(`${what}: ${why}\n${logs}`);
  }
}

// ---------------------------------------------------------------------------
// startStack(opts) -> Promise<{url, port, dir, stop(), restartEvents(downMs),
//                               upgradeEvents(), restoreDatabase(backupPath), logs()}>
//
// opts.env      extra environment for tools/nginx-conf and both daemons,
//               e.g. {PARLEY_LIMITS: 'off'}
// opts.workers  parley-fcgi workers (default 2)
// opts.eventsCopy  parley-events runs from a copy in the stack's directory,
//               which upgradeEvents() replaces with a new copy (a new file,
//               as install(1) makes) before SIGHUP: an upgrade in place
//               (events/reexec.h)
// opts.tls      HTTPS + HTTP/2 (PARLEY_TLS=on) with tools/nginx-conf's
//               self-signed certificate; url is then https://. This test
//               process's fetch() then accepts that certificate (and any
//               other: loopback only).
//
// Rate limits stay ON by default: that is the configuration users get, and
// the browser tests should see the same nginx. The ones that matter here
// are limit_req on /api/register and /api/login (10 r/s per address, burst
// 20; and 100 accounts per address, then one a minute): a stack registers
// at most ~25 users, and apiRegister() waits and retries on a 429 of the
// first anyway; and the read limit (30 GETs a second per session, burst
// 200), which no page comes near. Tests that really need many accounts at
// once can pass env: {PARLEY_LIMITS: 'off'}.
//
// PARLEY_TEST_FAST_PASSWORDS: argon2id at its minimum cost, as in the e2e
// stacks (schema/crypto.h): every test registers and signs in several times.
async function startStack(opts = {}) {
  const env = {
    ...process.env,
    PARLEY_LIMITS: 'on',
    PARLEY_TEST_FAST_PASSWORDS: '1',
    ...(opts.tls ? { PARLEY_TLS: 'on' } : {}),
    ...(opts.env || {}),
  };
  if (opts.tls) process.env.NODE_TLS_REJECT_UNAUTHORIZED = '0';
  const workers = String(opts.workers || 2);
  for (const bin of ['fcgi/parley-fcgi', 'events/parley-events']) {
    if (!fs.existsSync(path.join(BUILD, bin))) {
      throw new Error(`${path.join(BUILD, bin)} is missing: build first (cmake --build build), or set PARLEY_BUILD`);
    }
  }

  const { dir, release } = makeTempDir('parley-b-');
  let procs = [];
  const eventsBinary = opts.eventsCopy ? path.join(dir, 'parley-events') : path.join(BUILD, 'events/parley-events');
  // As install(1) puts a binary: a new file renamed over the old.
  const installEvents = () => {
    fs.copyFileSync(path.join(BUILD, 'events/parley-events'), `${eventsBinary}.new`);
    fs.chmodSync(`${eventsBinary}.new`, 0o755);
    fs.renameSync(`${eventsBinary}.new`, eventsBinary);
  };
  if (opts.eventsCopy) installEvents();
  // The two daemons, started exactly as tools/run starts them.
  const daemons = {
    'parley-fcgi': () => [
      path.join(BUILD, 'fcgi/parley-fcgi'),
      '--db', path.join(dir, 'parley.db'),
      '--listen', path.join(dir, 'fcgi.sock'),
      '--events-socket', path.join(dir, 'notify.sock'),
      '--workers', workers,
    ],
    'parley-events': () => [
      eventsBinary,
      '--db', path.join(dir, 'parley.db'),
      '--listen', path.join(dir, 'events.sock'),
      '--notify', path.join(dir, 'notify.sock'),
    ],
  };
  const spawnDaemon = (name) => spawnGroup(dir, name, daemons[name](), env, path.join(dir, `${name}.log`));
  // Stops the named daemons (SIGTERM: the pool drains, streams end with a
  // retry hint), keeps them down for `downMs`, runs `whileDown`, and starts
  // them again on the same sockets and database.
  const restart = async (names, { downMs = 0, whileDown = () => {} } = {}) => {
    const slots = names.map((n) => procs.findIndex((p) => p.name === n));
    await stopGroups(slots.map((i) => procs[i]));
    const sockets = { 'parley-fcgi': 'fcgi.sock', 'parley-events': 'events.sock' };
    for (const n of names) fs.rmSync(path.join(dir, sockets[n]), { force: true });
    await sleep(downMs);
    await whileDown();
    for (const i of slots) procs[i] = spawnDaemon(procs[i].name);
  };
  const restartEvents = (downMs = 0) => restart(['parley-events'], { downMs });
  // Installs a new copy and sends SIGHUP; resolves once the new image
  // listens (its log says so), within 10 s.
  const upgradeEvents = async () => {
    if (!opts.eventsCopy) throw new Error('upgradeEvents() needs startStack({eventsCopy: true})');
    const log = path.join(dir, 'parley-events.log');
    const kept = () => (fs.readFileSync(log, 'utf8').match(/\(kept across the upgrade\)/g) || []).length;
    const before = kept();
    installEvents();
    process.kill(procs.find((p) => p.name === 'parley-events').pid, 'SIGHUP');
    const deadline = Date.now() + 10000;
    while (kept() === before) {
      if (Date.now() > deadline) throw new Error('parley-events did not upgrade within 10 s:\n' + logTails(dir));
      await sleep(50);
    }
  };
  // Puts a backup (parleyctl backup) in place of the database, as an admin
  // restoring one would: both daemons stopped, the file and its WAL
  // replaced, both started again.
  const restoreDatabase = (backupPath) => restart(['parley-fcgi', 'parley-events'], {
    whileDown: () => {
      const db = path.join(dir, 'parley.db');
      for (const suffix of ['-wal', '-shm']) fs.rmSync(db + suffix, { force: true });
      fs.copyFileSync(backupPath, db);
    },
  });
  let stopping = null;
  // Idempotent: a test may call stop() and an after() hook call it again.
  const stop = () => {
    stopping ??= stopGroups(procs).then(release);
    return stopping;
  };

  try {
    const started = await startOnFreePort(
      dir,
      'startStack',
      async (port) => {
        // Exactly what tools/run does, with DIR for ./var.
        await runTool([path.join(REPO, 'tools/nginx-conf'), dir, String(port)], env);
        // Sockets left by a previous attempt would make bind() fail.
        for (const s of ['fcgi.sock', 'events.sock', 'notify.sock']) {
          fs.rmSync(path.join(dir, s), { force: true });
        }
        procs = [
          spawnDaemon('parley-fcgi'),
          spawnDaemon('parley-events'),
          spawnGroup(dir, 'nginx', [nginxBinary(), '-p', `${dir}/`, '-c', path.join(dir, 'nginx.conf')],
            env, path.join(dir, 'nginx.log')),
        ];
        return procs;
      },
      // /api/health is parley-fcgi through nginx (what tools/run waits for);
      // /events/stats is parley-events through nginx, so a test may open a
      // stream at once without racing the daemon's start.
      ['/api/health', '/events/stats'],
      opts.tls ? 'https' : 'http',
    );
    return {
      url: started.url, port: started.port, dir, stop, restartEvents, upgradeEvents, restoreDatabase,
      logs: () => logTails(dir),
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

// ---------------------------------------------------------------------------
// startBufferingProxy(stack) -> Promise<{url, port, dir, stop(), logs()}>
//
// A second, separate nginx in front of `stack` that behaves like a hostile
// corporate proxy: it buffers responses, ignores the backend's
// X-Accel-Buffering: no, and compresses bodies into 64 KiB buffers, so an
// SSE stream's preamble (2 KiB padding, retry, hello) and its heartbeats
// never reach the browser (not even the response header), while responses
// that end (a long-poll, the API, the page) arrive whole. See the config
// below for why the compression, not the buffering, is what does it.
// Everything else is proxied faithfully: Host as the browser sent it (the
// backend's CSRF check compares Origin with scheme://Host, and the browser's
// Origin names this proxy), HTTP/1.1 with keep-alive to the backend, and read
// timeouts longer than any stream or poll. Open pages at proxy.url; cookies
// are shared with stack.url (same host, cookies ignore the port).
async function startBufferingProxy(stack) {
  const upstream = new URL(stack.url);
  const { dir, release } = makeTempDir('parley-p-');
  let procs = [];
  let stopping = null;
  // Idempotent: a test may call stop() and an after() hook call it again.
  const stop = () => {
    stopping ??= stopGroups(procs).then(release);
    return stopping;
  };
  fs.mkdirSync(path.join(dir, 'tmp'));

  const writeConf = (port) => {
    // As in tools/nginx-conf: started as root (CI), nginx would run its
    // workers as "nobody", who cannot enter the 0700 temp dir that holds the
    // proxy's buffer files. Keep them root; this listens on 127.0.0.1 only.
    // As an ordinary user the directive would only draw a warning, so leave
    // it out.
    const userLine = process.getuid() === 0 ? 'user root;' : '';
    const conf = `# Generated by tests/browser/harness.js (startBufferingProxy).
${userLine}
daemon off;
master_process on;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/nginx-error.log warn;

events {
    worker_connections 1024;
}

http {
    access_log ${dir}/nginx-access.log;
    client_body_temp_path ${dir}/tmp/body;
    proxy_temp_path ${dir}/tmp/proxy;
    fastcgi_temp_path ${dir}/tmp/fastcgi;
    uwsgi_temp_path ${dir}/tmp/uwsgi;
    scgi_temp_path ${dir}/tmp/scgi;

    upstream parley {
        server ${upstream.host};
        keepalive 8;
    }

    server {
        listen 127.0.0.1:${port};

        location / {
            proxy_pass http://parley;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            # The browser's Host (127.0.0.1:<this port>) goes through
            # unchanged, so it keeps matching the browser's Origin.
            proxy_set_header Host $http_host;

            # The hostile part. First, buffer whatever the backend asks for
            # (X-Accel-Buffering: no is ignored), in buffers far larger than
            # a stream's preamble and heartbeats.
            proxy_buffering on;
            proxy_ignore_headers X-Accel-Buffering;
            proxy_buffer_size 64k;
            proxy_buffers 8 64k;
            proxy_busy_buffers_size 128k;
            # That alone does not hold a stream back: nginx still forwards
            # whatever it has read at once (buffering only decouples a slow
            # client from the upstream), and the stream's 2 KiB of padding is
            # there precisely to get past postpone_output-style thresholds.
            # What does hold it back is what scanning and compressing proxies
            # do: transform the body. gzip compresses into 64 KiB buffers and
            # emits only when one is full or the response ends, and the
            # backend's small, repetitive SSE output compresses to almost
            # nothing, so a stream delivers no byte for minutes while short
            # responses (a long-poll, the API) arrive complete. Browsers always
            # send Accept-Encoding: gzip; a test using Node's fetch should
            # too. Cache-Control: no-transform is ignored, as such proxies do.
            gzip on;
            gzip_types *;
            gzip_proxied any;
            gzip_min_length 0;
            gzip_buffers 8 64k;

            # Streams and polls are long; the proxy must not be the one that
            # cuts them (a test decides how long it waits).
            proxy_read_timeout 3600s;
            proxy_send_timeout 60s;
            proxy_connect_timeout 5s;
        }
    }
}
`;
    fs.writeFileSync(path.join(dir, 'nginx.conf'), conf);
  };

  try {
    const started = await startOnFreePort(
      dir,
      'startBufferingProxy',
      async (port) => {
        writeConf(port);
        // -e: errors before the config is read go to our log too, instead of
        // an alert about /var/log/nginx/error.log when not root.
        procs = [
          spawnGroup(dir, 'nginx', [nginxBinary(), '-p', `${dir}/`, '-e', path.join(dir, 'nginx-error.log'),
            '-c', path.join(dir, 'nginx.conf')], process.env, path.join(dir, 'nginx.log')),
        ];
        return procs;
      },
      ['/api/health'],
    );
    return { url: started.url, port: started.port, dir, stop, logs: () => logTails(dir) };
  } catch (err) {
    await stop();
    throw err;
  }
}

// ---------------------------------------------------------------------------
// launchBrowser(opts) -> Promise<playwright Browser>
//
// Debian's chromium driven by playwright-core (it cannot download browsers
// here). Close it with `await browser.close()`; playwright also kills it
// when the test process exits. opts.args adds Chromium flags.
//
// The returned browser's contexts get short default timeouts (see
// newContext below) so a missing element fails a test in seconds instead of
// hanging until the runner's timeout.
const ACTION_TIMEOUT_MS = 10000;
const NAVIGATION_TIMEOUT_MS = 15000;

async function launchBrowser(opts = {}) {
  const { chromium } = require('playwright-core');
  const args = [
    // /dev/shm is small in many containers (Docker: 64 MB) and Chromium
    // crashes when it runs out; use /tmp instead. Debian's launcher only
    // adds this itself when /dev/shm is under 3.8 GB.
    '--disable-dev-shm-usage',
    // No GPU in CI; do not let Chromium probe for one.
    '--disable-gpu',
    ...(opts.args || []),
  ];
  // As root (CI) Chromium refuses to start with its sandbox. playwright-core
  // already passes --no-sandbox unless chromiumSandbox is set; say it
  // explicitly so the requirement is visible here.
  if (process.getuid() === 0) args.push('--no-sandbox');
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args,
    timeout: 30000, // launch itself
  });
  // Every context (browser.newPage() makes one too) starts with bounded
  // timeouts; tests may still override them per call.
  const newContext = browser.newContext.bind(browser);
  // opts.context: options every context gets (a test's own win), e.g.
  // {ignoreHTTPSErrors: true} for a stack's self-signed certificate.
  browser.newContext = async (options = {}, ...rest) => {
    const ctx = await newContext({ ...(opts.context || {}), ...options }, ...rest);
    ctx.setDefaultTimeout(ACTION_TIMEOUT_MS);
    ctx.setDefaultNavigationTimeout(NAVIGATION_TIMEOUT_MS);
    return ctx;
  };
  return browser;
}

// ---------------------------------------------------------------------------
// Test data.

let nameCounter = 0;
// A username valid for the API (1..32 of [A-Za-z0-9_.-]) and unique across
// test processes and runs: prefix + time + pid + counter.
function uniqueName(prefix = 'u') {
  const clean = String(prefix).replace(/[^A-Za-z0-9_.-]/g, '').slice(0, 12) || 'u';
  const suffix = [Date.now() % 1e8, process.pid, nameCounter++].map((n) => n.toString(36)).join('');
  return `${clean}_${suffix}`.slice(0, 32);
}

// apiRegister(url, username, password) -> Promise<{user, token}>
//
// POST /api/register (JSON) with Node's fetch; for setting up accounts a
// test does not want to create through the UI. No Origin header is sent
// (Node's fetch is not a browser), so the CSRF check does not apply. Throws
// with the status and body on anything but 201. A 429 from nginx's
// register limit is waited out (bounded), see startStack.
async function apiRegister(url, username, password = 'correct horse battery') {
  const deadline = Date.now() + 15000;
  for (;;) {
    const res = await fetch(`${url}/api/register`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ username, password }),
      signal: AbortSignal.timeout(10000),
    });
    const text = await res.text();
    if (res.status === 429 && Date.now() < deadline) {
      await sleep(250); // the limit refills at 10 per second
      continue;
    }
    if (res.status !== 201) {
      throw new Error(`register ${username}: HTTP ${res.status}: ${text}`);
    }
    const body = JSON.parse(text);
    return { user: body.user, token: body.token };
  }
}

// ---------------------------------------------------------------------------
// readStream(url, {headers, ms, until}) -> Promise<{status, headers, text, done}>
//
// GETs a streaming response (SSE) for at most `ms` milliseconds (default
// 5000), or until until(textSoFar) returns true, then aborts the request.
// status and headers are null if no response header arrived in time (a
// buffering proxy may hold those back too); text is the body received so far;
// done says whether `until` was satisfied (false: time ran out, or the
// server ended the response first).
async function readStream(url, { headers = {}, ms = 5000, until = () => false } = {}) {
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), ms);
  const out = { status: null, headers: null, text: '', done: false };
  try {
    const res = await fetch(url, { headers, signal: ac.signal });
    out.status = res.status;
    out.headers = res.headers;
    const decoder = new TextDecoder();
    for await (const chunk of res.body) {
      out.text += decoder.decode(chunk, { stream: true });
      if (until(out.text)) {
        out.done = true;
        break; // leaving the loop cancels the body
      }
    }
  } catch (err) {
    // The abort after `ms` is the expected way out; anything else is not.
    if (!ac.signal.aborted) throw err;
  } finally {
    clearTimeout(timer);
    ac.abort();
  }
  return out;
}

// withLogs(fn, ...sources) -> test function
//
// Wraps a test body so that a failure carries the logs of the stacks and
// proxies it used: `test('x', withLogs(async (t) => {...}, () => stack,
// () => proxy))`. Sources are functions (the stack may not exist yet when
// the test is declared) returning something with logs(), or null.
function withLogs(fn, ...sources) {
  return async (t) => {
    try {
      await fn(t);
    } catch (err) {
      const logs = sources
        .map((s) => s())
        .filter(Boolean)
        .map((s) => s.logs())
        .join('\n');
      if (err && typeof err === 'object' && logs) {
        // The spec reporter prints the stack, captured with the message
        // when the error was made: both get the logs.
        err.message += `\n\nLogs:\n${logs}`;
        if (typeof err.stack === 'string') err.stack += `\n\nLogs:\n${logs}`;
      }
      throw err;
    }
  };
}

// fixture({proxy}) -> {stack, proxy, browser, logged}
//
// For a test file that shares one stack (and, with proxy: true, one
// buffering proxy in front of it) and one browser among its tests: registers
// node:test before/after hooks that start and stop them, and fills in the
// returned object's fields in before(). `logged(fn)` is withLogs over them.
function fixture(opts = {}) {
  const { before, after } = require('node:test');
  const f = { stack: null, proxy: null, browser: null };
  before(async () => {
    f.stack = await startStack(opts.stack);
    if (opts.proxy) f.proxy = await startBufferingProxy(f.stack);
    f.browser = await launchBrowser();
  });
  after(async () => {
    if (f.browser) await f.browser.close();
    if (f.proxy) await f.proxy.stop();
    if (f.stack) await f.stack.stop();
  });
  f.logged = (fn) => withLogs(fn, () => f.stack, () => f.proxy);
  return f;
}

module.exports = {
  fixture,
  REPO,
  BUILD,
  CHROMIUM,
  startStack,
  startBufferingProxy,
  launchBrowser,
  apiRegister,
  uniqueName,
  readStream,
  withLogs,
  sleep,
};
