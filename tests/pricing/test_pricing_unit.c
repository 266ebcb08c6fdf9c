/*
 * Unit tests of the pricing plugin's pure parts: the price map, the
 * adjustments and their precedence, the config parser, the snapshot, and
 * the GetProducts and DescribeSpotPriceHistory parsers.
 */
#include "nwtest.h"
#include "pricing_int.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NEAR(a, b) (fabs((a) - (b)) < 1e-9)

static void test_map_put_get_grow(void) {
  nw__pricing_map *m = nw__pricing_map_new(0);
  char type[32];
  for (int i = 0; i < 5000; i++) {
    snprintf(type, sizeof(type), "t%d.large", i);
    CU_ASSERT_EQUAL_FATAL(nw__pricing_map_put(m, type, "spot", "z-a", i), 0);
    CU_ASSERT_EQUAL_FATAL(nw__pricing_map_put(m, type, "on-demand", "", i * 2),
                          0);
  }
  CU_ASSERT_EQUAL(nw__pricing_map_len(m), 10000);
  CU_ASSERT_EQUAL(nw__pricing_map_count(m, "spot"), 5000);
  double p;
  for (int i = 0; i < 5000; i += 7) {
    snprintf(type, sizeof(type), "t%d.large", i);
    CU_ASSERT_EQUAL(nw__pricing_map_get(m, type, "spot", "z-a", &p), 0);
    CU_ASSERT(NEAR(p, i));
    /* Regional on-demand answers for any zone. */
    CU_ASSERT_EQUAL(nw__pricing_map_lookup(m, type, "on-demand", "z-q", &p), 0);
    CU_ASSERT(NEAR(p, i * 2));
    /* A spot price is per zone: another zone has none. */
    CU_ASSERT_EQUAL(nw__pricing_map_lookup(m, type, "spot", "z-b", &p), -1);
  }
  /* Replacing keeps one entry. */
  CU_ASSERT_EQUAL(nw__pricing_map_put(m, "t1.large", "spot", "z-a", 9.5), 0);
  CU_ASSERT_EQUAL(nw__pricing_map_len(m), 10000);
  CU_ASSERT_EQUAL(nw__pricing_map_get(m, "t1.large", "spot", "z-a", &p), 0);
  CU_ASSERT(NEAR(p, 9.5));
  /* Keys are compared whole, not by hash or prefix. */
  CU_ASSERT_EQUAL(nw__pricing_map_get(m, "t1.larg", "spot", "z-a", &p), -1);
  CU_ASSERT_EQUAL(nw__pricing_map_get(m, "t1.large", "spot", "z-a ", &p), -1);
  nw__pricing_map_free(m);
}

static void test_map_merge_new_over_old(void) {
  nw__pricing_map *old = nw__pricing_map_new(4);
  nw__pricing_map *fresh = nw__pricing_map_new(4);
  nw__pricing_map_put(old, "a.large", "on-demand", "", 1.0);
  nw__pricing_map_put(old, "b.large", "on-demand", "", 2.0);
  nw__pricing_map_put(fresh, "b.large", "on-demand", "", 2.5);
  nw__pricing_map_put(fresh, "c.large", "spot", "z1", 0.3);
  CU_ASSERT_EQUAL(nw__pricing_map_merge(old, fresh), 0);
  double p;
  CU_ASSERT_EQUAL(nw__pricing_map_len(old), 3);
  CU_ASSERT(nw__pricing_map_get(old, "a.large", "on-demand", "", &p) == 0 &&
            NEAR(p, 1.0));
  CU_ASSERT(nw__pricing_map_get(old, "b.large", "on-demand", "", &p) == 0 &&
            NEAR(p, 2.5));
  CU_ASSERT(nw__pricing_map_get(old, "c.large", "spot", "z1", &p) == 0 &&
            NEAR(p, 0.3));
  nw__pricing_map_free(old);
  nw__pricing_map_free(fresh);
}

static int parse(const char *json, nw__pricing_config *cfg, char *err) {
  return nw__pricing_config_parse(json, cfg, err, 256);
}

