#!/usr/bin/env bash
# tests/e2e/run_orphans_test.sh BUILD_DIR: tools/run killed with SIGKILL (an
# operator's kill -9, the OOM killer) takes its daemons with it. Its daemons
# run in sessions of their own, so they used to run on as orphans holding
# the port and the sockets, and the next tools/run on the same PARLEY_VAR
# refused to start. Then: a second tools/run on that directory starts and
# answers. Every wait is bounded.
set -euo pipefail

build=$(cd "${1:?usage: run_orphans_test.sh BUILD_DIR}" && pwd -P)
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)
tmp=$(mktemp -d)
var=$tmp/var
run_pid=""
daemons=()

cleanup() {
  local p
  [[ -z $run_pid ]] || kill -TERM "$run_pid" 2>/dev/null || true
  sleep 0.5
  for p in "${daemons[@]}"; do kill -KILL -- "-$p" 2>/dev/null || true; done
  [[ -z $run_pid ]] || kill -KILL "$run_pid" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
# shellcheck source=run_lib.sh
source "$repo/tests/e2e/run_lib.sh"

# Whether process PID still runs (and is no zombie).
alive() {
  local rest
  { read -r rest < "/proc/$1/stat"; } 2>/dev/null || return 1
  rest=${rest##*) }
  [[ ${rest:0:1} != Z ]]
}

start_run
# Its daemons, not the supervision loop's one-second `sleep`.
mapfile -t daemons < <(children_of "$run_pid" parley-fcgi parley-events nginx)
(( ${#daemons[@]} == 3 )) || fail "expected 3 daemons under tools/run, found ${#daemons[@]}"
kill -KILL "$run_pid"
wait "$run_pid" 2>/dev/null || true
run_pid=""
for _ in $(seq 100); do   # 10 s: parley-fcgi drains, nginx stops its workers
  left=()
  for p in "${daemons[@]}"; do if alive "$p"; then left+=("$p"); fi; done
  (( ${#left[@]} )) || break
  sleep 0.1
done
(( ${#left[@]} == 0 )) || fail "daemons left running after kill -9 of tools/run: $(for p in "${left[@]}"; do tr '\0' ' ' < "/proc/$p/cmdline"; echo; done)"
echo "# every daemon stopped after kill -9 of tools/run"

start_run
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:$port/api/health") || true
[[ $code == 200 ]] || fail "the second tools/run on the same directory answers $code"
echo "# tools/run started again on the same directory"
echo "PASS"
