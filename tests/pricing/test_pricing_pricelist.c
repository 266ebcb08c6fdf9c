/*
 * On-demand prices from GetProducts, against pricelist_server.py (moto has
 * no Pricing API): both queries and their filters, pagination, malformed
 * entries skipped and counted, the snapshot kept when the endpoint fails,
 * the refresh interval, and price() answering while refresh swaps tables.
 */
#include "nwtest.h"
#include "pricing_test.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics/metrics.h"

#define NEAR(a, b) (fabs((a) - (b)) < 1e-9)
#define PAGE_SIZE 40

static pt_server g_srv;
static char g_cfg[512];

static int setup(void) {
  pt_fake_aws_env();
  static const char *const args[] = {"--page-size", "40", "--price-factor",
                                     "1.25", NULL};
  if (pt_server_start(&g_srv, args) != 0)
    return -1;
  snprintf(g_cfg, sizeof(g_cfg),
           "{\"region\": \"us-east-1\", \"spot\": false, "
           "\"endpoints\": {\"pricing\": \"%s\"}}", g_srv.url);
  return 0;
}

static int teardown(void) {
  pt_server_stop(&g_srv);
  return 0;
}

static double stat_of(const char *key) {
  json_t *s = pt_server_get(&g_srv, "/__stats");
  double v = json_number_value(json_object_get(s, key));
  json_decref(s);
  return v;
}

static void control(const char *json) {
  CU_ASSERT_EQUAL_FATAL(pt_server_control(&g_srv, json), 0);
}

/* Every type the server lists has its served price; returns how many. */
static size_t check_expected(pt_plugin *p) {
  json_t *expected = pt_server_get(&g_srv, "/__expected");
  const char *type;
  json_t *v;
  size_t n = 0, bad = 0;
  json_object_foreach(expected, type, v) {
    double usd = -1;
    if (pt_price(p, type, "us-east-1a", "on-demand", &usd) != NW_OK ||
        !NEAR(usd, json_number_value(v))) {
      if (bad++ < 5)
        fprintf(stderr, "%s: got %g, want %g\n", type, usd,
                json_number_value(v));
    }
    n++;
  }
  CU_ASSERT_EQUAL(bad, 0);
  json_decref(expected);
  return n;
}

/* Prices are still the snapshot's (no refresh took effect). */
static void check_snapshot(pt_plugin *p) {
  json_t *od = json_object_get(pt_snapshot_region(), "on-demand");
  const char *type;
  json_t *v;
  size_t bad = 0;
  json_object_foreach(od, type, v) {
    double usd = -1;
    if (pt_price(p, type, "us-east-1a", "on-demand", &usd) != NW_OK ||
        !NEAR(usd, json_number_value(v)))
      bad++;
  }
  CU_ASSERT_EQUAL(bad, 0);
}

static size_t count_metal(json_t *expected) {
  const char *type;
  json_t *v;
  size_t n = 0;
  json_object_foreach(expected, type, v) n += strstr(type, ".metal") != NULL;
  return n;
}

static void test_both_queries_paginated(void) {
  control("{\"fault\": \"none\", \"malformed\": 0}");
  pt_plugin p;
  char err[512] = "";
  CU_ASSERT_EQUAL_FATAL(pt_load(&p, g_cfg, err, sizeof(err)), 0);
  check_snapshot(&p);
  double calls = stat_of("get_products");
  json_t *before = pt_server_get(&g_srv, "/__stats");
  size_t nq = json_array_size(json_object_get(before, "queries"));
  json_decref(before);
  nw_error e = {0};
  CU_ASSERT_EQUAL_FATAL(p.vt->refresh(p.state, &e), NW_OK);
  size_t n = check_expected(&p);
  CU_ASSERT_TRUE(n > 1000);
  /* Pages: ceil(shared / 40) + ceil(metal / 40). */
  json_t *expected = pt_server_get(&g_srv, "/__expected");
  size_t metal = count_metal(expected);
  json_decref(expected);
  CU_ASSERT_TRUE(metal > 0);
  size_t pages = (n - metal + PAGE_SIZE - 1) / PAGE_SIZE +
                 (metal + PAGE_SIZE - 1) / PAGE_SIZE;
  CU_ASSERT_EQUAL(stat_of("get_products") - calls, (double)pages);
  /* The two queries, each with every filter Karpenter sends. */
  json_t *st = pt_server_get(&g_srv, "/__stats");
  json_t *q = json_object_get(st, "queries");
  CU_ASSERT_EQUAL_FATAL(json_array_size(q), nq + 2);
  json_t *shared = json_array_get(q, nq), *dedicated = json_array_get(q, nq + 1);
  CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(shared, "tenancy")), "Shared");
  CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(shared, "productFamily")),
                         "Compute Instance");
  CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(dedicated, "tenancy")),
                         "Dedicated");
  CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(dedicated, "productFamily")),
                         "Compute Instance (bare metal)");
  CU_ASSERT_EQUAL(json_object_size(shared), 8);
  json_decref(st);
  /* Spot prices were not fetched (spot: false); the snapshot's stay. */
  json_t *spot = json_object_get(json_object_get(pt_snapshot_region(), "spot"),
                                 "m5.large");
  double usd;
  CU_ASSERT(pt_price(&p, "m5.large", "us-east-1a", "spot", &usd) == NW_OK &&
            NEAR(usd, json_number_value(json_object_get(spot, "us-east-1a"))));
  pt_unload(&p);
}

