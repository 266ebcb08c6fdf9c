/* Scenario files: every error names file:line:column; the shipped
 * scenario parses into what it says. */
#include "nwtest.h"

#include <string.h>

#include "sim/scenario.h"

static const char *const pool =
    "nodePools:\n"
    "  - apiVersion: karpenter.sh/v1\n"
    "    kind: NodePool\n"
    "    metadata: {name: p}\n"
    "    spec:\n"
    "      template:\n"
    "        spec:\n"
    "          nodeClassRef: {group: karpenter.k8s.aws, kind: EC2NodeClass, "
    "name: c}\n"
    "          requirements: []\n";

/* Parses head + pool + tail; returns the error ("" when it parsed). */
static const char *parse(const char *head, const char *tail) {
  static char err[1024];
  char text[8192];
  snprintf(text, sizeof(text), "%s%s%s", head, pool, tail);
  err[0] = '\0';
  nw__scenario *s = nw__scenario_parse("s.yaml", text, strlen(text), err,
                                       sizeof(err));
  nw__scenario_free(s);
  return err;
}

/* Asserts that err begins with want, showing err when it does not. */
#define EXPECT_PREFIX(err, want)                                              \
  do {                                                                        \
    if (strncmp((err), (want), strlen(want)) != 0)                            \
      fprintf(stderr, "\n got: %s\nwant: %s...\n", (err), (want));            \
    CU_ASSERT_EQUAL(strncmp((err), (want), strlen(want)), 0);                 \
  } while (0)

static const char *const workload =
    "workloads:\n"
    "  - name: web\n"
    "    replicas: 2\n"
    "    requests: {cpu: 500m, memory: 1Gi}\n";

static void test_valid_minimal(void) {
  CU_ASSERT_STRING_EQUAL(parse("duration: 10m\n", workload), "");
}

static void test_malformed_yaml_names_position(void) {
  const char *e = parse("duration: 10m\nname: [unclosed\n", workload);
  EXPECT_PREFIX(e, "s.yaml:");
  /* libyaml reports where it gave up; the line is in the message. */
  int line = 0, col = 0;
  CU_ASSERT_EQUAL(sscanf(e, "s.yaml:%d:%d:", &line, &col), 2);
  CU_ASSERT_TRUE(line >= 2);
  CU_ASSERT_TRUE(col >= 1);
}

static void test_unknown_top_level_field(void) {
  const char *e = parse("duration: 10m\nseeed: 4\n", workload);
  EXPECT_PREFIX(e, "s.yaml:2:1: unknown field \"seeed\"");
}

static void test_unknown_nested_field(void) {
  const char *e = parse("duration: 10m\n",
                        "workloads:\n"
                        "  - name: web\n"
                        "    replicas: 2\n"
                        "    hpa_typo: 1\n");
  /* 1 + pool lines (9) + 4: line 14, column 5. */
  EXPECT_PREFIX(e, "s.yaml:14:5: unknown field \"hpa_typo\" in "
                             "workloads[0]");
  e = parse("duration: 10m\n",
            "workloads:\n"
            "  - name: web\n"
            "    hpa:\n"
            "      maxReplicas: 3\n"
            "      podCapacity: 10\n"
            "      load: [{at: 0s, rps: 1, burst: 2}]\n");
  EXPECT_PREFIX(e, "s.yaml:16:31: unknown field \"burst\"");
}

static void test_bad_values_name_their_position(void) {
  const char *e = parse("duration: soon\n", workload);
  EXPECT_PREFIX(e, "s.yaml:1:11: duration must be a duration");
  e = parse("duration: 10m\n",
            "workloads:\n"
            "  - name: web\n"
            "    replicas: 2\n"
            "    requests: {cpu: lots}\n");
  EXPECT_PREFIX(e, "s.yaml:14:21: requests.cpu: not a Kubernetes "
                             "quantity");
  e = parse("duration: 10m\n",
            "workloads:\n"
            "  - name: web\n"
            "    replicas: 2\n"
            "    schedule: [{at: 0s, replicas: 1}]\n");
  EXPECT_PREFIX(e, "s.yaml:12:5: workloads[0] needs exactly one of");
  e = parse("duration: 10m\nevents: [{at: 1m, type: meteor}]\n", workload);
  EXPECT_PREFIX(e, "s.yaml:2:25: type must be spotInterruption, "
                             "nodeFailure");
}

