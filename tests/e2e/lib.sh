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
