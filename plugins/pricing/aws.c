/*
 * Fetching prices from AWS: GetProducts of the Price List API (on-demand)
 * and EC2 DescribeSpotPriceHistory (spot), both paginated, both through the
 * host's HTTP client, signed with SigV4 by the AWS provider's awscore
 * library (see sign_request).
 *
 * The host's http() returns its response in an arena, and refresh() is
 * given none, so responses are read with http_stream() into a buffer of
 * our own.
 */
#include "pricing_int.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_BODY (64u << 20)
#define MAX_ATTEMPTS 3
#define MAX_PAGES 1000

/* ---- endpoints ---------------------------------------------------------- */

static const char *domain_of(const char *region) {
  return strncmp(region, "cn-", 3) == 0 ? "amazonaws.com.cn" : "amazonaws.com";
}

/* The first non-empty of: the config, AWS_ENDPOINT_URL_<SERVICE>,
 * AWS_ENDPOINT_URL (as the AWS SDKs resolve overrides); NULL = default. */
static const char *override_of(const char *configured, const char *env) {
  const char *v = configured;
  if (!v || !*v)
    v = getenv(env);
  if (!v || !*v)
    v = getenv("AWS_ENDPOINT_URL");
  return v && *v ? v : NULL;
}

void nw__pricing_aws_init(nw__pricing_aws *a, const nw_host_api *host,
                          nw_plugin_handle *h, const nw__pricing_config *cfg) {
  memset(a, 0, sizeof(*a));
  a->host = host;
  a->h = h;
  a->cfg = cfg;
  a->api_region = nw__pricing_api_region(cfg->region);
  const char *p = override_of(cfg->pricing_endpoint, "AWS_ENDPOINT_URL_PRICING");
  const char *e = override_of(cfg->ec2_endpoint, "AWS_ENDPOINT_URL_EC2");
  a->pricing_overridden = p != NULL;
  a->ec2_overridden = e != NULL;
  if (p)
    snprintf(a->pricing_url, sizeof(a->pricing_url), "%s", p);
  else
    snprintf(a->pricing_url, sizeof(a->pricing_url), "https://api.pricing.%s.%s/",
             a->api_region, domain_of(a->api_region));
  if (e)
    snprintf(a->ec2_url, sizeof(a->ec2_url), "%s", e);
  else
    snprintf(a->ec2_url, sizeof(a->ec2_url), "https://ec2.%s.%s/", cfg->region,
             domain_of(cfg->region));
}

/* ---- one call ----------------------------------------------------------- */

typedef struct buf {
  char *data;
  size_t len;
  size_t cap;
  int too_big;
} buf;

static int on_chunk(void *user, const char *data, size_t len) {
  buf *b = user;
  if (b->len + len + 1 > MAX_BODY) {
    b->too_big = 1;
    return 1;
  }
  if (b->len + len + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 64 * 1024;
    while (cap < b->len + len + 1)
      cap *= 2;
    char *p = realloc(b->data, cap);
    if (!p)
      return 1;
    b->data = p;
    b->cap = cap;
  }
  memcpy(b->data + b->len, data, len);
  b->len += len;
  b->data[b->len] = '\0';
  return 0;
}

static nw_status set_err(nw_error *err, nw_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static nw_status set_err(nw_error *err, nw_status st, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err->message, sizeof(err->message), fmt, ap);
  va_end(ap);
  err->status = st;
  return st;
}

/* The AWS error code in an error body: JSON "__type" ("ns#Code") or the
 * XML <Code>; copied into code. */
static void error_code(const char *body, char *code, size_t len) {
  json_t *j = json_loads(body, 0, NULL);
  const char *t = json_string_value(json_object_get(j, "__type"));
  code[0] = '\0';
  if (t) {
    const char *hash = strrchr(t, '#');
    snprintf(code, len, "%s", hash ? hash + 1 : t);
  }
  json_decref(j);
  const char *c = code[0] ? NULL : strstr(body, "<Code>");
  if (c) {
    const char *end = strstr(c, "</Code>");
    int n = end ? (int)(end - c - 6) : 0;
    snprintf(code, len, "%.*s", n > 0 && n < 128 ? n : 0, c + 6);
  }
}

static int is_auth_code(const char *code) {
  static const char *const auth[] = {
      "AccessDenied", "AccessDeniedException", "UnrecognizedClientException",
      "InvalidClientTokenId", "ExpiredToken", "ExpiredTokenException",
      "SignatureDoesNotMatch", "AuthFailure", "MissingAuthenticationToken",
      "IncompleteSignature", "UnauthorizedOperation", NULL};
  for (size_t i = 0; auth[i]; i++)
    if (strcmp(code, auth[i]) == 0)
      return 1;
  return 0;
}

