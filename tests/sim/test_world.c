/*
 * The simulated world with the engine on a synthetic catalog: schedules,
 * DaemonSets, spot interruptions and node failures.
 */
#include "nwtest.h"

#include <string.h>

#include "sim/scenario.h"
#include "sim/sim.h"

static const char *const base =
    "name: world\n"
    "seed: 3\n"
    "duration: %s\n"
    "sampleInterval: 30s\n"
    "catalog: {type: synthetic, types: 8}\n"
    "nodeClasses:\n"
    "  - {apiVersion: karpenter.k8s.aws/v1, kind: EC2NodeClass, metadata: "
    "{name: c}}\n"
    "nodePools:\n"
    "  - apiVersion: karpenter.sh/v1\n"
    "    kind: NodePool\n"
    "    metadata: {name: p}\n"
    "    spec:\n"
    "      template:\n"
    "        spec:\n"
    "          nodeClassRef: {group: karpenter.k8s.aws, kind: EC2NodeClass, "
    "name: c}\n"
    "          requirements:\n"
    "            - {key: karpenter.sh/capacity-type, operator: In, values: "
    "[%s]}\n"
    "      disruption: {consolidationPolicy: WhenEmpty, consolidateAfter: "
    "30s}\n"
    "daemonSets:\n"
    "  - {name: agent, requests: {cpu: 50m, memory: 32Mi}}\n"
    "%s";

static json_t *run(const char *duration, const char *ct, const char *rest) {
  char text[8192], err[2048] = "";
  snprintf(text, sizeof(text), base, duration, ct, rest);
  nw__scenario *sc = nw__scenario_parse("w.yaml", text, strlen(text), err,
                                        sizeof(err));
  if (!sc) {
    fprintf(stderr, "%s\n", err);
    return NULL;
  }
  nw__sim_opts o = {NW_TEST_PLUGIN_DIR, 0};
  json_t *r = nw__sim_run(sc, &o, err, sizeof(err));
  if (!r)
    fprintf(stderr, "%s\n", err);
  nw__scenario_free(sc);
  return r;
}

static const json_t *sample_at(const json_t *r, double t) {
  size_t i;
  const json_t *s;
  json_array_foreach(json_object_get(r, "samples"), i, s) {
    if (json_number_value(json_object_get(s, "t")) >= t)
      return s;
  }
  return NULL;
}

static json_int_t wl(const json_t *s, const char *name, const char *k) {
  return json_integer_value(json_object_get(
      json_object_get(json_object_get(s, "workloads"), name), k));
}

static size_t count_reason(const json_t *r, const char *reason) {
  size_t i, n = 0;
  const json_t *d;
  json_array_foreach(json_object_get(r, "decisions"), i, d) {
    n += strcmp(json_string_value(json_object_get(d, "reason")), reason) == 0;
  }
  return n;
}

static void test_schedule_drives_replicas(void) {
  json_t *r = run("20m", "on-demand",
                  "workloads:\n"
                  "  - name: batch\n"
                  "    requests: {cpu: '1', memory: 1Gi}\n"
                  "    schedule: [{at: 0s, replicas: 2}, {at: 5m, replicas: "
                  "6}, {at: 12m, replicas: 0}]\n");
  CU_ASSERT_PTR_NOT_NULL_FATAL(r);
  CU_ASSERT_EQUAL(wl(sample_at(r, 4 * 60), "batch", "replicas"), 2);
  CU_ASSERT_EQUAL(wl(sample_at(r, 4 * 60), "batch", "ready"), 2);
  CU_ASSERT_EQUAL(wl(sample_at(r, 10 * 60), "batch", "replicas"), 6);
  CU_ASSERT_EQUAL(wl(sample_at(r, 10 * 60), "batch", "ready"), 6);
  CU_ASSERT_EQUAL(wl(sample_at(r, 13 * 60), "batch", "replicas"), 0);
  /* Nodes came for the pods; the engine's events say so. */
  CU_ASSERT_TRUE(count_reason(r, "Launched") >= 1);
  CU_ASSERT_EQUAL(count_reason(r, "Launched"), count_reason(r, "NodeJoined"));
  /* Empty nodes go (WhenEmpty) once the schedule drops to zero. */
  CU_ASSERT_EQUAL(json_integer_value(json_object_get(
                      json_object_get(r, "summary"), "final_nodes")), 0);
  json_decref(r);
}

static void test_spot_interruption_is_replaced(void) {
  json_t *r = run("15m", "spot",
                  "workloads:\n"
                  "  - {name: web, replicas: 3, requests: {cpu: 500m, "
                  "memory: 512Mi}}\n"
                  "events:\n"
                  "  - {at: 5m, type: spotInterruption, selector: "
                  "{karpenter.sh/capacity-type: spot}}\n");
  CU_ASSERT_PTR_NOT_NULL_FATAL(r);
  CU_ASSERT_EQUAL(count_reason(r, "SimulatedSpotInterruption"), 1);
  /* A node left and another joined after the warning; the pods run
   * again before the run ends. */
  CU_ASSERT_TRUE(count_reason(r, "NodeLeft") >= 1);
  CU_ASSERT_TRUE(count_reason(r, "NodeJoined") >= 2);
  const json_t *end = sample_at(r, 15 * 60);
  CU_ASSERT_EQUAL(wl(end, "web", "ready"), 3);
  CU_ASSERT_EQUAL(json_integer_value(json_object_get(end, "pending")), 0);
  json_decref(r);
}

