/*
 * Fetching prices from AWS: GetProducts of the Price List API (on-demand)
 * and EC2 DescribeSpotPriceHistory (spot), both paginated.  Signing,
 * credentials, endpoints, error codes and retries are the AWS provider's
 * awscore library; this file only says what to ask and reads the answers.
 *
 * Transport.  awscore wants an HTTP function whose response lives in an
 * nw_arena.  The host's http() allocates there, but a plugin cannot create
 * an arena (the host API has arena_alloc, no arena_new) and refresh() is
 * given none.  So the transport below reads responses with the host's
 * http_stream() into heap blocks owned by a small arena of our own
 * (resp_arena), which awscore only ever passes back to this transport.
 */
#include "pricing_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_BODY (64u << 20)
#define MAX_PAGES 1000
#define MAX_ATTEMPTS 3

/* ---- transport --------------------------------------------------------- */

typedef struct resp_block {
  struct resp_block *next;
  char data[];
} resp_block;

/* Stands in for nw_arena in awscore's calls; see the top of the file. */
typedef struct resp_arena {
  resp_block *head;
} resp_arena;

static void resp_arena_clear(resp_arena *a) {
  while (a->head) {
    resp_block *next = a->head->next;
    free(a->head);
    a->head = next;
  }
}

typedef struct body_buf {
  char *data;
  size_t len, cap;
  int too_big, oom;
} body_buf;

static int on_chunk(void *user, const char *data, size_t len) {
  body_buf *b = user;
  if (b->len + len + 1 > MAX_BODY) {
    b->too_big = 1;
    return 1;
  }
  if (b->len + len + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 64 * 1024;
    while (cap < b->len + len + 1)
      cap *= 2;
    char *p = realloc(b->data, cap);
    if (!p) {
      b->oom = 1;
      return 1;
    }
    b->data = p;
    b->cap = cap;
  }
  memcpy(b->data + b->len, data, len);
  b->len += len;
  return 0;
}

/* Moves the body into a block of the arena; NULL on OOM. */
static const char *keep_body(resp_arena *a, body_buf *b) {
  resp_block *blk = malloc(sizeof(*blk) + b->len + 1);
  if (!blk)
    return NULL;
  if (b->len)
    memcpy(blk->data, b->data, b->len);
  blk->data[b->len] = '\0';
  blk->next = a->head;
  a->head = blk;
  return blk->data;
}

/* nw_aws_http_fn over host->http_stream; `arena` is a resp_arena. */
static nw_status transport(void *user, const nw_http_request *req,
                           nw_http_response *resp, nw_arena *arena,
                           nw_error *err) {
  nw__pricing_aws *a = user;
  body_buf b = {0};
  long status = 0;
  /* http() defaults to a 30 s timeout, http_stream() to none (it serves
   * long-lived streams); keep http()'s contract for awscore. */
  nw_http_request r = *req;
  if (r.timeout_ms <= 0)
    r.timeout_ms = 30000;
  nw_status st = a->host->http_stream(a->h, &r, on_chunk, &b, &status, err);
  if (st == NW_OK && b.too_big)
    st = nw_aws_error(err, NW_ERR, "http: response larger than %u bytes",
                      MAX_BODY);
  const char *body = NULL;
  if (st == NW_OK && !b.oom)
    body = keep_body((resp_arena *)(void *)arena, &b);
  if (st == NW_OK && !body)
    st = nw_aws_error(err, NW_ERR, "http: out of memory");
  if (st == NW_OK) {
    memset(resp, 0, sizeof(*resp));
    resp->size = sizeof(*resp);
    resp->status = status;
    resp->body = body;
    resp->body_len = b.len;
  }
  free(b.data);
  return st;
}

static int64_t host_now(void *user) {
  nw__pricing_aws *a = user;
  return a->host->now_ms(a->h);
}

static void host_log(void *user, nw_log_level level, const char *msg) {
  nw__pricing_aws *a = user;
  a->host->log(a->h, level, "%s", msg);
}

