/* Node repair decisions (core/disruption/repair). */
#include <stdio.h>
#include <string.h>

#include "disruption/repair.h"
#include "kube/kutil.h"
#include "nwtest.h"

static json_t *parse(const char *text) {
  json_error_t e;
  json_t *j = json_loads(text, 0, &e);
  CU_ASSERT_PTR_NOT_NULL_FATAL(j);
  return j;
}

static int64_t t(const char *s) { return nw__kube_parse_time(s); }

/* Karpenter's AWS policies, in part. */
static const nw_repair_policy policy_items[] = {
    {"Ready", "False", 30 * 60},
    {"Ready", "Unknown", 30 * 60},
    {"AcceleratedHardwareReady", "False", 10 * 60},
};
static const nw_repair_policies policies = {3, policy_items};

static void test_unhealthy_conditions(void) {
  json_t *healthy = parse("{\"status\":{\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\","
                          "\"lastTransitionTime\":\"2026-11-27T10:00:00Z\"}]}}");
  json_t *not_ready = parse("{\"status\":{\"conditions\":[{\"type\":\"Ready\",\"status\":\"Unknown\","
                            "\"lastTransitionTime\":\"2026-11-27T10:00:00Z\"}]}}");
  /* Two matches: the GPU one (10 min) comes due before Ready (30 min). */
  json_t *two = parse("{\"status\":{\"conditions\":["
                      "{\"type\":\"Ready\",\"status\":\"False\",\"lastTransitionTime\":\"2026-11-27T10:00:00Z\"},"
                      "{\"type\":\"AcceleratedHardwareReady\",\"status\":\"False\","
                      "\"lastTransitionTime\":\"2026-11-27T10:05:00Z\"}]}}");
  int64_t at;
  CU_ASSERT_EQUAL(nw__node_unhealthy(healthy, &policies, &at), -1);
  CU_ASSERT_EQUAL(at, -1);
  CU_ASSERT_EQUAL(nw__node_unhealthy(not_ready, &policies, &at), 1);
  CU_ASSERT_EQUAL(at, t("2026-11-27T10:30:00Z"));
  CU_ASSERT_EQUAL(nw__node_unhealthy(two, &policies, &at), 2);
  CU_ASSERT_EQUAL(at, t("2026-11-27T10:15:00Z"));
  /* No policies (a provider without repair): nothing is unhealthy. */
  CU_ASSERT_EQUAL(nw__node_unhealthy(not_ready, NULL, &at), -1);
  json_decref(healthy);
  json_decref(not_ready);
  json_decref(two);
}

static void test_breaker(void) {
  /* One of three may be unhealthy (20 % of 3 rounds up to 1). */
  CU_ASSERT_TRUE(nw__repair_allowed(1, 3));
  CU_ASSERT_FALSE(nw__repair_allowed(2, 3));
  CU_ASSERT_TRUE(nw__repair_allowed(2, 10));
  CU_ASSERT_FALSE(nw__repair_allowed(3, 10));
  CU_ASSERT_TRUE(nw__repair_allowed(20, 100));
  CU_ASSERT_FALSE(nw__repair_allowed(21, 100));
  CU_ASSERT_TRUE(nw__repair_allowed(0, 0));
}

static void test_verdicts(void) {
  json_t *node = parse("{\"status\":{\"conditions\":[{\"type\":\"Ready\",\"status\":\"False\","
                       "\"lastTransitionTime\":\"2026-11-27T10:00:00Z\"}]}}");
  int64_t recheck;
  CU_ASSERT_EQUAL(nw__repair_verdict_for(node, &policies, 1, 10,
                                         t("2026-11-27T10:20:00Z"), &recheck),
                  NW__REPAIR_WAIT);
  CU_ASSERT_EQUAL(recheck, 10 * 60 * 1000);
  CU_ASSERT_EQUAL(nw__repair_verdict_for(node, &policies, 1, 10,
                                         t("2026-11-27T10:30:00Z"), &recheck),
                  NW__REPAIR_NOW);
  CU_ASSERT_EQUAL(recheck, -1);
  CU_ASSERT_EQUAL(nw__repair_verdict_for(node, &policies, 3, 10,
                                         t("2026-11-27T11:00:00Z"), NULL),
                  NW__REPAIR_BLOCKED);
  json_t *ok = parse("{\"status\":{\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\"}]}}");
  CU_ASSERT_EQUAL(nw__repair_verdict_for(ok, &policies, 0, 10,
                                         t("2026-11-27T11:00:00Z"), NULL),
                  NW__REPAIR_NONE);
  json_decref(node);
  json_decref(ok);
}

NW_TEST_CASES({"unhealthy_conditions", test_unhealthy_conditions},
              {"breaker", test_breaker}, {"verdicts", test_verdicts});
NW_TEST_MAIN("disruption-repair", NULL, NULL);