static void test_adjustment_precedence(void) {
  nw__pricing_config cfg;
  char err[256] = "";
  int rc = parse("{\"mode\":\"static\",\"adjustments\":["
                 "{\"capacityType\":\"spot\",\"discountPercent\":10},"
                 "{\"family\":\"m5\",\"discountPercent\":20},"
                 "{\"family\":\"m5\",\"capacityType\":\"spot\",\"discountPercent\":30},"
                 "{\"type\":\"m5.large\",\"price\":0.05},"
                 "{\"type\":\"m5.large\",\"capacityType\":\"spot\",\"price\":0.01}],"
                 "\"prices\":["
                 "{\"type\":\"m5.large\",\"price\":0.096},"
                 "{\"type\":\"m5.large\",\"capacityType\":\"spot\",\"zone\":\"z1\",\"price\":0.04},"
                 "{\"type\":\"m5.xlarge\",\"price\":0.192},"
                 "{\"type\":\"m5.xlarge\",\"capacityType\":\"spot\",\"price\":0.08},"
                 "{\"type\":\"m50.xlarge\",\"price\":1.0},"
                 "{\"type\":\"c5.large\",\"capacityType\":\"spot\",\"price\":0.03},"
                 "{\"type\":\"c5.large\",\"price\":0.085}]}",
                 &cfg, err);
  CU_ASSERT_EQUAL_FATAL(rc, 0);
  nw__pricing_map *t = nw__pricing_apply(cfg.static_prices, cfg.adjustments,
                                         cfg.n_adjustments);
  double p;
  /* type + capacity type beats type. */
  CU_ASSERT(nw__pricing_map_lookup(t, "m5.large", "spot", "z1", &p) == 0 &&
            NEAR(p, 0.01));
  /* type beats family. */
  CU_ASSERT(nw__pricing_map_lookup(t, "m5.large", "on-demand", "z1", &p) == 0 &&
            NEAR(p, 0.05));
  /* family + capacity type beats family and capacity type. */
  CU_ASSERT(nw__pricing_map_lookup(t, "m5.xlarge", "spot", "z9", &p) == 0 &&
            NEAR(p, 0.08 * 0.7));
  CU_ASSERT(nw__pricing_map_lookup(t, "m5.xlarge", "on-demand", "", &p) == 0 &&
            NEAR(p, 0.192 * 0.8));
  /* "m5" is not a prefix match of "m50". */
  CU_ASSERT(nw__pricing_map_lookup(t, "m50.xlarge", "on-demand", "", &p) == 0 &&
            NEAR(p, 1.0));
  /* capacity type alone. */
  CU_ASSERT(nw__pricing_map_lookup(t, "c5.large", "spot", "z1", &p) == 0 &&
            NEAR(p, 0.03 * 0.9));
  CU_ASSERT(nw__pricing_map_lookup(t, "c5.large", "on-demand", "", &p) == 0 &&
            NEAR(p, 0.085));
  /* A fixed price never creates an offering: no m5.large spot in z2. */
  CU_ASSERT_EQUAL(nw__pricing_map_lookup(t, "m5.large", "spot", "z2", &p), -1);
  CU_ASSERT_EQUAL(nw__pricing_map_len(t), nw__pricing_map_len(cfg.static_prices));
  nw__pricing_map_free(t);
  nw__pricing_config_free(&cfg);
}

