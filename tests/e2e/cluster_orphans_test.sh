#!/usr/bin/env bash
# tests/e2e/cluster_orphans_test.sh BUILD_DIR: tools/cluster against a run
# that is stale or still alive, as tools/run is (run_orphans_test.sh).
#   - A second tools/cluster on the PARLEY_VAR of a running one is refused,
#     and the first keeps serving: it used to unlink the first one's sockets
#     (the first's pools and daemons unreachable) and, once stopped, stop
#     the PostgreSQL they shared.
#   - tools/cluster killed with SIGKILL (an operator's kill -9, the OOM
#     killer) takes PostgreSQL, its pools, daemons and nginx with it: they
#     used to run on, and the next tools/cluster on that PARLEY_VAR found the
#     port taken. Then a tools/cluster on the same directory starts and
#     answers.
# Ports 18750-18799 on 127.0.0.1; every wait is bounded. Exits 77 (skipped)
# without the PostgreSQL server binaries.
set -euo pipefail

build=$(cd "${1:?usage: cluster_orphans_test.sh BUILD_DIR}" && pwd -P)
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)
tmp=$(mktemp -d)
chmod 711 "$tmp"  # as root, PostgreSQL runs as postgres, who must pass through
var=$tmp/var
first="" second=""

fail() {
  echo "FAIL: $*" >&2
  local log
  for log in "$tmp"/cluster-*.log; do
    [[ -f $log ]] || continue
    echo "--- $(basename "$log") (tail) ---" >&2
    tail -n 15 "$log" >&2
  done
  exit 1
}

# Whether process PID still runs (and is no zombie).
alive() {
  local rest
  { read -r rest < "/proc/$1/stat"; } 2>/dev/null || return 1
  rest=${rest##*) }
  [[ ${rest:0:1} != Z ]]
}

# The processes cluster.pids names (PostgreSQL's postmaster included).
listed_pids() { awk 'NF == 2 && $2 > 0 { print $2 }' "$var/cluster.pids" 2>/dev/null || true; }

cleanup() {
  local p
  for p in $first $second; do kill -TERM "$p" 2>/dev/null || true; done
  for _ in $(seq 100); do
    local any=0
    for p in $first $second; do alive "$p" && any=1; done
    (( any )) || break
    sleep 0.1
  done
  for p in $first $second $(listed_pids); do kill -KILL -- "-$p" 2>/dev/null || kill -KILL "$p" 2>/dev/null || true; done
  bash "$repo/tools/pg" stop "$var/pg" > /dev/null 2>&1 || true
  rm -rf "$tmp"
}
trap cleanup EXIT

rc=0
bash "$repo/tools/pg" status "$tmp/probe" > /dev/null 2>&1 || rc=$?
if (( rc == 4 )); then echo "SKIPPED: no PostgreSQL server binaries"; exit 77; fi
rm -rf "$tmp/probe"

# A free port in 18750-18799 (a successful connect: somebody listens).
free_port() {
  local p
  for p in $(shuf -i 18750-18799); do
    [[ $p != "${1:-}" ]] || continue
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return 0; fi
  done
  fail "no free port in 18750-18799"
}

# start_cluster NAME PORT: tools/cluster 1 in the background, its pid in $!.
start_cluster() {
  env PARLEY_NO_BUILD=1 PARLEY_BUILD_DIR="$build" PARLEY_PORT="$2" PARLEY_VAR="$var" PARLEY_LIMITS=off \
    PARLEY_PG_THROWAWAY=1 bash "$repo/tools/cluster" 1 > "$tmp/cluster-$1.log" 2>&1 &
}
# wait_ready PID: until cluster.pids says ready (90 s: a first initdb).
wait_ready() {
  for _ in $(seq 900); do
    [[ $(tail -n 1 "$var/cluster.pids" 2>/dev/null) != ready ]] || return 0
    alive "$1" || fail "tools/cluster (pid $1) exited during start-up"
    sleep 0.1
  done
  fail "tools/cluster not ready within 90 s"
}
health() { curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:$1/api/health" || true; }

port=$(free_port)
start_cluster first "$port"
first=$!
wait_ready "$first"
[[ $(health "$port") == 200 ]] || fail "the first tools/cluster does not answer"

# A second run on the same directory, on another port.
port2=$(free_port "$port")
start_cluster second "$port2"
second=$!
for _ in $(seq 300); do alive "$second" || break; sleep 0.1; done   # 30 s
if alive "$second"; then fail "a second tools/cluster on the same PARLEY_VAR started"; fi
rc=0
wait "$second" || rc=$?
second=""
(( rc != 0 )) || fail "the second tools/cluster exited 0"
grep -q "is in use: another tools/cluster runs with PARLEY_VAR=$var" "$tmp/cluster-second.log" ||
  fail "the second tools/cluster did not say why it stopped"
ss -xlH | grep -qF " $var/fcgi-1.sock " || fail "the first run's pool socket is gone"
[[ $(health "$port") == 200 ]] || fail "the first tools/cluster no longer answers"
bash "$repo/tools/pg" status "$var/pg" > /dev/null || fail "PostgreSQL stopped"
echo "# a second tools/cluster on the same PARLEY_VAR is refused; the first serves on"

# kill -9 of tools/cluster: every process it listed stops within 15 s.
mapfile -t procs < <(listed_pids)
(( ${#procs[@]} == 4 )) || fail "expected pg, a pool, a daemon and nginx in cluster.pids, found: ${procs[*]}"
kill -KILL "$first"
wait "$first" 2>/dev/null || true
first=""
for _ in $(seq 150); do
  left=()
  for p in "${procs[@]}"; do if alive "$p"; then left+=("$p"); fi; done
  (( ${#left[@]} )) || break
  sleep 0.1
done
(( ${#left[@]} == 0 )) ||
  fail "left running after kill -9 of tools/cluster: $(for p in "${left[@]}"; do tr '\0' ' ' < "/proc/$p/cmdline" | cut -c1-100; echo; done)"
echo "# everything stopped after kill -9 of tools/cluster"

rm -f "$var/cluster.pids"  # the killed run's "ready" is not the next one's
start_cluster third "$port"
first=$!
wait_ready "$first"
[[ $(health "$port") == 200 ]] || fail "tools/cluster started again on the same directory does not answer"
kill -TERM "$first"
for _ in $(seq 200); do alive "$first" || break; sleep 0.1; done
alive "$first" && fail "tools/cluster did not stop within 20 s of SIGTERM"
first=""
if bash "$repo/tools/pg" status "$var/pg" > /dev/null 2>&1; then fail "PostgreSQL runs on after tools/cluster stopped"; fi
echo "# tools/cluster started again on the same directory, and stopped with its PostgreSQL"
echo "PASS"