static void test_bad_manifest_is_decoded_and_located(void) {
  static char err[1024];
  const char *text =
      "duration: 10m\n"
      "nodePools:\n"
      "  - apiVersion: karpenter.sh/v1\n"
      "    kind: NodePool\n"
      "    metadata: {name: p}\n"
      "    spec:\n"
      "      template:\n"
      "        spec:\n"
      "          requirements:\n"
      "            - {key: a, operator: Sometimes, values: [x]}\n"
      "workloads: []\n";
  nw__scenario *s = nw__scenario_parse("m.yaml", text, strlen(text), err,
                                       sizeof(err));
  CU_ASSERT_PTR_NULL(s);
  EXPECT_PREFIX(err, "m.yaml:3:5: nodePools[0]: ");
  CU_ASSERT_PTR_NOT_NULL(strstr(err, "Sometimes"));
}

static void test_shipped_gateway_scenario(void) {
  char err[1024] = "";
  nw__scenario *s = nw__scenario_load(
      nw_test_src_path("configs/scenarios/kong-gateway.yaml"), err,
      sizeof(err));
  CU_ASSERT_PTR_NOT_NULL_FATAL(s);
  CU_ASSERT_STRING_EQUAL(s->name, "kong-gateway");
  CU_ASSERT_EQUAL(json_array_size(s->nodepools), 1);
  CU_ASSERT_EQUAL(json_array_size(s->nodeclasses), 1);
  CU_ASSERT_EQUAL(s->n_static_nodes, 1);
  CU_ASSERT_EQUAL(s->n_workloads, 3);
  const nw__sim_workload *gw = &s->workloads[0];
  CU_ASSERT_STRING_EQUAL(gw->name, "gateway");
  CU_ASSERT_TRUE(gw->has_hpa);
  CU_ASSERT_EQUAL(gw->hpa.min_replicas, 1);
  CU_ASSERT_EQUAL(gw->hpa.max_replicas, 20);
  CU_ASSERT_DOUBLE_EQUAL(nw__sim_curve_at(&gw->load, 30 * 60000), 5000, 1e-9);
  CU_ASSERT_DOUBLE_EQUAL(nw__sim_curve_at(&gw->load, 61 * 60000), 0, 1e-9);
  const char *label = json_string_value(json_object_get(
      json_object_get(json_object_get(json_object_get(
                          json_object_get(json_array_get(s->nodepools, 0),
                                          "spec"),
                          "template"),
                                      "metadata"),
                      "labels"),
      "nodegroupname"));
  CU_ASSERT_STRING_EQUAL(label, "kong");
  nw__scenario_free(s);
}

static void test_curve_interpolation(void) {
  nw__sim_point pts[] = {{0, 0}, {1000, 100}, {3000, 100}};
  nw__sim_curve step = {3, pts, 0}, lin = {3, pts, 1};
  CU_ASSERT_DOUBLE_EQUAL(nw__sim_curve_at(&step, 500), 0, 1e-9);
  CU_ASSERT_DOUBLE_EQUAL(nw__sim_curve_at(&lin, 500), 50, 1e-9);
  CU_ASSERT_DOUBLE_EQUAL(nw__sim_curve_at(&lin, 9999), 100, 1e-9);
  CU_ASSERT_DOUBLE_EQUAL(nw__sim_curve_at(&lin, -1), 0, 1e-9);
}

NW_TEST_CASES({"a minimal scenario parses", test_valid_minimal},
              {"malformed YAML names file:line:column",
               test_malformed_yaml_names_position},
              {"an unknown top-level field is rejected with its position",
               test_unknown_top_level_field},
              {"an unknown nested field is rejected with its position",
               test_unknown_nested_field},
              {"bad values name their position",
               test_bad_values_name_their_position},
              {"a bad NodePool is decoded and located",
               test_bad_manifest_is_decoded_and_located},
              {"the shipped gateway scenario", test_shipped_gateway_scenario},
              {"load curves step and interpolate", test_curve_interpolation});
NW_TEST_MAIN("sim scenario", NULL, NULL);
