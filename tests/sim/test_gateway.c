/*
 * The shipped gateway scenario, run with the real engine (provisioner,
 * lifecycle, termination, disruption, the scheduling core, the pricing
 * and default strategy plugins): the expectations the issue states.
 */
#include "nwtest.h"

#include <string.h>

#include "sim/scenario.h"
#include "sim/sim.h"

static json_t *report;
static nw__scenario *sc;

static int setup(void) {
  char err[2048] = "";
  sc = nw__scenario_load(
      nw_test_src_path("configs/scenarios/kong-gateway.yaml"), err,
      sizeof(err));
  if (!sc) {
    fprintf(stderr, "%s\n", err);
    return 1;
  }
  nw__sim_opts o = {NW_TEST_PLUGIN_DIR, 0};
  report = nw__sim_run(sc, &o, err, sizeof(err));
  if (!report) {
    fprintf(stderr, "%s\n", err);
    return 1;
  }
  return 0;
}

static int teardown(void) {
  json_decref(report);
  nw__scenario_free(sc);
  return 0;
}

static const json_t *samples(void) {
  return json_object_get(report, "samples");
}

static const json_t *gw(const json_t *sample) {
  return json_object_get(json_object_get(sample, "workloads"), "gateway");
}

static double at(const json_t *o, const char *k) {
  return json_number_value(json_object_get(o, k));
}

/* The first sample at or after t seconds. */
static const json_t *sample_at(double t) {
  size_t i;
  const json_t *s;
  json_array_foreach(samples(), i, s) {
    if (at(s, "t") >= t)
      return s;
  }
  return NULL;
}

static void test_scales_out_fast(void) {
  /* 5,000 req/s at 70% of 400 req/s per pod needs 18 gateway pods; the
   * HPA doubles per 15 s and nodes boot in 45 s, so all are Ready well
   * within five minutes. */
  const json_t *s = sample_at(300);
  CU_ASSERT_PTR_NOT_NULL_FATAL(s);
  CU_ASSERT_EQUAL(json_integer_value(json_object_get(gw(s), "replicas")), 18);
  CU_ASSERT_EQUAL(json_integer_value(json_object_get(gw(s), "ready")), 18);
  CU_ASSERT_TRUE(at(s, "managed_nodes") >= 2);
  CU_ASSERT_EQUAL(at(s, "pending"), 0);
}

static void test_no_pod_pends_longer_than_boot_plus_batch(void) {
  const json_t *sum = json_object_get(report, "summary");
  double bound = (double)(sc->boot_ms + sc->batch_max_ms +
                          sc->launch_api_ms) / 1e3;
  CU_ASSERT_TRUE(at(sum, "pending_max_s") <= bound);
  /* Some pod did wait for a node: the run exercised provisioning. */
  CU_ASSERT_TRUE(at(sum, "pending_max_s") >= (double)sc->boot_ms / 1e3);
  CU_ASSERT_TRUE(json_integer_value(json_object_get(sum, "nodes_launched")) >=
                 2);
}

static void test_hpa_scales_in_to_minimum(void) {
  /* Load stops at 60 min; the scale-down window is 5 min. */
  const json_t *s = sample_at(60 * 60 + 4 * 60);
  CU_ASSERT_PTR_NOT_NULL_FATAL(s);
  CU_ASSERT_EQUAL(json_integer_value(json_object_get(gw(s), "replicas")), 18);
  s = sample_at(60 * 60 + 6 * 60);
  CU_ASSERT_EQUAL(json_integer_value(json_object_get(gw(s), "replicas")), 1);
}

static void test_decisions_come_from_the_controllers(void) {
  size_t i, launched = 0, initialized = 0;
  const json_t *d;
  json_array_foreach(json_object_get(report, "decisions"), i, d) {
    const char *r = json_string_value(json_object_get(d, "reason"));
    launched += strcmp(r, "Launched") == 0;
    initialized += strcmp(r, "Initialized") == 0;
  }
  size_t nodes = (size_t)json_integer_value(json_object_get(
      json_object_get(report, "summary"), "nodes_launched"));
  CU_ASSERT_EQUAL(launched, nodes);
  CU_ASSERT_EQUAL(initialized, nodes);
}

/* When the load stops, the emptied nodes go: the static tools node and
 * one node for the last gateway pod remain. */
static void test_nodes_scale_in_to_minimum(void) {
  const json_t *sum = json_object_get(report, "summary");
  CU_ASSERT_EQUAL(json_integer_value(json_object_get(sum, "final_nodes")), 2);
  const json_t *last = json_array_get(samples(),
                                      json_array_size(samples()) - 1);
  CU_ASSERT_EQUAL(json_integer_value(json_object_get(last, "managed_nodes")),
                  1);
  CU_ASSERT_TRUE(at(last, "cost_per_hour") < at(sample_at(30 * 60),
                                                "cost_per_hour"));
}

/* While the load holds, the nodes bought during the scale-out are repacked
 * into fewer, cheaper ones (multi-node consolidation). */
static void test_consolidates_while_the_load_holds(void) {
  double peak_cost = 0;
  long peak_nodes = 0;
  size_t i;
  const json_t *s;
  json_array_foreach(samples(), i, s) {
    if (at(s, "t") > 10 * 60)
      break;
    if (at(s, "cost_per_hour") > peak_cost)
      peak_cost = at(s, "cost_per_hour");
    long n = (long)json_integer_value(json_object_get(s, "managed_nodes"));
    if (n > peak_nodes)
      peak_nodes = n;
  }
  const json_t *later = sample_at(55 * 60);
  CU_ASSERT_PTR_NOT_NULL_FATAL(later);
  /* Still serving the full load ... */
  CU_ASSERT_EQUAL(json_integer_value(json_object_get(gw(later), "ready")), 18);
  /* ... on fewer nodes, for less. */
  CU_ASSERT_TRUE(json_integer_value(json_object_get(later, "managed_nodes")) < peak_nodes);
  CU_ASSERT_TRUE(at(later, "cost_per_hour") < peak_cost);
}

NW_TEST_CASES({"scales out fast", test_scales_out_fast},
              {"no pod pends longer than boot latency plus batch window",
               test_no_pod_pends_longer_than_boot_plus_batch},
              {"the HPA scales in to the minimum",
               test_hpa_scales_in_to_minimum},
              {"decisions come from the controllers' events",
               test_decisions_come_from_the_controllers},
              {"nodes scale in to the minimum when the load stops",
               test_nodes_scale_in_to_minimum},
              {"consolidates into fewer, cheaper nodes while the load holds",
               test_consolidates_while_the_load_holds});
NW_TEST_MAIN("sim gateway", setup, teardown);
