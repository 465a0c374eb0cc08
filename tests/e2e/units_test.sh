#!/usr/bin/env bash
# The shipped systemd units (tools/parley-*.service) and nginx/parley.conf
# can serve uploads (DESIGN 3.2 and 6), checked without systemd:
#  1. systemd-analyze verify accepts both units without a warning (the built
#     binaries stand in for /usr/local/bin/parley-*), and parley-fcgi's
#     system call filter allows what a reload needs.
#  2. Paths: both units' database sits in their StateDirectory, whose spool/
#     and uploads/ are where nginx spools POST /api/uploads
#     (client_body_temp_path) and what /_parley_uploads/ aliases, as the
#     worker derives them from --db (fcgi/worker.cc) and parley-events too
#     (events/upload_sweep.cc); the units agree on modes, group and umask.
#  3. Modes (as root): the tree the units make is built in a scratch
#     directory and used by real processes under nginx's uid (www-data) and
#     a stand-in uid for `parley` (group www-data), switched with setpriv:
#     nginx spools a body; the pool reads it only with the unit's one
#     capability and renames it into uploads/; nginx then opens the upload
#     but can neither list the directories nor read the database;
#     parley-events removes the upload.
# Usage: units_test.sh BUILD_DIR
set -euo pipefail
build=$(cd "${1:?usage: units_test.sh BUILD_DIR}" && pwd)
src=$(cd "$(dirname "$0")/../.." && pwd)
fcgi_unit=$src/tools/parley-fcgi.service
events_unit=$src/tools/parley-events.service
conf=$src/nginx/parley.conf
failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
ok() { echo "ok: $*"; }
# The values of KEY= in a unit, one per line.
key() { sed -n "s/^$2=//p" "$1"; }
expect_eq() {  # what got want
  if [[ "$2" == "$3" ]]; then ok "$1: $2"; else fail "$1: got '$2', want '$3'"; fi
}

