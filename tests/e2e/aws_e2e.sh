#!/usr/bin/env bash
# nodewright end to end with the AWS provider, as a user runs it: Karpenter
# v1 manifests (NodePool + EC2NodeClass) applied with kubectl to a real
# control plane (fixture "cluster"), the daemon with the aws plugin pointed
# at moto behind the test proxy (fixture "aws").  tests/aws/e2e_helper.py
# plays the AWS account (VPC, subnets, security group, instance profile,
# EKS AMI parameters) and the kubelets: a Node per running instance with
# providerID aws:///<zone>/<id>, made Ready by kwok.
#
#   aws_e2e.sh BUILD_DIR SOURCE_DIR KUBECONFIG CLUSTER_STATE_DIR
set -uo pipefail
build=$1
src=$2
export KUBECONFIG=$3
cluster_dir=$4
work=$(mktemp -d /tmp/nw-aws-e2e-XXXXXX)
daemon_pid="" kubelets_pid=""
cluster=awse2e$$
pool=aws-e2e
nodeclass=aws-e2e

e2e_tag=aws-e2e
. "$src/tests/e2e/lib.sh"

endpoint=$(cat "$build/aws/endpoint" 2>/dev/null) || { log "no aws fixture ($build/aws/endpoint)"; exit 1; }
py=$(cat "$build/aws/python" 2>/dev/null) || { log "no $build/aws/python (scripts/test-aws up)"; exit 1; }
selector=$(cat "$cluster_dir/kwok.selector" 2>/dev/null || echo kwok.x-k8s.io/node=fake)
export AWS_ENDPOINT_URL=$endpoint AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing
export AWS_EC2_METADATA_DISABLED=true AWS_REGION=us-east-1
unset AWS_PROFILE AWS_SESSION_TOKEN
helper() { "$py" "$src/tests/aws/e2e_helper.py" "$@"; }
proxy() { curl -sf -X POST -d "$2" "$endpoint/__proxy/$1" >/dev/null; }
proxy_stat() {
  curl -sf "$endpoint/__proxy/stats" | python3 -c "import json,sys; print(json.load(sys.stdin)['$1'].get('$2',0))"
}

