/*
 * One disruption pass on built cluster states: the method order, the
 * validation of a decision on a later state, expiration and drift.
 */
#include <stdio.h>
#include <string.h>

#include "disruption/drift.h"
#include "disruption/pass.h"
#include "fixture.h"
#include "kube/kutil.h"
#include "nwtest.h"
#include "util/arena.h"

/* Decides on the cluster with the default strategy. */
static int decide(cluster *c, nw__disruption_decision *d) {
  nw_error err = {0, ""};
  nw__scheduler *s = nw__scheduler_new(&c->in, &err);
  CU_ASSERT_PTR_NOT_NULL_FATAL(s);
  int rc = nw__disruption_decide(&c->st, s, g_default, 0, c->a, d, &err);
  nw__scheduler_free(s);
  if (rc != 0)
    fprintf(stderr, "\n  decide: %s\n", err.message);
  return rc;
}

static int validate(cluster *c, const nw__disruption_decision *d,
                    const char **why) {
  nw_error err = {0, ""};
  nw__scheduler *s = nw__scheduler_new(&c->in, &err);
  CU_ASSERT_PTR_NOT_NULL_FATAL(s);
  int ok = nw__disruption_validate(d, &c->st, s, c->a, why);
  nw__scheduler_free(s);
  return ok;
}

static void set_drifted(cluster *c, size_t i) {
  json_array_append_new(
      json_object_get(json_object_get((json_t *)c->claims[i], "status"), "conditions"),
      json_pack("{s:s, s:s}", "type", "Drifted", "status", "True"));
}

static void test_methods_in_order(void) {
  const tnode nodes[] = {
      {"a", "c8", 2, {0}, 0, 0}, {"b", "c8", 2, {0}, 0, 0},
      {"c", "c8", 2, {0}, 0, 0}, {"empty", "c8", 0, {0}, 0, 0},
  };
  cluster c;
  nw__disruption_decision d;
  const char *budget = "[{\"nodes\":\"100%\"}]";

  /* Emptiness first. */
  build(&c, budget, nodes, 4, NULL);
  set_drifted(&c, 0);
  CU_ASSERT_EQUAL_FATAL(decide(&c, &d), 0);
  CU_ASSERT_TRUE(d.found);
  CU_ASSERT_EQUAL(d.method, NW_METHOD_EMPTINESS);
  CU_ASSERT_EQUAL_FATAL(d.command.n_candidates, 1);
  CU_ASSERT_EQUAL(d.nodes[0], 3);
  teardown_cluster(&c);

  /* Then drift, before consolidation. */
  build(&c, budget, nodes, 3, NULL);
  set_drifted(&c, 1);
  CU_ASSERT_EQUAL_FATAL(decide(&c, &d), 0);
  CU_ASSERT_TRUE(d.found);
  CU_ASSERT_EQUAL(d.method, NW_METHOD_DRIFT);
  CU_ASSERT_EQUAL_FATAL(d.command.n_candidates, 1);
  CU_ASSERT_EQUAL(d.nodes[0], 1);
  teardown_cluster(&c);

  /* Then multi-node: all three into one c16. */
  build(&c, budget, nodes, 3, NULL);
  CU_ASSERT_EQUAL_FATAL(decide(&c, &d), 0);
  CU_ASSERT_TRUE(d.found);
  CU_ASSERT_EQUAL(d.method, NW_METHOD_MULTI_NODE);
  CU_ASSERT_EQUAL(d.command.n_candidates, 3);
  teardown_cluster(&c);

  /* A lone c4: nothing to do, by any method. */
  const tnode lone[] = {{"small", "c4", 1, {0}, 0, 0}};
  build(&c, NULL, lone, 1, NULL);
  CU_ASSERT_EQUAL_FATAL(decide(&c, &d), 0);
  CU_ASSERT_FALSE(d.found);
  teardown_cluster(&c);
}

/* Single-node consolidation simulates at most 25 candidates of a pool per
 * pass (a count, where Karpenter has a 3-minute timeout): 30 full c4
 * nodes, none of which can go or be replaced by anything cheaper. */