# 1. systemd-analyze verify.
if command -v systemd-analyze >/dev/null; then
  scratch=$(mktemp -d)
  trap 'rm -rf "$scratch"' EXIT
  for unit in "$fcgi_unit" "$events_unit"; do
    sed -e "s|/usr/local/bin/parley-fcgi|$build/fcgi/parley-fcgi|" \
        -e "s|/usr/local/bin/parley-events|$build/events/parley-events|" "$unit" >"$scratch/$(basename "$unit")"
  done
  out=$(cd "$scratch" && timeout 60 systemd-analyze verify ./parley-fcgi.service ./parley-events.service 2>&1) ||
    fail "systemd-analyze verify failed: $out"
  if [[ -n "$out" ]]; then fail "systemd-analyze verify warns: $out"; else ok "systemd-analyze verify"; fi
  # A reload (SIGHUP) passes the kept connections to the master and execs
  # the binary again (fcgi/handoff.h, fcgi/reexec.h), and parley-events
  # execs itself on an upgrade: the units' SystemCallFilter= lines must
  # leave those calls allowed.
  calls() {  # the system calls of a group, its nested groups expanded
    local item
    for item in $(systemd-analyze syscall-filter "$1" | sed -n 's/^    \([-@a-z_0-9]*\)$/\1/p'); do
      if [[ $item == @* ]]; then calls "$item"; else echo "$item"; fi
    done
  }
  # allows UNIT WHY CALL...: each call is left allowed by UNIT's
  # SystemCallFilter= lines.
  allows() {
    local unit=$1 why=$2 allowed="" denied="" line deny item list call
    shift 2
    while read -r line; do  # one SystemCallFilter= line; "~" denies all of it
      deny=0
      if [[ $line == '~'* ]]; then deny=1; line=${line#\~}; fi
      for item in $line; do
        list=$item
        if [[ $item == @* ]]; then list=$(calls "$item" | tr "\n" " "); fi
        if (( deny )); then denied+=" $list"; else allowed+=" $list"; fi
      done
    done < <(key "$unit" SystemCallFilter)
    for call in "$@"; do
      if [[ " $allowed " == *" $call "* && " $denied " != *" $call "* ]]; then
        ok "$(basename "$unit") allows $call ($why)"
      else
        fail "$(basename "$unit")'s SystemCallFilter refuses $call, which $why needs"
      fi
    done
  }
  allows "$fcgi_unit" "a reload" execve socketpair sendmsg recvmsg fcntl
  # parley-events' upgrade (events/reexec.h) execs itself with its sockets.
  allows "$events_unit" "an upgrade" execve fcntl
else
  echo "skip: systemd-analyze is not installed (apt-get install systemd)"
fi

# 2. Paths and settings.
state=/var/lib/$(key "$fcgi_unit" StateDirectory)
expect_eq "parley-events' StateDirectory" "/var/lib/$(key "$events_unit" StateDirectory)" "$state"
fcgi_db=$(key "$fcgi_unit" ExecStart | sed -n 's/.*--db \([^ ]*\).*/\1/p')
events_db=$(key "$events_unit" ExecStart | sed -n 's/.*--db \([^ ]*\).*/\1/p')
expect_eq "parley-fcgi's database directory" "$(dirname "$fcgi_db")" "$state"
expect_eq "parley-events' database" "$events_db" "$fcgi_db"
spool=$(sed -n 's/^ *client_body_temp_path \([^ ;]*\);.*/\1/p' "$conf")
expect_eq "nginx's client_body_temp_path (the worker's spool)" "$spool" "$state/spool"
alias=$(sed -n '/location \^~ \/_parley_uploads\//,/}/s/^ *alias \([^ ;]*\);.*/\1/p' "$conf")
expect_eq "nginx's /_parley_uploads/ alias (the uploads)" "$alias" "$state/uploads/"
for unit in "$fcgi_unit" "$events_unit"; do
  name=$(basename "$unit")
  expect_eq "$name StateDirectoryMode" "$(key "$unit" StateDirectoryMode)" "0710"
  expect_eq "$name UMask" "$(key "$unit" UMask)" "0077"
  expect_eq "$name Group (nginx's)" "$(key "$unit" Group)" "www-data"
  expect_eq "$name User" "$(key "$unit" User)" "parley"
  grep -qx "ReadWritePaths=$state.*" "$unit" && ok "$name may write $state" || fail "$name: no ReadWritePaths=$state"
done
pre=$(key "$fcgi_unit" ExecStartPre)
grep -qx -- "+/usr/bin/install -d -o parley -g www-data -m 0770 $state/spool" <<<"$pre" && ok "spool made 0770" ||
  fail "parley-fcgi.service does not make $state/spool 0770 parley:www-data"
grep -qx -- "+/usr/bin/install -d -o parley -g www-data -m 0710 $state/uploads" <<<"$pre" && ok "uploads made 0710" ||
  fail "parley-fcgi.service does not make $state/uploads 0710 parley:www-data"
expect_eq "parley-fcgi's capability" "$(key "$fcgi_unit" AmbientCapabilities)" "CAP_DAC_READ_SEARCH"
expect_eq "parley-fcgi's bounding set" "$(key "$fcgi_unit" CapabilityBoundingSet)" "CAP_DAC_READ_SEARCH"
expect_eq "parley-events' capabilities" "$(key "$events_unit" AmbientCapabilities)" ""

# 3. Modes, with real processes.
if [[ $(id -u) -ne 0 ]] || ! command -v setpriv >/dev/null || ! getent passwd www-data >/dev/null; then
  echo "skip: the modes check needs root, setpriv and a www-data user"
else
  nginx_uid=$(id -u www-data)
  group=$(getent group www-data | cut -d: -f3)
  parley_uid=64999  # a stand-in for the parley system user, unused here
  if getent passwd "$parley_uid" >/dev/null; then fail "uid $parley_uid is taken"; fi
  as_nginx() { setpriv --reuid="$nginx_uid" --regid="$group" --clear-groups "$@"; }
  as_parley() { setpriv --reuid="$parley_uid" --regid="$group" --clear-groups "$@"; }
  as_pool() {  # parley-fcgi: the parley user with its one capability
    setpriv --reuid="$parley_uid" --regid="$group" --clear-groups --inh-caps=+dac_read_search \
      --ambient-caps=+dac_read_search "$@"
  }
  root=$(mktemp -d)
  trap 'rm -rf "$scratch" "$root"' EXIT
  chmod 0711 "$root"
  dir=$root/parley
  # What systemd makes (StateDirectory, ExecStartPre) and what the daemons do.
  install -d -o "$parley_uid" -g "$group" -m 0710 "$dir"
  install -d -o "$parley_uid" -g "$group" -m 0770 "$dir/spool"
  install -d -o "$parley_uid" -g "$group" -m 0710 "$dir/uploads"
  as_parley sh -c "umask 0077 && echo 'password hashes' >'$dir/parley.db'"
  # nginx spools a body: a file of its own, 0600 (ngx_create_temp_file).
  as_nginx sh -c "umask 0077 && printf 'PNG bytes' >'$dir/spool/0000000001'" && ok "nginx spools into spool/" ||
    fail "nginx cannot write to spool/"
  if as_parley cat "$dir/spool/0000000001" >/dev/null 2>&1; then
    fail "the spooled file is readable without the capability (the unit asks for more than it needs)"
  else
    ok "without the capability the pool could not read the spooled file"
  fi
  head=$(as_pool head -c 3 "$dir/spool/0000000001" 2>&1) || true
  expect_eq "the pool reads the spooled file's first bytes" "$head" "PNG"
  as_pool mv "$dir/spool/0000000001" "$dir/uploads/4242" && ok "the pool renames it into uploads/" ||
    fail "the pool cannot rename from spool/ to uploads/"
  got=$(as_nginx cat "$dir/uploads/4242" 2>&1) || true
  expect_eq "nginx sends the upload" "$got" "PNG bytes"
  as_nginx ls "$dir" >/dev/null 2>&1 && fail "nginx can list $dir" || ok "nginx cannot list the state directory"
  as_nginx ls "$dir/uploads" >/dev/null 2>&1 && fail "nginx can list uploads/" || ok "nginx cannot list uploads/"
  as_nginx cat "$dir/parley.db" >/dev/null 2>&1 && fail "nginx can read the database" ||
    ok "nginx cannot read the database"
  as_parley rm "$dir/uploads/4242" && ok "parley-events removes an unused upload" ||
    fail "parley-events cannot remove an upload"
fi

if [[ $failures -gt 0 ]]; then
  echo "$failures check(s) failed" >&2
  exit 1
fi
echo "all checks passed"
