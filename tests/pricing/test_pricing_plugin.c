/*
 * The built pricing.so through the real loader, without AWS: static mode
 * with adjustments, the built-in snapshot, a snapshot file, config errors,
 * and the snapshot staying in use when the endpoints are unreachable.
 */
#include "nwtest.h"
#include "pricing_test.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/yaml.h"
#include "metrics/metrics.h"

#define NEAR(a, b) (fabs((a) - (b)) < 1e-9)

static const char *const STATIC_CFG =
    "{\"mode\": \"static\","
    " \"prices\": ["
    "  {\"type\": \"kind.small\", \"capacityType\": \"on-demand\", \"price\": 0.1},"
    "  {\"type\": \"kind.small\", \"capacityType\": \"spot\", \"zone\": \"zone-a\", \"price\": 0.03},"
    "  {\"type\": \"kind.small\", \"capacityType\": \"spot\", \"zone\": \"zone-b\", \"price\": 0.04},"
    "  {\"type\": \"kind.large\", \"capacityType\": \"on-demand\", \"price\": 0.4},"
    "  {\"type\": \"kind.large\", \"capacityType\": \"on-demand\", \"zone\": \"zone-c\", \"price\": 0.5}],"
    " \"adjustments\": ["
    "  {\"capacityType\": \"spot\", \"discountPercent\": 50},"
    "  {\"type\": \"kind.large\", \"discountPercent\": 25}]}";

static void test_static_table_with_adjustments(void) {
  pt_plugin p;
  char err[512] = "";
  CU_ASSERT_EQUAL_FATAL(pt_load(&p, STATIC_CFG, err, sizeof(err)), 0);
  double usd = -1;
  CU_ASSERT_EQUAL(pt_price(&p, "kind.small", "zone-a", "on-demand", &usd), NW_OK);
  CU_ASSERT(NEAR(usd, 0.1));
  CU_ASSERT_EQUAL(pt_price(&p, "kind.small", "zone-b", "spot", &usd), NW_OK);
  CU_ASSERT(NEAR(usd, 0.02));
  /* A zone's own price wins over the regional one. */
  CU_ASSERT_EQUAL(pt_price(&p, "kind.large", "zone-c", "on-demand", &usd), NW_OK);
  CU_ASSERT(NEAR(usd, 0.375));
  CU_ASSERT_EQUAL(pt_price(&p, "kind.large", "zone-a", "on-demand", &usd), NW_OK);
  CU_ASSERT(NEAR(usd, 0.3));
  /* No price, no offering. */
  CU_ASSERT_EQUAL(pt_price(&p, "kind.small", "zone-c", "spot", &usd), NW_ERR_NOT_FOUND);
  CU_ASSERT_EQUAL(pt_price(&p, "kind.large", "zone-a", "spot", &usd), NW_ERR_NOT_FOUND);
  CU_ASSERT_EQUAL(pt_price(&p, "kind.huge", "zone-a", "on-demand", &usd), NW_ERR_NOT_FOUND);
  nw_error e = {0};
  CU_ASSERT_EQUAL(p.vt->price(p.state, "kind.huge", "zone-a", "on-demand", &usd, &e),
                  NW_ERR_NOT_FOUND);
  CU_ASSERT_PTR_NOT_NULL(strstr(e.message, "kind.huge"));
  CU_ASSERT_EQUAL(p.vt->price(p.state, NULL, "zone-a", "spot", &usd, &e), NW_ERR_INVALID);
  /* Static mode has nothing to fetch. */
  CU_ASSERT_EQUAL(p.vt->refresh(p.state, &e), NW_OK);
  CU_ASSERT(nw__metric_get("pricing_prices", "capacity_type=spot") == 2);
  pt_unload(&p);
}

