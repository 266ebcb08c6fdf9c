/*
 * The scheduling core, one behaviour per case.  Each case names a fixture
 * (tests/fixtures/scheduling/<name>.json, Kubernetes objects as kubectl
 * prints them), a catalog, and the check of the result.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixture.h"
#include "nwtest.h"
#include "util/arena.h"

#define ZONE "topology.kubernetes.io/zone"

typedef struct scase {
  const char *fixture;
  const char *catalog;
  void (*check)(const fixture *f, const nw__sched_result *r);
} scase;

static const nw__sched_placement *placed(const fixture *f,
                                         const nw__sched_result *r,
                                         const char *pod) {
  size_t i = fixture_pod(f, pod);
  CU_ASSERT_FATAL(i != (size_t)-1);
  return &r->placements[i];
}

static const nw__sched_claim *claim_of(const fixture *f,
                                       const nw__sched_result *r,
                                       const char *pod) {
  const nw__sched_placement *p = placed(f, r, pod);
  CU_ASSERT_EQUAL_FATAL(p->kind, NW__PLACE_CLAIM);
  return &r->claims[p->index];
}

static int has_error(const fixture *f, const nw__sched_result *r,
                     const char *pod, const char *text) {
  const nw__sched_placement *p = placed(f, r, pod);
  if (p->kind != NW__PLACE_NONE || !p->error)
    return 0;
  if (!strstr(p->error, text)) {
    fprintf(stderr, "pod %s: error \"%s\" lacks \"%s\"\n", pod, p->error, text);
    return 0;
  }
  return 1;
}

/* ---- checks ------------------------------------------------------------ */

static void check_spread_zone(const fixture *f, const nw__sched_result *r) {
  (void)f;
  CU_ASSERT_EQUAL(r->n_scheduled, 6);
  int per_zone[3] = {0, 0, 0};
  for (size_t i = 0; i < r->n_claims; i++) {
    const char *z = claim_single(&r->claims[i], ZONE);
    CU_ASSERT_PTR_NOT_NULL_FATAL(z);
    per_zone[z[strlen(z) - 1] - '1'] += (int)r->claims[i].n_pods;
  }
  CU_ASSERT_EQUAL(per_zone[0], 2);
  CU_ASSERT_EQUAL(per_zone[1], 2);
  CU_ASSERT_EQUAL(per_zone[2], 2);
}

static void check_min_domains(const fixture *f, const nw__sched_result *r) {
  /* Two zones exist but minDomains is 3: the global minimum counts as 0,
   * so each zone may hold maxSkew (1) pod only. */
  CU_ASSERT_EQUAL(r->n_scheduled, 2);
  CU_ASSERT_EQUAL(r->n_unschedulable, 2);
  CU_ASSERT_TRUE(has_error(f, r, "web-3", "topology"));
}

static void check_anti(const fixture *f, const nw__sched_result *r) {
  (void)f;
  CU_ASSERT_EQUAL(r->n_scheduled, 3);
  CU_ASSERT_EQUAL(r->n_claims, 3);
  for (size_t i = 0; i < r->n_claims; i++)
    CU_ASSERT_EQUAL(r->claims[i].n_pods, 1);
}

static void check_affinity_bootstrap(const fixture *f,
                                     const nw__sched_result *r) {
  (void)f;
  /* 3 cpu pods on types of at most 4 vCPU: one per claim, one zone. */
  CU_ASSERT_EQUAL(r->n_scheduled, 3);
  CU_ASSERT_EQUAL_FATAL(r->n_claims, 3);
  const char *z0 = claim_single(&r->claims[0], ZONE);
  CU_ASSERT_PTR_NOT_NULL_FATAL(z0);
  for (size_t i = 1; i < r->n_claims; i++) {
    const char *z = claim_single(&r->claims[i], ZONE);
    CU_ASSERT_PTR_NOT_NULL_FATAL(z);
    CU_ASSERT_STRING_EQUAL(z, z0);
  }
}

static void check_affinity_no_target(const fixture *f,
                                     const nw__sched_result *r) {
  /* Affinity to pods that exist nowhere, and the pod does not match its
   * own selector: nothing to bootstrap. */
  CU_ASSERT_EQUAL(r->n_unschedulable, 1);
  CU_ASSERT_TRUE(has_error(f, r, "lonely", "topology"));
}