static void test_single_node_is_bounded(void) {
  tnode nodes[30];
  char names[30][8];
  cluster c;
  nw__disruption_decision d;

  for (int i = 0; i < 30; i++) {
    snprintf(names[i], sizeof(names[i]), "n%02d", i);
    nodes[i] = (tnode){names[i], "c4", 2, {0}, 0, 0};
  }
  build(&c, "[{\"nodes\":\"100%\"}]", nodes, 30, NULL);
  CU_ASSERT_EQUAL_FATAL(decide(&c, &d), 0);
  CU_ASSERT_FALSE(d.found);
  /* The last method tried is single-node, on the bounded candidates. */
  CU_ASSERT_EQUAL(d.method, NW_METHOD_SINGLE_NODE);
  CU_ASSERT_EQUAL(d.set.n, 25);
  /* The cheapest to disrupt first: all cost the same, so node order. */
  CU_ASSERT_STRING_EQUAL(d.set.items[0].node_name, "n00");
  CU_ASSERT_STRING_EQUAL(d.set.items[24].node_name, "n24");
  teardown_cluster(&c);

  /* Below the bound every candidate is tried. */
  build(&c, "[{\"nodes\":\"100%\"}]", nodes, 20, NULL);
  CU_ASSERT_EQUAL_FATAL(decide(&c, &d), 0);
  CU_ASSERT_FALSE(d.found);
  CU_ASSERT_EQUAL(d.set.n, 20);
  teardown_cluster(&c);
}

static void test_validation_keeps_a_fresh_decision(void) {
  const tnode nodes[] = {{"spare", "c8", 1, {0}, 0, 0}, {"other", "c8", 2, {0}, 0, 0}};
  cluster c;
  nw__disruption_decision d;
  const char *why = NULL;
  build(&c, NULL, nodes, 2, NULL);
  CU_ASSERT_EQUAL_FATAL(decide(&c, &d), 0);
  CU_ASSERT_TRUE_FATAL(d.found);
  CU_ASSERT_EQUAL(d.command.kind, NW_COMMAND_DELETE);
  CU_ASSERT_EQUAL(validate(&c, &d, &why), 1);
  teardown_cluster(&c);
}

/* Pods arrived on the other node meanwhile: the delete no longer fits. */
static void test_validation_rejects_stale_delete(void) {
  const tnode before[] = {{"spare", "c8", 1, {0}, 0, 0}, {"other", "c8", 2, {0}, 0, 0}};
  const tnode after[] = {{"spare", "c8", 1, {0}, 0, 0}, {"other", "c8", 4, {0}, 0, 0}};
  cluster c1, c2;
  nw__disruption_decision d;
  const char *why = NULL;
  build(&c1, NULL, before, 2, NULL);
  CU_ASSERT_EQUAL_FATAL(decide(&c1, &d), 0);
  CU_ASSERT_TRUE_FATAL(d.found);
  CU_ASSERT_EQUAL(d.method, NW_METHOD_SINGLE_NODE);
  build(&c2, NULL, after, 2, NULL);
  CU_ASSERT_EQUAL(validate(&c2, &d, &why), 0);
  CU_ASSERT_PTR_NOT_NULL_FATAL(why);
  CU_ASSERT_PTR_NOT_NULL(strstr(why, "deleting now needs 1 new node"));
  teardown_cluster(&c2);

  /* A pod with do-not-disrupt arrived on the candidate. */
  const tnode guarded[] = {
      {"spare", "c8", 2, {"", ",\"annotations\":{\"karpenter.sh/do-not-disrupt\":\"true\"}"}, 0, 0},
      {"other", "c8", 2, {0}, 0, 0}};
  build(&c2, NULL, guarded, 2, NULL);
  why = NULL;
  CU_ASSERT_EQUAL(validate(&c2, &d, &why), 0);
  CU_ASSERT_PTR_NOT_NULL_FATAL(why);
  CU_ASSERT_PTR_NOT_NULL(strstr(why, "node spare is no longer a candidate"));
  teardown_cluster(&c2);
  teardown_cluster(&c1);
}

/* The replacement option chosen (c4) no longer holds the pods. */
static void test_validation_rejects_stale_replace(void) {
  const tnode before[] = {{"big", "c8", 1, {0}, 0, 0}};
  const tnode after[] = {{"big", "c8", 3, {0}, 0, 0}};
  cluster c1, c2;
  nw__disruption_decision d;
  const char *why = NULL;
  build(&c1, NULL, before, 1, NULL);
  CU_ASSERT_EQUAL_FATAL(decide(&c1, &d), 0);
  CU_ASSERT_TRUE_FATAL(d.found);
  CU_ASSERT_EQUAL(d.command.kind, NW_COMMAND_REPLACE);
  CU_ASSERT_EQUAL(validate(&c1, &d, &why), 1);
  build(&c2, NULL, after, 1, NULL);
  why = NULL;
  CU_ASSERT_EQUAL(validate(&c2, &d, &why), 0);
  CU_ASSERT_PTR_NOT_NULL_FATAL(why);
  CU_ASSERT_PTR_NOT_NULL(strstr(why, "replacement option c4 is no longer available"));
  teardown_cluster(&c2);
  teardown_cluster(&c1);
}