static nw_status http_error(const char *op, long status, const char *body,
                            nw_error *err) {
  char code[128];
  error_code(body, code, sizeof(code));
  nw_status st = NW_ERR;
  if (status >= 500 || strstr(code, "Throttl") ||
      strcmp(code, "RequestLimitExceeded") == 0)
    st = NW_ERR_RETRYABLE;
  else if (status == 401 || status == 403 || is_auth_code(code))
    st = NW_ERR_AUTH;
  return set_err(err, st, "%s: HTTP %ld%s%s", op, status, code[0] ? " " : "",
                 code);
}

/*
 * Signs the request for `service` in `region` by appending the SigV4
 * headers (Authorization, X-Amz-Date, X-Amz-Security-Token) to hdrs.
 * Signing belongs to the AWS provider's awscore library; until it is part
 * of the build, only endpoints overridden for tests (moto and the Price
 * List test server, which do not check signatures) can be called.
 */
static nw_status sign_request(nw__pricing_aws *a, int overridden,
                              const char *service, nw_error *err) {
  (void)a;
  if (overridden)
    return NW_OK;
  return set_err(err, NW_ERR_UNSUPPORTED,
                 "%s: cannot sign requests to AWS: this build of the pricing "
                 "plugin has no SigV4 signer (awscore)", service);
}

/* Performs one POST, retrying transient faults; on NW_OK *out holds the
 * 200 response body (malloc'd, NUL-terminated; the caller frees it). */
static nw_status post(nw__pricing_aws *a, const char *op, const char *url,
                      const nw_http_header *hdrs, size_t n_hdrs,
                      const char *body, buf *out, nw_error *err) {
  nw_http_request req = {.size = sizeof(req), .method = "POST", .url = url,
                         .n_headers = n_hdrs, .headers = hdrs, .body = body,
                         .body_len = strlen(body),
                         .timeout_ms = a->cfg->timeout_ms};
  nw_status st = NW_ERR;
  for (int attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    if (attempt > 0) {
      /* Back off 200 ms, then 400 ms: AWS asks clients to, on throttling. */
      struct timespec ts = {0, 200000000L << (attempt - 1)};
      nanosleep(&ts, NULL);
    }
    buf b = {0};
    long status = 0;
    st = a->host->http_stream(a->h, &req, on_chunk, &b, &status, err);
    if (st == NW_OK && b.too_big)
      st = set_err(err, NW_ERR, "%s: response larger than %u bytes", op,
                   MAX_BODY);
    else if (st == NW_OK && status != 200)
      st = http_error(op, status, b.data ? b.data : "", err);
    if (st == NW_OK) {
      *out = b;
      if (!out->data)
        on_chunk(out, "", 0);
      return out->data ? NW_OK : set_err(err, NW_ERR, "%s: out of memory", op);
    }
    free(b.data);
    if (st != NW_ERR_RETRYABLE)
      break;
  }
  return st;
}

/* ---- GetProducts -------------------------------------------------------- */

static void add_filter(json_t *filters, const char *field, const char *value) {
  json_array_append_new(filters, json_pack("{s:s, s:s, s:s}", "Type",
                                           "TERM_MATCH", "Field", field,
                                           "Value", value));
}

/* The request body of one GetProducts page; malloc'd. */
static char *products_body(const char *region, const char *tenancy,
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
  if (token)
    json_object_set_new(req, "NextToken", json_string(token));
  char *s = json_dumps(req, JSON_COMPACT);
  json_decref(req);
  return s;
}

static nw_status products_page(nw__pricing_aws *a, const char *body,
                               nw__pricing_map *out, char **next,
                               nw__pricing_stats *stats, nw_error *err) {
  const nw_http_header hdrs[] = {
      {"Content-Type", "application/x-amz-json-1.1"},
      {"X-Amz-Target", "AWSPriceListService.GetProducts"}};
  nw_status st = sign_request(a, a->pricing_overridden, "pricing", err);
  if (st != NW_OK)
    return st;
  buf b = {0};
  st = post(a, "GetProducts", a->pricing_url, hdrs, 2, body, &b, err);
  if (st != NW_OK)
    return st;
  char msg[sizeof(err->message)];
  if (nw__pricing_parse_products(out, b.data, b.len, next, stats, msg,
                                 sizeof(msg)) != 0)
    st = set_err(err, NW_ERR, "%s", msg);
  free(b.data);
  return st;
}