/* Each bad config fails with a message naming the key. */
static void test_config_errors(void) {
  static const struct {
    const char *json;
    const char *needle;
  } cases[] = {
      {"{\"mode\":\"static\",\"prices\":[{\"type\":\"a.b\",\"price\":1}],\"bogus\":1}", "bogus: unknown key"},
      {"{\"mode\":\"cheap\"}", "mode: must be aws, snapshot or static"},
      {"{\"mode\":\"static\"}", "prices: mode static needs"},
      {"{\"mode\":\"static\",\"prices\":[{\"type\":\"a.b\",\"price\":-1}]}", "prices[0].price"},
      {"{\"mode\":\"static\",\"prices\":[{\"type\":\"a.b\",\"price\":1,\"capacityType\":\"cheap\"}]}", "prices[0].capacityType"},
      {"{\"mode\":\"static\",\"prices\":[{\"type\":\"a.b\",\"price\":1},{\"type\":\"a.b\",\"price\":2}]}", "prices[1].: a.b on-demand is listed twice"},
      {"{\"region\":\"us-east-1\",\"prices\":[]}", "prices: only used with mode static"},
      {"{\"region\":\"us-east-1\",\"adjustments\":[{\"discountPercent\":5}]}", "adjustments[0]. needs a selector"},
      {"{\"region\":\"us-east-1\",\"adjustments\":[{\"family\":\"m5\",\"discountPercent\":120}]}", "adjustments[0].discountPercent: must be a number from 0 to 100"},
      {"{\"region\":\"us-east-1\",\"adjustments\":[{\"family\":\"m5\",\"discountPercent\":5,\"price\":1}]}", "exactly one of discountPercent and price"},
      {"{\"region\":\"us-east-1\",\"adjustments\":[{\"family\":\"m5\",\"type\":\"m5.large\",\"price\":1}]}", "give type or family, not both"},
      {"{\"region\":\"us-east-1\",\"adjustments\":[{\"type\":\"m5\",\"price\":1}]}", "adjustments[0].type: \"m5\" is not an instance type"},
      {"{\"region\":\"us-east-1\",\"adjustments\":[{\"family\":\"m5\",\"price\":1},{\"family\":\"m5\",\"discountPercent\":3}]}", "adjustments[1]: same selector as adjustments[0]"},
      {"{\"region\":\"us-east-1\",\"refreshIntervalSeconds\":0}", "refreshIntervalSeconds: must be a number"},
      {"{\"region\":\"us-east-1\",\"spot\":\"yes\"}", "spot: must be true or false"},
      {"{\"region\":\"us-east-1\",\"endpoints\":{\"pricing\":\"\"}}", "endpoints.pricing: must be a non-empty string"},
      {"{\"region\":\"us-east-1\",\"endpoints\":{\"s3\":\"x\"}}", "endpoints.s3: unknown key"},
      {"{\"region\":", "not valid JSON"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    nw__pricing_config cfg;
    char err[256] = "";
    CU_ASSERT_EQUAL(parse(cases[i].json, &cfg, err), -1);
    if (!strstr(err, cases[i].needle))
      fprintf(stderr, "case %zu: \"%s\" lacks \"%s\"\n", i, err,
              cases[i].needle);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, cases[i].needle));
    nw__pricing_config_free(&cfg);
  }
}

static void test_config_defaults_and_region(void) {
  nw__pricing_config cfg;
  char err[256] = "";
  unsetenv("AWS_REGION");
  unsetenv("AWS_DEFAULT_REGION");
  CU_ASSERT_EQUAL(parse("{}", &cfg, err), -1);
  CU_ASSERT_PTR_NOT_NULL(strstr(err, "region: not set"));
  nw__pricing_config_free(&cfg);
  setenv("AWS_DEFAULT_REGION", "eu-west-1", 1);
  CU_ASSERT_EQUAL_FATAL(parse("{\"refreshIntervalSeconds\": 60.5}", &cfg, err), 0);
  CU_ASSERT_STRING_EQUAL(cfg.region, "eu-west-1");
  CU_ASSERT_EQUAL(cfg.mode, NW__PRICING_AWS);
  CU_ASSERT_EQUAL(cfg.refresh_interval_ms, 60500);
  CU_ASSERT_EQUAL(cfg.retry_interval_ms, 300000);
  CU_ASSERT(cfg.spot && cfg.on_demand);
  nw__pricing_config_free(&cfg);
  unsetenv("AWS_DEFAULT_REGION");
}

static void test_api_region(void) {
  CU_ASSERT_STRING_EQUAL(nw__pricing_api_region("us-west-2"), "us-east-1");
  CU_ASSERT_STRING_EQUAL(nw__pricing_api_region("ca-central-1"), "us-east-1");
  CU_ASSERT_STRING_EQUAL(nw__pricing_api_region("ap-northeast-1"), "ap-south-1");
  CU_ASSERT_STRING_EQUAL(nw__pricing_api_region("eu-west-3"), "eu-central-1");
  CU_ASSERT_STRING_EQUAL(nw__pricing_api_region("cn-north-1"), "cn-northwest-1");
}

