/* Candidate rules, disruption cost, template hash (core/disruption/). */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "disruption/candidate.h"
#include "disruption/drift.h"
#include "kube/kutil.h"
#include "util/arena.h"
#include "nwtest.h"

static json_t *parse(const char *text) {
  json_error_t e;
  json_t *j = json_loads(text, 0, &e);
  if (j == NULL)
    fprintf(stderr, "\n  bad test JSON: %s\n", e.text);
  CU_ASSERT_PTR_NOT_NULL_FATAL(j);
  return j;
}

static int64_t t(const char *rfc3339) { return nw__kube_parse_time(rfc3339); }

static void test_eviction_cost(void) {
  json_t *plain = parse("{\"metadata\":{\"name\":\"p\"}}");
  json_t *prio = parse("{\"spec\":{\"priority\":1000000000}}");
  json_t *del = parse("{\"metadata\":{\"annotations\":{"
                      "\"controller.kubernetes.io/pod-deletion-cost\":\"-2147483647\"}}}");
  json_t *half = parse("{\"metadata\":{\"annotations\":{"
                       "\"controller.kubernetes.io/pod-deletion-cost\":\"67108864\"}},"
                       "\"spec\":{\"priority\":-16777216}}");
  json_t *bad = parse("{\"metadata\":{\"namespace\":\"ns\",\"name\":\"b\","
                      "\"annotations\":{\"controller.kubernetes.io/pod-deletion-cost\":\"lots\"}}}");
  nw_error err = {0, ""};
  CU_ASSERT_DOUBLE_EQUAL(nw__pod_eviction_cost(plain, NULL), 1.0, 1e-12);
  /* 1 + 1e9 / 2^25 = 30.8, clamped to 10. */
  CU_ASSERT_DOUBLE_EQUAL(nw__pod_eviction_cost(prio, NULL), 10.0, 1e-12);
  /* 1 - (2^31 - 1) / 2^27 = -15, clamped to -10. */
  CU_ASSERT_DOUBLE_EQUAL(nw__pod_eviction_cost(del, NULL), -10.0, 1e-12);
  /* 1 + 0.5 - 0.5. */
  CU_ASSERT_DOUBLE_EQUAL(nw__pod_eviction_cost(half, NULL), 1.0, 1e-12);
  CU_ASSERT_DOUBLE_EQUAL(nw__pod_eviction_cost(bad, &err), 1.0, 1e-12);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "pod ns/b"));
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "\"lots\""));

  const json_t *pods[] = {plain, plain, half, del};
  /* 1 + 1 + 1 - 10 = -7, at 25% lifetime left. */
  CU_ASSERT_DOUBLE_EQUAL(nw__disruption_cost(pods, 4, 0.25), -1.75, 1e-12);
  json_decref(plain);
  json_decref(prio);
  json_decref(del);
  json_decref(half);
  json_decref(bad);
}

static void test_lifetime_remaining(void) {
  int64_t day = 86400000;
  CU_ASSERT_DOUBLE_EQUAL(nw__lifetime_remaining(0, 0, 5 * day), 1.0, 1e-12);
  CU_ASSERT_DOUBLE_EQUAL(nw__lifetime_remaining(0, 30 * day, 0), 1.0, 1e-12);
  CU_ASSERT_DOUBLE_EQUAL(nw__lifetime_remaining(0, 30 * day, 27 * day), 0.1, 1e-12);
  CU_ASSERT_DOUBLE_EQUAL(nw__lifetime_remaining(0, 30 * day, 40 * day), 0.0, 1e-12);
}