static void test_builtin_snapshot_prices(void) {
  pt_plugin p;
  char err[512] = "";
  CU_ASSERT_EQUAL_FATAL(pt_load(&p, "{\"mode\": \"snapshot\", \"region\": \"us-east-1\"}",
                                err, sizeof(err)), 0);
  json_t *r = pt_snapshot_region();
  const char *type, *zone;
  json_t *v, *zones;
  double usd;
  size_t n = 0;
  json_object_foreach(json_object_get(r, "on-demand"), type, v) {
    CU_ASSERT(pt_price(&p, type, "us-east-1b", "on-demand", &usd) == NW_OK &&
              NEAR(usd, json_number_value(v)));
    n++;
  }
  json_object_foreach(json_object_get(r, "spot"), type, zones) {
    json_object_foreach(zones, zone, v) {
      CU_ASSERT(pt_price(&p, type, zone, "spot", &usd) == NW_OK &&
                NEAR(usd, json_number_value(v)));
      n++;
    }
  }
  CU_ASSERT_TRUE(n > 7000);
  /* Spot is per zone; mac1.metal is on-demand only. */
  CU_ASSERT_EQUAL(pt_price(&p, "m5.large", "us-east-1z", "spot", &usd), NW_ERR_NOT_FOUND);
  CU_ASSERT_EQUAL(pt_price(&p, "mac1.metal", "us-east-1a", "spot", &usd), NW_ERR_NOT_FOUND);
  pt_unload(&p);
  /* A region the snapshot lacks loads, with nothing priced. */
  CU_ASSERT_EQUAL_FATAL(pt_load(&p, "{\"mode\": \"snapshot\", \"region\": \"eu-west-1\"}",
                                err, sizeof(err)), 0);
  CU_ASSERT_EQUAL(pt_price(&p, "m5.large", "eu-west-1a", "on-demand", &usd), NW_ERR_NOT_FOUND);
  pt_unload(&p);
}

static void test_snapshot_file(void) {
  char path[] = "/tmp/nw-pricing-snapXXXXXX";
  int fd = mkstemp(path);
  CU_ASSERT_FATAL(fd >= 0);
  const char *snap = "{\"format\": \"nodewright.pricing.snapshot/v1\", \"regions\": "
                     "{\"ap-south-1\": {\"on-demand\": {\"m5.large\": 0.101}}}}";
  CU_ASSERT_EQUAL(write(fd, snap, strlen(snap)), (ssize_t)strlen(snap));
  close(fd);
  char cfg[512], err[512] = "";
  snprintf(cfg, sizeof(cfg), "{\"region\": \"ap-south-1\", \"mode\": \"snapshot\", "
           "\"snapshot\": \"%s\", \"adjustments\": [{\"family\": \"m5\", "
           "\"price\": 0.07}]}", path);
  pt_plugin p;
  CU_ASSERT_EQUAL_FATAL(pt_load(&p, cfg, err, sizeof(err)), 0);
  double usd;
  CU_ASSERT(pt_price(&p, "m5.large", "ap-south-1a", "on-demand", &usd) == NW_OK &&
            NEAR(usd, 0.07));
  CU_ASSERT_EQUAL(pt_price(&p, "c5.large", "ap-south-1a", "on-demand", &usd),
                  NW_ERR_NOT_FOUND);
  pt_unload(&p);
  /* A broken file is refused at load, naming the file and the key. */
  FILE *f = fopen(path, "w");
  fputs("{\"format\": \"nodewright.pricing.snapshot/v1\", \"regions\": "
        "{\"ap-south-1\": {\"on-demand\": {\"m5.large\": \"cheap\"}}}}", f);
  fclose(f);
  CU_ASSERT_EQUAL(pt_load(&p, cfg, err, sizeof(err)), -1);
  CU_ASSERT_PTR_NOT_NULL(strstr(err, path));
  CU_ASSERT_PTR_NOT_NULL(strstr(err, "on-demand.m5.large"));
  unlink(path);
  CU_ASSERT_EQUAL(pt_load(&p, cfg, err, sizeof(err)), -1);
  CU_ASSERT_PTR_NOT_NULL(strstr(err, "cannot read"));
}

static void test_config_error_through_loader(void) {
  pt_plugin p;
  char err[512] = "";
  CU_ASSERT_EQUAL(pt_load(&p, "{\"mode\": \"static\", \"prices\": "
                          "[{\"type\": \"a.b\", \"price\": 1, \"zone\": 3}]}",
                          err, sizeof(err)), -1);
  CU_ASSERT_PTR_NOT_NULL(strstr(err, "pricing config: prices[0].zone"));
}

/* Nothing listens on the endpoints: refresh fails, retryable, and the
 * snapshot keeps answering. */