static void test_malformed_skipped_and_counted(void) {
  control("{\"fault\": \"none\", \"malformed\": 5}");
  pt_plugin p;
  char err[512] = "";
  CU_ASSERT_EQUAL_FATAL(pt_load(&p, g_cfg, err, sizeof(err)), 0);
  double served = stat_of("malformed_served");
  double counted = nw__metric_get("pricing_malformed_entries_total",
                                  "source=on-demand");
  nw_error e = {0};
  CU_ASSERT_EQUAL(p.vt->refresh(p.state, &e), NW_OK);
  double served_now = stat_of("malformed_served") - served;
  CU_ASSERT_EQUAL(served_now, 10); /* 5 on the first page of each query */
  CU_ASSERT_EQUAL(nw__metric_get("pricing_malformed_entries_total",
                                 "source=on-demand") - counted, served_now);
  check_expected(&p);
  double usd;
  CU_ASSERT_EQUAL(pt_price(&p, "zz9.large", "us-east-1a", "on-demand", &usd),
                  NW_ERR_NOT_FOUND);
  control("{\"malformed\": 0}");
  pt_unload(&p);
}

static void expect_fault(const char *control_json, nw_status want,
                         const char *needle) {
  control(control_json);
  pt_plugin p;
  char err[512] = "";
  CU_ASSERT_EQUAL_FATAL(pt_load(&p, g_cfg, err, sizeof(err)), 0);
  nw_error e = {0};
  CU_ASSERT_EQUAL(p.vt->refresh(p.state, &e), want);
  if (!strstr(e.message, needle))
    fprintf(stderr, "\"%s\" lacks \"%s\"\n", e.message, needle);
  CU_ASSERT_PTR_NOT_NULL(strstr(e.message, needle));
  check_snapshot(&p);
  pt_unload(&p);
}

static void test_fault_keeps_snapshot(void) {
  expect_fault("{\"fault\": \"500\"}", NW_ERR_RETRYABLE, "GetProducts: InternalErrorException: injected fault (HTTP 500)");
  expect_fault("{\"fault\": \"throttle\"}", NW_ERR_RETRYABLE, "ThrottlingException");
  expect_fault("{\"fault\": \"auth\"}", NW_ERR_AUTH, "UnrecognizedClientException");
  expect_fault("{\"fault\": \"garbage\"}", NW_ERR_INVALID, "malformed JSON");
  /* A query that fails half way through its pages changes nothing. */
  expect_fault("{\"fault\": \"500\", \"fault_after\": 3}", NW_ERR_RETRYABLE, "HTTP 500");
  /* The first query whole, the second failing: nothing either. */
  json_t *expected = pt_server_get(&g_srv, "/__expected");
  size_t shared = json_object_size(expected) - count_metal(expected);
  json_decref(expected);
  char ctl[128];
  snprintf(ctl, sizeof(ctl), "{\"fault\": \"500\", \"fault_after\": %zu}",
           (shared + PAGE_SIZE - 1) / PAGE_SIZE);
  expect_fault(ctl, NW_ERR_RETRYABLE, "HTTP 500");
  control("{\"fault\": \"none\"}");
}

