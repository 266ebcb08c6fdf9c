/*
 * Spot prices from EC2 DescribeSpotPriceHistory against moto (the "aws"
 * fixture: scripts/test-aws, moto_server behind tests/aws/proxy).
 *
 * moto cannot be seeded with spot prices: it generates the history itself,
 * one item per instance type offered in each zone (from its recorded
 * DescribeInstanceTypeOfferings data), each "Linux/UNIX (Amazon VPC)" at
 * the same token price and timestamp.  So the tests compare the plugin's
 * table with what moto answers, read independently here with XPath, and
 * check the item set against moto's zone offerings.
 */
#include "nwtest.h"
#include "pricing_test.h"

#include <libxml/parser.h>
#include <libxml/xpath.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/http.h"
#include "metrics/metrics.h"
#include "util/arena.h"
#include "awscore.h"

#define NEAR(a, b) (fabs((a) - (b)) < 1e-12)

static char g_endpoint[256];

static int setup(void) {
  size_t len;
  char *ep = nw_test_read_file(NW_TEST_BUILD_DIR "/aws/endpoint", &len);
  if (!ep)
    return -1;
  ep[strcspn(ep, "\r\n")] = '\0';
  snprintf(g_endpoint, sizeof(g_endpoint), "%s", ep);
  free(ep);
  pt_fake_aws_env();
  return 0;
}

/* POSTs body to the endpoint (path appended); the answer, or NULL. */
static char *post(const char *path, const char *ctype, const char *body) {
  char url[512];
  snprintf(url, sizeof(url), "%s%s", g_endpoint, path);
  const nw_http_header hdrs[] = {{"Content-Type", ctype}};
  nw_http_request req = {.size = sizeof(req), .method = "POST", .url = url,
                         .n_headers = 1, .headers = hdrs, .body = body,
                         .body_len = strlen(body)};
  nw_http_response resp;
  nw_error err = {0};
  nw_arena *a = nw__arena_new();
  char *out = NULL;
  if (nw__http_request(&req, &resp, a, &err) == NW_OK && resp.status == 200)
    out = strdup(resp.body);
  nw__arena_free(a);
  return out;
}

static void proxy(const char *path, const char *json) {
  char *r = post(path, "application/json", json);
  CU_ASSERT_PTR_NOT_NULL_FATAL(r);
  free(r);
}

/* Runs an XPath (local names, namespaces ignored) over an EC2 answer. */
static xmlXPathObjectPtr xpath(xmlDocPtr doc, const char *expr) {
  xmlXPathContextPtr ctx = xmlXPathNewContext(doc);
  xmlXPathObjectPtr r = xmlXPathEvalExpression((const xmlChar *)expr, ctx);
  xmlXPathFreeContext(ctx);
  return r;
}

static char *text_of(xmlNodePtr item, const char *name) {
  for (xmlNodePtr c = item->children; c; c = c->next)
    if (c->type == XML_ELEMENT_NODE && strcmp((const char *)c->name, name) == 0)
      return (char *)xmlNodeGetContent(c);
  return NULL;
}

static nw_status test_http(void *user, const nw_http_request *req,
                           nw_http_response *resp, nw_arena *arena,
                           nw_error *err) {
  (void)user;
  return nw__http_request(req, resp, arena, err);
}

/* One EC2 call to moto, signed by awscore as the plugin's are (moto routes
 * on the credential scope); the answer, or NULL.  Caller frees. */
static xmlDocPtr ec2(const char *action, const char *p1, const char *v1) {
  const nw_aws_env env = {.http = test_http};
  const nw_aws_credentials c = {.access_key_id = "testing",
                                .secret_access_key = "testing"};
  nw_aws_creds *creds = nw_aws_creds_new_static(&env, &c);
  const nw_aws_client_config cfg = {.region = "us-east-1",
                                    .endpoint = g_endpoint};
  nw_aws_client *client = nw_aws_client_new(&env, creds, &cfg);
  nw_aws_params params = {0};
  nw_aws_params_add(&params, p1, v1);
  nw_arena *arena = nw__arena_new();
  xmlDocPtr doc = NULL;
  nw_error err = {0};
  if (nw_aws_query(client, "ec2", action, "2016-11-15", &params, arena, &doc,
                   NULL, &err) != NW_OK)
    fprintf(stderr, "%s: %s\n", action, err.message);
  nw__arena_free(arena);
  nw_aws_params_free(&params);
  nw_aws_client_free(client);
  nw_aws_creds_free(creds);
  return doc;
}

