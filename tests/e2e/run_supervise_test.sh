#!/usr/bin/env bash
# tests/e2e/run_supervise_test.sh BUILD_DIR: tools/run as a supervisor, for
# real. Starts tools/run (PARLEY_NO_BUILD=1: the binaries of BUILD_DIR) on a
# private port and directory, then:
#   1. the directory is 0700, every file in it (database, -wal, -shm, logs)
#      is 0600 and no socket is open to others;
#   2. kill -9 of parley-events, of the parley-fcgi master and of nginx's
#      master: each time the service answers again within a few seconds
#      (a send gets 2xx, an SSE stream resumes from Last-Event-ID), the death
#      is logged, and the dead master's workers are gone;
#   3. SIGTERM stops tools/run with status 0 and nothing lingers;
#   4. started again on the same directory, parley-events killed again and
#      again makes tools/run give up: non-zero, and nothing lingers.
# Every wait is bounded; a watchdog ends the test before CTest's timeout so
# the cleanup trap still runs.
set -euo pipefail

build=$(cd "${1:?usage: run_supervise_test.sh BUILD_DIR}" && pwd -P)
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)
tmp=$(mktemp -d)
var=$tmp/var          # created by tools/run itself
run_pid=""
seen_pgids=()         # every daemon's process group, killed at exit
kRecoverSeconds=15    # generous: other builds share the CPU
# shellcheck source=run_lib.sh
source "$repo/tests/e2e/run_lib.sh"   # children_of, start_run

fail() {
  local f stat rest
  echo "FAIL: $*" >&2
  if [[ -f $tmp/run.log ]]; then
    echo "--- tools/run output (tail) ---" >&2
    tail -n 40 "$tmp/run.log" >&2
  fi
  # What else a failure in CI needs to be understood afterwards: nginx's
  # view of the requests, and every process of the test's daemons' groups.
  for f in nginx-error.log nginx-access.log; do
    if [[ -f $var/$f ]]; then
      echo "--- $f (tail) ---" >&2
      tail -n 20 "$var/$f" >&2
    fi
  done
  echo "--- processes (tools/run is ${run_pid:-none}): pid ppid pgrp state command ---" >&2
  for stat in /proc/[0-9]*/stat; do
    { read -r rest < "$stat"; } 2>/dev/null || continue
    case $rest in
      "$run_pid "*|*"(parley-"*|*"(nginx)"*) awk '{print $1, $4, $5, $3, $2}' <<< "$rest" >&2 ;;
    esac
  done
  exit 1
}
note() { echo "# $*"; }
# Seconds, with milliseconds, since a mark taken with mark=$EPOCHREALTIME.
since() {
  local now=${EPOCHREALTIME/[.,]/} then=${1/[.,]/} tenths
  tenths=$(( (now - then) / 100000 ))
  echo "$(( tenths / 10 )).$(( tenths % 10 ))"
}

cleanup() {
  local g
  [[ -z $run_pid ]] || stop_run
  for g in "${seen_pgids[@]}"; do
    kill -KILL -- "-$g" 2>/dev/null || true
  done
  rm -rf "$tmp"
}
trap 'fail "watchdog: the test took too long"' USR1
# The watchdog's sleep must not hold the test's stdout open (CTest reads
# it to the end), nor outlive the test: it is killed with its subshell.
( trap 'kill "$nap" 2>/dev/null; exit 0' TERM
  sleep 200 & nap=$!
  wait "$nap" && kill -USR1 $$ ) > /dev/null 2>&1 &
watchdog=$!
trap 'kill $watchdog 2>/dev/null || true; cleanup' EXIT