/* The built-in snapshot holds exactly the prices of the shipped JSON. */
static void test_builtin_snapshot(void) {
  size_t len, loaded;
  const char *text = nw__pricing_builtin_snapshot(&len);
  char err[256];
  nw__pricing_map *m = nw__pricing_map_new(8192);
  CU_ASSERT_EQUAL_FATAL(nw__pricing_snapshot_load(m, text, len, "builtin",
                                                  "us-east-1", &loaded, err,
                                                  sizeof(err)), 0);
  json_t *root = json_load_file(nw_test_src_path("configs/pricing/aws-snapshot.json"),
                                0, NULL);
  json_t *r = json_object_get(json_object_get(root, "regions"), "us-east-1");
  json_t *od = json_object_get(r, "on-demand");
  CU_ASSERT_TRUE(json_object_size(od) > 1000);
  const char *type, *zone;
  json_t *v, *zones;
  size_t want = 0;
  double p;
  json_object_foreach(od, type, v) {
    CU_ASSERT(nw__pricing_map_lookup(m, type, "on-demand", "us-east-1a", &p) == 0 &&
              NEAR(p, json_number_value(v)));
    want++;
  }
  json_object_foreach(json_object_get(r, "spot"), type, zones) {
    json_object_foreach(zones, zone, v) {
      CU_ASSERT(nw__pricing_map_lookup(m, type, "spot", zone, &p) == 0 &&
                NEAR(p, json_number_value(v)));
      want++;
    }
  }
  CU_ASSERT_EQUAL(loaded, want);
  CU_ASSERT_EQUAL(nw__pricing_map_len(m), want);
  json_decref(root);
  nw__pricing_map_free(m);
  /* Another region: nothing, and no error. */
  m = nw__pricing_map_new(16);
  CU_ASSERT_EQUAL(nw__pricing_snapshot_load(m, text, len, "builtin", "eu-west-9",
                                            &loaded, err, sizeof(err)), 0);
  CU_ASSERT_EQUAL(loaded, 0);
  nw__pricing_map_free(m);
}

static void test_snapshot_errors(void) {
  static const struct {
    const char *json;
    const char *needle;
  } cases[] = {
      {"[1]", "snap: must be a JSON object"},
      {"{\"regions\":{}}", "snap: format: expected"},
      {"{\"format\":\"nodewright.pricing.snapshot/v1\"}", "snap: regions: must be a map"},
      {"{\"format\":\"nodewright.pricing.snapshot/v1\",\"regions\":{\"r\":{\"on-demand\":{\"a.b\":\"x\"}}}}", "regions.r.on-demand.a.b: must be a non-negative number"},
      {"{\"format\":\"nodewright.pricing.snapshot/v1\",\"regions\":{\"r\":{\"spot\":{\"a.b\":{\"z\":-2}}}}}", "regions.r.spot.a.b.z"},
      {"{\"format\":", "not valid JSON"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    char err[256] = "";
    size_t loaded;
    nw__pricing_map *m = nw__pricing_map_new(4);
    CU_ASSERT_EQUAL(nw__pricing_snapshot_load(m, cases[i].json,
                                              strlen(cases[i].json), "snap",
                                              "r", &loaded, err, sizeof(err)),
                    -1);
    if (!strstr(err, cases[i].needle))
      fprintf(stderr, "case %zu: \"%s\" lacks \"%s\"\n", i, err,
              cases[i].needle);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, cases[i].needle));
    nw__pricing_map_free(m);
  }
}

/* A PriceList entry in the Price List format, as a JSON string value. */
static char *product(const char *type, const char *usd) {
  json_t *item = json_pack(
      "{s:{s:s, s:{s:s, s:s, s:s}, s:s}, s:s, s:{s:{s:{s:{s:{s:{s:s}, s:s}}, "
      "s:s}}}, s:s}",
      "product", "productFamily", "Compute Instance", "attributes",
      "instanceType", type, "regionCode", "us-east-1", "tenancy", "Shared",
      "sku", "SKU1", "serviceCode", "AmazonEC2", "terms", "OnDemand",
      "SKU1.JRTCKXETXF", "priceDimensions", "SKU1.JRTCKXETXF.6YS6EN2CT7",
      "pricePerUnit", "USD", usd, "unit", "Hrs", "sku", "SKU1", "version",
      "20260720");
  char *s = json_dumps(item, JSON_COMPACT);
  json_decref(item);
  return s;
}