/* ---- setup ------------------------------------------------------------- */

int nw__pricing_aws_init(nw__pricing_aws *a, const nw_host_api *host,
                         nw_plugin_handle *h, const nw__pricing_config *cfg) {
  memset(a, 0, sizeof(*a));
  a->host = host;
  a->h = h;
  a->cfg = cfg;
  const nw_aws_env env = {.http = transport, .http_user = a,
                          .now_ms = host_now, .clock_user = a,
                          .log = host_log, .log_user = a};
  a->creds = nw_aws_creds_new(&env, cfg->region);
  /* The Price List API lives in one region per partition; spot prices
   * come from the cluster's own region. */
  const nw_aws_client_config pc = {
      .region = nw__pricing_api_region(cfg->region),
      .endpoint = cfg->pricing_endpoint, .max_attempts = MAX_ATTEMPTS,
      .timeout_ms = cfg->timeout_ms};
  const nw_aws_client_config ec = {
      .region = cfg->region, .endpoint = cfg->ec2_endpoint,
      .max_attempts = MAX_ATTEMPTS, .timeout_ms = cfg->timeout_ms};
  if (a->creds) {
    a->pricing = nw_aws_client_new(&env, a->creds, &pc);
    a->ec2 = nw_aws_client_new(&env, a->creds, &ec);
  }
  if (!a->pricing || !a->ec2) {
    nw__pricing_aws_free(a);
    return -1;
  }
  return 0;
}

void nw__pricing_aws_free(nw__pricing_aws *a) {
  nw_aws_client_free(a->pricing);
  nw_aws_client_free(a->ec2);
  nw_aws_creds_free(a->creds);
  a->pricing = a->ec2 = NULL;
  a->creds = NULL;
}

/* ---- GetProducts ------------------------------------------------------- */

static void add_filter(json_t *filters, const char *field, const char *value) {
  json_array_append_new(filters, json_pack("{s:s, s:s, s:s}", "Type",
                                           "TERM_MATCH", "Field", field,
                                           "Value", value));
}

/* The request of one GetProducts page; NULL on OOM.  Caller decrefs. */
static json_t *products_request(const char *region, const char *tenancy,
                                const char *family, const char *token) {
  json_t *filters = json_array();
  add_filter(filters, "regionCode", region);
  add_filter(filters, "serviceCode", "AmazonEC2");
  add_filter(filters, "preInstalledSw", "NA");
  add_filter(filters, "operatingSystem", "Linux");
  add_filter(filters, "capacitystatus", "Used");
  add_filter(filters, "marketoption", "OnDemand");
  add_filter(filters, "tenancy", tenancy);
  add_filter(filters, "productFamily", family);
  json_t *req = json_pack("{s:s, s:o, s:s, s:i}", "ServiceCode", "AmazonEC2",
                          "Filters", filters, "FormatVersion", "aws_v1",
                          "MaxResults", 100);
  if (req && token)
    json_object_set_new(req, "NextToken", json_string(token));
  return req;
}

static nw_status products_page(nw__pricing_aws *a, json_t *req,
                               nw__pricing_map *out, char **next,
                               nw__pricing_stats *stats, nw_error *err) {
  resp_arena arena = {0};
  json_t *answer = NULL;
  nw_status st = nw_aws_json(a->pricing, "pricing", "AWSPriceListService",
                             "GetProducts", "1.1", req,
                             (nw_arena *)(void *)&arena, &answer, NULL, err);
  resp_arena_clear(&arena);
  char msg[sizeof(err->message)];
  if (st == NW_OK && nw__pricing_parse_products_json(out, answer, next, stats,
                                                     msg, sizeof(msg)) != 0)
    st = nw_aws_error(err, NW_ERR_INVALID, "%s", msg);
  json_decref(answer);
  return st;
}