typedef struct offer {
  char type[64];
  char zone[32];
  double price;
} offer;

/* What moto itself answers to DescribeSpotPriceHistory; caller frees. */
static offer *moto_spot(size_t *n) {
  xmlDocPtr doc = ec2("DescribeSpotPriceHistory", "ProductDescription.1",
                      "Linux/UNIX");
  CU_ASSERT_PTR_NOT_NULL_FATAL(doc);
  xmlXPathObjectPtr items =
      xpath(doc, "//*[local-name()='spotPriceHistorySet']/*[local-name()='item']");
  *n = items->nodesetval ? (size_t)items->nodesetval->nodeNr : 0;
  offer *o = calloc(*n ? *n : 1, sizeof(*o));
  for (size_t i = 0; i < *n; i++) {
    xmlNodePtr it = items->nodesetval->nodeTab[i];
    char *t = text_of(it, "instanceType"), *z = text_of(it, "availabilityZone");
    char *p = text_of(it, "spotPrice");
    snprintf(o[i].type, sizeof(o[i].type), "%s", t);
    snprintf(o[i].zone, sizeof(o[i].zone), "%s", z);
    o[i].price = strtod(p, NULL);
    xmlFree(t);
    xmlFree(z);
    xmlFree(p);
  }
  xmlXPathFreeObject(items);
  xmlFreeDoc(doc);
  return o;
}

/* The number of (type, zone) offerings moto lists for the region. */
static size_t moto_zone_offerings(void) {
  xmlDocPtr doc = ec2("DescribeInstanceTypeOfferings", "LocationType",
                      "availability-zone");
  CU_ASSERT_PTR_NOT_NULL_FATAL(doc);
  xmlXPathObjectPtr items = xpath(
      doc, "//*[local-name()='instanceTypeOfferingSet']/*[local-name()='item']");
  size_t n = items->nodesetval ? (size_t)items->nodesetval->nodeNr : 0;
  xmlXPathFreeObject(items);
  xmlFreeDoc(doc);
  return n;
}

static void load(pt_plugin *p, int on_demand) {
  char cfg[512], err[512] = "";
  snprintf(cfg, sizeof(cfg),
           "{\"region\": \"us-east-1\", \"onDemand\": %s, "
           "\"endpoints\": {\"ec2\": \"%s\", \"pricing\": \"%s\"}}",
           on_demand ? "true" : "false", g_endpoint, g_endpoint);
  CU_ASSERT_EQUAL_FATAL(pt_load(p, cfg, err, sizeof(err)), 0);
}

/* Every spot price moto answers is in the table; returns how many. */
static size_t check_moto_prices(pt_plugin *p) {
  size_t n, bad = 0;
  offer *o = moto_spot(&n);
  for (size_t i = 0; i < n; i++) {
    double usd = -1;
    if (pt_price(p, o[i].type, o[i].zone, "spot", &usd) != NW_OK ||
        !NEAR(usd, o[i].price))
      bad++;
  }
  CU_ASSERT_EQUAL(bad, 0);
  free(o);
  return n;
}

static double snapshot_spot(const char *type, const char *zone) {
  json_t *s = json_object_get(json_object_get(pt_snapshot_region(), "spot"), type);
  return json_number_value(json_object_get(s, zone));
}