static nw_status products_query(nw__pricing_aws *a, const char *tenancy,
                                const char *family, nw__pricing_map *out,
                                nw__pricing_stats *stats, nw_error *err) {
  char *token = NULL;
  nw_status st = NW_OK;
  size_t pages = 0;
  do {
    char *body = products_body(a->cfg->region, tenancy, family, token);
    free(token);
    token = NULL;
    st = body ? products_page(a, body, out, &token, stats, err)
              : set_err(err, NW_ERR, "GetProducts: out of memory");
    free(body);
    if (st == NW_OK && token && ++pages >= MAX_PAGES)
      st = set_err(err, NW_ERR, "GetProducts: more than %d pages; the "
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

/* ---- DescribeSpotPriceHistory ------------------------------------------- */

/* RFC 3986 percent-encoding of a form value into out (3x + 1 bytes). */
static void form_encode(const char *s, char *out) {
  static const char hex[] = "0123456789ABCDEF";
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
        (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' ||
        c == '~') {
      *out++ = (char)c;
    } else {
      *out++ = '%';
      *out++ = hex[c >> 4];
      *out++ = hex[c & 15];
    }
  }
  *out = '\0';
}

/* The request body of one DescribeSpotPriceHistory page; malloc'd. */
static char *spot_body(nw__pricing_aws *a, const char *token) {
  /* StartTime = now makes EC2 return, per type and zone, the price in
   * effect now rather than the whole history. */
  time_t now = (time_t)(a->host->now_ms(a->h) / 1000);
  struct tm tm;
  char ts[32], ts_enc[100];
  gmtime_r(&now, &tm);
  strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
  form_encode(ts, ts_enc);
  size_t tlen = token ? strlen(token) : 0;
  char *tok_enc = malloc(tlen * 3 + 1);
  char *body = tok_enc ? malloc(tlen * 3 + 512) : NULL;
  if (body) {
    form_encode(token ? token : "", tok_enc);
    snprintf(body, tlen * 3 + 512,
             "Action=DescribeSpotPriceHistory&Version=2016-11-15"
             "&ProductDescription.1=Linux%%2FUNIX"
             "&ProductDescription.2=Linux%%2FUNIX%%20%%28Amazon%%20VPC%%29"
             "&StartTime=%s&MaxResults=1000%s%s",
             ts_enc, token ? "&NextToken=" : "", tok_enc);
  }
  free(tok_enc);
  return body;
}

static nw_status spot_page(nw__pricing_aws *a, const char *body,
                           nw__pricing_map *out, nw__pricing_map *latest,
                           char **next, nw__pricing_stats *stats,
                           nw_error *err) {
  const nw_http_header hdrs[] = {
      {"Content-Type", "application/x-www-form-urlencoded; charset=utf-8"}};
  nw_status st = sign_request(a, a->ec2_overridden, "ec2", err);
  if (st != NW_OK)
    return st;
  buf b = {0};
  st = post(a, "DescribeSpotPriceHistory", a->ec2_url, hdrs, 1, body, &b, err);
  if (st != NW_OK)
    return st;
  char msg[sizeof(err->message)];
  if (nw__pricing_parse_spot(out, latest, b.data, b.len, next, stats, msg,
                             sizeof(msg)) != 0)
    st = set_err(err, NW_ERR, "%s", msg);
  free(b.data);
  return st;
}

nw_status nw__pricing_fetch_spot(nw__pricing_aws *a, nw__pricing_map *out,
                                 nw__pricing_stats *stats, nw_error *err) {
  nw__pricing_map *latest = nw__pricing_map_new(4096);
  char *token = NULL;
  nw_status st = latest ? NW_OK : set_err(err, NW_ERR, "spot: out of memory");
  size_t pages = 0;
  while (st == NW_OK) {
    char *body = spot_body(a, token);
    free(token);
    token = NULL;
    st = body ? spot_page(a, body, out, latest, &token, stats, err)
              : set_err(err, NW_ERR, "DescribeSpotPriceHistory: out of memory");
    free(body);
    if (st != NW_OK || !token)
      break;
    if (++pages >= MAX_PAGES)
      st = set_err(err, NW_ERR, "DescribeSpotPriceHistory: more than %d "
                   "pages; the endpoint keeps returning nextToken", MAX_PAGES);
  }
  free(token);
  nw__pricing_map_free(latest);
  return st;
}