static nw_status products_query(nw__pricing_aws *a, const char *tenancy,
                                const char *family, nw__pricing_map *out,
                                nw__pricing_stats *stats, nw_error *err) {
  char *token = NULL;
  nw_status st = NW_OK;
  size_t pages = 0;
  do {
    json_t *req = products_request(a->cfg->region, tenancy, family, token);
    free(token);
    token = NULL;
    st = req ? products_page(a, req, out, &token, stats, err)
             : nw_aws_error(err, NW_ERR, "GetProducts: out of memory");
    json_decref(req);
    if (st == NW_OK && token && ++pages >= MAX_PAGES)
      st = nw_aws_error(err, NW_ERR, "GetProducts: more than %d pages; the "
                        "endpoint keeps returning NextToken", MAX_PAGES);
  } while (st == NW_OK && token);
  free(token);
  return st;
}

nw_status nw__pricing_fetch_on_demand(nw__pricing_aws *a,
                                      nw__pricing_map *out,
                                      nw__pricing_stats *stats,
                                      nw_error *err) {
  /* Bare-metal types are listed as dedicated "Compute Instance (bare
   * metal)"; everything else as shared "Compute Instance" (Karpenter makes
   * the same two queries). */
  nw_status st = products_query(a, "Shared", "Compute Instance", out, stats,
                                err);
  if (st == NW_OK)
    st = products_query(a, "Dedicated", "Compute Instance (bare metal)", out,
                        stats, err);
  return st;
}

/* ---- DescribeSpotPriceHistory ------------------------------------------ */

static nw_status spot_page(nw__pricing_aws *a, const char *token,
                           nw__pricing_map *out, nw__pricing_map *latest,
                           char **next, nw__pricing_stats *stats,
                           nw_error *err) {
  /* StartTime = now makes EC2 return, per type and zone, the price in
   * effect now rather than the whole history. */
  char now[32];
  time_t t = (time_t)(a->host->now_ms(a->h) / 1000);
  struct tm tm;
  gmtime_r(&t, &tm);
  strftime(now, sizeof(now), "%Y-%m-%dT%H:%M:%SZ", &tm);
  nw_aws_params params = {0};
  nw_aws_params_add(&params, "ProductDescription.1", "Linux/UNIX");
  nw_aws_params_add(&params, "ProductDescription.2", "Linux/UNIX (Amazon VPC)");
  nw_aws_params_add(&params, "StartTime", now);
  nw_aws_params_add(&params, "MaxResults", "1000");
  if (token)
    nw_aws_params_add(&params, "NextToken", token);
  resp_arena arena = {0};
  xmlDocPtr doc = NULL;
  nw_status st = nw_aws_query(a->ec2, "ec2", "DescribeSpotPriceHistory",
                              "2016-11-15", &params,
                              (nw_arena *)(void *)&arena, &doc, NULL, err);
  resp_arena_clear(&arena);
  nw_aws_params_free(&params);
  char msg[sizeof(err->message)];
  if (st == NW_OK && nw__pricing_parse_spot_doc(out, latest, doc, next, stats,
                                                msg, sizeof(msg)) != 0)
    st = nw_aws_error(err, NW_ERR_INVALID, "%s", msg);
  xmlFreeDoc(doc);
  return st;
}

nw_status nw__pricing_fetch_spot(nw__pricing_aws *a, nw__pricing_map *out,
                                 nw__pricing_stats *stats, nw_error *err) {
  nw__pricing_map *latest = nw__pricing_map_new(4096);
  char *token = NULL;
  nw_status st =
      latest ? NW_OK : nw_aws_error(err, NW_ERR, "spot: out of memory");
  size_t pages = 0;
  while (st == NW_OK) {
    char *next = NULL;
    st = spot_page(a, token, out, latest, &next, stats, err);
    free(token);
    token = next;
    if (st != NW_OK || !token)
      break;
    if (++pages >= MAX_PAGES)
      st = nw_aws_error(err, NW_ERR, "DescribeSpotPriceHistory: more than "
                        "%d pages; the endpoint keeps returning nextToken",
                        MAX_PAGES);
  }
  free(token);
  nw__pricing_map_free(latest);
  return st;
}
