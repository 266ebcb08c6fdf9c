#!/usr/bin/env bash
# Daemon benchmark against the real control plane (scripts/test-cluster with
# kube-scheduler and kwok): a burst of N pending pods (a Deployment scaled
# from 0 to N), measured from each pod first seen pending to its NodeClaim
# being created (the daemon's own per-pod measurement), plus the daemon's
# RSS and its CPU use while idle afterwards.  Uses the SDK's example
# provider, so only the daemon is measured, not a cloud.
#   bench/daemon-latency.sh [--pods N] [--json]
set -euo pipefail
cd "$(dirname "$0")/.."
pods=200 json=0
while [[ $# -gt 0 ]]; do
  case $1 in --pods) pods=$2; shift 2;; --json) json=1; shift;; *) echo "usage: $0 [--pods N] [--json]" >&2; exit 2;; esac
done
build=${NW_BUILD_DIR:-build}
dir=$(mktemp -d /tmp/nw-bench-XXXXXX)
trap 'kill $daemon 2>/dev/null; scripts/test-cluster down --dir "$dir/cluster" >/dev/null 2>&1; rm -rf "$dir"' EXIT
scripts/test-cluster up --scheduler --controller-manager --kwok --crds --dir "$dir/cluster" >/dev/null 2>&1
export KUBECONFIG=$dir/cluster/kubeconfig
cat >"$dir/nw.yaml" <<YAML
pluginDirs: [$PWD/$build/lib/nodewright]
plugins:
  - name: example-provider
    config: {zones: [zone-a, zone-b]}
cluster: {kubeconfig: $KUBECONFIG}
batch: {idle: 1s, max: 10s}
leaderElection: {enabled: false}
YAML
"$build/bin/nodewright" run --config "$dir/nw.yaml" >"$dir/daemon.log" 2>&1 &
daemon=$!
kubectl apply -f - >/dev/null <<YAML
apiVersion: karpenter.sh/v1
kind: NodePool
metadata: {name: bench}
spec:
  template:
    spec:
      nodeClassRef: {group: nodewright.dev, kind: ExampleNodeClass, name: default}
      requirements: [{key: kubernetes.io/arch, operator: In, values: [amd64]}]
YAML
sleep 5
# The burst: N pods in one kubectl call, so they arrive within about a
# second (a Deployment would spread them over the controller-manager's
# creation rate, which the batch window then follows).
python3 - "$pods" >"$dir/pods.json" <<'PY'
import json, sys
n = int(sys.argv[1])
items = [{"apiVersion": "v1", "kind": "Pod",
          "metadata": {"name": "burst-%d" % i, "labels": {"app": "burst"}},
          "spec": {"containers": [{"name": "c", "image": "x",
                   "resources": {"requests": {"cpu": "250m", "memory": "256Mi"}}}]}}
         for i in range(n)]
print(json.dumps({"apiVersion": "v1", "kind": "List", "items": items}))
PY
t_start=$(date +%s.%N)
kubectl create -f "$dir/pods.json" >/dev/null
t_created=$(date +%s.%N)
end=$((SECONDS + 120))
until [[ $(grep -o 'latency over [0-9]* pods' "$dir/daemon.log" | awk '{s+=$3} END{print s+0}') -ge $pods ]] || (( SECONDS > end )); do sleep 1; done
lines=$(grep 'pending-to-NodeClaim latency' "$dir/daemon.log" || true)
seen=$(echo "$lines" | grep -o 'over [0-9]* pods' | awk '{s+=$2} END{print s+0}')
# Pass-level medians and p99s: a burst usually closes in one or two passes.
p50=$(echo "$lines" | grep -o 'p50 [0-9]*' | awk '{print $2}' | sort -n | tail -1)
p99=$(echo "$lines" | grep -o 'p99 [0-9]*' | awk '{print $2}' | sort -n | tail -1)
lmin=$(echo "$lines" | grep -o 'min [0-9]*' | awk '{print $2}' | sort -n | head -1)
claims=$(kubectl get nodeclaims -o name | wc -l)
sleep 20
t0=$(awk '{print $14+$15}' /proc/$daemon/stat); sleep 30; t1=$(awk '{print $14+$15}' /proc/$daemon/stat)
idle_cpu=$(python3 -c "print(round(($t1-$t0)/$(getconf CLK_TCK)/30*100, 2))")
rss=$(awk '/VmRSS/{print int($2/1024)}' /proc/$daemon/status)
create_s=$(python3 -c "print(round($t_created-$t_start, 2))")
if [[ $json == 1 ]]; then
  printf '{"pods": %d, "pods_measured": %d, "claims": %d, "latency_min_ms": %s, "latency_p50_ms": %s, "latency_p99_ms": %s, "batch_idle_ms": 1000, "burst_create_seconds": %s, "rss_mib": %d, "idle_cpu_percent": %s}\n' \
    "$pods" "$seen" "$claims" "${lmin:-null}" "${p50:-null}" "${p99:-null}" "$create_s" "$rss" "$idle_cpu"
else
  echo "pods $pods (measured $seen, created in $create_s s), claims $claims, pending->NodeClaim min ${lmin:-?} ms, p50 ${p50:-?} ms, p99 ${p99:-?} ms (batch idle 1000 ms), RSS $rss MiB, idle CPU $idle_cpu %"
fi
