# Shared by the end-to-end scripts (sourced): logging, the pass/fail
# tally and polling.  The sourcing script sets e2e_tag (the log prefix)
# and reads $passed and $failed at the end.
passed=0 failed=0

log() { printf '[%s %s] %s\n' "${e2e_tag:-e2e}" "$(date +%T)" "$*"; }
ok() { passed=$((passed + 1)); log "ok: $*"; }
fail() { failed=$((failed + 1)); log "FAILED: $*"; }
# check WHAT CMD...: runs CMD and counts WHAT as passed or failed.
check() { local what=$1; shift; if "$@"; then ok "$what"; else fail "$what"; fi; }

# wait_for SECONDS CMD...: polls CMD every 2 s until it succeeds; 1 when
# the time runs out.
wait_for() {
  local timeout=$1; shift
  local end=$((SECONDS + timeout))
  until "$@" >/dev/null 2>&1; do
    (( SECONDS >= end )) && return 1
    sleep 2
  done
}

# The daemon under test, run as a user would on $work/nodewright.yaml
# ($build, $work and $port come from the sourcing script).
#   check_config N     --check validates the config and loads N plugins
#   start_daemon LOG   `nodewright run` in the background, output in
#                      $work/LOG; sets daemon_pid
#   check_serving      the health and ready endpoints answer on $port
check_config() {
  "$build/bin/nodewright" run --config "$work/nodewright.yaml" --check >"$work/check.log" 2>&1
  check "config and plugins validate (--check)" grep -q "configuration valid; $1 of $1" "$work/check.log"
}
start_daemon() {
  "$build/bin/nodewright" run --config "$work/nodewright.yaml" >"$work/$1" 2>&1 &
  daemon_pid=$!
}
check_serving() {
  check "health endpoint answers" wait_for 30 curl -sf "http://127.0.0.1:$port/healthz"
  check "ready once caches synced" wait_for 60 curl -sf "http://127.0.0.1:$port/readyz"
}
