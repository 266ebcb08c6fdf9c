#!/usr/bin/env bash
# The daemon at scale against the real control plane: N nodes and M pods
# (created by nodewright-bench's generator, kwok keeps the nodes Ready),
# then `nodewright run` with the example provider: time to sync, RSS, and
# CPU while idle.
#   bench/daemon-scale.sh [--nodes 1000] [--pods 20000] [--json]
set -euo pipefail
cd "$(dirname "$0")/.."
nodes=1000 pods=20000 json=0
while [[ $# -gt 0 ]]; do
  case $1 in --nodes) nodes=$2; shift 2;; --pods) pods=$2; shift 2;; --json) json=1; shift;;
    *) echo "usage: $0 [--nodes N] [--pods M] [--json]" >&2; exit 2;; esac
done
build=${NW_BUILD_DIR:-build}
dir=$(mktemp -d /tmp/nw-scale-XXXXXX)
trap 'kill $daemon 2>/dev/null; scripts/test-cluster down --dir "$dir/cluster" >/dev/null 2>&1; rm -rf "$dir"' EXIT
daemon=""
scripts/test-cluster up --kwok --crds --dir "$dir/cluster" >/dev/null 2>&1
export KUBECONFIG=$dir/cluster/kubeconfig
"$build/bin/nodewright-bench" informer --kubeconfig "$KUBECONFIG" --generate --nodes "$nodes" --pods "$pods" --json >"$dir/gen.json" 2>"$dir/gen.log"
cat >"$dir/nw.yaml" <<YAML
pluginDirs: [$PWD/$build/lib/nodewright]
plugins:
  - name: example-provider
cluster: {kubeconfig: $KUBECONFIG}
leaderElection: {enabled: false}
YAML
t0=$(date +%s.%N)
"$build/bin/nodewright" run --config "$dir/nw.yaml" >"$dir/daemon.log" 2>&1 &
daemon=$!
until grep -q "caches synced" "$dir/daemon.log"; do sleep 0.2; done
t1=$(date +%s.%N)
sleep 20
c0=$(awk '{print $14+$15}' /proc/$daemon/stat); sleep 30; c1=$(awk '{print $14+$15}' /proc/$daemon/stat)
idle=$(python3 -c "print(round(($c1-$c0)/$(getconf CLK_TCK)/30*100, 2))")
rss=$(awk '/VmRSS/{print int($2/1024)}' /proc/$daemon/status)
sync=$(python3 -c "print(round($t1-$t0, 2))")
if [[ $json == 1 ]]; then
  printf '{"nodes": %d, "pods": %d, "sync_seconds": %s, "rss_mib": %d, "idle_cpu_percent": %s}\n' "$nodes" "$pods" "$sync" "$rss" "$idle"
else
  echo "nodes $nodes, pods $pods: synced in $sync s, RSS $rss MiB, idle CPU $idle %"
fi
