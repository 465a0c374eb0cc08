# tools/cluster_netns.sh: the network namespaces of `PARLEY_NETNS=1
# tools/cluster N` (sourced by tools/cluster; see its header for the
# picture). Everything here happens inside namespaces this run makes: no
# address, route or link is ever added to the namespace the caller runs in.
#
# Names carry the pid of the tools/cluster that made them
# (parley-<pid>-front, parley-<pid>-h<I>), so two runs never collide, and a
# run that died without cleaning up (kill -9) is recognised by its dead pid
# and swept by the next start.

readonly kNetnsFront=10.77.0.1   # the bridge in front: nginx's and PostgreSQL's address
readonly kNetnsSubnet=10.77.0.0/24
netns_prefix="parley-$$"

# netns_name I: front for 0, else host I's namespace.
netns_name() {
  if [[ $1 == 0 ]]; then echo "$netns_prefix-front"; else echo "$netns_prefix-h$1"; fi
}
# netns_addr I PORT: host I's listening address.
netns_addr() { echo "10.77.0.$((10 + $1)):$2"; }

# Deletes namespace NAME after killing whatever still runs in it.
netns_delete() {
  local pid
  for pid in $(ip netns pids "$1" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null || true; done
  ip netns del "$1" 2>/dev/null || true
}

# Namespaces of runs whose tools/cluster is gone.
netns_sweep() {
  local ns pid
  for ns in $(ip netns list 2>/dev/null | awk '{print $1}'); do
    [[ $ns =~ ^parley-([0-9]+)-(front|h[0-9]+)$ ]] || continue
    pid=${BASH_REMATCH[1]}
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "cluster: removing namespace $ns of a run that died (pid $pid)" >&2
      netns_delete "$ns"
    fi
  done
}

# netns_up N: front with its bridge, and N hosts with a veth each.
netns_up() {
  local n=$1 i front host
  [[ $(id -u) -eq 0 ]] || die "PARLEY_NETNS=1 needs root (ip netns add)"
  command -v ip > /dev/null || die "PARLEY_NETNS=1 needs ip (Debian package iproute2; tools/deps installs it)"
  netns_sweep
  front=$(netns_name 0)
  ip netns add "$front" || die "ip netns add $front failed"
  ip -n "$front" link set lo up
  ip -n "$front" link add pbr0 type bridge
  ip -n "$front" addr add "$kNetnsFront/24" dev pbr0
  ip -n "$front" link set pbr0 up
  for i in $(seq "$n"); do
    host=$(netns_name "$i")
    ip netns add "$host" || die "ip netns add $host failed"
    ip -n "$host" link set lo up
    # Both ends are made inside the namespaces: pv<I> on front's bridge,
    # eth0 in the host.
    ip -n "$front" link add "pv$i" type veth peer name eth0 netns "$host"
    ip -n "$front" link set "pv$i" master pbr0 up
    ip -n "$host" addr add "$(netns_addr "$i" 0 | cut -d: -f1)/24" dev eth0
    ip -n "$host" link set eth0 up
  done
}

# Deletes this run's namespaces (their names: a namespace lives on while a
# process is inside, and the processes this run started are stopped by
# now). Nothing is killed here: a test that entered front is in it.
netns_down() {
  local ns
  for ns in $(ip netns list 2>/dev/null | awk '{print $1}'); do
    if [[ $ns == "$netns_prefix-"* ]]; then ip netns del "$ns" 2>/dev/null || true; fi
  done
  return 0
}

# netns_link cut|heal DIR I: host I's link (its veth on front's bridge)
# down or up. A cut link sends no reset: connections through it go silent.
netns_link() {
  local verb=$1 dir=$2 i=$3 prefix state=down
  [[ $i =~ ^[1-9][0-9]?$ ]] || die "bad host number: $i"
  [[ -r $dir/netns ]] || die "$dir/netns is missing: is a PARLEY_NETNS=1 tools/cluster running there?"
  read -r prefix < "$dir/netns"
  [[ $verb == heal ]] && state=up
  ip -n "$prefix-front" link set "pv$i" "$state" || die "cannot set host $i's link $state"
}
