'use strict';
// tools/bench/members-pages.js URL ACCESS_LOG PAGES JOINS: the herd half of
// tools/bench/members (run by it, with the browser tests' node_modules).
//
// Opens PAGES headless Chromium pages (one browser context each: one person
// each, signed up through the page) on `general`, waits until every page is
// live and shows its member list, then registers JOINS new accounts through
// the API, one a second (each joins `general`: one member event to every
// page), and waits 3 s more. Prints one JSON object: what the pages asked of
// the server meanwhile (member-list GETs and their bytes, from nginx's
// access log, read from where it ended when the joins began) and the CPU
// seconds of the PIDS given in PARLEY_BENCH_PIDS (parley-fcgi, nginx).
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
      const u = await ui.openAs(browser, url, h.uniqueName('page'));
      await u.page.locator('#members li').first().waitFor({ timeout: 60000 });
      users.push(u);
    }
    for (const u of users) await ui.waitForStatus(u.page, 'live', 30000);
    await sleep(2000);  // the last page's own join reaches the others

    const from = fs.statSync(accessLog).size;
    const cpu0 = cpuSeconds();
    const t0 = Date.now();
    for (let i = 0; i < joins; i++) {
      await h.apiRegister(url, h.uniqueName('joiner'));
      await sleep(1000);
    }
    await sleep(3000);
    const cpu = cpuSeconds() - cpu0;
    const seconds = (Date.now() - t0) / 1000;

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
    let errors = 0;
    for (const u of users) errors += u.errors.length;
    console.log(JSON.stringify({ pages, joins, seconds, member_lists: lists, member_list_bytes: bytes,
      cpu_s: Number(cpu.toFixed(2)), page_errors: errors }));
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
