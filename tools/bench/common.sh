# shellcheck shell=bash
# Sourced: repo and bench_name come from the caller, bench_* go back to it,
# and cleanup steps are strings evaluated at exit (single quotes on purpose).
# shellcheck disable=SC2016,SC2034,SC2154
#
# tools/bench/common.sh: shared by tools/bench/events and tools/bench/nchan
# (sourced, not run). Starts Parley with tools/run on a free loopback port in
# a temporary directory, creates accounts and sessions, and stops it all on
# exit. Callers set `repo` and `bench_name` first, and may call
# bench_cleanup_hook to add their own cleanup.

# shellcheck source=tools/bench/fts.sh
source "$(dirname "${BASH_SOURCE[0]}")/fts.sh"  # beside this file: repo may be another checkout
# shellcheck source=tools/bench/tree.sh
source "$(dirname "${BASH_SOURCE[0]}")/tree.sh"
# shellcheck source=tools/bench/ticks.sh
source "$(dirname "${BASH_SOURCE[0]}")/ticks.sh"

die() { echo "bench/$bench_name: $*" >&2; exit 1; }

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
# free_port FIRST: the first free port from FIRST on (100 tried).
free_port() {
  local p
  for p in $(seq "$1" $(( $1 + 99 ))); do
    if port_free "$p"; then echo "$p"; return 0; fi
  done
  return 1
}

