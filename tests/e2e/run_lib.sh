# tests/e2e/run_lib.sh: sourced by the tools/run tests (run_orphans_test.sh,
# run_stop_test.sh, run_supervise_test.sh, run_logs_test.sh). start_run needs build, repo, tmp
# and var set. A script may define a fail of its own before it sources this.

# fail MESSAGE: says why, with the tail of tools/run's output, and exits 1.
if ! declare -F fail > /dev/null; then
  fail() {
    echo "FAIL: $*" >&2
    [[ ! -f $tmp/run.log ]] || { echo "--- tools/run output (tail) ---" >&2; tail -n 30 "$tmp/run.log" >&2; }
    exit 1
  }
fi

# A command that fails where set -e ends the script says so: such an exit
# used to leave only ctest's "Failed" and no line to start from. The trap
# also runs under set +e, where a failure is expected and says nothing.
on_err() { [[ $- != *e* ]] || echo "FAIL: line $2: \"$3\" exited $1" >&2; }
trap 'on_err $? "$LINENO" "$BASH_COMMAND"' ERR

# children_of PARENT NAME...: pids of PARENT's live (not zombie) children
# whose command is one of NAMEs, from /proc, so it needs no procps.
children_of() {
  local parent=$1 stat rest pid comm state ppid name
  shift
  for stat in /proc/[0-9]*/stat; do
    { read -r rest < "$stat"; } 2>/dev/null || continue
    pid=${rest%% *}
    comm=${rest#*(}; comm=${comm%)*}
    rest=${rest##*) }
    read -r state ppid _ <<< "$rest"
    [[ $ppid == "$parent" && $state != Z ]] || continue
    for name; do
      if [[ $comm == "$name" ]]; then echo "$pid"; break; fi
    done
  done
}

# stop_run: SIGTERM to tools/run, which stops its daemons and waits for
# them, then SIGKILL after 10 s. A plain SIGKILL left the daemons (given
# their SIGTERM by the kernel: setpriv --pdeathsig) writing into $tmp while
# the test's cleanup removed it.
stop_run() {
  kill -0 "$run_pid" 2>/dev/null || return 0
  kill -TERM "$run_pid" 2>/dev/null || true
  for _ in $(seq 100); do kill -0 "$run_pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$run_pid" 2>/dev/null || true
}

# start_run [NAME=VALUE...]: tools/run on a random loopback port, with
# those variables added to its environment, its output in $tmp/run.log;
# sets port, url and run_pid once "Parley is running". A port taken by
# someone else meanwhile costs another try (three in all).
start_run() {
  local attempt
  for attempt in 1 2 3; do
    port=$(( 18000 + RANDOM % 10000 ))
    : > "$tmp/run.log"
    env "$@" PARLEY_NO_BUILD=1 PARLEY_BUILD_DIR="$build" PARLEY_PORT=$port PARLEY_VAR="$var" \
      PARLEY_LIMITS=off bash "$repo/tools/run" > "$tmp/run.log" 2>&1 &
    run_pid=$!
    for _ in $(seq 300); do   # 30 s
      if grep -q "Parley is running" "$tmp/run.log"; then
        url="http://127.0.0.1:$port"
        return 0
      fi
      kill -0 "$run_pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -0 "$run_pid" 2>/dev/null && fail "tools/run did not start within 30 s"
    wait "$run_pid" || true
    grep -q "port $port on 127.0.0.1 is already in use" "$tmp/run.log" ||
      fail "tools/run exited during start-up (attempt $attempt)"
  done
  fail "no free port after 3 attempts"
}