static void check_relax_pref(const fixture *f, const nw__sched_result *r) {
  /* Heaviest preference (a zone that does not exist) is dropped first,
   * then the next one holds. */
  const char *z = claim_single(claim_of(f, r, "pref"), ZONE);
  CU_ASSERT_PTR_NOT_NULL_FATAL(z);
  CU_ASSERT_STRING_EQUAL(z, "test-zone-2");
}

static void check_relax_or(const fixture *f, const nw__sched_result *r) {
  const char *z = claim_single(claim_of(f, r, "orterm"), ZONE);
  CU_ASSERT_PTR_NOT_NULL_FATAL(z);
  CU_ASSERT_STRING_EQUAL(z, "test-zone-3");
}

static void check_relax_anyway(const fixture *f, const nw__sched_result *r) {
  CU_ASSERT_EQUAL(placed(f, r, "anyway")->kind, NW__PLACE_CLAIM);
}

static void check_relax_pns(const fixture *f, const nw__sched_result *r) {
  CU_ASSERT_EQUAL(placed(f, r, "p")->kind, NW__PLACE_CLAIM);
}

static void check_relax_order(const fixture *f, const nw__sched_result *r) {
  /* Preferred pod affinity (to pods that exist nowhere) goes before
   * preferred node affinity, so the zone preference survives. */
  const char *z = claim_single(claim_of(f, r, "ordered"), ZONE);
  CU_ASSERT_PTR_NOT_NULL_FATAL(z);
  CU_ASSERT_STRING_EQUAL(z, "test-zone-2");
}

static void check_spread_hostname(const fixture *f,
                                  const nw__sched_result *r) {
  (void)f;
  /* Tiny pods that would share one node; maxSkew 1 on hostname: one per
   * node, since a new node always has 0 of them. */
  CU_ASSERT_EQUAL(r->n_scheduled, 4);
  CU_ASSERT_EQUAL(r->n_claims, 4);
}

static void check_tainted_node(const fixture *f, const nw__sched_result *r) {
  CU_ASSERT_EQUAL(placed(f, r, "plain")->kind, NW__PLACE_CLAIM);
  CU_ASSERT_EQUAL(placed(f, r, "batch")->kind, NW__PLACE_NODE);
}

static void check_limits_existing(const fixture *f,
                                  const nw__sched_result *r) {
  /* A 4-cpu node of the pool already uses half of the 8-cpu limit. */
  CU_ASSERT_EQUAL(r->n_claims, 1);
  CU_ASSERT_TRUE(has_error(f, r, "big-3", "exceed limits"));
}

static void check_limits_nodes(const fixture *f, const nw__sched_result *r) {
  CU_ASSERT_EQUAL(r->n_claims, 3);
  CU_ASSERT_EQUAL(r->n_unschedulable, 1);
  CU_ASSERT_TRUE(has_error(f, r, "big-3", "exceed limits"));
}

/* One web pod runs on a (tainted) node in test-zone-1; the new one is too
 * big for that node, so a claim is made in the zone the spread allows. */
static void expect_zone(const fixture *f, const nw__sched_result *r,
                        const char *zone) {
  const char *z = claim_single(claim_of(f, r, "web-new"), ZONE);
  CU_ASSERT_PTR_NOT_NULL_FATAL(z);
  CU_ASSERT_STRING_EQUAL(z, zone);
}

static void check_taints_ignore(const fixture *f, const nw__sched_result *r) {
  expect_zone(f, r, "test-zone-2"); /* zone-1 already has one */
}

static void check_taints_honor(const fixture *f, const nw__sched_result *r) {
  expect_zone(f, r, "test-zone-1"); /* the tainted node does not count */
}

static void check_match_label_keys(const fixture *f,
                                   const nw__sched_result *r) {
  /* The old revision's pod does not count, so the node in test-zone-1
   * (untainted here, with room) is allowed; without matchLabelKeys the
   * skew would be 2 there. */
  CU_ASSERT_EQUAL(placed(f, r, "web-new")->kind, NW__PLACE_NODE);
}

static void check_affinity_running(const fixture *f,
                                   const nw__sched_result *r) {
  /* The db pod runs in test-zone-3 in namespace "data" (team=data). */
  CU_ASSERT_STRING_EQUAL(claim_single(claim_of(f, r, "api"), ZONE),
                         "test-zone-3");
  /* Selecting team=web namespaces finds no db pod to be near. */
  CU_ASSERT_TRUE(has_error(f, r, "api-wrong-ns", "pod affinity"));
}

