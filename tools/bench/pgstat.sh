# shellcheck shell=bash
# tools/bench/pgstat.sh: pg_stat_statements for the benchmarks that run on
# PostgreSQL (sourced by tools/bench/api and tools/bench/cluster, not run).
# A profile, not a figure: the extension costs the server a little CPU.

# pgstat_start DIR: a tools/pg server in DIR with pg_stat_statements
# loaded (it must be preloaded, so the server starts twice) and the
# extension created. A later `tools/pg start DIR` finds it running.
pgstat_start() {
  "$repo/tools/pg" start "$1" > /dev/null
  # Planning tracked too (a statement planned at each call costs its
  # planning every time), and statements inside functions (triggers).
  printf '%s\n' "shared_preload_libraries = 'pg_stat_statements'" \
    "pg_stat_statements.track_planning = on" "pg_stat_statements.track = all" >> "$1/data/postgresql.conf"
  "$repo/tools/pg" stop "$1" > /dev/null
  "$repo/tools/pg" start "$1" > /dev/null
  psql -X -q -h "$1" -U parley -d parley -c "CREATE EXTENSION pg_stat_statements" > /dev/null
}

pgstat_psql() { psql -X -q -tA -h "$1" -U parley -d parley "${@:2}"; }

# pgstat_reset DIR: forgets what ran before (set-up, an earlier workload).
pgstat_reset() { pgstat_psql "$1" -c "SELECT pg_stat_statements_reset()" > /dev/null; }

# pgstat_report DIR REQUESTS WHAT: prints to stderr the statements since the
# reset, most total time first, each with its calls and server ms per
# request (execution), its plans and planning ms per request and rows per
# call, those run inside a trigger or function marked "(nested)"; prints to
# stdout the statements the client sent per request.
pgstat_report() {
  local dir=$1 served=${2:-1} what=$3
  (( served > 0 )) || served=1
  echo "bench: $what, per request: calls, server ms, plans, planning ms, rows per call, statement" >&2
  pgstat_psql "$dir" -F ' | ' -c "SELECT round(calls::numeric / $served, 2),
      round((total_exec_time / $served)::numeric, 3), round(plans::numeric / $served, 2),
      round((total_plan_time / $served)::numeric, 3), round(rows::numeric / greatest(calls, 1), 1),
      CASE WHEN toplevel THEN '' ELSE '(nested) ' END || left(regexp_replace(query, '\s+', ' ', 'g'), 110) FROM pg_stat_statements
      WHERE query NOT LIKE '%pg_stat_statements%' ORDER BY total_exec_time + total_plan_time DESC LIMIT 20" >&2
  # Statements the pool sent, as before nested ones were tracked (toplevel).
  pgstat_psql "$dir" -c "SELECT round(coalesce(sum(calls), 0)::numeric / $served, 2) FROM pg_stat_statements
      WHERE toplevel AND query NOT LIKE '%pg_stat_statements%'"
}