/* Emptiness: a pod landed on the empty node. */
static void test_validation_rejects_no_longer_empty(void) {
  const tnode before[] = {{"e", "c8", 0, {0}, 0, 0}, {"o", "c8", 1, {0}, 0, 0}};
  const tnode after[] = {{"e", "c8", 1, {0}, 0, 0}, {"o", "c8", 1, {0}, 0, 0}};
  cluster c1, c2;
  nw__disruption_decision d;
  const char *why = NULL;
  build(&c1, NULL, before, 2, NULL);
  CU_ASSERT_EQUAL_FATAL(decide(&c1, &d), 0);
  CU_ASSERT_EQUAL_FATAL(d.method, NW_METHOD_EMPTINESS);
  build(&c2, NULL, after, 2, NULL);
  why = NULL;
  CU_ASSERT_EQUAL(validate(&c2, &d, &why), 0);
  CU_ASSERT_PTR_NOT_NULL_FATAL(why);
  CU_ASSERT_PTR_NOT_NULL(strstr(why, "node e is no longer a candidate"));
  teardown_cluster(&c2);
  teardown_cluster(&c1);
}

static json_t *parse(const char *text) {
  json_error_t e;
  json_t *j = json_loads(text, 0, &e);
  CU_ASSERT_PTR_NOT_NULL_FATAL(j);
  return j;
}

static void test_expiration(void) {
  int64_t now = nw__kube_parse_time(NOW), at;
  json_t *short_lived = parse("{\"metadata\":{\"name\":\"a\",\"creationTimestamp\":"
                              "\"2026-11-27T10:00:00Z\"},\"spec\":{\"expireAfter\":\"1h30m\"}}");
  json_t *never = parse("{\"metadata\":{\"name\":\"b\",\"creationTimestamp\":"
                        "\"2026-01-01T00:00:00Z\"},\"spec\":{\"expireAfter\":\"Never\"}}");
  json_t *inherit = parse("{\"metadata\":{\"name\":\"c\",\"creationTimestamp\":"
                          "\"2026-11-27T10:00:00Z\"},\"spec\":{}}");
  nw_arena *a = nw__arena_new();
  nw_error err = {0, ""};
  json_t *np_json = parse("{\"metadata\":{\"name\":\"p\"},\"spec\":{\"template\":{\"spec\":{"
                          "\"nodeClassRef\":{\"group\":\"g\",\"kind\":\"K\",\"name\":\"n\"},"
                          "\"requirements\":[],\"expireAfter\":\"3h\"}}}}");
  nw__nodepool *np = nw__nodepool_decode(np_json, a, &err);
  CU_ASSERT_PTR_NOT_NULL_FATAL(np);
  CU_ASSERT_EQUAL(nw__claim_expired(short_lived, np, now, &at), 1);
  CU_ASSERT_EQUAL(at, nw__kube_parse_time("2026-11-27T11:30:00Z"));
  CU_ASSERT_EQUAL(nw__claim_expired(never, np, now, &at), 0);
  CU_ASSERT_EQUAL(at, -1);
  /* No expireAfter of its own: the pool's 3h, from 10:00. */
  CU_ASSERT_EQUAL(nw__claim_expired(inherit, np, now, &at), 0);
  CU_ASSERT_EQUAL(at, nw__kube_parse_time("2026-11-27T13:00:00Z"));
  CU_ASSERT_EQUAL(nw__claim_expired(inherit, np, at, NULL), 1);
  json_decref(short_lived);
  json_decref(never);
  json_decref(inherit);
  json_decref(np_json);
  nw__arena_free(a);
}

