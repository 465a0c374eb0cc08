# shellcheck shell=bash
# tools/bench/tree.sh: what a result line says of the tree it measured.
# Sourced by the bench scripts (common.sh, api, durable).

# tree_dirty DIR: true when the checkout DIR has changes to what the
# benchmarks run (the daemons, the nginx config, the load generator)
# beyond its commit.
tree_dirty() {
  git -C "$1" status --porcelain -- events fcgi schema nginx tools/loadgen tools/nginx-conf 2>/dev/null | grep -q . &&
    echo true || echo false
}