static void test_pod_do_not_disrupt(void) {
  int64_t until;
  nw_error err = {0, ""};
  json_t *yes = parse("{\"metadata\":{\"annotations\":{\"karpenter.sh/do-not-disrupt\":\"true\"}}}");
  json_t *no = parse("{\"metadata\":{\"annotations\":{\"karpenter.sh/do-not-disrupt\":\"false\"}}}");
  json_t *none = parse("{\"metadata\":{}}");
  json_t *dur = parse("{\"metadata\":{\"creationTimestamp\":\"2026-11-27T09:00:00Z\","
                      "\"annotations\":{\"karpenter.sh/do-not-disrupt\":\"5m\"}},"
                      "\"status\":{\"startTime\":\"2026-11-27T10:00:00Z\"}}");
  json_t *dur_created = parse("{\"metadata\":{\"creationTimestamp\":\"2026-11-27T09:00:00Z\","
                              "\"annotations\":{\"karpenter.sh/do-not-disrupt\":\"1h30m\"}}}");
  json_t *done = parse("{\"metadata\":{\"annotations\":{\"karpenter.sh/do-not-disrupt\":\"true\"}},"
                       "\"status\":{\"phase\":\"Succeeded\"}}");
  json_t *junk = parse("{\"metadata\":{\"namespace\":\"a\",\"name\":\"j\","
                       "\"annotations\":{\"karpenter.sh/do-not-disrupt\":\"maybe\"}}}");
  int64_t now = t("2026-11-27T10:03:00Z");

  CU_ASSERT_EQUAL(nw__pod_do_not_disrupt(yes, now, &until, NULL), 1);
  CU_ASSERT_EQUAL(until, INT64_MAX);
  CU_ASSERT_EQUAL(nw__pod_do_not_disrupt(no, now, &until, NULL), 0);
  CU_ASSERT_EQUAL(nw__pod_do_not_disrupt(none, now, &until, NULL), 0);
  CU_ASSERT_EQUAL(until, 0);
  /* "5m" from the pod's start (10:00), not its creation. */
  CU_ASSERT_EQUAL(nw__pod_do_not_disrupt(dur, now, &until, NULL), 1);
  CU_ASSERT_EQUAL(until, t("2026-11-27T10:05:00Z"));
  CU_ASSERT_EQUAL(nw__pod_do_not_disrupt(dur, t("2026-11-27T10:05:00Z"), &until, NULL), 0);
  /* Without startTime, from creation: 09:00 + 1h30m. */
  CU_ASSERT_EQUAL(nw__pod_do_not_disrupt(dur_created, now, NULL, NULL), 1);
  CU_ASSERT_EQUAL(nw__pod_do_not_disrupt(dur_created, t("2026-11-27T10:31:00Z"), NULL, NULL), 0);
  CU_ASSERT_EQUAL(nw__pod_do_not_disrupt(done, now, NULL, NULL), 0);
  CU_ASSERT_EQUAL(nw__pod_do_not_disrupt(junk, now, &until, &err), 1);
  CU_ASSERT_EQUAL(until, INT64_MAX);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "pod a/j"));
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "\"maybe\""));

  json_t *node = parse("{\"metadata\":{\"annotations\":{\"karpenter.sh/do-not-disrupt\":\"\"}}}");
  CU_ASSERT_EQUAL(nw__object_do_not_disrupt(node), 1);
  CU_ASSERT_EQUAL(nw__object_do_not_disrupt(none), 0);
  json_decref(node);
  json_decref(yes);
  json_decref(no);
  json_decref(none);
  json_decref(dur);
  json_decref(dur_created);
  json_decref(done);
  json_decref(junk);
}

static void test_pdb_blocking(void) {
  json_t *pdbs = parse(
      "[{\"metadata\":{\"namespace\":\"web\",\"name\":\"front\"},"
      "  \"spec\":{\"selector\":{\"matchLabels\":{\"app\":\"front\"}}},"
      "  \"status\":{\"disruptionsAllowed\":0}},"
      " {\"metadata\":{\"namespace\":\"web\",\"name\":\"api\"},"
      "  \"spec\":{\"selector\":{\"matchExpressions\":[{\"key\":\"app\","
      "   \"operator\":\"In\",\"values\":[\"api\",\"rpc\"]}]}},"
      "  \"status\":{\"disruptionsAllowed\":1}},"
      " {\"metadata\":{\"namespace\":\"web\",\"name\":\"rpc\"},"
      "  \"spec\":{\"selector\":{\"matchLabels\":{\"app\":\"rpc\"}}},"
      "  \"status\":{\"disruptionsAllowed\":3}},"
      " {\"metadata\":{\"namespace\":\"batch\",\"name\":\"all\"},"
      "  \"spec\":{\"selector\":{}},\"status\":{\"disruptionsAllowed\":0}}]");
  const char *name = NULL;
  json_t *front = parse("{\"metadata\":{\"namespace\":\"web\",\"labels\":{\"app\":\"front\"}}}");
  json_t *api = parse("{\"metadata\":{\"namespace\":\"web\",\"labels\":{\"app\":\"api\"}}}");
  json_t *rpc = parse("{\"metadata\":{\"namespace\":\"web\",\"labels\":{\"app\":\"rpc\"}}}");
  json_t *other_ns = parse("{\"metadata\":{\"namespace\":\"dev\",\"labels\":{\"app\":\"front\"}}}");
  json_t *batch = parse("{\"metadata\":{\"namespace\":\"batch\",\"labels\":{\"x\":\"y\"}}}");

  CU_ASSERT_EQUAL(nw__pod_pdb_blocked(front, pdbs, &name), 1);
  CU_ASSERT_STRING_EQUAL(name, "front");
  CU_ASSERT_EQUAL(nw__pod_pdb_blocked(api, pdbs, NULL), 0);
  /* Two PDBs select rpc pods: the eviction API refuses them. */
  CU_ASSERT_EQUAL(nw__pod_pdb_blocked(rpc, pdbs, NULL), 1);
  CU_ASSERT_EQUAL(nw__pod_pdb_blocked(other_ns, pdbs, NULL), 0);
  /* An empty selector selects every pod in its namespace. */
  CU_ASSERT_EQUAL(nw__pod_pdb_blocked(batch, pdbs, &name), 1);
  CU_ASSERT_STRING_EQUAL(name, "all");
  json_decref(pdbs);
  json_decref(front);
  json_decref(api);
  json_decref(rpc);
  json_decref(other_ns);
  json_decref(batch);
}