static void test_drift(void) {
  nw_arena *a = nw__arena_new();
  nw_error err = {0, ""};
  json_t *np_json = parse(
      "{\"metadata\":{\"name\":\"p\"},\"spec\":{\"template\":{"
      "\"metadata\":{\"labels\":{\"team\":\"x\"}},\"spec\":{"
      "\"nodeClassRef\":{\"group\":\"g\",\"kind\":\"K\",\"name\":\"n\"},"
      "\"requirements\":[{\"key\":\"kubernetes.io/arch\",\"operator\":\"In\",\"values\":[\"amd64\"]},"
      "{\"key\":\"topology.kubernetes.io/zone\",\"operator\":\"In\",\"values\":[\"z1\",\"z2\"]}]}}}}");
  nw__nodepool *np = nw__nodepool_decode(np_json, a, &err);
  char hash[21];
  CU_ASSERT_PTR_NOT_NULL_FATAL(np);
  CU_ASSERT_EQUAL_FATAL(nw__nodepool_hash(np_json, hash, &err), 0);

  char text[512];
  snprintf(text, sizeof(text),
           "{\"metadata\":{\"name\":\"c\",\"annotations\":{\"karpenter.sh/nodepool-hash\":"
           "\"%s\",\"karpenter.sh/nodepool-hash-version\":\"" NW__NODEPOOL_HASH_VERSION "\"}}}",
           hash);
  json_t *current = parse(text);
  json_t *old = parse("{\"metadata\":{\"name\":\"c\",\"annotations\":{\"karpenter.sh/nodepool-hash\":"
                      "\"123\",\"karpenter.sh/nodepool-hash-version\":\"" NW__NODEPOOL_HASH_VERSION "\"}}}");
  json_t *karpenter = parse("{\"metadata\":{\"name\":\"c\",\"annotations\":{\"karpenter.sh/nodepool-hash\":"
                            "\"123\",\"karpenter.sh/nodepool-hash-version\":\"v3\"}}}");
  nw_kv ok_kv[] = {{"kubernetes.io/arch", "amd64"}, {"topology.kubernetes.io/zone", "z2"}};
  nw_kv arm_kv[] = {{"kubernetes.io/arch", "arm64"}, {"topology.kubernetes.io/zone", "z2"}};
  nw_kv bare_kv[] = {{"kubernetes.io/hostname", "n"}};
  nw_labels ok = {2, ok_kv}, arm = {2, arm_kv}, bare = {1, bare_kv};

  CU_ASSERT_EQUAL(nw__claim_drift(current, np, hash, &ok), NW__DRIFT_NONE);
  CU_ASSERT_EQUAL(nw__claim_drift(old, np, hash, &ok), NW__DRIFT_NODEPOOL);
  CU_ASSERT_STRING_EQUAL(nw__drift_reason(NW__DRIFT_NODEPOOL), "NodePoolDrifted");
  CU_ASSERT_EQUAL(nw__claim_drift(karpenter, np, hash, &ok), NW__DRIFT_RESTAMP);
  CU_ASSERT_EQUAL(nw__claim_drift(current, np, hash, &arm), NW__DRIFT_REQUIREMENTS);
  /* Well-known labels the node lacks are not drift. */
  CU_ASSERT_EQUAL(nw__claim_drift(current, np, hash, &bare), NW__DRIFT_NONE);
  /* Nor are labels of a provider's registered domain. */
  json_t *np3_json = parse(
      "{\"metadata\":{\"name\":\"p\"},\"spec\":{\"template\":{\"spec\":{"
      "\"nodeClassRef\":{\"group\":\"g\",\"kind\":\"K\",\"name\":\"n\"},"
      "\"requirements\":[{\"key\":\"karpenter.k8s.aws/instance-category\",\"operator\":\"In\","
      "\"values\":[\"c\",\"m\"]}]}}}}");
  nw__nodepool *np3 = nw__nodepool_decode(np3_json, a, &err);
  CU_ASSERT_PTR_NOT_NULL_FATAL(np3);
  CU_ASSERT_EQUAL(nw__claim_drift(current, np3, NULL, &ok), NW__DRIFT_NONE);
  nw_kv r_kv[] = {{"karpenter.k8s.aws/instance-category", "r"}};
  nw_labels r_labels = {1, r_kv};
  CU_ASSERT_EQUAL(nw__claim_drift(current, np3, NULL, &r_labels), NW__DRIFT_REQUIREMENTS);
  json_decref(np3_json);

  /* A requirement on a custom label the node lacks is. */
  json_t *np2_json = parse(
      "{\"metadata\":{\"name\":\"p\"},\"spec\":{\"template\":{\"spec\":{"
      "\"nodeClassRef\":{\"group\":\"g\",\"kind\":\"K\",\"name\":\"n\"},"
      "\"requirements\":[{\"key\":\"example.com/tier\",\"operator\":\"In\",\"values\":[\"gold\"]}]}}}}");
  nw__nodepool *np2 = nw__nodepool_decode(np2_json, a, &err);
  CU_ASSERT_PTR_NOT_NULL_FATAL(np2);
  CU_ASSERT_EQUAL(nw__claim_drift(current, np2, NULL, &ok), NW__DRIFT_REQUIREMENTS);
  CU_ASSERT_STRING_EQUAL(nw__drift_reason(NW__DRIFT_REQUIREMENTS), "RequirementsDrifted");

  json_decref(current);
  json_decref(old);
  json_decref(karpenter);
  json_decref(np_json);
  json_decref(np2_json);
  nw__arena_free(a);
}

NW_TEST_CASES({"single_node_is_bounded", test_single_node_is_bounded},
              {"methods_in_order", test_methods_in_order},
              {"validation_keeps_a_fresh_decision",
               test_validation_keeps_a_fresh_decision},
              {"validation_rejects_stale_delete",
               test_validation_rejects_stale_delete},
              {"validation_rejects_stale_replace",
               test_validation_rejects_stale_replace},
              {"validation_rejects_no_longer_empty",
               test_validation_rejects_no_longer_empty},
              {"expiration", test_expiration}, {"drift", test_drift});
NW_TEST_MAIN("disruption-pass", setup, teardown);
