#!/usr/bin/env bash
# The simulator's speed targets (docs/benchmarks.md, "Simulator"): the
# 60-minute gateway scenario (<= 1 s) and the 24-hour, 2,000-node diurnal
# day (<= 60 s), each run with /usr/bin/time: wall, CPU and max RSS, plus
# the load average, so figures from a shared machine can be judged.
#   bench/simulate.sh [--runs 3] [--skip-diurnal] [--duration 24h]
# --duration runs a copy of the diurnal scenario cut short (e.g. 4h).
set -euo pipefail
cd "$(dirname "$0")/.."
runs=3 diurnal=1 duration=""
while [[ $# -gt 0 ]]; do
  case $1 in --runs) runs=$2; shift 2;; --skip-diurnal) diurnal=0; shift;;
    --duration) duration=$2; shift 2;;
    *) echo "usage: $0 [--runs N] [--skip-diurnal] [--duration D]" >&2; exit 2;; esac
done
build=${NW_BUILD_DIR:-build}
dir=$(mktemp -d /tmp/nw-simbench-XXXXXX)
trap 'rm -rf "$dir"' EXIT
one() { # name scenario
  /usr/bin/time -f '%e %U %S %M' -o "$dir/time" \
    "$build/bin/nodewright" simulate --scenario "$2" --json >"$dir/out.json" 2>"$dir/err"
  read -r wall user sys rss <"$dir/time"
  python3 - "$1" "$wall" "$user" "$sys" "$rss" "$dir/out.json" <<'PY'
import json, sys, os
name, wall, user, sys_, rss, out = sys.argv[1:]
r = json.load(open(out))
s = r["summary"]
print(f"{name}: wall {float(wall):.2f} s, CPU {float(user) + float(sys_):.2f} s, "
      f"max RSS {int(rss) // 1024} MiB, load {os.getloadavg()[0]:.2f}; "
      f"virtual {r['duration_s'] / 3600:.1f} h, peak {s['peak_nodes']} nodes, "
      f"{s['nodes_launched']} launched, ${s['cost_usd']:.2f}")
PY
}
for ((i = 1; i <= runs; i++)); do
  one "gateway #$i" configs/scenarios/kong-gateway.yaml
done
if [[ $diurnal == 1 ]]; then
  scenario=configs/scenarios/diurnal-2000.yaml
  if [[ -n $duration ]]; then
    sed "s/^duration: .*/duration: $duration/" "$scenario" >"$dir/diurnal.yaml"
    scenario=$dir/diurnal.yaml
  fi
  one "diurnal-2000${duration:+ ($duration)}" "$scenario"
fi
