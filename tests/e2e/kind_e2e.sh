#!/usr/bin/env bash
# nodewright end to end, as a user runs it: Karpenter v1 manifests applied
# with kubectl, the daemon with the kind provider (virtual runtime: Docker
# containers sized like the instance types, Nodes faked by kwok), and the
# gateway scenario in small: 1 -> 20 replicas of 1500m / 3Gi.
set -uo pipefail
build=$1
src=$2
sock=$4
export KUBECONFIG=$3
work=$(mktemp -d /tmp/nw-e2e-XXXXXX)
daemon_pid=""
cluster=e2e$$

e2e_tag=e2e
. "$src/tests/e2e/lib.sh"

cleanup() {
  [[ -n "$daemon_pid" ]] && kill "$daemon_pid" 2>/dev/null && wait "$daemon_pid" 2>/dev/null
  kubectl delete deployment kong --ignore-not-found --wait=false >/dev/null 2>&1
  kubectl delete pdb kong --ignore-not-found --wait=false >/dev/null 2>&1
  kubectl delete nodepool kong-e2e --ignore-not-found --wait=false >/dev/null 2>&1
  kubectl delete nodeclaims -l karpenter.sh/nodepool=kong-e2e --wait=false >/dev/null 2>&1
  for c in $(kubectl get nodeclaims -l karpenter.sh/nodepool=kong-e2e -o name 2>/dev/null); do
    kubectl patch "$c" --type merge -p '{"metadata":{"finalizers":null}}' >/dev/null 2>&1
  done
  kubectl delete nodes -l karpenter.sh/nodepool=kong-e2e --wait=false >/dev/null 2>&1
  kubectl delete kindnodeclass virtual-e2e --ignore-not-found --wait=false >/dev/null 2>&1
  ids=$(curl -s --unix-socket "$sock" "http://d/containers/json?all=1&filters=%7B%22label%22%3A%5B%22io.x-k8s.kind.cluster%3D$cluster%22%5D%7D" | python3 -c 'import json,sys; print(" ".join(c["Id"] for c in json.load(sys.stdin)))' 2>/dev/null)
  for id in $ids; do curl -s -X DELETE --unix-socket "$sock" "http://d/containers/$id?force=1&v=1" >/dev/null; done
  # Keep the daemon logs beside the build for whoever reads a failure.
  mkdir -p "$build/e2e-logs" && cp "$work"/*.log "$build/e2e-logs/" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
trap "exit 1" INT TERM

# Waits until "$@" succeeds, up to $timeout seconds.

docker_api() { curl -s --unix-socket "$sock" "http://d$1"; }

log "CRDs"
kubectl apply -f "$src/configs/crds/" >/dev/null || { fail "CRDs apply"; exit 1; }
kubectl wait --for condition=established --timeout=60s crd/nodepools.karpenter.sh \
  crd/nodeclaims.karpenter.sh crd/kindnodeclasses.nodewright.dev >/dev/null

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat > "$work/nodewright.yaml" <<YAML
pluginDirs: [$build/lib/nodewright]
plugins:
  - name: kind
    config:
      socket: $sock
      clusterName: $cluster
      runtime: virtual
      image: nodewright/node-virtual:test
      network: none
      catalog:
        cpus: [1, 2, 4, 8]
        memoryPerCpuGiB: [2, 4]
        families: {"2": c, "4": m}
        zones: [kind-a, kind-b]
        capacityTypes: [on-demand]
        # Bigger nodes are cheaper per CPU only through this entry, so the
        # consolidation check below has a cheaper shape to move to.
        prices:
          c-4: {on-demand: 0.10}
      limits:
        cpuScale: 0.05
        memoryScale: 0.02
  - name: strategy-default
cluster:
  kubeconfig: $KUBECONFIG
batch: {idle: 1s, max: 5s}
metrics: {listen: "127.0.0.1:$port"}
leaderElection: {enabled: true, namespace: kube-system, name: nodewright-$cluster}
YAML

check_config 2

start_daemon daemon.log
check_serving

kubectl apply -f - >/dev/null <<YAML
apiVersion: nodewright.dev/v1alpha1
kind: KindNodeClass
metadata: {name: virtual-e2e}
spec: {clusterName: $cluster, image: nodewright/node-virtual:test, network: none, runtime: virtual}
---
apiVersion: karpenter.sh/v1
kind: NodePool
metadata: {name: kong-e2e}
spec:
  template:
    metadata:
      labels: {nodegroupname: kong}
    spec:
      nodeClassRef: {group: nodewright.dev, kind: KindNodeClass, name: virtual-e2e}
      requirements:
        - {key: kubernetes.io/arch, operator: In, values: [amd64]}
        - {key: karpenter.sh/capacity-type, operator: In, values: [on-demand]}
      expireAfter: 720h
  disruption:
    consolidationPolicy: WhenEmptyOrUnderutilized
    consolidateAfter: 10m
  limits: {cpu: "200"}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: kong}
spec:
  replicas: 1
  selector: {matchLabels: {app: kong}}
  template:
    metadata: {labels: {app: kong}}
    spec:
      nodeSelector: {nodegroupname: kong}
      tolerations: [{key: kwok.x-k8s.io/node, operator: Exists, effect: NoSchedule}]
      containers:
        - name: proxy
          image: kong:3.7
          resources: {requests: {cpu: 1500m, memory: 3Gi}}
YAML

claims_more_than() { [[ $(kubectl get nodeclaims -l karpenter.sh/nodepool=kong-e2e -o name | wc -l) -gt $1 ]]; }
running() { [[ $(kubectl get pods -l app=kong --field-selector=status.phase=Running -o name | wc -l) -ge $1 ]]; }
check "1 replica Running on a launched node" wait_for 120 running 1
kubectl scale deployment kong --replicas=20 >/dev/null
check "20 replicas Running" wait_for 300 running 20

# Initialized and READY follow the Node's Ready condition through the
# informers, a moment after the pods run: wait for them, do not race them.
count_initialized() {
  kubectl get nodeclaims -l karpenter.sh/nodepool=kong-e2e -o json | python3 -c '
import json,sys
items=json.load(sys.stdin)["items"]
print(sum(1 for c in items if any(x["type"]=="Initialized" and x["status"]=="True" for x in c.get("status",{}).get("conditions",[]))))'
}
all_initialized() {
  local c; c=$(kubectl get nodeclaims -l karpenter.sh/nodepool=kong-e2e -o name | wc -l)
  [[ $c -ge 1 && $(count_initialized) -eq $c ]]
}
all_ready() {
  local c; c=$(kubectl get nodeclaims -l karpenter.sh/nodepool=kong-e2e -o name | wc -l)
  [[ $(kubectl get nodeclaims -l karpenter.sh/nodepool=kong-e2e --no-headers | awk '$6=="True"' | wc -l) -eq $c ]]
}
check "every claim Initialized" wait_for 90 all_initialized
check "kubectl shows every claim READY" wait_for 30 all_ready
nodes=$(kubectl get nodes -l karpenter.sh/nodepool=kong-e2e -o name | wc -l)
claims=$(kubectl get nodeclaims -l karpenter.sh/nodepool=kong-e2e -o name | wc -l)
log "nodes=$nodes claims=$claims initialized=$(count_initialized)"
check "a Node per claim" [ "$nodes" -eq "$claims" ]
off=$(kubectl get pods -l app=kong -o json | python3 -c '
import json,subprocess,sys
pods=json.load(sys.stdin)["items"]
nodes=json.loads(subprocess.check_output(["kubectl","get","nodes","-o","json"]))["items"]
pool={n["metadata"]["name"]:n["metadata"].get("labels",{}).get("karpenter.sh/nodepool") for n in nodes}
print(sum(1 for p in pods if pool.get(p["spec"].get("nodeName"))!="kong-e2e"))')
check "every pod on a nodewright node" [ "$off" -eq 0 ]

containers=$(docker_api "/containers/json?filters=%7B%22label%22%3A%5B%22io.x-k8s.kind.cluster%3D$cluster%22%5D%7D")
ncont=$(echo "$containers" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
check "a running container per claim ($ncont)" [ "$ncont" -eq "$claims" ]
limits_ok=$(echo "$containers" | python3 -c '
import json,sys,subprocess
ok=True
for c in json.load(sys.stdin):
    info=json.loads(subprocess.check_output(["curl","-s","--unix-socket",sys.argv[1],"http://d/containers/"+c["Id"]+"/json"]))
    t=c["Labels"].get("nodewright.dev/instance-type","")
    fam,cpus=t.split("-")
    ratio={"c":2,"m":4}[fam]
    want_cpu=int(int(cpus)*0.05*1e9); want_mem=int(int(cpus)*ratio*1024**3*0.02)
    hc=info["HostConfig"]
    if abs(hc["NanoCpus"]-want_cpu)>1e6 or abs(hc["Memory"]-want_mem)>1024**2 or c["Labels"].get("io.x-k8s.kind.role")!="worker" or c["Labels"].get("nodewright.dev/nodepool")!="kong-e2e":
        ok=False; print("bad",t,hc["NanoCpus"],hc["Memory"],file=sys.stderr)
print(1 if ok else 0)' "$sock")
check "containers carry kind labels and the instance type's CPU/memory limits" [ "$limits_ok" = 1 ]

cost=$(curl -s "http://127.0.0.1:$port/metrics" | awk '/^nodewright_cluster_cost_per_hour /{print $2}')
check "cost metric is non-zero ($cost)" python3 -c "import sys; sys.exit(0 if float('${cost:-0}')>0 else 1)"
curl -s "http://127.0.0.1:$port/metrics" >"$work/metrics.txt"
metrics_ok=$(python3 -c '
import re, sys
claims = int(sys.argv[2]); sums = {}
for line in open(sys.argv[1]):
    m = re.match(r"^(nodewright_[a-z_]+)(\{[^}]*\})? ([0-9.e+-]+)$", line.strip())
    if m: sums[m.group(1)] = sums.get(m.group(1), 0) + float(m.group(3))
bad = [n for n in ("nodewright_nodeclaims_created_total", "nodewright_nodeclaims_launched_total",
                   "nodewright_nodeclaims_registered_total", "nodewright_nodeclaims_initialized_total")
       if sums.get(n, 0) < claims]
bad += [n for n in ("nodewright_scheduling_duration_seconds_count",
                    "nodewright_provider_call_duration_seconds_count") if sums.get(n, 0) <= 0]
bad += [n for n in ("nodewright_pods_pending",) if n not in sums]
print(" ".join(bad) if bad else "ok")' "$work/metrics.txt" "$claims")
check "metrics count every claim created/launched/registered/initialized, scheduling and provider calls ($metrics_ok)" [ "$metrics_ok" = ok ]

# kill -9 in the middle of a launch: the restarted daemon (leader again
# after the 15 s lease) adopts the claims and containers the old one left,
# launching nothing twice and leaving no orphan.
kubectl scale deployment kong --replicas=24 >/dev/null
wait_for 30 claims_more_than "$claims"
kill -9 "$daemon_pid"; wait "$daemon_pid" 2>/dev/null
start_daemon daemon2.log
check "24 replicas Running after kill -9 mid-launch and restart" wait_for 240 running 24
claims=$(kubectl get nodeclaims -l karpenter.sh/nodepool=kong-e2e -o name | wc -l)
ncont=$(docker_api "/containers/json?all=1&filters=%7B%22label%22%3A%5B%22io.x-k8s.kind.cluster%3D$cluster%22%5D%7D" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
nodes=$(kubectl get nodes -l karpenter.sh/nodepool=kong-e2e -o name | wc -l)
check "one container and one Node per claim after the restart ($claims claims, $ncont containers, $nodes nodes)" \
  [ "$ncont" -eq "$claims" -a "$nodes" -eq "$claims" ]
containers=$(docker_api "/containers/json?filters=%7B%22label%22%3A%5B%22io.x-k8s.kind.cluster%3D$cluster%22%5D%7D")

# docker kill on a node: an interruption; its pods move to a new node.
victim=$(echo "$containers" | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["Names"][0].lstrip("/"))')
curl -s -X POST --unix-socket "$sock" "http://d/containers/$victim/kill" >/dev/null
check "the killed node's claim is deleted" wait_for 90 sh -c "! kubectl get nodes $victim >/dev/null 2>&1"
check "all 24 replicas Running again" wait_for 240 running 24

# Consolidation: with the load gone (24 -> 2 replicas), the nodes left
# empty or half used are removed until one node carries both pods; a PDB
# keeps at least one replica serving throughout.
kubectl apply -f - >/dev/null <<YAML
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: kong}
spec: {minAvailable: 1, selector: {matchLabels: {app: kong}}}
YAML
kubectl patch nodepool kong-e2e --type merge -p '{"spec":{"disruption":{"consolidateAfter":"0s","budgets":[{"nodes":"100%"}]}}}' >/dev/null
kubectl scale deployment kong --replicas=2 >/dev/null
min_running=2
watch_service() {
  while sleep 1; do
    n=$(kubectl get pods -l app=kong --field-selector=status.phase=Running -o name 2>/dev/null | wc -l)
    echo "$n" >>"$work/running.log"
  done
}
watch_service & watcher=$!
claims_at_most() { [[ $(kubectl get nodeclaims -l karpenter.sh/nodepool=kong-e2e -o name | wc -l) -le $1 ]]; }
check "consolidated down to one node for the two remaining replicas" wait_for 300 claims_at_most 1
check "both replicas Running on it" wait_for 120 running 2
kill "$watcher" 2>/dev/null; wait "$watcher" 2>/dev/null
min_running=$(sort -n "$work/running.log" | head -1)
check "at least one replica served throughout (PDB minAvailable 1; min seen $min_running)" [ "${min_running:-0}" -ge 1 ]
consolidations=$(kubectl get events -A -o json | grep -c '"reason": "DisruptionTerminating"' || true)
check "consolidation decisions were recorded as events ($consolidations)" [ "$consolidations" -ge 1 ]

# Bad input: each is a clear error, and the daemon keeps running.
out=$(kubectl apply -f - 2>&1 <<YAML
apiVersion: karpenter.sh/v1
kind: NodePool
metadata: {name: bad-operator}
spec:
  template:
    spec:
      nodeClassRef: {group: nodewright.dev, kind: KindNodeClass, name: virtual-e2e}
      requirements: [{key: kubernetes.io/arch, operator: Within, values: [amd64]}]
YAML
)
check "an invalid NodePool is rejected by CRD validation" grep -q "Unsupported value: \"Within\"" <<<"$out"

kubectl apply -f - >/dev/null <<YAML
apiVersion: karpenter.sh/v1
kind: NodePool
metadata: {name: orphan-class}
spec:
  template:
    spec:
      nodeClassRef: {group: nodewright.dev, kind: KindNodeClass, name: does-not-exist}
      requirements: [{key: kubernetes.io/arch, operator: In, values: [amd64]}]
---
apiVersion: nodewright.dev/v1alpha1
kind: KindNodeClass
metadata: {name: no-image}
spec: {clusterName: $cluster, image: "nodewright/missing:1", network: none, runtime: virtual}
---
apiVersion: karpenter.sh/v1
kind: NodePool
metadata: {name: no-image}
spec:
  template:
    metadata: {labels: {nodegroupname: no-image}}
    spec:
      nodeClassRef: {group: nodewright.dev, kind: KindNodeClass, name: no-image}
      requirements: [{key: kubernetes.io/arch, operator: In, values: [amd64]}]
---
apiVersion: v1
kind: Pod
metadata: {name: wants-no-image}
spec:
  nodeSelector: {nodegroupname: no-image}
  containers: [{name: c, image: x, resources: {requests: {cpu: 100m}}}]
YAML
pool_ready() { [[ $(kubectl get nodepool "$1" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}') == "$2" ]]; }
check "a NodePool with an unknown node class reports Ready=False" wait_for 30 pool_ready orphan-class False
check "the kong-e2e NodePool reports Ready=True with its resources" wait_for 30 pool_ready kong-e2e True
check "kong's status counts its nodes" [ "$(kubectl get nodepool kong-e2e -o jsonpath='{.status.resources.nodes}')" = "$(kubectl get nodeclaims -l karpenter.sh/nodepool=kong-e2e -o name | wc -l)" ]
image_event() { kubectl get events -A -o json | grep -q 'nodewright/missing:1'; }
check "a missing image is reported as an event naming it" wait_for 60 image_event
check "the daemon is still healthy" curl -sf "http://127.0.0.1:$port/healthz"
kubectl delete pod wants-no-image --wait=false >/dev/null 2>&1
kubectl delete nodepool orphan-class no-image --wait=false >/dev/null 2>&1
for c in $(kubectl get nodeclaims -l karpenter.sh/nodepool=no-image -o name); do
  kubectl patch "$c" --type merge -p '{"metadata":{"finalizers":null}}' >/dev/null 2>&1
  kubectl delete "$c" --wait=false >/dev/null 2>&1
done

sed "s|socket: $sock|socket: $work/no-such.sock|" "$work/nodewright.yaml" >"$work/nosock.yaml"
"$build/bin/nodewright" run --config "$work/nosock.yaml" --check >"$work/nosock.log" 2>&1
check "a missing docker socket fails --check naming the socket" grep -q "no-such.sock" "$work/nosock.log"

# Signals.  SIGHUP with a broken file keeps the running config; with a
# valid one it applies logging and batching at once.  SIGTERM stops the
# controllers, releases the Lease (as client-go's ReleaseOnCancel: no
# holder) and exits 0.
cp "$work/nodewright.yaml" "$work/nodewright.yaml.good"
sed 's|batch: {idle: 1s, max: 5s}|batch: {idle: nonsense, max: 5s}|' "$work/nodewright.yaml.good" >"$work/nodewright.yaml"
kill -HUP "$daemon_pid"
check "SIGHUP with a broken config is refused, naming the problem" \
  wait_for 15 grep -q "reload refused, keeping the running config: .*nodewright.yaml" "$work/daemon2.log"
check "the daemon is still healthy after the refused reload" curl -sf "http://127.0.0.1:$port/healthz"
sed 's|batch: {idle: 1s, max: 5s}|batch: {idle: 2s, max: 5s}|' "$work/nodewright.yaml.good" >"$work/nodewright.yaml"
kill -HUP "$daemon_pid"
check "SIGHUP with a valid config reloads it" wait_for 15 grep -q "configuration reloaded from" "$work/daemon2.log"
holder() { kubectl -n kube-system get lease "nodewright-$cluster" -o jsonpath='{.spec.holderIdentity}'; }
check "the daemon holds the Lease ($(holder))" [ -n "$(holder)" ]
kill -TERM "$daemon_pid"
rc=0; timeout 30 tail --pid="$daemon_pid" -f /dev/null || rc=$?
wait "$daemon_pid"; daemon_rc=$?; daemon_pid=""
check "SIGTERM: the daemon exits 0 within 30 s (rc $daemon_rc, wait $rc)" [ "$daemon_rc" -eq 0 -a "$rc" -eq 0 ]
check "SIGTERM: the Lease is released" [ -z "$(holder)" ]
check "SIGTERM: the log says so" grep -q "released lease" "$work/daemon2.log"

log "daemon log tail:"; tail -n 15 "$work/daemon2.log"
echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