static void test_parse_products(void) {
  char *good1 = product("m5.large", "0.0960000000");
  char *good2 = product("m5.metal", "4.6080000000");
  char *zero = product("x1.free", "0.0000000000");
  char *bad_usd = product("m5.xlarge", "abc");
  char *no_type = product("", "0.1");
  json_t *page = json_pack("{s:s, s:s, s:[s, s, s, s, s, s, i, s]}",
                           "FormatVersion", "aws_v1", "NextToken", "tok-2",
                           "PriceList", good1, zero, bad_usd, no_type,
                           "{not json", "[]", 5, good2);
  char *body = json_dumps(page, 0);
  nw__pricing_map *m = nw__pricing_map_new(4);
  nw__pricing_stats st = {0};
  char *next = NULL, err[256];
  CU_ASSERT_EQUAL_FATAL(nw__pricing_parse_products(m, body, strlen(body), &next,
                                                   &st, err, sizeof(err)), 0);
  CU_ASSERT_STRING_EQUAL(next, "tok-2");
  CU_ASSERT_EQUAL(st.prices, 2);
  /* bad price, empty type, not JSON, not an object, not a string. */
  CU_ASSERT_EQUAL(st.malformed, 5);
  CU_ASSERT_EQUAL(nw__pricing_map_len(m), 2);
  double p;
  CU_ASSERT(nw__pricing_map_lookup(m, "m5.metal", "on-demand", "z", &p) == 0 &&
            NEAR(p, 4.608));
  free(next);
  /* The last page has no NextToken; a body that is no response fails. */
  const char *last = "{\"FormatVersion\":\"aws_v1\",\"PriceList\":[]}";
  CU_ASSERT_EQUAL(nw__pricing_parse_products(m, last, strlen(last), &next, &st,
                                             err, sizeof(err)), 0);
  CU_ASSERT_PTR_NULL(next);
  CU_ASSERT_EQUAL(nw__pricing_parse_products(m, "{\"message\":\"x\"}", 15, &next,
                                             &st, err, sizeof(err)), -1);
  CU_ASSERT_PTR_NOT_NULL(strstr(err, "no PriceList"));
  CU_ASSERT_EQUAL(nw__pricing_parse_products(m, "<html>", 6, &next, &st, err,
                                             sizeof(err)), -1);
  CU_ASSERT_PTR_NOT_NULL(strstr(err, "not JSON"));
  nw__pricing_map_free(m);
  json_decref(page);
  free(body);
  free(good1);
  free(good2);
  free(zero);
  free(bad_usd);
  free(no_type);
}

#define SPOT_ITEM(t, z, d, p, ts)                                              \
  "<item><instanceType>" t "</instanceType><productDescription>" d             \
  "</productDescription><spotPrice>" p "</spotPrice><timestamp>" ts            \
  "</timestamp><availabilityZone>" z "</availabilityZone></item>"

static void test_parse_spot(void) {
  const char *xml =
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      "<DescribeSpotPriceHistoryResponse "
      "xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\">"
      "<requestId>r</requestId><spotPriceHistorySet>"
      SPOT_ITEM("m5.large", "us-east-1a", "Linux/UNIX", "0.0400", "2026-07-20T10:00:00.000Z")
      SPOT_ITEM("m5.large", "us-east-1a", "Linux/UNIX", "0.0450", "2026-07-20T10:00:00.500Z")
      SPOT_ITEM("m5.large", "us-east-1a", "Linux/UNIX", "0.0300", "2026-07-20T09:00:00Z")
      SPOT_ITEM("m5.large", "us-east-1b", "Linux/UNIX (Amazon VPC)", "0.0410", "2026-07-20T08:00:00Z")
      SPOT_ITEM("m5.large", "us-east-1c", "Windows", "0.2000", "2026-07-20T08:00:00Z")
      SPOT_ITEM("m5.large", "us-east-1d", "Linux/UNIX", "cheap", "2026-07-20T08:00:00Z")
      SPOT_ITEM("m5.large", "us-east-1f", "Linux/UNIX", "0.05", "yesterday")
      "<item><instanceType>c5.large</instanceType></item>"
      "</spotPriceHistorySet><nextToken>abc/+=</nextToken>"
      "</DescribeSpotPriceHistoryResponse>";
  nw__pricing_map *m = nw__pricing_map_new(4), *latest = nw__pricing_map_new(4);
  nw__pricing_stats st = {0};
  char *next = NULL, err[256];
  CU_ASSERT_EQUAL_FATAL(nw__pricing_parse_spot(m, latest, xml, strlen(xml),
                                               &next, &st, err, sizeof(err)), 0);
  CU_ASSERT_STRING_EQUAL(next, "abc/+=");
  free(next);
  double p;
  /* The latest of three, fractions of a second included. */
  CU_ASSERT(nw__pricing_map_get(m, "m5.large", "spot", "us-east-1a", &p) == 0 &&
            NEAR(p, 0.045));
  CU_ASSERT(nw__pricing_map_get(m, "m5.large", "spot", "us-east-1b", &p) == 0 &&
            NEAR(p, 0.041));
  CU_ASSERT_EQUAL(nw__pricing_map_get(m, "m5.large", "spot", "us-east-1c", &p), -1);
  CU_ASSERT_EQUAL(nw__pricing_map_count(m, "spot"), 2);
  CU_ASSERT_EQUAL(st.malformed, 3);
  /* An EC2 error document names its code. */
  const char *e = "<Response><Errors><Error><Code>AuthFailure</Code><Message>"
                  "no</Message></Error></Errors></Response>";
  CU_ASSERT_EQUAL(nw__pricing_parse_spot(m, latest, e, strlen(e), &next, &st,
                                         err, sizeof(err)), -1);
  CU_ASSERT_PTR_NOT_NULL(strstr(err, "unexpected <Response>"));
  CU_ASSERT_EQUAL(nw__pricing_parse_spot(m, latest, "{}", 2, &next, &st, err,
                                         sizeof(err)), -1);
  CU_ASSERT_PTR_NOT_NULL(strstr(err, "malformed XML"));
  nw__pricing_map_free(m);
  nw__pricing_map_free(latest);
}

