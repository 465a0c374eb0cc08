# tests/e2e/run_lib.sh: sourced by the tools/run tests (run_orphans_test.sh,
# run_stop_test.sh). They set build, repo, tmp and var and define fail.

# start_run: tools/run on a random loopback port, its output in
# $tmp/run.log; sets port and run_pid once "Parley is running". A port
# taken by someone else meanwhile costs another try (three in all).
start_run() {
  local attempt
  for attempt in 1 2 3; do
    port=$(( 18000 + RANDOM % 10000 ))
    : > "$tmp/run.log"
    PARLEY_NO_BUILD=1 PARLEY_BUILD_DIR="$build" PARLEY_PORT=$port PARLEY_VAR="$var" \
      PARLEY_LIMITS=off bash "$repo/tools/run" > "$tmp/run.log" 2>&1 &
    run_pid=$!
    for _ in $(seq 300); do
      grep -q "Parley is running" "$tmp/run.log" && return 0
      kill -0 "$run_pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -0 "$run_pid" 2>/dev/null && fail "tools/run did not start within 30 s"
    wait "$run_pid" || true
    grep -q "port $port on 127.0.0.1 is already in use" "$tmp/run.log" || fail "tools/run exited during start-up"
  done
  fail "no free port after 3 attempts"
}
