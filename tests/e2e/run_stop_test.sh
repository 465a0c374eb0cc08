#!/usr/bin/env bash
# tests/e2e/run_stop_test.sh BUILD_DIR: SIGTERM to tools/run (Ctrl-C) while
# SSE streams are held through nginx: every stream ends cleanly, with
# parley-events' closing comment and the end of the chunked body (curl exit
# 0), so an EventSource reconnects at once instead of reporting an error.
# tools/run used to send nginx SIGTERM, nginx's fast shutdown, which closes
# client connections at once: streams were cut mid-body when nginx won the
# race against parley-events closing them (curl exit 18).
set -euo pipefail

build=$(cd "${1:?usage: run_stop_test.sh BUILD_DIR}" && pwd -P)
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)
tmp=$(mktemp -d)
var=$tmp/var
run_pid=""
kStreams=30  # under the 32 per user of parley-events

cleanup() {
  [[ -z $run_pid ]] || stop_run
  # The streams' curls are ours.
  jobs -p | xargs -r kill 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
# shellcheck source=run_lib.sh
source "$repo/tests/e2e/run_lib.sh"

# One start, 30 streams, one SIGTERM; the cut is a race (about one round
# in three lost it before the fix), so the test runs three rounds.
one_round() {
  rm -f "$tmp"/stream*
  start_run
  url=http://127.0.0.1:$port
  token=$(curl -s --max-time 10 "$url/api/register" -H 'Content-Type: application/json' \
    -d '{"username":"stopper'"$1"'","password":"correct horse"}' | sed -nE 's/.*"token":"([0-9a-f]+)".*/\1/p')
  [[ -n $token ]] || fail "no token"

  for i in $(seq "$kStreams"); do
    ( set +e
      curl -sN --max-time 30 "$url/events/stream" -H "Authorization: Bearer $token" -o "$tmp/stream$i.out"
      echo $? > "$tmp/stream$i.rc" ) &
  done
  # Every stream open (its hello arrived) before the stop. grep finds no
  # file, or no hello, until the first stream answers: without `|| true`,
  # pipefail and set -e ended the test there, with no message, whenever
  # the first look came before the first hello (a loaded CI machine).
  for _ in $(seq 100); do
    n=$({ grep -l "event: hello" "$tmp"/stream*.out 2>/dev/null || true; } | wc -l)
    (( n == kStreams )) && break
    sleep 0.1
  done
  (( n == kStreams )) || fail "only $n of $kStreams streams opened"

  mark=$SECONDS
  kill -TERM "$run_pid"
  for _ in $(seq 150); do kill -0 "$run_pid" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$run_pid" 2>/dev/null && fail "tools/run still runs 15 s after SIGTERM"
  set +e; wait "$run_pid"; rc=$?; set -e
  run_pid=""
  (( rc == 0 )) || fail "tools/run exited $rc after SIGTERM"
  ! grep -q "did not stop" "$tmp/run.log" || fail "a daemon had to be killed: $(grep "did not stop" "$tmp/run.log")"
  echo "# tools/run stopped in $((SECONDS - mark)) s"
  for _ in $(seq 100); do
    (( $(ls "$tmp"/stream*.rc 2>/dev/null | wc -l) == kStreams )) && break
    sleep 0.1
  done
  cut=0
  for i in $(seq "$kStreams"); do
    rc=$(cat "$tmp/stream$i.rc" 2>/dev/null || echo none)
    if [[ $rc != 0 ]] || ! grep -q ": closing; reconnect" "$tmp/stream$i.out"; then cut=$((cut + 1)); fi
  done
  (( cut == 0 )) || fail "$cut of $kStreams streams were cut instead of closed (curl exit 18: no end of the chunked body)"
}

for round in 1 2 3; do
  one_round "$round"
  echo "# round $round: $kStreams streams closed cleanly on SIGTERM"
done
echo "PASS"