cleanup() {
  [[ -n "$daemon_pid" ]] && kill "$daemon_pid" 2>/dev/null && wait "$daemon_pid" 2>/dev/null
  [[ -n "$kubelets_pid" ]] && kill "$kubelets_pid" 2>/dev/null && wait "$kubelets_pid" 2>/dev/null
  kubectl delete deployment "$pool" --ignore-not-found --wait=false >/dev/null 2>&1
  kubectl delete nodepool "$pool" --ignore-not-found --wait=false >/dev/null 2>&1
  kubectl delete nodeclaims -l karpenter.sh/nodepool=$pool --wait=false >/dev/null 2>&1
  for c in $(kubectl get nodeclaims -l karpenter.sh/nodepool=$pool -o name 2>/dev/null); do
    kubectl patch "$c" --type merge -p '{"metadata":{"finalizers":null}}' >/dev/null 2>&1
  done
  for n in $(kubectl get nodes -o jsonpath="{range .items[?(@.spec.providerID)]}{.metadata.name} {.spec.providerID}{'\n'}{end}" 2>/dev/null | awk '$2 ~ /^aws:/ {print $1}'); do
    kubectl delete node "$n" --wait=false >/dev/null 2>&1
  done
  kubectl delete ec2nodeclass "$nodeclass" "$nodeclass-nosubnet" --ignore-not-found --wait=false >/dev/null 2>&1
  mkdir -p "$build/e2e-logs" && for f in "$work"/*.log; do cp "$f" "$build/e2e-logs/aws-$(basename "$f")"; done 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
trap "exit 1" INT TERM

# Waits until "$@" succeeds, up to $timeout seconds.

log "CRDs"
kubectl apply -f "$src/configs/crds/" >/dev/null || { fail "CRDs apply"; exit 1; }
kubectl wait --for condition=established --timeout=60s crd/nodepools.karpenter.sh \
  crd/nodeclaims.karpenter.sh crd/ec2nodeclasses.karpenter.k8s.aws >/dev/null

log "AWS account in moto ($endpoint)"
helper setup "$cluster" >"$work/setup.json" 2>"$work/setup.log" || { cat "$work/setup.log"; fail "moto setup"; exit 1; }
ami=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["ami_x86"])' "$work/setup.json")

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat > "$work/nodewright.yaml" <<YAML
pluginDirs: [$build/lib/nodewright]
plugins:
  - name: aws
    config:
      cluster_name: $cluster
      region: us-east-1
      endpoint: $endpoint
      instance_types: [m5.large, m5.xlarge, m5.2xlarge, c5.xlarge]
      # An override for one type; the others are priced by the pricing
      # plugin through the host.
      prices: {c5.xlarge: 0.17}
      backoff_ms: 20
  - name: pricing
    config:
      mode: static
      prices:
        - {type: m5.large, capacityType: on-demand, price: 0.096}
        - {type: m5.xlarge, capacityType: on-demand, price: 0.192}
        - {type: m5.2xlarge, capacityType: on-demand, price: 0.384}
  - name: strategy-default
cluster:
  kubeconfig: $KUBECONFIG
batch: {idle: 1s, max: 5s}
metrics: {listen: "127.0.0.1:$port"}
leaderElection: {enabled: true, namespace: kube-system, name: nodewright-$cluster}
YAML

check_config 3

start_daemon daemon.log
# Not through the helper function: a backgrounded function is a subshell,
# and killing it would leave python running.
"$py" "$src/tests/aws/e2e_helper.py" kubelets "$cluster" "$selector" 2>"$work/kubelets.log" &
kubelets_pid=$!
check_serving

kubectl apply -f - >/dev/null <<YAML
apiVersion: karpenter.k8s.aws/v1
kind: EC2NodeClass
metadata: {name: $nodeclass}
spec:
  amiSelectorTerms: [{alias: al2023@latest}]
  instanceProfile: $cluster
  subnetSelectorTerms: [{tags: {karpenter.sh/discovery: $cluster}}]
  securityGroupSelectorTerms: [{tags: {karpenter.sh/discovery: $cluster}}]
  tags: {team: e2e}
---
apiVersion: karpenter.sh/v1
kind: NodePool
metadata: {name: $pool}
spec:
  template:
    metadata:
      labels: {nodegroupname: $pool}
    spec:
      nodeClassRef: {group: karpenter.k8s.aws, kind: EC2NodeClass, name: $nodeclass}
      requirements:
        - {key: kubernetes.io/arch, operator: In, values: [amd64]}
        - {key: karpenter.sh/capacity-type, operator: In, values: [on-demand]}
      expireAfter: 720h
  disruption:
    consolidationPolicy: WhenEmptyOrUnderutilized
    consolidateAfter: 10m
  limits: {cpu: "100"}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: $pool}
spec:
  replicas: 4
  selector: {matchLabels: {app: $pool}}
  template:
    metadata: {labels: {app: $pool}}
    spec:
      nodeSelector: {nodegroupname: $pool}
      tolerations: [{key: kwok.x-k8s.io/node, operator: Exists, effect: NoSchedule}]
      containers:
        - name: web
          image: nginx
          resources: {requests: {cpu: 1500m, memory: 3Gi}}
YAML

n_claims() { kubectl get nodeclaims -l karpenter.sh/nodepool=$pool -o name | wc -l; }
running() { [[ $(kubectl get pods -l app=$pool --field-selector=status.phase=Running -o name | wc -l) -ge $1 ]]; }
claims_json() { kubectl get nodeclaims -l karpenter.sh/nodepool=$pool -o json; }
launched_claims() {
  claims_json | python3 -c '
import json,sys
items=json.load(sys.stdin)["items"]
print(sum(1 for c in items if c.get("status",{}).get("providerID","")))'
}
all_launched() { local c; c=$(n_claims); [[ $c -ge 1 && $(launched_claims) -eq $c ]]; }
all_initialized() {
  claims_json | python3 -c '
import json,sys
items=json.load(sys.stdin)["items"]
ok=[c for c in items if any(x["type"]=="Initialized" and x["status"]=="True" for x in c.get("status",{}).get("conditions",[]))]
sys.exit(0 if items and len(ok)==len(items) else 1)'
}

# The accounting of claims against moto's instances: every live instance
# of the cluster carries a claim tag naming a live claim whose providerID
# names it, and every launched claim has exactly one live instance.
# Prints what is wrong; exits 0 when nothing is.
accounting() {
  helper instances "$cluster" >"$work/instances.json" 2>>"$work/helper.log" || return 1
  claims_json >"$work/claims.json" || return 1
  python3 - "$work/instances.json" "$work/claims.json" "$pool" "$nodeclass" "$cluster" <<'PY'
import json,sys
insts=[json.loads(l) for l in open(sys.argv[1]) if l.strip()]
claims={c["metadata"]["name"]:c for c in json.load(open(sys.argv[2]))["items"]}
pool,nodeclass,cluster=sys.argv[3:6]
live=[i for i in insts if i["state"] in ("pending","running")]
bad=[]
per_claim={}
for i in live:
    t=i["tags"]; c=t.get("karpenter.sh/nodeclaim")
    if c not in claims:
        bad.append(f"instance {i['id']} has no live claim (tag {c!r})"); continue
    per_claim.setdefault(c,[]).append(i)
    pid=claims[c].get("status",{}).get("providerID","")
    if pid and pid!=f"aws:///{i['zone']}/{i['id']}":
        bad.append(f"claim {c} has providerID {pid}, instance {i['id']} in {i['zone']}")
    want={"karpenter.sh/nodepool":pool,"karpenter.k8s.aws/ec2nodeclass":nodeclass,
          f"kubernetes.io/cluster/{cluster}":"owned","team":"e2e"}
    for k,v in want.items():
        if t.get(k)!=v: bad.append(f"instance {i['id']}: tag {k}={t.get(k)!r}, want {v!r}")
for c,obj in claims.items():
    if obj["metadata"].get("deletionTimestamp"): continue
    n=len(per_claim.get(c,[]))
    if obj.get("status",{}).get("providerID") and n!=1:
        bad.append(f"claim {c} has {n} live instances")
print(f"{len(live)} live instances, {len(claims)} claims")
for b in bad: print(b)
sys.exit(1 if bad else 0)
PY
}

check "4 replicas Running on launched nodes" wait_for 240 running 4
check "every claim launched (providerID set)" wait_for 60 all_launched
check "every claim Initialized (kwok made its Node Ready)" wait_for 120 all_initialized
accounting >"$work/acct1.txt"; rc=$?
cat "$work/acct1.txt"
check "one tagged instance in moto per claim, none other" [ $rc -eq 0 ]
nodes=$(kubectl get nodes -l karpenter.sh/nodepool=$pool -o name | wc -l)
claims=$(n_claims)
check "a Node per claim, labelled with the pool ($nodes nodes, $claims claims)" [ "$nodes" -eq "$claims" ]
# ABI 1.2: once its Node registered, each instance is tagged with the
# Node's name (Karpenter's Name tag), through the provider's registered().
names_tagged() {
  helper instances "$cluster" >"$work/tags.json" || return 1
  kubectl get nodes -o json | python3 -c '
import json,sys
nodes={n["spec"].get("providerID"):n["metadata"]["name"] for n in json.load(sys.stdin)["items"]}
insts=[json.loads(l) for l in open(sys.argv[1]) if l.strip()]
live=[i for i in insts if i["state"]=="running"]
bad=[i["id"] for i in live if i["tags"].get("Name")!=nodes.get("aws:///"+i["zone"]+"/"+i["id"])]
sys.exit(1 if bad or not live else 0)' "$work/tags.json"
}
check "every instance tagged Name=<its Node> after registration" wait_for 60 names_tagged

# ABI 1.2: the EC2NodeClass status holds what its selectors resolved to,
# and Ready; a class whose subnets match nothing is Ready=False, naming it.
kubectl apply -f - >/dev/null <<YAML
apiVersion: karpenter.k8s.aws/v1
kind: EC2NodeClass
metadata: {name: $nodeclass-nosubnet}
spec:
  amiSelectorTerms: [{alias: al2023@latest}]
  instanceProfile: $cluster
  subnetSelectorTerms: [{tags: {karpenter.sh/discovery: nothing-$cluster}}]
  securityGroupSelectorTerms: [{tags: {karpenter.sh/discovery: $cluster}}]
YAML
class_status() {
  kubectl get ec2nodeclass "$1" -o json | python3 -c '
import json,sys
st=json.load(sys.stdin).get("status",{})
setup=json.load(open(sys.argv[1]))
ready={c["type"]:c for c in st.get("conditions",[])}.get("Ready",{})
if sys.argv[2]=="good":
    ok=(sorted(s["id"] for s in st.get("subnets",[]))==sorted(setup["subnets"]) and
        [g["id"] for g in st.get("securityGroups",[])]==[setup["security_group"]] and
        setup["ami_x86"] in [a["id"] for a in st.get("amis",[])] and
        st.get("instanceProfile")==sys.argv[3] and ready.get("status")=="True" and
        ready.get("lastTransitionTime"))
else:
    ok=ready.get("status")=="False" and "subnetSelectorTerms" in ready.get("message","")
sys.exit(0 if ok else 1)' "$work/setup.json" "$2" "$cluster"
}
check "EC2NodeClass status: resolved subnets, security group, AMIs, instance profile, Ready=True" \
  wait_for 90 class_status $nodeclass good
check "EC2NodeClass without subnets: Ready=False naming subnetSelectorTerms" \
  wait_for 90 class_status $nodeclass-nosubnet bad
kubectl delete ec2nodeclass $nodeclass-nosubnet --wait=false >/dev/null 2>&1

fleets=$(proxy_stat requests CreateFleet)
check "instances came from CreateFleet ($fleets calls)" [ "${fleets:-0}" -ge 1 ]

# kill -9 in the middle of a launch: the proxy holds the next CreateFleet
# for 8 s, the daemon dies meanwhile, then moto launches the instance
# anyway (tagged with the pool, never with its claim).  The restarted
# daemon (leader after the 15 s lease) relaunches the claim once and its
# garbage collection terminates the orphan: no leak, no duplicate.
held_before=$(proxy_stat injected delay:CreateFleet)
proxy config '{"delay":{"CreateFleet":{"ms":8000,"count":1}}}'
kubectl scale deployment $pool --replicas=$((claims * 2 + 4)) >/dev/null
held() { [[ $(proxy_stat injected delay:CreateFleet) -gt ${held_before:-0} ]]; }
check "a CreateFleet is in flight (held by the proxy)" wait_for 60 held
kill -9 "$daemon_pid"; wait "$daemon_pid" 2>/dev/null
log "daemon killed mid-launch"
sleep 9
start_daemon daemon2.log
replicas=$(kubectl get deployment $pool -o jsonpath='{.spec.replicas}')
check "$replicas replicas Running after kill -9 mid-launch and restart" wait_for 300 running "$replicas"
check "every claim Initialized after the restart" wait_for 120 all_initialized
# The orphan is older than GC's grace once the first GC (2 min after the
# restart) runs.
check "no leaked and no duplicate instance after garbage collection" wait_for 240 accounting
accounting >"$work/acct2.txt"; cat "$work/acct2.txt"
gc=$(grep -c "garbage collected" "$work/daemon2.log")
check "the orphan was garbage collected ($gc GC log lines)" [ "$gc" -ge 1 ]

# Scale to zero: the empty nodes are consolidated away, their claims
# deleted and their instances terminated in moto.
kubectl patch nodepool $pool --type merge -p '{"spec":{"disruption":{"consolidateAfter":"0s","budgets":[{"nodes":"100%"}]}}}' >/dev/null
kubectl scale deployment $pool --replicas=0 >/dev/null
no_claims() { [[ $(n_claims) -eq 0 ]]; }
check "scaled to zero: every claim deleted" wait_for 300 no_claims
none_live() {
  helper instances "$cluster" | python3 -c '
import json,sys
live=[l for l in sys.stdin if json.loads(l)["state"] in ("pending","running")]
sys.exit(1 if live else 0)'
}
check "scaled to zero: every instance terminated in moto" wait_for 60 none_live
terms=$(proxy_stat requests TerminateInstances)
log "TerminateInstances calls: $terms"
check "the daemon is still healthy" curl -sf "http://127.0.0.1:$port/healthz"

# SIGTERM in the middle of a launch: the daemon waits for the provider
# call on its worker (the proxy holds the CreateFleet for 6 s) before it
# unloads the plugins, then exits 0.
held_before=$(proxy_stat injected delay:CreateFleet)
proxy config '{"delay":{"CreateFleet":{"ms":6000,"count":1}}}'
kubectl scale deployment $pool --replicas=1 >/dev/null
check "a CreateFleet is in flight again" wait_for 90 held
kill -TERM "$daemon_pid"
wait "$daemon_pid"; daemon_rc=$?; daemon_pid=""
check "SIGTERM mid-launch: the daemon exits 0 (rc $daemon_rc)" [ "$daemon_rc" -eq 0 ]
check "SIGTERM mid-launch: it waited for the in-flight call" \
  grep -q "waiting for 1 in-flight plugin call" "$work/daemon2.log"
check "SIGTERM mid-launch: and drained it" grep -q "in-flight work drained" "$work/daemon2.log"

log "daemon log tail:"; tail -n 15 "$work/daemon2.log"
echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