/* The same rules on pods decoded by core/model, as the controller has
 * them next to the scheduler's input. */
static void test_model_pods(void) {
  nw_arena *a = nw__arena_new();
  nw_error err = {0, ""};
  json_t *j = parse(
      "{\"metadata\":{\"namespace\":\"web\",\"name\":\"p\","
      "\"creationTimestamp\":\"2026-11-27T10:00:00Z\",\"labels\":{\"app\":\"front\"},"
      "\"annotations\":{\"karpenter.sh/do-not-disrupt\":\"10m\","
      "\"controller.kubernetes.io/pod-deletion-cost\":\"134217728\"}},"
      "\"spec\":{\"priority\":33554432,\"containers\":[{\"name\":\"c\"}]}}");
  json_t *pdbs = parse(
      "[{\"metadata\":{\"namespace\":\"web\",\"name\":\"front\"},"
      "\"spec\":{\"selector\":{\"matchLabels\":{\"app\":\"front\"}}},"
      "\"status\":{\"disruptionsAllowed\":0}}]");
  nw__pod *p = nw__pod_decode(j, a, &err);
  int64_t until;
  const char *name = NULL;
  CU_ASSERT_PTR_NOT_NULL_FATAL(p);
  /* 1 + 1 (deletion cost 2^27) + 1 (priority 2^25). */
  CU_ASSERT_DOUBLE_EQUAL(nw__model_pod_eviction_cost(p, NULL), 3.0, 1e-12);
  CU_ASSERT_EQUAL(nw__model_pod_do_not_disrupt(p, t("2026-11-27T10:09:59Z"), &until, NULL), 1);
  CU_ASSERT_EQUAL(until, t("2026-11-27T10:10:00Z"));
  CU_ASSERT_EQUAL(nw__model_pod_do_not_disrupt(p, t("2026-11-27T10:10:00Z"), NULL, NULL), 0);
  CU_ASSERT_EQUAL(nw__model_pod_pdb_blocked(p, pdbs, &name), 1);
  CU_ASSERT_STRING_EQUAL(name, "front");
  json_decref(j);
  /* Without a deletion cost, as the JSON path: priority alone, clamped. */
  static const struct {
    const char *spec;
    double cost;
  } bare[] = {{"{\"containers\":[{\"name\":\"c\"}]}", 1.0},
              {"{\"priority\":33554432,\"containers\":[{\"name\":\"c\"}]}", 2.0},
              {"{\"priority\":-67108864,\"containers\":[{\"name\":\"c\"}]}", -1.0},
              {"{\"priority\":1000000000,\"containers\":[{\"name\":\"c\"}]}", 10.0}};
  for (size_t i = 0; i < sizeof(bare) / sizeof(bare[0]); i++) {
    char buf[256];
    snprintf(buf, sizeof(buf), "{\"metadata\":{\"namespace\":\"web\",\"name\":\"q\"},"
             "\"spec\":%s}", bare[i].spec);
    json_t *q = parse(buf);
    nw__pod *qp = nw__pod_decode(q, a, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(qp);
    CU_ASSERT_DOUBLE_EQUAL(nw__model_pod_eviction_cost(qp, NULL), bare[i].cost, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(nw__pod_eviction_cost(q, NULL), bare[i].cost, 1e-12);
    json_decref(q);
  }
  json_decref(pdbs);
  nw__arena_free(a);
}

static void test_consolidate_after(void) {
  int64_t recheck;
  /* 30 s after the last pod event. */
  CU_ASSERT_EQUAL(nw__consolidatable(1000, 50000, 30000, 70000, &recheck), 0);
  CU_ASSERT_EQUAL(recheck, 10000);
  CU_ASSERT_EQUAL(nw__consolidatable(1000, 50000, 30000, 80000, &recheck), 1);
  /* No pod event yet: from initialization. */
  CU_ASSERT_EQUAL(nw__consolidatable(1000, 0, 30000, 31000, &recheck), 1);
  /* Never. */
  CU_ASSERT_EQUAL(nw__consolidatable(1000, 0, -1, 1000000, &recheck), 0);
  CU_ASSERT_EQUAL(recheck, -1);

  json_t *claim = parse(
      "{\"status\":{\"lastPodEventTime\":\"2026-11-27T10:00:00Z\",\"conditions\":["
      "{\"type\":\"Launched\",\"status\":\"True\",\"lastTransitionTime\":\"2026-11-27T08:00:00Z\"},"
      "{\"type\":\"Initialized\",\"status\":\"True\",\"lastTransitionTime\":\"2026-11-27T09:00:00Z\"}]}}");
  json_t *fresh = parse(
      "{\"status\":{\"conditions\":[{\"type\":\"Initialized\",\"status\":\"True\","
      "\"lastTransitionTime\":\"2026-11-27T09:00:00Z\"}]}}");
  json_t *uninit = parse(
      "{\"status\":{\"conditions\":[{\"type\":\"Initialized\",\"status\":\"False\","
      "\"lastTransitionTime\":\"2026-11-27T09:00:00Z\"}]}}");
  int64_t min5 = 300000;
  CU_ASSERT_EQUAL(nw__claim_consolidatable(claim, min5, t("2026-11-27T10:04:00Z"), &recheck), 0);
  CU_ASSERT_EQUAL(recheck, 60000);
  CU_ASSERT_EQUAL(nw__claim_consolidatable(claim, min5, t("2026-11-27T10:05:00Z"), NULL), 1);
  CU_ASSERT_EQUAL(nw__claim_consolidatable(fresh, min5, t("2026-11-27T09:05:00Z"), NULL), 1);
  CU_ASSERT_EQUAL(nw__claim_consolidatable(uninit, min5, t("2026-11-28T09:05:00Z"), &recheck), 0);
  CU_ASSERT_EQUAL(recheck, -1);
  json_decref(claim);
  json_decref(fresh);
  json_decref(uninit);
}

static void test_expire_after(void) {
  int64_t at;
  CU_ASSERT_EQUAL(nw__expired(1000, 5000, 5999, &at), 0);
  CU_ASSERT_EQUAL(at, 6000);
  CU_ASSERT_EQUAL(nw__expired(1000, 5000, 6000, &at), 1);
  CU_ASSERT_EQUAL(nw__expired(1000, -1, INT64_MAX / 2, &at), 0);
  CU_ASSERT_EQUAL(at, -1);
}

static const char *pool_a =
    "{\"metadata\":{\"name\":\"a\",\"resourceVersion\":\"1\"},\"spec\":{"
    " \"weight\":10,"
    " \"disruption\":{\"consolidateAfter\":\"30s\",\"budgets\":[{\"nodes\":\"10%\"}]},"
    " \"template\":{\"metadata\":{\"labels\":{\"team\":\"x\",\"tier\":\"\"}},"
    "  \"spec\":{\"nodeClassRef\":{\"group\":\"karpenter.k8s.aws\",\"kind\":\"EC2NodeClass\","
    "   \"name\":\"default\"},"
    "   \"taints\":[{\"key\":\"a\",\"effect\":\"NoSchedule\"},{\"key\":\"b\",\"effect\":\"NoSchedule\"}],"
    "   \"requirements\":[{\"key\":\"kubernetes.io/arch\",\"operator\":\"In\",\"values\":[\"amd64\"]}],"
    "   \"expireAfter\":\"720h\"}}}}";

static void hash_of(const char *text, char out[21]) {
  json_t *j = parse(text);
  nw_error err;
  CU_ASSERT_EQUAL(nw__nodepool_hash(j, out, &err), 0);
  json_decref(j);
}

/* Replaces the first occurrence of `from` in pool_a by `to`. */
static void hash_variant(const char *from, const char *to, char out[21]) {
  char buf[4096];
  const char *p = strstr(pool_a, from);
  CU_ASSERT_PTR_NOT_NULL_FATAL(p);
  snprintf(buf, sizeof(buf), "%.*s%s%s", (int)(p - pool_a), pool_a, to,
           p + strlen(from));
  hash_of(buf, out);
}

static void test_template_hash(void) {
  char base[21], h[21];
  hash_of(pool_a, base);
  CU_ASSERT_TRUE(strlen(base) > 0);

  /* Unchanged: fields outside the template, requirements, list order,
   * key order, defaulted-empty fields. */
  hash_variant("\"weight\":10", "\"weight\":50", h);
  CU_ASSERT_STRING_EQUAL(h, base);
  hash_variant("\"consolidateAfter\":\"30s\"", "\"consolidateAfter\":\"5m\"", h);
  CU_ASSERT_STRING_EQUAL(h, base);
  hash_variant("\"resourceVersion\":\"1\"", "\"resourceVersion\":\"2\"", h);
  CU_ASSERT_STRING_EQUAL(h, base);
  hash_variant("\"values\":[\"amd64\"]", "\"values\":[\"arm64\"]", h);
  CU_ASSERT_STRING_EQUAL(h, base);
  hash_variant("{\"key\":\"a\",\"effect\":\"NoSchedule\"},{\"key\":\"b\",\"effect\":\"NoSchedule\"}",
               "{\"effect\":\"NoSchedule\",\"key\":\"b\"},{\"key\":\"a\",\"effect\":\"NoSchedule\"}", h);
  CU_ASSERT_STRING_EQUAL(h, base);
  hash_variant("\"expireAfter\":\"720h\"", "\"expireAfter\":\"720h\",\"startupTaints\":[],"
               "\"kubelet\":null", h);
  CU_ASSERT_STRING_EQUAL(h, base);

  /* Changed: labels (including an empty value), taints, node class,
   * expireAfter. */
  hash_variant("\"team\":\"x\"", "\"team\":\"y\"", h);
  CU_ASSERT_STRING_NOT_EQUAL(h, base);
  hash_variant(",\"tier\":\"\"", "", h);
  CU_ASSERT_STRING_NOT_EQUAL(h, base);
  hash_variant("{\"key\":\"b\",\"effect\":\"NoSchedule\"}",
               "{\"key\":\"b\",\"effect\":\"NoExecute\"}", h);
  CU_ASSERT_STRING_NOT_EQUAL(h, base);
  hash_variant("\"name\":\"default\"", "\"name\":\"gpu\"", h);
  CU_ASSERT_STRING_NOT_EQUAL(h, base);
  hash_variant("\"expireAfter\":\"720h\"", "\"expireAfter\":\"24h\"", h);
  CU_ASSERT_STRING_NOT_EQUAL(h, base);

  /* Stable: the same input hashes the same in every run and build. */
  hash_of(pool_a, h);
  CU_ASSERT_STRING_EQUAL(h, base);

  json_t *bad = parse("{\"metadata\":{\"name\":\"broken\"},\"spec\":{}}");
  nw_error err = {0, ""};
  CU_ASSERT_EQUAL(nw__nodepool_hash(bad, h, &err), -1);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "NodePool broken"));
  json_decref(bad);
}

static void test_hash_compare(void) {
  CU_ASSERT_EQUAL(nw__hash_compare("1", "1", NW__NODEPOOL_HASH_VERSION), NW__HASH_CURRENT);
  CU_ASSERT_EQUAL(nw__hash_compare("1", "2", NW__NODEPOOL_HASH_VERSION), NW__HASH_DRIFTED);
  /* Stamped by Karpenter or an older nodewright: re-stamp, do not drift. */
  CU_ASSERT_EQUAL(nw__hash_compare("1", "2", "v3"), NW__HASH_RESTAMP);
  CU_ASSERT_EQUAL(nw__hash_compare("1", NULL, NULL), NW__HASH_RESTAMP);
}

NW_TEST_CASES({"eviction_cost", test_eviction_cost},
              {"lifetime_remaining", test_lifetime_remaining},
              {"pod_do_not_disrupt", test_pod_do_not_disrupt},
              {"pdb_blocking", test_pdb_blocking},
              {"model_pods", test_model_pods},
              {"consolidate_after", test_consolidate_after},
              {"expire_after", test_expire_after},
              {"template_hash", test_template_hash},
              {"hash_compare", test_hash_compare});
NW_TEST_MAIN("disruption-candidate", NULL, NULL);