# Cleanup steps run in reverse order of registration, on any exit.
bench_cleanups=()
bench_cleanup_hook() { bench_cleanups+=("$1"); }
bench_cleanup() {
  local i
  for (( i = ${#bench_cleanups[@]} - 1; i >= 0; i-- )); do eval "${bench_cleanups[$i]}" || true; done
}
trap bench_cleanup EXIT

bench_var=$(mktemp -d "/tmp/parley-bench-$bench_name.XXXXXX")
bench_cleanup_hook 'if [[ ${PARLEY_BENCH_KEEP:-0} == 1 ]]; then echo "bench/$bench_name: kept $bench_var" >&2; else rm -rf "$bench_var"; fi'

# start_parley PORT: tools/run in the background (it builds first), then
# waits until the API and the push daemon answer. Sets parley_base. Rate
# limits off, unless the caller set bench_limits=on.
start_parley() {
  local port=$1 _
  (cd "$repo" && PARLEY_LIMITS=${bench_limits:-off} PARLEY_PORT=$port PARLEY_VAR=$bench_var/parley \
    exec setsid tools/run > "$bench_var/run.log" 2>&1) &
  parley_pid=$!
  # tools/run stops its children on SIGTERM within a few seconds.
  bench_cleanup_hook 'stop_pid "$parley_pid"'
  parley_base="http://127.0.0.1:$port"
  for _ in $(seq 1 1800); do  # a full build may come first
    curl -fsS "$parley_base/api/health" > /dev/null 2>&1 && break
    kill -0 "$parley_pid" 2>/dev/null || { tail -n 30 "$bench_var/run.log" >&2; die "tools/run exited"; }
    sleep 0.5
  done
  curl -fsS "$parley_base/api/health" > /dev/null 2>&1 || die "no answer from $parley_base/api/health (log: $bench_var/run.log)"
  curl -fsS "$parley_base/events/stats" > /dev/null 2>&1 || die "parley-events does not answer on $parley_base/events/stats"
  loadgen=$repo/build/tools/loadgen/parley-loadgen
  parleyctl=$repo/build/tools/parleyctl
  [[ -x $loadgen && -x $parleyctl ]] || die "missing $loadgen or $parleyctl after the build"
}

# fcgi_pids: the parley-fcgi processes of this run.
fcgi_pids() { pgrep -f "parley-fcgi .*$bench_var/" | tr '\n' ' '; }
# role_ticks PATTERN [MEASURE [NAME...]]: "NAME PID VALUE" for each process
# whose command line contains PATTERN (a run's directory), named one of the
# NAMEs (default: the stack's daemons and servers), whose parent has another
# name: a pool's or nginx's workers and PostgreSQL's backends count with
# their root. VALUE is `MEASURE PID` (default tree_ticks).
role_ticks() {
  local pattern=$1 measure=${2:-tree_ticks} pid comm
  local names=" ${*:3} "
  [[ $names == "  " ]] && names=" parley-fcgi parley-events nginx postgres "
  for pid in $(pgrep -f -- "$pattern"); do
    comm=$(cat "/proc/$pid/comm" 2>/dev/null) || continue
    [[ $names == *" $comm "* ]] || continue
    [[ $(cat "/proc/$(awk '{print $4}' "/proc/$pid/stat" 2>/dev/null)/comm" 2>/dev/null) == "$comm" ]] && continue
    echo "$comm $pid $($measure "$pid")"
  done
}
# busy_ticks: the machine's busy CPU ticks so far, every process's (all
# of /proc/stat's first line but idle and iowait).
busy_ticks() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9; exit }' /proc/stat; }

# wrk_cpu TOKEN PATH SECONDS: wrk with one connection on GET PATH
# (rooms.lua) for SECONDS; prints `"wrk":LINE,"fcgi_cpu_us":N`, wrk's summary
# and parley-fcgi's CPU per request, for the caller's JSON object. The lua
# scripts are those of $results_repo when the caller measures another tree.
wrk_cpu() {
  local line ticks requests
  # shellcheck disable=SC2046
  ticks=$(cpu_ticks $(fcgi_pids))
  line=$(cd "${results_repo:-$repo}" && PARLEY_TOKENS=$1 PARLEY_PATH=$2 \
    wrk -t1 -c1 -d"$3s" --latency -s tools/bench/rooms.lua "$parley_base" | tail -n 1)
  # shellcheck disable=SC2046
  ticks=$(( $(cpu_ticks $(fcgi_pids)) - ticks ))
  requests=$(json_num requests "$line")
  echo "\"wrk\":$line,\"fcgi_cpu_us\":$(( requests > 0 ? ticks * 1000000 / $(getconf CLK_TCK) / requests : 0 ))"
}

# stop_pid PID: TERM, up to 10 s, then KILL its process group.
stop_pid() {
  local pid=$1 _
  [[ -n $pid ]] || return 0
  kill -TERM "$pid" 2>/dev/null || return 0
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

# make_tokens COUNT: accounts lg1..lgCOUNT (in room 1) and one bearer
# session each, "name token" lines in $bench_var/tokens.
make_tokens() {
  "$parleyctl" --db "$bench_var/parley/parley.db" create-users lg "$1" > /dev/null
  "$parleyctl" --db "$bench_var/parley/parley.db" tokens lg "$1" > "$bench_var/tokens"
}

# json_num KEY JSON: the first number member KEY (0 when absent).
json_num() {
  local v
  v=$(grep -o "\"$1\":[0-9.]*" <<< "$2" | head -n 1 | cut -d: -f2)
  echo "${v:-0}"
}
# json_obj_num OBJ KEY JSON: member KEY of the object member OBJ.
json_obj_num() {
  local v
  v=$(grep -o "\"$1\":{[^}]*}" <<< "$3" | head -n 1 | grep -o "\"$2\":[0-9.]*" | cut -d: -f2)
  echo "${v:-0}"
}

bench_rev=$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown)
bench_dirty=$(tree_dirty "$repo")
bench_date=$(date -u +%Y-%m-%dT%H:%M:%SZ)

# index_pending_sql DB: what an indexing commit of Parley runs before its
# COMMIT (Store::IndexEvery, migration 009), for the schema DB has
# (fts_columns).
index_pending_sql() {
  local cols
  cols=$(fts_columns "$1")
  echo "INSERT INTO messages_fts(rowid, $cols) SELECT m.id, m.${cols//, /, m.} FROM messages_fts_pending p
  JOIN messages m ON m.id = p.id ORDER BY p.id;
DELETE FROM messages_fts_pending;"
}
