# shellcheck shell=bash
# tools/bench/ticks.sh: the CPU time of a stack's processes, from /proc.
# Sourced by the bench scripts (common.sh, api).

# cpu_ticks PID...: their user and system CPU so far, in clock ticks.
cpu_ticks() {
  local total=0 pid fields
  for pid in "$@"; do
    fields=$(cut -d' ' -f14,15 "/proc/$pid/stat" 2>/dev/null) || continue
    total=$(( total + ${fields% *} + ${fields#* } ))
  done
  echo "$total"
}

# tree_ticks PID: PID's CPU ticks so far with its children's (pool
# workers, nginx workers, PostgreSQL backends).
tree_ticks() {
  # shellcheck disable=SC2046
  cpu_ticks "$1" $(pgrep -P "$1")
}
