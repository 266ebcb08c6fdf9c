#include <stdio.h>
#include <string.h>

#include "config/config.h"
#include "nwtest.h"

static const char *PATH = "/tmp/nwtest-config.yaml";

/* Writes text to the test file and loads it; returns the load result. */
static int load(const char *text, nw__config **cfg, char *err, size_t errlen) {
  FILE *f = fopen(PATH, "w");
  fputs(text, f);
  fclose(f);
  return nw__config_load(PATH, cfg, err, errlen);
}

static void expect_error(const char *text, const char *expect) {
  nw__config *cfg = NULL;
  char err[1024] = "";
  CU_ASSERT_EQUAL(load(text, &cfg, err, sizeof(err)), -1);
  CU_ASSERT_PTR_NULL(cfg);
  if (!strstr(err, expect))
    fprintf(stderr, "\n  expected \"%s\" in \"%s\"\n", expect, err);
  CU_ASSERT_PTR_NOT_NULL(strstr(err, expect));
}

static void test_defaults_and_values(void) {
  nw__config *cfg = NULL;
  char err[1024] = "";
  CU_ASSERT_EQUAL_FATAL(load("plugins:\n"
                             "  - name: kind\n"
                             "    config:\n"
                             "      sizes: [1, 2]\n"
                             "      zone: \"1\"\n"
                             "cluster: {kubeconfig: /k, context: dev}\n"
                             "batch: {idle: 500ms, max: 2s}\n"
                             "logging: {level: debug, format: json}\n"
                             "metrics: {listen: \"127.0.0.1:0\"}\n"
                             "disruption: {strategy: balanced, spotToSpot: true}\n",
                             &cfg, err, sizeof(err)), 0);
  CU_ASSERT_EQUAL(cfg->n_plugins, 1);
  CU_ASSERT_STRING_EQUAL(cfg->plugins[0].name, "kind");
  json_t *sizes = json_object_get(cfg->plugins[0].config, "sizes");
  CU_ASSERT_EQUAL(json_integer_value(json_array_get(sizes, 1)), 2);
  /* Quoted scalars stay strings. */
  CU_ASSERT_TRUE(json_is_string(json_object_get(cfg->plugins[0].config, "zone")));
  CU_ASSERT_STRING_EQUAL(cfg->kubeconfig, "/k");
  CU_ASSERT_STRING_EQUAL(cfg->context, "dev");
  CU_ASSERT_EQUAL(cfg->batch_idle_ms, 500);
  CU_ASSERT_EQUAL(cfg->batch_max_ms, 2000);
  CU_ASSERT_EQUAL(cfg->log_level, NW_LOG_DEBUG);
  CU_ASSERT_EQUAL(cfg->log_format, NW__LOG_JSON);
  CU_ASSERT_STRING_EQUAL(cfg->metrics_listen, "127.0.0.1:0");
  CU_ASSERT_TRUE(cfg->leader_election);
  CU_ASSERT_STRING_EQUAL(cfg->strategy, "balanced");
  CU_ASSERT_TRUE(cfg->spot_to_spot);
  nw__config_free(cfg);

  CU_ASSERT_EQUAL_FATAL(load("plugins: []\n", &cfg, err, sizeof(err)), 0);
  CU_ASSERT_EQUAL(cfg->batch_idle_ms, 1000);
  CU_ASSERT_EQUAL(cfg->batch_max_ms, 10000);
  CU_ASSERT_STRING_EQUAL(cfg->lease_namespace, "kube-system");
  nw__config_free(cfg);
}

static void test_malformed_yaml(void) {
  expect_error("plugins:\n  - name: [unclosed\n", "nwtest-config.yaml:3:1: invalid YAML");
  expect_error("plugins: []\nplugins: []\n", ":2:1: duplicate key \"plugins\"");
}

static void test_unknown_key(void) {
  expect_error("plugins: []\nbatchh: {}\n", ":2:1: unknown key \"batchh\" at the top level");
  expect_error("plugins:\n  - name: x\n    confg: {}\n",
               ":3:5: unknown field \"confg\" in a plugins entry");
  expect_error("plugins: []\nbatch:\n  idle: 1s\n  maximum: 2s\n",
               ":4:3: unknown field \"maximum\" in batch");
}

static void test_wrong_type(void) {
  expect_error("plugins: {name: x}\n", ":1:10: plugins must be a list, found a map");
  expect_error("plugins: []\nleaderElection: {enabled: maybe}\n",
               ":2:27: leaderElection.enabled must be true or false, found \"maybe\"");
  expect_error("plugins: []\ndisruption: {spotToSpot: sometimes}\n",
               "disruption.spotToSpot must be true or false");
  expect_error("plugins: []\nlogging: {level: loud}\n",
               ":2:18: logging.level must be debug, info, warn or error");
  expect_error("plugins: []\nmetrics: {listen: 8080}\n",
               "metrics.listen must be host:port");
  expect_error("plugins:\n  - name: [a]\n", ":2:11: plugins[].name must be a string, found a sequence");
}

static void test_missing_required(void) {
  expect_error("cluster: {inCluster: true}\n", ":1:1: missing the required key \"plugins\"");
  expect_error("plugins:\n  - config: {}\n", ":2:5: plugins entry is missing the required key \"name\"");
  expect_error("", "the file is empty");
  expect_error("plugins:\n  - name: a\n  - name: a\n", ":3:5: plugin \"a\" is listed twice");
}

static void test_missing_file(void) {
  nw__config *cfg = NULL;
  char err[512];
  CU_ASSERT_EQUAL(nw__config_load("/nonexistent/nw.yaml", &cfg, err, sizeof(err)), -1);
  CU_ASSERT_PTR_NOT_NULL(strstr(err, "/nonexistent/nw.yaml: cannot open"));
}

static void test_batch_order(void) {
  expect_error("plugins: []\nbatch: {idle: 5s, max: 1s}\n", "need 0 < idle <= max");
}

NW_TEST_CASES({"defaults_and_values", test_defaults_and_values},
              {"malformed_yaml", test_malformed_yaml},
              {"unknown_key", test_unknown_key}, {"wrong_type", test_wrong_type},
              {"missing_required", test_missing_required},
              {"missing_file", test_missing_file},
              {"batch_order", test_batch_order});
NW_TEST_MAIN("config", NULL, NULL);