static void check_in_flight(const fixture *f, const nw__sched_result *r) {
  /* The node is coming up: its unregistered and startup taints do not
   * count, its real taint does; the daemonset's 1 cpu is reserved, so of
   * 4 cpu only 3 are free: "web" (2) fits, "web-2" (1.5) does not. */
  CU_ASSERT_EQUAL(placed(f, r, "web")->kind, NW__PLACE_NODE);
  CU_ASSERT_EQUAL(placed(f, r, "web-2")->kind, NW__PLACE_CLAIM);
  CU_ASSERT_EQUAL(placed(f, r, "other")->kind, NW__PLACE_CLAIM);
}

static void check_gpu(const fixture *f, const nw__sched_result *r) {
  (void)f;
  CU_ASSERT_EQUAL(r->n_scheduled, 2);
  CU_ASSERT_TRUE_FATAL(r->n_claims >= 1);
  for (size_t c = 0; c < r->n_claims; c++) {
    CU_ASSERT_TRUE(r->claims[c].n_options > 0);
    for (size_t i = 0; i < r->claims[c].n_options; i++)
      CU_ASSERT_TRUE(nw__resources_get(&r->claims[c].options[i]->capacity,
                                       "nvidia.com/gpu") >= 1);
  }
}

static void check_arm64(const fixture *f, const nw__sched_result *r) {
  const nw__sched_claim *c = claim_of(f, r, "any");
  CU_ASSERT_TRUE(c->n_options > 0);
  for (size_t i = 0; i < c->n_options; i++)
    CU_ASSERT_STRING_EQUAL(type_label(c->options[i], "kubernetes.io/arch"),
                           "arm64");
  CU_ASSERT_STRING_EQUAL(c->offering->capacity_type, "on-demand");
  CU_ASSERT_TRUE(has_error(f, r, "amd", "kubernetes.io/arch"));
}

static void check_weights(const fixture *f, const nw__sched_result *r) {
  CU_ASSERT_STRING_EQUAL(claim_of(f, r, "a")->nodepool, "high");
  CU_ASSERT_STRING_EQUAL(claim_of(f, r, "b")->nodepool, "low");
}

static void check_limits(const fixture *f, const nw__sched_result *r) {
  /* cpu limit 8; each claim may become a 4-vCPU node: two fit. */
  CU_ASSERT_EQUAL(r->n_claims, 2);
  CU_ASSERT_EQUAL(r->n_scheduled, 2);
  CU_ASSERT_TRUE(has_error(f, r, "big-3", "exceed limits"));
}

static void check_min_values(const fixture *f, const nw__sched_result *r) {
  CU_ASSERT_TRUE(claim_of(f, r, "fits")->n_options >= 3);
  CU_ASSERT_TRUE(has_error(f, r, "toobig", "minValues"));
}

static void check_daemonset(const fixture *f, const nw__sched_result *r) {
  /* 1500m + 1 cpu daemonset: a 2-vCPU type (1900m allocatable) is too
   * small, the arm64-only daemonset does not count on amd64 types. */
  const nw__sched_claim *c = claim_of(f, r, "app");
  CU_ASSERT_STRING_EQUAL(c->instance_type->name, "fake-it-2");
  CU_ASSERT_EQUAL(nw__resources_get(&c->requests, "cpu"), 2500);
}

static void check_volumes(const fixture *f, const nw__sched_result *r) {
  CU_ASSERT_STRING_EQUAL(claim_single(claim_of(f, r, "db"), ZONE),
                         "test-zone-3");
  CU_ASSERT_STRING_EQUAL(claim_single(claim_of(f, r, "worker"), ZONE),
                         "test-zone-2");
  CU_ASSERT_TRUE(has_error(f, r, "orphan", "\"missing\" not found"));
}

static void check_reasons(const fixture *f, const nw__sched_result *r) {
  CU_ASSERT_EQUAL(placed(f, r, "tolerant")->kind, NW__PLACE_CLAIM);
  CU_ASSERT_TRUE(has_error(f, r, "intolerant",
                           "did not tolerate taint dedicated=infra:NoSchedule"));
  CU_ASSERT_TRUE(has_error(f, r, "intolerant", "nodepool \"default\""));
  CU_ASSERT_TRUE(has_error(f, r, "unknown-label",
                           "label \"team\" does not have known values"));
  CU_ASSERT_TRUE(has_error(f, r, "huge", "no instance type satisfied"));
}