static void test_unreachable_keeps_snapshot(void) {
  pt_fake_aws_env();
  pt_plugin p;
  char err[512] = "";
  CU_ASSERT_EQUAL_FATAL(pt_load(&p, "{\"region\": \"us-east-1\", \"endpoints\": "
                                "{\"pricing\": \"http://127.0.0.1:1/\", "
                                "\"ec2\": \"http://127.0.0.1:1/\"}}",
                                err, sizeof(err)), 0);
  double before = nw__metric_get("pricing_refresh_total",
                                 "source=spot,result=error");
  nw_error e = {0};
  CU_ASSERT_EQUAL(p.vt->refresh(p.state, &e), NW_ERR_RETRYABLE);
  CU_ASSERT_PTR_NOT_NULL(strstr(e.message, "on-demand: "));
  CU_ASSERT_PTR_NOT_NULL(strstr(e.message, "spot: "));
  CU_ASSERT(nw__metric_get("pricing_refresh_total", "source=spot,result=error") ==
            before + 1);
  double usd;
  json_t *od = json_object_get(pt_snapshot_region(), "on-demand");
  CU_ASSERT(pt_price(&p, "m5.large", "us-east-1a", "on-demand", &usd) == NW_OK &&
            NEAR(usd, json_number_value(json_object_get(od, "m5.large"))));
  pt_unload(&p);
}

/* The `config:` of the first plugin in a shipped example, as JSON text
 * (caller frees); the daemon hands plugins their subtree this way. */
static char *example_config(const char *rel) {
  char err[256];
  nw__ydoc *doc = nw__yaml_load(nw_test_src_path(rel), err, sizeof(err));
  CU_ASSERT_PTR_NOT_NULL_FATAL(doc);
  nw__ynode *plugins = nw__ymap_get(doc->root, "plugins");
  CU_ASSERT_FATAL(plugins && plugins->len == 1);
  json_t *cfg = nw__ynode_to_json(nw__ymap_get(plugins->items[0], "config"));
  char *text = json_dumps(cfg, JSON_COMPACT);
  json_decref(cfg);
  nw__ydoc_free(doc);
  return text;
}

/* configs/pricing/aws.yaml loads and its adjustments do what its comments
 * say (mode aws, but no refresh here: the snapshot answers). */
static void test_example_aws_config(void) {
  char *cfg = example_config("configs/pricing/aws.yaml");
  pt_plugin p;
  char err[512] = "";
  CU_ASSERT_EQUAL_FATAL(pt_load(&p, cfg, err, sizeof(err)), 0);
  json_t *od = json_object_get(pt_snapshot_region(), "on-demand");
  double usd;
#define OD(t) json_number_value(json_object_get(od, t))
  CU_ASSERT(pt_price(&p, "c5.large", "us-east-1a", "on-demand", &usd) == NW_OK &&
            NEAR(usd, OD("c5.large") * 0.9));
  CU_ASSERT(pt_price(&p, "m7i.large", "us-east-1a", "on-demand", &usd) == NW_OK &&
            NEAR(usd, OD("m7i.large") * 0.72));
  CU_ASSERT(pt_price(&p, "p5.48xlarge", "us-east-1a", "on-demand", &usd) == NW_OK &&
            NEAR(usd, 60.0));
#undef OD
  /* Spot is not adjusted by these rules. */
  json_t *spot = json_object_get(json_object_get(pt_snapshot_region(), "spot"),
                                 "m7i.large");
  CU_ASSERT(pt_price(&p, "m7i.large", "us-east-1a", "spot", &usd) == NW_OK &&
            NEAR(usd, json_number_value(json_object_get(spot, "us-east-1a"))));
  pt_unload(&p);
  free(cfg);
}

static void test_example_static_config(void) {
  char *cfg = example_config("configs/pricing/static.yaml");
  pt_plugin p;
  char err[512] = "";
  CU_ASSERT_EQUAL_FATAL(pt_load(&p, cfg, err, sizeof(err)), 0);
  double usd;
  CU_ASSERT(pt_price(&p, "kind.medium", "zone-b", "on-demand", &usd) == NW_OK &&
            NEAR(usd, 0.10));
  CU_ASSERT(pt_price(&p, "kind.small", "zone-b", "spot", &usd) == NW_OK &&
            NEAR(usd, 0.018));
  CU_ASSERT_EQUAL(pt_price(&p, "kind.large", "zone-a", "spot", &usd), NW_ERR_NOT_FOUND);
  pt_unload(&p);
  free(cfg);
}

NW_TEST_CASES({"example_aws_config", test_example_aws_config},
              {"example_static_config", test_example_static_config},
              {"static_table_with_adjustments", test_static_table_with_adjustments},
              {"builtin_snapshot_prices", test_builtin_snapshot_prices},
              {"snapshot_file", test_snapshot_file},
              {"config_error_through_loader", test_config_error_through_loader},
              {"unreachable_keeps_snapshot", test_unreachable_keeps_snapshot});
NW_TEST_MAIN("pricing_plugin", NULL, NULL);
