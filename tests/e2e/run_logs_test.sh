#!/usr/bin/env bash
# tests/e2e/run_logs_test.sh BUILD_DIR: tools/run bounds nginx's logs under
# PARLEY_VAR, which nginx otherwise appends to for as long as it runs. Past
# PARLEY_LOG_MAX the access log is moved to nginx-access.log.1 and nginx
# reopens it: the new one is small and nginx goes on writing into it. A
# PARLEY_LOG_MAX that is not a byte count of 1000 or more is refused before
# anything starts, as are a PARLEY_PORT or PARLEY_WORKERS that is not a
# plain decimal number (018141 was taken: bash's (( )) read it as bad octal,
# the error made the range check false, and nginx listened on 18141; 010 was
# checked as 8), and tools/nginx-conf's PORT likewise. Every wait is bounded.
set -euo pipefail

# shellcheck disable=SC2034  # read by run_lib.sh's start_run
build=$(cd "${1:?usage: run_logs_test.sh BUILD_DIR}" && pwd -P)
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)
tmp=$(mktemp -d)
var=$tmp/var
run_pid=""

cleanup() {
  stop_run
  rm -rf "$tmp"
}
trap cleanup EXIT
# shellcheck source=run_lib.sh
source "$repo/tests/e2e/run_lib.sh"

# refused NAME VALUE WHAT: tools/run with NAME=VALUE exits 1 saying "bad
# NAME" before it makes PARLEY_VAR. The build directory does not exist: a
# value taken would get as far as "parley-fcgi is missing", never serve.
refused() {
  set +e
  out=$(env "$1=$2" PARLEY_NO_BUILD=1 PARLEY_BUILD_DIR="$tmp/no-build" PARLEY_VAR="$tmp/refused" \
    timeout 20 bash "$repo/tools/run" 2>&1)
  rc=$?
  set -e
  (( rc == 1 )) || fail "$1='$2': tools/run exited $rc: $out"
  [[ $out == *"bad $1: $2"* ]] || fail "$1='$2' was not refused as bad: $out"
  [[ ! -e $tmp/refused ]] || fail "$1='$2' was refused after PARLEY_VAR was made"
}
for bad in abc 0 999 -5 1e9 "64 k" 0x10000 99999999999999; do refused PARLEY_LOG_MAX "$bad"; done
echo "# bad PARLEY_LOG_MAX values refused"

for bad in 018141 010 08 09999 0 65536 99999999999999999999 " 8080" +8080 -1 8080x; do refused PARLEY_PORT "$bad"; done
for bad in 010 08 02 0 " 2" +2 -1 2x; do refused PARLEY_WORKERS "$bad"; done
for bad in 018141 010 08 0 65536 " 8080" +8080; do
  set +e
  out=$(timeout 20 bash "$repo/tools/nginx-conf" "$tmp/conf" "$bad" 2>&1)
  rc=$?
  set -e
  (( rc == 1 )) || fail "tools/nginx-conf with port '$bad' exited $rc: $out"
  [[ $out == *"bad port: $bad"* ]] || fail "tools/nginx-conf took port '$bad': $out"
  [[ ! -e $tmp/conf/nginx.conf ]] || fail "tools/nginx-conf wrote a config for port '$bad'"
done
echo "# PARLEY_PORT, PARLEY_WORKERS and nginx-conf ports with leading zeros or signs refused"

limit=65536
access=$var/nginx-access.log
# requests N: N requests to /api/health from one curl, each a line in the log.
requests() {
  local i
  for (( i = 0; i < $1; i++ )); do printf 'url = "%s/api/health"\noutput = "/dev/null"\n' "$url"; done > "$tmp/curl.cfg"
  curl -s --max-time 60 -K "$tmp/curl.cfg" || fail "curl failed"
}
start_run PARLEY_LOG_MAX=$limit
requests 1000   # over 100 bytes a line: past the limit
for _ in $(seq 100); do [[ -f $access.1 ]] && break; sleep 0.1; done   # 10 s: a 1 s tick, nginx's 1 s flush
[[ -f $access.1 ]] || fail "no $access.1 after $(stat -c %s "$access") bytes of access log (limit $limit)"
moved=$(stat -c %s "$access.1")
(( moved > limit )) || fail "moved at $moved bytes, under the limit of $limit"
echo "# the access log was moved at $moved bytes"

requests 10
for _ in $(seq 50); do [[ -s $access ]] && break; sleep 0.1; done   # 5 s: nginx flushes every second
[[ -s $access ]] || fail "nginx did not reopen its access log: nothing written after the move"
size=$(stat -c %s "$access")
(( size < limit )) || fail "the new access log has $size bytes"
grep -q '"GET /api/health ' "$access" || fail "the new access log holds no request: $(head -c 300 "$access")"
echo "# nginx writes a new access log ($size bytes)"