static void test_spot_history_from_moto(void) {
  proxy("/__proxy/reset", "{}");
  pt_plugin p;
  load(&p, 0);
  double usd;
  CU_ASSERT(pt_price(&p, "m5.large", "us-east-1a", "spot", &usd) == NW_OK &&
            NEAR(usd, snapshot_spot("m5.large", "us-east-1a")));
  nw_error e = {0};
  CU_ASSERT_EQUAL_FATAL(p.vt->refresh(p.state, &e), NW_OK);
  size_t n = check_moto_prices(&p);
  /* moto answers one item per zone offering; every one of them counts. */
  CU_ASSERT_TRUE(n > 1000);
  CU_ASSERT_EQUAL(n, moto_zone_offerings());
  /* On-demand was not fetched; the snapshot's stays. */
  json_t *od = json_object_get(pt_snapshot_region(), "on-demand");
  CU_ASSERT(pt_price(&p, "m5.large", "us-east-1a", "on-demand", &usd) == NW_OK &&
            NEAR(usd, json_number_value(json_object_get(od, "m5.large"))));
  pt_unload(&p);
}

static double proxy_injected(const char *key) {
  char url[512];
  snprintf(url, sizeof(url), "%s/__proxy/stats", g_endpoint);
  nw_http_request req = {.size = sizeof(req), .method = "GET", .url = url};
  nw_http_response resp;
  nw_error err = {0};
  nw_arena *a = nw__arena_new();
  double v = -1;
  if (nw__http_request(&req, &resp, a, &err) == NW_OK) {
    json_t *j = json_loads(resp.body, 0, NULL);
    v = json_number_value(json_object_get(json_object_get(j, "injected"), key));
    json_decref(j);
  }
  nw__arena_free(a);
  return v;
}

/* Throttled twice: awscore's retries absorb it. */
static void test_throttle_retried(void) {
  proxy("/__proxy/reset", "{}");
  proxy("/__proxy/config", "{\"throttle\": {\"DescribeSpotPriceHistory\": 2}}");
  pt_plugin p;
  load(&p, 0);
  nw_error e = {0};
  CU_ASSERT_EQUAL(p.vt->refresh(p.state, &e), NW_OK);
  CU_ASSERT_EQUAL(proxy_injected("throttle:DescribeSpotPriceHistory"), 2);
  check_moto_prices(&p);
  pt_unload(&p);
}

/* Throttled past the retries: the refresh fails, the snapshot stays. */
static void test_throttle_keeps_snapshot(void) {
  proxy("/__proxy/reset", "{}");
  proxy("/__proxy/config", "{\"throttle\": {\"DescribeSpotPriceHistory\": 3}}");
  pt_plugin p;
  load(&p, 0);
  nw_error e = {0};
  CU_ASSERT_EQUAL(p.vt->refresh(p.state, &e), NW_ERR_RETRYABLE);
  CU_ASSERT_PTR_NOT_NULL(strstr(e.message, "RequestLimitExceeded"));
  double usd;
  CU_ASSERT(pt_price(&p, "c5.large", "us-east-1b", "spot", &usd) == NW_OK &&
            NEAR(usd, snapshot_spot("c5.large", "us-east-1b")));
  pt_unload(&p);
  proxy("/__proxy/reset", "{}");
}

/* moto has no Price List API: on-demand fails while spot arrives, and
 * what arrived is used. */
static void test_partial_refresh(void) {
  proxy("/__proxy/reset", "{}");
  pt_plugin p;
  load(&p, 1);
  double before = nw__metric_get("pricing_refresh_total",
                                 "source=on-demand,result=error");
  nw_error e = {0};
  nw_status st = p.vt->refresh(p.state, &e);
  CU_ASSERT_NOT_EQUAL(st, NW_OK);
  CU_ASSERT_PTR_NOT_NULL(strstr(e.message, "on-demand: "));
  CU_ASSERT_PTR_NULL(strstr(e.message, "spot: "));
  CU_ASSERT_EQUAL(nw__metric_get("pricing_refresh_total",
                                 "source=on-demand,result=error"), before + 1);
  check_moto_prices(&p);
  pt_unload(&p);
}

NW_TEST_CASES({"spot_history_from_moto", test_spot_history_from_moto},
              {"throttle_retried", test_throttle_retried},
              {"throttle_keeps_snapshot", test_throttle_keeps_snapshot},
              {"partial_refresh", test_partial_refresh});
NW_TEST_MAIN("pricing_spot", setup, NULL);