static void test_node_failure_pods_move(void) {
  json_t *r = run("20m", "on-demand",
                  "workloads:\n"
                  "  - {name: web, replicas: 2, requests: {cpu: 500m, "
                  "memory: 512Mi}}\n"
                  "events:\n"
                  "  - {at: 3m, type: nodeFailure, selector: "
                  "{karpenter.sh/nodepool: p}}\n");
  CU_ASSERT_PTR_NOT_NULL_FATAL(r);
  CU_ASSERT_EQUAL(count_reason(r, "SimulatedNodeFailure"), 1);
  /* The taint manager deletes the pods 300 s after the failure; they come
   * back on a new node. */
  const json_t *end = sample_at(r, 20 * 60);
  CU_ASSERT_EQUAL(wl(end, "web", "ready"), 2);
  CU_ASSERT_TRUE(count_reason(r, "NodeJoined") >= 2);
  json_decref(r);
}

static void test_instance_stop_reaches_engine(void) {
  json_t *r = run("10m", "on-demand",
                  "workloads:\n"
                  "  - {name: web, replicas: 2, requests: {cpu: 500m, "
                  "memory: 512Mi}}\n"
                  "events:\n"
                  "  - {at: 3m, type: instanceStopped, selector: "
                  "{karpenter.sh/nodepool: p}}\n");
  CU_ASSERT_PTR_NOT_NULL_FATAL(r);
  CU_ASSERT_EQUAL(count_reason(r, "SimulatedInstanceStop"), 1);
  /* The engine drained the provider's state-change event (poll_events)
   * and acted on it, well before the taint manager's 300 s. */
  CU_ASSERT_EQUAL(count_reason(r, "InstanceStateChange"), 1);
  size_t i;
  const json_t *d;
  double left = -1;
  json_array_foreach(json_object_get(r, "decisions"), i, d) {
    if (strcmp(json_string_value(json_object_get(d, "reason")),
               "NodeLeft") == 0 && left < 0)
      left = json_number_value(json_object_get(d, "t"));
  }
  CU_ASSERT_TRUE(left >= 180 && left < 180 + 60);
  CU_ASSERT_EQUAL(wl(sample_at(r, 10 * 60), "web", "ready"), 2);
  json_decref(r);
}

static void test_unmatched_event_is_reported(void) {
  json_t *r = run("5m", "on-demand",
                  "workloads:\n"
                  "  - {name: web, replicas: 1, requests: {cpu: 100m}}\n"
                  "events:\n"
                  "  - {at: 1m, type: nodeFailure, node: no-such-node}\n");
  CU_ASSERT_PTR_NOT_NULL_FATAL(r);
  CU_ASSERT_EQUAL(count_reason(r, "EventUnmatched"), 1);
  json_decref(r);
}

/* Three workloads grow steadily; each new node comes up for the pods that
 * were pending when it was launched.  The simulated kube-scheduler takes
 * pods in queue order (arrival), so no pod waits much longer than a boot;
 * it used to pack largest first with ties by name, so the pods created
 * since took the new room and workload c's pods waited minutes. */
static void test_no_workload_starves(void) {
  const char *grow = "{cpu: '1', memory: 1Gi}, interpolation: linear, "
                     "schedule: [{at: 0s, replicas: 0}, {at: 40m, "
                     "replicas: 300}]}\n";
  char rest[1024];
  snprintf(rest, sizeof(rest),
           "timing: {bootLatency: 60s}\n"
           "workloads:\n"
           "  - {name: a, requests: %s"
           "  - {name: b, requests: %s"
           "  - {name: c, requests: %s",
           grow, grow, grow);
  json_t *r = run("40m", "on-demand", rest);
  CU_ASSERT_PTR_NOT_NULL_FATAL(r);
  const json_t *sum = json_object_get(r, "summary");
  CU_ASSERT_TRUE(json_integer_value(json_object_get(sum, "pods_created")) >=
                 900);
  /* A boot (60 s) plus a batch window and a pass or two. */
  CU_ASSERT_TRUE(json_number_value(json_object_get(sum, "pending_max_s")) <=
                 75);
  json_decref(r);
}

static void test_deterministic(void) {
  const char *rest = "workloads:\n"
                     "  - {name: web, replicas: 7, requests: {cpu: 700m}}\n"
                     "events:\n"
                     "  - {at: 4m, type: spotInterruption, selector: "
                     "{karpenter.sh/capacity-type: spot}}\n";
  json_t *a = run("10m", "spot", rest);
  json_t *b = run("10m", "spot", rest);
  CU_ASSERT_PTR_NOT_NULL_FATAL(a);
  CU_ASSERT_PTR_NOT_NULL_FATAL(b);
  CU_ASSERT_TRUE(json_equal(a, b));
  CU_ASSERT_TRUE(json_array_size(json_object_get(a, "decisions")) > 3);
  json_decref(a);
  json_decref(b);
}

NW_TEST_CASES({"the same scenario and seed give the same report",
               test_deterministic},
              {"a schedule drives replicas and nodes",
               test_schedule_drives_replicas},
              {"a spot interruption is replaced",
               test_spot_interruption_is_replaced},
              {"pods leave a failed node", test_node_failure_pods_move},
              {"an instance stop reaches the engine through poll_events",
               test_instance_stop_reaches_engine},
              {"an event that matches no node is reported",
               test_unmatched_event_is_reported},
              {"no workload's pods starve while all grow",
               test_no_workload_starves});
NW_TEST_MAIN("sim world", NULL, NULL);