static void test_refresh_interval(void) {
  control("{\"fault\": \"none\"}");
  char cfg[600];
  snprintf(cfg, sizeof(cfg),
           "{\"region\": \"us-east-1\", \"spot\": false, \"refreshIntervalSeconds\": "
           "43200, \"retryIntervalSeconds\": 300, \"endpoints\": {\"pricing\": \"%s\"}}",
           g_srv.url);
  pt_plugin p;
  char err[512] = "";
  CU_ASSERT_EQUAL_FATAL(pt_load(&p, cfg, err, sizeof(err)), 0);
  nw_error e = {0};
  double c0 = stat_of("get_products");
  CU_ASSERT_EQUAL(p.vt->refresh(p.state, &e), NW_OK);
  double c1 = stat_of("get_products");
  CU_ASSERT_TRUE(c1 > c0);
  /* Not due: an hour later nothing is fetched. */
  pt_now_ms += 3600 * 1000;
  CU_ASSERT_EQUAL(p.vt->refresh(p.state, &e), NW_OK);
  CU_ASSERT_EQUAL(stat_of("get_products"), c1);
  /* Twelve hours after the last success it is. */
  pt_now_ms += 11 * 3600 * 1000;
  control("{\"fault\": \"500\"}");
  CU_ASSERT_EQUAL(p.vt->refresh(p.state, &e), NW_ERR_RETRYABLE);
  double c2 = stat_of("get_products");
  CU_ASSERT_TRUE(c2 > c1);
  /* After a failure: retried after retry_interval_s, not before. */
  control("{\"fault\": \"none\"}");
  pt_now_ms += 299 * 1000;
  CU_ASSERT_EQUAL(p.vt->refresh(p.state, &e), NW_OK);
  CU_ASSERT_EQUAL(stat_of("get_products"), c2);
  pt_now_ms += 1000;
  CU_ASSERT_EQUAL(p.vt->refresh(p.state, &e), NW_OK);
  CU_ASSERT_TRUE(stat_of("get_products") > c2);
  check_expected(&p);
  pt_unload(&p);
}

typedef struct reader {
  pt_plugin *p;
  volatile int *stop;
  long lookups;
  long wrong;
} reader;

/* Reads m5.large and c5.metal until told to stop; each answer must be the
 * snapshot's price or the server's, never anything else. */
static void *read_loop(void *arg) {
  reader *r = arg;
  json_t *od = json_object_get(pt_snapshot_region(), "on-demand");
  double snap_m5 = json_number_value(json_object_get(od, "m5.large"));
  double snap_c5 = json_number_value(json_object_get(od, "c5.metal"));
  while (!*r->stop) {
    double a = -1, b = -1;
    if (pt_price(r->p, "m5.large", "us-east-1a", "on-demand", &a) != NW_OK ||
        pt_price(r->p, "c5.metal", "us-east-1b", "on-demand", &b) != NW_OK)
      r->wrong++;
    if (!NEAR(a, snap_m5) && !NEAR(a, round(snap_m5 * 1.25 * 1e6) / 1e6))
      r->wrong++;
    if (!NEAR(b, snap_c5) && !NEAR(b, round(snap_c5 * 1.25 * 1e6) / 1e6))
      r->wrong++;
    r->lookups++;
  }
  return NULL;
}

static void test_price_during_refresh(void) {
  control("{\"fault\": \"none\"}");
  char cfg[600];
  snprintf(cfg, sizeof(cfg),
           "{\"region\": \"us-east-1\", \"spot\": false, \"refreshIntervalSeconds\": 1, "
           "\"endpoints\": {\"pricing\": \"%s\"}}", g_srv.url);
  pt_plugin p;
  char err[512] = "";
  CU_ASSERT_EQUAL_FATAL(pt_load(&p, cfg, err, sizeof(err)), 0);
  volatile int stop = 0;
  reader r[2] = {{&p, &stop, 0, 0}, {&p, &stop, 0, 0}};
  pthread_t t[2];
  for (int i = 0; i < 2; i++)
    pthread_create(&t[i], NULL, read_loop, &r[i]);
  for (int i = 0; i < 3; i++) {
    nw_error e = {0};
    pt_now_ms += 2000;
    CU_ASSERT_EQUAL(p.vt->refresh(p.state, &e), NW_OK);
  }
  stop = 1;
  for (int i = 0; i < 2; i++) {
    pthread_join(t[i], NULL);
    CU_ASSERT_TRUE(r[i].lookups > 0);
    CU_ASSERT_EQUAL(r[i].wrong, 0);
  }
  check_expected(&p);
  pt_unload(&p);
}

NW_TEST_CASES({"both_queries_paginated", test_both_queries_paginated},
              {"malformed_skipped_and_counted", test_malformed_skipped_and_counted},
              {"fault_keeps_snapshot", test_fault_keeps_snapshot},
              {"refresh_interval", test_refresh_interval},
              {"price_during_refresh", test_price_during_refresh});
NW_TEST_MAIN("pricing_pricelist", setup, teardown);