static void check_existing(const fixture *f, const nw__sched_result *r) {
  const nw__sched_placement *p = placed(f, r, "new");
  CU_ASSERT_EQUAL(p->kind, NW__PLACE_NODE);
  CU_ASSERT_EQUAL(p->index, 0);
  CU_ASSERT_EQUAL(r->n_claims, 0);
}

static void check_running_requests(const fixture *f,
                                   const nw__sched_result *r) {
  /* node-a has 4 cpu and one dongle.  Running there: "holder" (1 cpu and
   * the dongle: an extended resource, summed by name) and "busy" (1.5
   * cpu: only well-known resources, summed from the decoder's totals).
   * 1.5 cpu are left: "plain" takes 1 and "plain-2" needs a new node;
   * "wants-dongle" (100m) would fit in the half cpu left, but the dongle
   * is taken. */
  CU_ASSERT_EQUAL(placed(f, r, "plain")->kind, NW__PLACE_NODE);
  CU_ASSERT_NOT_EQUAL(placed(f, r, "plain-2")->kind, NW__PLACE_NODE);
  CU_ASSERT_NOT_EQUAL(placed(f, r, "wants-dongle")->kind, NW__PLACE_NODE);
}

static void check_host_ports(const fixture *f, const nw__sched_result *r) {
  (void)f;
  CU_ASSERT_EQUAL(r->n_scheduled, 2);
  CU_ASSERT_EQUAL(r->n_claims, 2);
}

static void check_inverse_anti(const fixture *f, const nw__sched_result *r) {
  /* A running pod's anti-affinity keeps "noisy" off its node. */
  CU_ASSERT_EQUAL(placed(f, r, "noisy")->kind, NW__PLACE_CLAIM);
  CU_ASSERT_EQUAL(placed(f, r, "quiet")->kind, NW__PLACE_NODE);
}

static const scase cases[] = {
    {"spread-zone", "diverse:8", check_spread_zone},
    {"spread-min-domains", "diverse:8", check_min_domains},
    {"anti-affinity-hostname", "diverse:8", check_anti},
    {"affinity-bootstrap", "diverse:4", check_affinity_bootstrap},
    {"affinity-no-target", "diverse:4", check_affinity_no_target},
    {"relax-preferred-node-affinity", "diverse:4", check_relax_pref},
    {"relax-required-or-terms", "diverse:4", check_relax_or},
    {"relax-schedule-anyway", "diverse:4", check_relax_anyway},
    {"relax-prefer-no-schedule", "diverse:4", check_relax_pns},
    {"gpu", "aws", check_gpu},
    {"arm64-pool", "aws", check_arm64},
    {"pool-weights", "diverse:4", check_weights},
    {"limits-mid-batch", "diverse:4", check_limits},
    {"min-values", "diverse:10", check_min_values},
    {"daemonset-overhead", "diverse:8", check_daemonset},
    {"volume-zone", "diverse:4", check_volumes},
    {"unschedulable-reasons", "diverse:8", check_reasons},
    {"existing-node-first", "diverse:4", check_existing},
    {"host-ports", "diverse:4", check_host_ports},
    {"inverse-anti-affinity", "diverse:4", check_inverse_anti},
    {"relax-order", "diverse:4", check_relax_order},
    {"spread-hostname", "diverse:4", check_spread_hostname},
    {"tainted-node", "diverse:4", check_tainted_node},
    {"limits-existing-usage", "diverse:4", check_limits_existing},
    {"limits-nodes", "diverse:4", check_limits_nodes},
    {"spread-taints-ignore", "diverse:4", check_taints_ignore},
    {"spread-taints-honor", "diverse:4", check_taints_honor},
    {"spread-match-label-keys", "diverse:4", check_match_label_keys},
    {"affinity-running-pods", "diverse:4", check_affinity_running},
    {"in-flight-node", "diverse:4", check_in_flight},
    {"running-pod-requests", "diverse:4", check_running_requests},
};
/* One CASE(i) and one registration below per entry: a case added here
 * without them would never run. */
enum { N_CASES = 31 };
_Static_assert(sizeof(cases) / sizeof(cases[0]) == N_CASES,
               "cases[] and the CASE list below differ in length");