# find_daemon NAME: sets $dpid to the pid of tools/run's child NAME, waiting
# up to 15 s for it (it may be in its restart backoff).
find_daemon() {
  dpid=""
  for _ in $(seq 150); do
    dpid=$(children_of "$run_pid" "$1" | head -n 1)
    if [[ -n $dpid ]]; then
      seen_pgids+=("$dpid")
      return 0
    fi
    kill -0 "$run_pid" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

# gone PID...: true once none of them runs (a zombie has exited: it only
# waits for whoever adopted it to reap it), waiting up to 10 s.
gone() {
  local p alive rest
  for _ in $(seq 100); do
    alive=0
    for p in "$@"; do
      { read -r rest < "/proc/$p/stat"; } 2>/dev/null || continue
      rest=${rest##*) }
      if [[ ${rest:0:1} != Z ]]; then alive=1; fi
    done
    (( alive )) || return 0
    sleep 0.1
  done
  return 1
}

# api METHOD PATH [BODY]: sets $code and $body.
api() {
  local args=(-sS -o "$tmp/body" -w '%{http_code}' --max-time 5 -X "$1" "$url$2")
  [[ -z ${token:-} ]] || args+=(-H "Authorization: Bearer $token")
  [[ $# -lt 3 ]] || args+=(-H 'Content-Type: application/json' --data-binary "$3")
  code=$(curl "${args[@]}" 2>/dev/null) || code=000
  body=$(cat "$tmp/body" 2>/dev/null || true)
}

# send CLIENT_ID: sends a message to the room like a real client: a failed
# attempt is retried with the same client_id until it is answered 2xx (or
# kRecoverSeconds pass); sets $msg_id.
send() {
  local deadline=$(( SECONDS + kRecoverSeconds ))
  while (( SECONDS < deadline )); do
    api POST "/api/rooms/$room/messages" "{\"text\":\"supervised $1\",\"client_id\":\"$1\"}"
    if [[ $code == 20[01] ]]; then
      msg_id=$(sed -E 's/^\{"message":\{"id":([0-9]+).*/\1/' <<< "$body")
      [[ $msg_id =~ ^[0-9]+$ ]] || fail "no message id in $body"
      return 0
    fi
    sleep 0.2
  done
  fail "send $1: no 2xx within $kRecoverSeconds s (last: $code $body)"
}

# stream_from LAST_ID FILE SECONDS: an SSE stream resuming after LAST_ID,
# its body in FILE, for at most SECONDS.
stream_from() {
  curl -sN --max-time "$3" -H "Authorization: Bearer $token" -H "Last-Event-ID: $1" \
    "$url/events/stream" > "$2" 2>/dev/null || true
}

# resumes_to LAST_ID WANT_ID: a stream resuming after LAST_ID delivers
# WANT_ID, retrying (a daemon may still be coming back) for kRecoverSeconds.
resumes_to() {
  local deadline=$(( SECONDS + kRecoverSeconds )) reader
  while (( SECONDS < deadline )); do
    curl -sN --max-time 5 -H "Authorization: Bearer $token" -H "Last-Event-ID: $1" \
      "$url/events/stream" > "$tmp/resume" 2>/dev/null &
    reader=$!
    for _ in $(seq 50); do
      if grep -qx "id: $2" "$tmp/resume"; then
        kill "$reader" 2>/dev/null || true
        wait "$reader" || true
        return 0
      fi
      kill -0 "$reader" 2>/dev/null || break
      sleep 0.1
    done
    kill "$reader" 2>/dev/null || true
    wait "$reader" || true
    sleep 0.2
  done
  fail "no SSE stream resumed after $1 up to $2 within $kRecoverSeconds s"
}

# ---- 1. start; modes ------------------------------------------------------
start_run PARLEY_WORKERS=2
note "tools/run up on $url"
token=""
api POST /api/register '{"username":"sup_alice","password":"correct-horse-battery"}'
[[ $code == 201 ]] || fail "register: $code $body"
token=$(sed -E 's/.*"token":"([0-9a-f]+)".*/\1/' <<< "$body")
api GET /api/rooms
room=$({ grep -oE '"id":[0-9]+,"name":"general"' <<< "$body" || true; } | grep -oE '[0-9]+' | head -n 1 || true)
[[ -n $room ]] || fail "no room general in $body"
send first-1

[[ $(stat -c %a "$var") == 700 ]] || fail "$var is $(stat -c %a "$var"), not 700"
for f in parley.db parley.db-wal parley.db-shm; do
  [[ -e $var/$f ]] || fail "$var/$f does not exist"
done
loose=$(find "$var" -type f -perm /077 -printf '%m %p\n')
[[ -z $loose ]] || fail "files readable beyond their owner: $loose"
note "modes: $var $(stat -c %a "$var"); $(cd "$var" && stat -c '%n %a' parley.db parley.db-wal parley.db-shm | tr '\n' ' ')"
# Sockets: 0660 at most (the daemons set it; nginx is the same user or root).
loose=$(find "$var" -type s -perm /007 -printf '%m %p\n')
[[ -z $loose ]] || fail "sockets open to others: $loose"
note "sockets: $(cd "$var" && stat -c '%n %a' ./*.sock | tr '\n' ' ')"

# ---- 2. kill -9 each daemon -----------------------------------------------
# parley-events: a live stream ends; a new one resumes from its last id.
find_daemon parley-events || fail "no parley-events under tools/run"
events=$dpid
stream_from 0 "$tmp/live" 20 &
live=$!
send before-events-kill
before=$msg_id
for _ in $(seq 100); do
  if grep -qx "id: $before" "$tmp/live"; then break; fi
  sleep 0.1
done
grep -qx "id: $before" "$tmp/live" || fail "the live stream never got id $before"
t0=$EPOCHREALTIME
kill -KILL "$events"
wait "$live" || true   # nginx ends the stream when its upstream dies
last=$(grep -E '^id: [0-9]+$' "$tmp/live" | tail -n 1 | cut -d' ' -f2)
send after-events-kill
sent=$(since "$t0")
resumes_to "$last" "$msg_id"
note "parley-events (pid $events) killed: a send answered 2xx after $sent s, an SSE stream resumed after $(since "$t0") s"
grep -q "parley-events (pid $events) killed by signal 9 (KILL); restarting" "$tmp/run.log" ||
  fail "the death of parley-events was not logged"
find_daemon parley-events || fail "parley-events was not restarted"
[[ $dpid != "$events" ]] || fail "parley-events was not restarted"

# kill_master NAME CLIENT_ID: kill -9 of daemon NAME's master process; the
# service answers again, and the workers it forked do not linger (pool
# workers as orphans on an unlinked socket; nginx workers would keep the
# port).
kill_master() {
  local name=$1 master t0 sent workers
  find_daemon "$name" || fail "no $name under tools/run"
  master=$dpid
  mapfile -t workers < <(children_of "$master" "$name")
  (( ${#workers[@]} >= 1 )) || fail "no workers under $name $master"
  t0=$EPOCHREALTIME
  kill -KILL "$master"
  send "$2"
  sent=$(since "$t0")
  resumes_to "$before" "$msg_id"
  note "$name master (pid $master) killed: a send answered 2xx after $sent s, an SSE stream resumed after $(since "$t0") s"
  gone "${workers[@]}" || fail "workers ${workers[*]} of the killed $name master still run"
  grep -q "$name (pid $master) killed by signal 9 (KILL); restarting" "$tmp/run.log" ||
    fail "the death of $name was not logged"
}
kill_master parley-fcgi after-fcgi-kill
kill_master nginx after-nginx-kill

# Two daemons dying at once: the second dies while tools/run waits out the
# first one's backoff, so bash reaps it then and `wait -n` no longer knows
# it; it must be found and restarted all the same.
find_daemon parley-fcgi || fail "no parley-fcgi under tools/run"
fcgi_master=$dpid
find_daemon nginx || fail "no nginx under tools/run"
nginx_master=$dpid
mapfile -t nginx_workers < <(children_of "$nginx_master" nginx)
kill -KILL "$fcgi_master" "$nginx_master"
send after-both-killed
gone "${nginx_workers[@]}" || fail "workers ${nginx_workers[*]} of the killed nginx master still run"
# The second one was reaped while tools/run waited for something else; its
# status is still the one reported (bash keeps it for a plain `wait PID`).
for pid in "$fcgi_master" "$nginx_master"; do
  grep -q "(pid $pid) killed by signal 9 (KILL); restarting" "$tmp/run.log" ||
    fail "the death of pid $pid was not handled, or not with its status"
done
note "parley-fcgi and nginx masters killed at once: both restarted, a send answered"

# Every acknowledged send stored once (retries reuse their client_id). The
# send above may have gone through the killed nginx's last worker before
# tools/run's new nginx listens: read until one answers (a CI run read
# nothing here, once, and found no message).
deadline=$(( SECONDS + kRecoverSeconds ))
api GET "/api/rooms/$room/messages?limit=50"
while [[ $code != 200 ]] && (( SECONDS < deadline )); do
  sleep 0.2
  api GET "/api/rooms/$room/messages?limit=50"
done
[[ $code == 200 ]] || fail "history: no 200 within $kRecoverSeconds s (last: $code $body)"
for cid in first-1 before-events-kill after-events-kill after-fcgi-kill after-nginx-kill after-both-killed; do
  n=$({ grep -o "\"client_id\":\"$cid\"" <<< "$body" || true; } | wc -l)
  [[ $n == 1 ]] || fail "client_id $cid stored $n times"
done

# ---- 3. SIGTERM stops everything --------------------------------------------
mapfile -t all < <(children_of "$run_pid" parley-fcgi; children_of "$run_pid" parley-events;
                   children_of "$run_pid" nginx)
kill -TERM "$run_pid"
gone "$run_pid" || fail "tools/run did not stop within 10 s of SIGTERM"
status=0
wait "$run_pid" || status=$?
[[ $status == 0 ]] || fail "tools/run exited $status after SIGTERM"
for g in "${all[@]}"; do
  if kill -0 -- "-$g" 2>/dev/null; then fail "process group $g lingers after SIGTERM"; fi
done
note "SIGTERM: tools/run exited 0, nothing left"

# ---- 4. a crash loop makes it give up ----------------------------------------
chmod 755 "$var"   # a directory from a looser run is made private again
start_run PARLEY_WORKERS=2
[[ $(stat -c %a "$var") == 700 ]] || fail "a reused $var was left $(stat -c %a "$var")"
kills=0
t0=$SECONDS
while kill -0 "$run_pid" 2>/dev/null && (( kills < 6 )); do
  find_daemon parley-events || break
  pid=$dpid
  kill -KILL "$pid"
  kills=$(( kills + 1 ))
  # Wait for tools/run to notice before looking for the next one.
  for _ in $(seq 100); do
    if grep -q "parley-events (pid $pid) killed" "$tmp/run.log"; then break; fi
    sleep 0.1
  done
done
gone "$run_pid" || fail "tools/run still runs after $kills kills of parley-events"
status=0
wait "$run_pid" || status=$?
(( status != 0 )) || fail "tools/run gave up with status 0"
grep -q "giving up" "$tmp/run.log" || fail "no 'giving up' message"
for g in "${seen_pgids[@]}"; do
  if kill -0 -- "-$g" 2>/dev/null; then fail "process group $g lingers after giving up"; fi
done
grep '^run: ' "$tmp/run.log" | sed 's/^/#   /'
note "gave up after $kills kills in $(( SECONDS - t0 )) s with status $status: $(grep 'giving up' "$tmp/run.log")"
echo "PASS"