/* Deterministic xorshift, so a failure reproduces. */
static uint64_t rnd(uint64_t *s) {
  *s ^= *s << 13;
  *s ^= *s >> 7;
  *s ^= *s << 17;
  return *s;
}

/* Truncated and byte-flipped answers: every one parses or is refused,
 * none crashes or leaks (run under ASan and valgrind). */
static void test_mutated_answers(void) {
  char *good = product("m5.large", "0.0960000000");
  json_t *page = json_pack("{s:s, s:s, s:[s, s]}", "FormatVersion", "aws_v1",
                           "NextToken", "t", "PriceList", good, good);
  char *json = json_dumps(page, 0);
  const char *xml =
      "<DescribeSpotPriceHistoryResponse><spotPriceHistorySet>"
      SPOT_ITEM("m5.large", "us-east-1a", "Linux/UNIX", "0.0400", "2026-07-20T10:00:00.000Z")
      "</spotPriceHistorySet><nextToken>n</nextToken>"
      "</DescribeSpotPriceHistoryResponse>";
  const char *docs[] = {json, xml};
  uint64_t seed = 0x2545f4914f6cdd1dull;
  size_t accepted[2] = {0, 0};
  for (int d = 0; d < 2; d++) {
    size_t len = strlen(docs[d]);
    char *buf = malloc(len + 1);
    for (int i = 0; i < 1500; i++) {
      memcpy(buf, docs[d], len + 1);
      size_t n = len;
      if (i % 3 == 0)
        n = (size_t)(rnd(&seed) % len);
      for (int k = 0; k < 1 + i % 4; k++)
        buf[rnd(&seed) % len] = (char)(rnd(&seed) & 0xff);
      nw__pricing_map *m = nw__pricing_map_new(4), *latest = nw__pricing_map_new(4);
      nw__pricing_stats st = {0};
      char *next = NULL, err[256];
      int rc = d == 0 ? nw__pricing_parse_products(m, buf, n, &next, &st, err, sizeof(err))
                      : nw__pricing_parse_spot(m, latest, buf, n, &next, &st, err, sizeof(err));
      CU_ASSERT(rc == 0 || rc == -1);
      /* Only accepted entries reach the map. */
      CU_ASSERT(nw__pricing_map_len(m) <= st.prices);
      accepted[d] += rc == 0;
      free(next);
      nw__pricing_map_free(m);
      nw__pricing_map_free(latest);
    }
    free(buf);
  }
  /* Some mutations leave a valid answer, some do not: both paths ran. */
  CU_ASSERT_TRUE(accepted[0] > 0 && accepted[0] < 1500);
  CU_ASSERT_TRUE(accepted[1] > 0 && accepted[1] < 1500);
  free(json);
  json_decref(page);
  free(good);
}

NW_TEST_CASES({"mutated_answers", test_mutated_answers},
              {"map_put_get_grow", test_map_put_get_grow},
              {"map_merge_new_over_old", test_map_merge_new_over_old},
              {"adjustment_precedence", test_adjustment_precedence},
              {"config_errors", test_config_errors},
              {"config_defaults_and_region", test_config_defaults_and_region},
              {"api_region", test_api_region},
              {"builtin_snapshot", test_builtin_snapshot},
              {"snapshot_errors", test_snapshot_errors},
              {"parse_products", test_parse_products},
              {"parse_spot", test_parse_spot});
NW_TEST_MAIN("pricing", NULL, NULL);