/* NW_TEST_VERBOSE=1 prints every result, to see what a case decided. */
static void dump(const char *name, const nw__sched_result *r) {
  fprintf(stderr, "== %s: %zu scheduled, %zu unschedulable, %zu claims\n",
          name, r->n_scheduled, r->n_unschedulable, r->n_claims);
  for (size_t i = 0; i < r->n_placements; i++) {
    const nw__sched_placement *p = &r->placements[i];
    fprintf(stderr, "  pod %s: kind %d index %zu %s\n", p->pod->name, p->kind,
            p->index, p->error ? p->error : "");
  }
  for (size_t i = 0; i < r->n_claims; i++) {
    const nw__sched_claim *c = &r->claims[i];
    fprintf(stderr, "  claim %zu pool %s: %zu pods, %s %s %s $%.4f, %zu/%zu "
            "options\n", i, c->nodepool, c->n_pods,
            c->instance_type ? c->instance_type->name : "-",
            c->offering ? c->offering->zone : "-",
            c->offering ? c->offering->capacity_type : "-", c->price,
            c->n_options, c->n_options_total);
  }
}

static void run_case(const scase *c) {
  fixture f;
  CU_ASSERT_EQUAL_FATAL(fixture_load(&f, c->fixture, c->catalog), 0);
  nw_error err = {0};
  nw__scheduler *s = nw__scheduler_new(&f.in, &err);
  CU_ASSERT_PTR_NOT_NULL_FATAL(s);
  nw_arena *out = nw__arena_new();
  nw__sched_result *r = nw__scheduler_solve(s, f.pending, f.n_pending, NULL,
                                            out, &err);
  CU_ASSERT_PTR_NOT_NULL_FATAL(r);
  if (getenv("NW_TEST_VERBOSE"))
    dump(c->fixture, r);
  c->check(&f, r);
  nw__arena_free(out);
  nw__scheduler_free(s);
  fixture_free(&f);
}

#define CASE(i)                                                                \
  static void test_##i(void) { run_case(&cases[i]); }
CASE(0)
CASE(1)
CASE(2)
CASE(3)
CASE(4)
CASE(5)
CASE(6)
CASE(7)
CASE(8)
CASE(9)
CASE(10)
CASE(11)
CASE(12)
CASE(13)
CASE(14)
CASE(15)
CASE(16)
CASE(17)
CASE(18)
CASE(19)
CASE(20)
CASE(21)
CASE(22)
CASE(23)
CASE(24)
CASE(25)
CASE(26)
CASE(27)
CASE(28)
CASE(29)
CASE(30)

/* Consolidation's question: without node-b, where do its pods go? */
static void test_remove_nodes(void) {
  fixture f;
  CU_ASSERT_EQUAL_FATAL(fixture_load(&f, "consolidate-remove", "diverse:4"), 0);
  nw__scheduler *s = nw__scheduler_new(&f.in, NULL);
  CU_ASSERT_PTR_NOT_NULL_FATAL(s);
  for (int round = 0; round < 2; round++) {
    /* Twice: the same scheduler answers again, unchanged. */
    nw_arena *out = nw__arena_new();
    size_t gone = 1;
    nw__sched_opts o = {.n_removed = 1, .removed = &gone};
    nw__sched_result *r = nw__scheduler_solve(s, NULL, 0, &o, out, NULL);
    CU_ASSERT_EQUAL(r->n_placements, 2);
    CU_ASSERT_EQUAL(r->n_claims, 0);
    size_t moved = 0;
    for (size_t i = 0; i < r->n_placements; i++) {
      const nw__sched_placement *p = &r->placements[i];
      if (strcmp(p->pod->name, "b1") == 0) {
        CU_ASSERT_EQUAL(p->kind, NW__PLACE_NODE);
        CU_ASSERT_EQUAL(p->index, 0);
        moved++;
      } else {
        /* The daemonset pod stays behind. */
        CU_ASSERT_EQUAL(p->kind, NW__PLACE_NONE);
      }
    }
    CU_ASSERT_EQUAL(moved, 1);
    nw__arena_free(out);
  }
  /* Nothing removed: no pods to place at all. */
  nw_arena *out = nw__arena_new();
  nw__sched_result *r = nw__scheduler_solve(s, NULL, 0, NULL, out, NULL);
  CU_ASSERT_EQUAL(r->n_placements, 0);
  nw__arena_free(out);
  nw__scheduler_free(s);
  fixture_free(&f);
}

