'use strict';
// tools/bench/members-pages.js URL ACCESS_LOG PAGES JOINS: the herd half of
// tools/bench/members (run by it, with the browser tests' node_modules).
//
// Opens PAGES headless Chromium pages (one browser context each: one person
// each, signed up through the page) on `general`, waits until every page is
// live and shows its member list, then registers JOINS new accounts through
// the API, one a second (each joins `general`: one member event to every
// page), then waits until the pages have asked for no member list for 5 s
// (at most 120 s: a page that redraws a long list falls behind). Prints one
// JSON object: what the pages asked of the server meanwhile (member-list
// GETs and their bytes, from nginx's access log, read from where it ended
// when the joins began), the CPU seconds of the PIDS given in
// PARLEY_BENCH_PIDS (parley-fcgi, nginx) and of the whole machine (the
// pages' own work included), and the seconds until the pages were quiet.
// Bounded: every wait has a deadline, and the browser closes at the end.

const fs = require('node:fs');
const path = require('node:path');

const browserDir = path.resolve(__dirname, '..', '..', 'tests', 'browser');
module.paths.unshift(path.join(browserDir, 'node_modules'));
const h = require(path.join(browserDir, 'harness'));
const ui = require(path.join(browserDir, 'ui'));

const [url, accessLog, pagesArg, joinsArg] = process.argv.slice(2);
const pages = Number(pagesArg);
const joins = Number(joinsArg);
if (!url || !accessLog || !(pages > 0) || !(joins > 0)) {
  console.error('usage: members-pages.js URL ACCESS_LOG PAGES JOINS');
  process.exit(2);
}
const pids = (process.env.PARLEY_BENCH_PIDS || '').split(/\s+/).filter(Boolean);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function machineSeconds() {
  const f = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  return (f[0] + f[1] + f[2] + f[5] + f[6] + f[7]) / 100;  // user nice system irq softirq steal
}

// Member-list GETs in the access log after byte `from`: {lists, bytes}.
function memberLists(from) {
  const fd = fs.openSync(accessLog, 'r');
  const size = fs.fstatSync(fd).size;
  const buf = Buffer.alloc(size - from);
  fs.readSync(fd, buf, 0, buf.length, from);
  fs.closeSync(fd);
  let lists = 0;
  let bytes = 0;
  for (const line of buf.toString('utf8').split('\n')) {
    const m = /"GET \/api\/rooms\/\d+\/members[^"]*" (\d{3}) (\d+)/.exec(line);
    if (!m) continue;
    lists++;
    bytes += Number(m[2]);
  }
  return { lists, bytes };
}

function cpuSeconds() {
  let ticks = 0;
  for (const pid of pids) {
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(fields[11]) + Number(fields[12]);  // utime, stime
    } catch (e) {
      // a process gone: counted as nothing more
    }
  }
  return ticks / 100;  // USER_HZ
}

async function main() {
  const browser = await h.launchBrowser();
  const users = [];
  try {
    for (let i = 0; i < pages; i++) {
      // A minute to come up: in the tree before the member list followed
      // events, each sign-up sent every page already open back for the
      // whole list, and a page could take longer than the tests' 10 s.
      const u = await ui.openAs(browser, url, h.uniqueName('page'), { timeout: 60000 });
      await u.page.locator('#members li').first().waitFor({ timeout: 60000 });
      users.push(u);
    }
    for (const u of users) await ui.waitForStatus(u.page, 'live', 30000);
    await sleep(2000);  // the last page's own join reaches the others

    const from = fs.statSync(accessLog).size;
    const cpu0 = cpuSeconds();
    const machine0 = machineSeconds();
    const t0 = Date.now();
    for (let i = 0; i < joins; i++) {
      await h.apiRegister(url, h.uniqueName('joiner'));
      await sleep(1000);
    }
    let seen = memberLists(from).lists;
    let quietSince = Date.now();
    while (Date.now() - quietSince < 5000 && Date.now() - t0 < 120000) {
      await sleep(500);
      const now = memberLists(from).lists;
      if (now !== seen) {
        seen = now;
        quietSince = Date.now();
      }
    }
    const cpu = cpuSeconds() - cpu0;
    const machine = machineSeconds() - machine0;
    const seconds = (quietSince - t0) / 1000;
    const { lists, bytes } = memberLists(from);
    let errors = 0;
    for (const u of users) errors += u.errors.length;
    console.log(JSON.stringify({ pages, joins, quiet_after_s: seconds, member_lists: lists, member_list_bytes: bytes,
      server_cpu_s: Number(cpu.toFixed(2)), machine_cpu_s: Number(machine.toFixed(2)), page_errors: errors }));
  } finally {
    await browser.close();
  }
}

const deadline = setTimeout(() => {
  console.error('members-pages.js: no result within 600 s');
  process.exit(1);
}, 600000);
main().then(() => clearTimeout(deadline), (e) => {
  console.error(e);
  process.exit(1);
});