/*
 * Pods that fail on a node for a reason their class shares (here a
 * PreferNoSchedule taint) stop trying it for the rest of the solve, but a
 * relaxed pod is of another class and tries it again: p1 and p2 skip
 * tainted node-a, p1 fills node-b, and p2, with no new claims allowed,
 * tolerates the taint once relaxed and lands on node-a.
 */
static void test_relaxed_pod_retries_dropped_node(void) {
  fixture f;
  CU_ASSERT_EQUAL_FATAL(
      fixture_load(&f, "prefer-no-schedule-node", "diverse:4"), 0);
  nw__scheduler *s = nw__scheduler_new(&f.in, NULL);
  CU_ASSERT_PTR_NOT_NULL_FATAL(s);
  nw_arena *out = nw__arena_new();
  nw__sched_opts o = {.no_new_claims = 1};
  nw__sched_result *r = nw__scheduler_solve(s, f.pending, f.n_pending, &o,
                                            out, NULL);
  CU_ASSERT_EQUAL(r->n_scheduled, 2);
  CU_ASSERT_EQUAL(placed(&f, r, "p1")->kind, NW__PLACE_NODE);
  CU_ASSERT_EQUAL(placed(&f, r, "p1")->index, 1);
  CU_ASSERT_EQUAL(placed(&f, r, "p2")->kind, NW__PLACE_NODE);
  CU_ASSERT_EQUAL(placed(&f, r, "p2")->index, 0);
  nw__arena_free(out);
  nw__scheduler_free(s);
  fixture_free(&f);
}

/* Same input, same result. */
static void test_deterministic(void) {
  fixture f;
  CU_ASSERT_EQUAL_FATAL(fixture_load(&f, "spread-zone", "diverse:8"), 0);
  char first[4096] = "", now[4096];
  for (int round = 0; round < 3; round++) {
    nw__scheduler *s = nw__scheduler_new(&f.in, NULL);
    nw_arena *out = nw__arena_new();
    nw__sched_result *r = nw__scheduler_solve(s, f.pending, f.n_pending, NULL,
                                              out, NULL);
    size_t k = 0;
    for (size_t i = 0; i < r->n_placements; i++)
      k += (size_t)snprintf(now + k, sizeof(now) - k, "%d:%zu:%s,",
                            r->placements[i].kind, r->placements[i].index,
                            r->placements[i].kind == NW__PLACE_CLAIM
                                ? claim_single(&r->claims[r->placements[i].index],
                                               ZONE)
                                : "");
    if (round == 0)
      memcpy(first, now, sizeof(first));
    else
      CU_ASSERT_STRING_EQUAL(now, first);
    nw__arena_free(out);
    nw__scheduler_free(s);
  }
  fixture_free(&f);
}

NW_TEST_CASES({"spread_zone", test_0}, {"spread_min_domains", test_1},
              {"anti_affinity_one_per_node", test_2},
              {"affinity_bootstraps_one_domain", test_3},
              {"affinity_without_target", test_4},
              {"relax_preferred_node_affinity_heaviest_first", test_5},
              {"relax_required_or_terms", test_6},
              {"relax_schedule_anyway_spread", test_7},
              {"relax_prefer_no_schedule_taint", test_8},
              {"gpu_pods_only_on_gpu_types", test_9},
              {"arm64_only_pool", test_10}, {"pool_weights", test_11},
              {"limits_reached_mid_batch", test_12}, {"min_values", test_13},
              {"daemonset_overhead_changes_type", test_14},
              {"volume_zone_pinning", test_15},
              {"unschedulable_reasons", test_16},
              {"existing_nodes_first", test_17}, {"host_ports", test_18},
              {"inverse_anti_affinity", test_19},
              {"relax_pod_affinity_before_node_affinity", test_20},
              {"spread_hostname_one_per_node", test_21},
              {"taints_on_existing_nodes", test_22},
              {"limits_count_existing_nodes", test_23},
              {"limits_on_node_count", test_24},
              {"spread_node_taints_policy_ignore", test_25},
              {"spread_node_taints_policy_honor", test_26},
              {"spread_match_label_keys", test_27},
              {"affinity_to_running_pods_namespace_selector", test_28},
              {"in_flight_node_startup_taints_and_daemonsets", test_29},
              {"running_pods_requests_on_existing_node", test_30},
              {"remove_nodes_reschedules", test_remove_nodes},
              {"relaxed_pod_retries_dropped_node",
               test_relaxed_pod_retries_dropped_node},
              {"deterministic", test_deterministic});
NW_TEST_MAIN("scheduling", NULL, NULL);
