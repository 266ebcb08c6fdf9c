/*
 * Signed calls: one HTTP exchange (aws__send), and the Query and JSON
 * protocols on top with error classification and retries.
 */
#include "internal.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/rand.h>

enum { MAX_ENDPOINTS = 16, DEFAULT_ATTEMPTS = 5 };

struct nw_aws_client {
  nw_aws_env env;
  nw_aws_creds *creds;
  char *region;
  char *endpoint_cfg;
  int max_attempts;
  int64_t backoff_base_ms;
  int64_t timeout_ms;
  size_t max_response_bytes;
  pthread_mutex_t mu;
  size_t n_endpoints;
  char *ep_service[MAX_ENDPOINTS];
  char *ep_url[MAX_ENDPOINTS];
};

/* ------------------------------------------------------------ params */

void nw_aws_params_add(nw_aws_params *p, const char *name, const char *value) {
  if (p->oom)
    return;
  if (p->len == p->cap) {
    size_t cap = p->cap ? p->cap * 2 : 16;
    char **n = realloc(p->names, cap * sizeof(*n));
    if (n)
      p->names = n;
    char **v = n ? realloc(p->values, cap * sizeof(*v)) : NULL;
    if (v)
      p->values = v;
    if (!n || !v) {
      p->oom = 1;
      return;
    }
    p->cap = cap;
  }
  p->names[p->len] = strdup(name);
  p->values[p->len] = strdup(value ? value : "");
  if (!p->names[p->len] || !p->values[p->len]) {
    free(p->names[p->len]);
    free(p->values[p->len]);
    p->oom = 1;
    return;
  }
  p->len++;
}

void nw_aws_params_addf(nw_aws_params *p, const char *value,
                        const char *name_fmt, ...) {
  char name[256];
  va_list ap;
  va_start(ap, name_fmt);
  vsnprintf(name, sizeof(name), name_fmt, ap);
  va_end(ap);
  nw_aws_params_add(p, name, value);
}

void nw_aws_params_free(nw_aws_params *p) {
  for (size_t i = 0; i < p->len; i++) {
    free(p->names[i]);
    free(p->values[i]);
  }
  free(p->names);
  free(p->values);
  memset(p, 0, sizeof(*p));
}

/* ------------------------------------------------------ classification */

static int in_list(const char *code, const char *const *list) {
  if (!code)
    return 0;
  for (size_t i = 0; list[i]; i++)
    if (strcmp(code, list[i]) == 0)
      return 1;
  return 0;
}

int nw_aws_is_throttle_code(const char *code) {
  /* botocore's throttling and transient codes. */
  static const char *const codes[] = {
      "Throttling", "ThrottlingException", "ThrottledException",
      "RequestThrottledException", "TooManyRequestsException",
      "ProvisionedThroughputExceededException", "TransactionInProgressException",
      "RequestLimitExceeded", "BandwidthLimitExceeded", "LimitExceededException",
      "RequestThrottled", "SlowDown", "PriorRequestNotComplete",
      "EC2ThrottledException", "RequestTimeout", "RequestTimeoutException",
      "InternalError", "InternalFailure", "ServiceUnavailable", "Unavailable",
      NULL};
  return in_list(code, codes);
}

int nw_aws_is_capacity_code(const char *code) {
  /* Karpenter's unfulfillable-capacity codes. */
  static const char *const codes[] = {
      "InsufficientInstanceCapacity", "MaxSpotInstanceCountExceeded",
      "VcpuLimitExceeded", "UnfulfillableCapacity", "Unsupported",
      "InsufficientFreeAddressesInSubnet", "ReservationCapacityExceeded",
      "InsufficientCapacity", NULL};
  return in_list(code, codes);
}

int nw_aws_is_auth_code(const char *code) {
  static const char *const codes[] = {
      "AuthFailure", "UnauthorizedOperation", "InvalidClientTokenId",
      "SignatureDoesNotMatch", "ExpiredToken", "ExpiredTokenException",
      "RequestExpired", "AccessDenied", "AccessDeniedException",
      "UnrecognizedClientException", "InvalidAccessKeyId",
      "MissingAuthenticationToken", "IncompleteSignature", "OptInRequired",
      "InvalidIdentityToken", "IDPRejectedClaim", NULL};
  return in_list(code, codes);
}

int nw_aws_is_not_found_code(const char *code) {
  if (!code)
    return 0;
  size_t n = strlen(code);
  static const char *const codes[] = {
      "QueueDoesNotExist", "AWS.SimpleQueueService.NonExistentQueue",
      "ParameterNotFound", "NoSuchEntity", NULL};
  return in_list(code, codes) ||
         (n > 8 && strcmp(code + n - 8, "NotFound") == 0) ||
         (n > 17 && strcmp(code + n - 17, "NotFoundException") == 0);
}

/* ---------------------------------------------------------------- send */

/* "https://host:port/path" -> host:port and the path ("/" when none). */
static int split_url(const char *url, char *host, size_t hostlen,
                     const char **path) {
  const char *p = strstr(url, "://");
  if (!p)
    return -1;
  p += 3;
  const char *slash = strchr(p, '/');
  size_t n = slash ? (size_t)(slash - p) : strlen(p);
  if (n == 0 || n >= hostlen)
    return -1;
  memcpy(host, p, n);
  host[n] = '\0';
  *path = slash ? slash : "/";
  return 0;
}

nw_status aws__send(const nw_aws_env *env, const nw_aws_credentials *creds,
                    const char *region, const char *signing_name,
                    const char *method, const char *url,
                    const nw_http_header *headers, size_t n_headers,
                    const char *body, size_t body_len, int64_t timeout_ms,
                    size_t max_bytes, nw_arena *arena, nw_http_response *resp,
                    nw_error *err) {
  char host[256];
  const char *path_q;
  if (split_url(url, host, sizeof(host), &path_q) != 0)
    return nw_aws_error(err, NW_ERR_INVALID, "aws: malformed endpoint URL");
  if (n_headers > 8)
    return nw_aws_error(err, NW_ERR_INVALID, "aws: too many headers");
  char date[17];
  nw_aws_amz_date(nw_aws_now_ms(env), date);
  nw_http_header hs[14];
  size_t n = 0;
  hs[n++] = (nw_http_header){"Host", host};
  hs[n++] = (nw_http_header){"X-Amz-Date", date};
  for (size_t i = 0; i < n_headers; i++)
    hs[n++] = headers[i];

  nw_aws_sigv4_result sig = {0};
  if (creds) {
    char path[2048];
    const char *q = strchr(path_q, '?');
    size_t plen = q ? (size_t)(q - path_q) : strlen(path_q);
    if (plen >= sizeof(path))
      return nw_aws_error(err, NW_ERR_INVALID, "aws: URL path too long");
    memcpy(path, path_q, plen);
    path[plen] = '\0';
    nw_aws_sigv4_request sr = {.method = method, .path = path,
                               .query = q ? q + 1 : NULL, .n_headers = n,
                               .headers = hs, .body = body,
                               .body_len = body_len, .region = region,
                               .service = signing_name, .amz_date = date};
    nw_status st = nw_aws_sigv4_sign(&sr, creds, &sig, err);
    if (st != NW_OK)
      return st;
    hs[n++] = (nw_http_header){"Authorization", sig.authorization};
    if (sig.security_token)
      hs[n++] = (nw_http_header){"X-Amz-Security-Token", sig.security_token};
  }
  nw_http_request req = {.size = sizeof(req), .method = method, .url = url,
                         .n_headers = n, .headers = hs, .body = body,
                         .body_len = body_len, .timeout_ms = timeout_ms,
                         .max_response_bytes = max_bytes};
  memset(resp, 0, sizeof(*resp));
  resp->size = sizeof(*resp);
  nw_status st = env->http(env->http_user, &req, resp, arena, err);
  nw_aws_sigv4_free(&sig);
  return st;
}

static const char *resp_header(const nw_http_response *r, const char *name) {
  for (size_t i = 0; i < r->n_headers; i++)
    if (r->headers[i].name && strcasecmp(r->headers[i].name, name) == 0)
      return r->headers[i].value;
  return NULL;
}

static void set_request_id(nw_aws_fault *f, const nw_http_response *r) {
  const char *id = resp_header(r, "x-amzn-RequestId");
  if (!id)
    id = resp_header(r, "x-amz-request-id");
  if (id)
    snprintf(f->request_id, sizeof(f->request_id), "%s", id);
}

/* Finds the first <Error> element anywhere under node. */
static xmlNodePtr find_error(xmlNodePtr node) {
  for (xmlNodePtr c = node; c; c = c->next) {
    if (c->type != XML_ELEMENT_NODE)
      continue;
    if (strcmp((const char *)c->name, "Error") == 0)
      return c;
    xmlNodePtr e = find_error(c->children);
    if (e)
      return e;
  }
  return NULL;
}

char *aws__query_error(const nw_http_response *resp, nw_aws_fault *fault) {
  xmlDocPtr doc = nw_aws_xml_parse(resp->body, resp->body_len, "error", NULL);
  if (!doc)
    return NULL;
  xmlNodePtr root = xmlDocGetRootElement(doc);
  xmlNodePtr e = find_error(root);
  char *code = nw_aws_xml_text(e, "Code");
  char *msg = nw_aws_xml_text(e, "Message");
  char *rid = nw_aws_xml_text(root, "RequestID");
  if (!rid)
    rid = nw_aws_xml_text(root, "RequestId");
  if (code)
    snprintf(fault->code, sizeof(fault->code), "%s", code);
  if (rid)
    snprintf(fault->request_id, sizeof(fault->request_id), "%s", rid);
  free(code);
  free(rid);
  xmlFreeDoc(doc);
  if (!e) {
    free(msg);
    return NULL;
  }
  return msg ? msg : strdup("");
}

static char *json_error(const nw_http_response *resp, nw_aws_fault *fault) {
  json_t *j = json_loadb(resp->body ? resp->body : "", resp->body_len, 0, NULL);
  const char *type = NULL, *msg = NULL;
  if (json_is_object(j)) {
    type = json_string_value(json_object_get(j, "__type"));
    if (!type)
      type = json_string_value(json_object_get(j, "code"));
    msg = json_string_value(json_object_get(j, "message"));
    if (!msg)
      msg = json_string_value(json_object_get(j, "Message"));
  }
  const char *hdr = resp_header(resp, "x-amzn-query-error");
  char code[96] = "";
  if (hdr) {
    /* "AWS.SimpleQueueService.NonExistentQueue;Sender" */
    snprintf(code, sizeof(code), "%s", hdr);
    char *semi = strchr(code, ';');
    if (semi)
      *semi = '\0';
  } else if (type) {
    const char *hash = strrchr(type, '#');
    snprintf(code, sizeof(code), "%s", hash ? hash + 1 : type);
    char *colon = strchr(code, ':');
    if (colon)
      *colon = '\0';
  }
  char *out = NULL;
  if (code[0]) {
    snprintf(fault->code, sizeof(fault->code), "%s", code);
    out = strdup(msg ? msg : "");
  }
  json_decref(j);
  return out;
}

/* Full-jitter backoff: a random wait in [0, min(20 s, base * 2^attempt)). */
static void backoff_sleep(const nw_aws_client *c, int attempt) {
  int64_t cap = c->backoff_base_ms << (attempt < 16 ? attempt : 16);
  if (cap > 20000)
    cap = 20000;
  uint32_t r = 0;
  if (RAND_bytes((unsigned char *)&r, sizeof(r)) != 1)
    r = (uint32_t)attempt * 2654435761u;
  int64_t ms = cap > 0 ? (int64_t)(r % (uint64_t)cap) : 0;
  struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

typedef char *(*error_parser)(const nw_http_response *, nw_aws_fault *);

static nw_status classify(const char *code, long status) {
  if (nw_aws_is_capacity_code(code))
    return NW_ERR_INSUFFICIENT_CAPACITY;
  if (nw_aws_is_throttle_code(code) || status >= 500 || status == 429)
    return NW_ERR_RETRYABLE;
  if (nw_aws_is_auth_code(code) || status == 401 || status == 403)
    return NW_ERR_AUTH;
  if (nw_aws_is_not_found_code(code) || status == 404)
    return NW_ERR_NOT_FOUND;
  return NW_ERR_INVALID;
}

static int expired_code(const char *code) {
  return code && (strcmp(code, "ExpiredToken") == 0 ||
                  strcmp(code, "ExpiredTokenException") == 0 ||
                  strcmp(code, "RequestExpired") == 0);
}

/* IAM is global: signed for us-east-1 (cn-north-1 in China) whatever the
 * client's region. */
static const char *signing_region(const nw_aws_client *c, const char *service) {
  if (strcmp(service, "iam") != 0)
    return c->region;
  return strncmp(c->region, "cn-", 3) == 0 ? "cn-north-1" : "us-east-1";
}

/* Signs, sends and retries one call; on NW_OK *resp holds a 2xx answer. */
static nw_status call(nw_aws_client *c, const char *service, const char *op,
                      const nw_http_header *headers, size_t n_headers,
                      const char *body, size_t body_len, error_parser parse,
                      nw_arena *arena, nw_http_response *resp,
                      nw_aws_fault *fault, nw_error *err) {
  nw_aws_fault local;
  if (!fault)
    fault = &local;
  memset(fault, 0, sizeof(*fault));
  const char *base = nw_aws_client_endpoint(c, service);
  if (!base)
    return nw_aws_error(err, NW_ERR, "%s %s: out of memory", service, op);
  char url[1024];
  snprintf(url, sizeof(url), "%s/", base);
  int refreshed = 0;
  nw_status st = NW_ERR;
  nw_error local_err;
  if (!err)
    err = &local_err;
  for (int attempt = 0; attempt < c->max_attempts; attempt++) {
    if (attempt > 0)
      backoff_sleep(c, attempt);
    fault->attempts = attempt + 1;
    nw_aws_credentials creds = {0};
    nw_error cerr = {0};
    st = nw_aws_creds_get(c->creds, arena, &creds, &cerr);
    if (st != NW_OK)
      return nw_aws_error(err, st, "%s %s: %s", service, op, cerr.message);
    st = aws__send(&c->env, &creds, signing_region(c, service), service,
                   "POST", url, headers, n_headers, body, body_len,
                   c->timeout_ms, c->max_response_bytes, arena, resp, err);
    nw_aws_credentials_clear(&creds);
    if (st == NW_ERR_RETRYABLE) {
      aws__log(&c->env, NW_LOG_WARN, "%s %s: %s (attempt %d)", service, op,
               err ? err->message : "transport error", attempt + 1);
      continue;
    }
    if (st != NW_OK) {
      char msg[sizeof(err->message)];
      snprintf(msg, sizeof(msg), "%s", err ? err->message : "");
      return nw_aws_error(err, st, "%s %s: %s", service, op, msg);
    }
    fault->http_status = resp->status;
    set_request_id(fault, resp);
    if (resp->status >= 200 && resp->status < 300)
      return NW_OK;
    fault->code[0] = '\0';
    char *msg = parse(resp, fault);
    const char *code = fault->code[0] ? fault->code : NULL;
    st = classify(code, resp->status);
    nw_aws_error(err, st, "%s %s: %s: %s (HTTP %ld)", service, op,
                 code ? code : "error", msg ? msg : "unrecognised error body",
                 resp->status);
    free(msg);
    if (st == NW_ERR_AUTH && expired_code(code) && !refreshed) {
      /* Credentials expired early (clock skew, revoked session): fetch
       * new ones once rather than failing every call until the cache
       * would have refreshed. */
      refreshed = 1;
      nw_aws_creds_invalidate(c->creds);
      continue;
    }
    if (st != NW_ERR_RETRYABLE)
      return st;
    aws__log(&c->env, NW_LOG_WARN, "%s %s: %s (attempt %d of %d)", service,
             op, code ? code : "server error", attempt + 1, c->max_attempts);
  }
  return st;
}

/* ------------------------------------------------------------ client */

nw_aws_client *nw_aws_client_new(const nw_aws_env *env, nw_aws_creds *creds,
                                 const nw_aws_client_config *cfg) {
  if (!cfg || !cfg->region || !*cfg->region || !env || !env->http)
    return NULL;
  nw_aws_client *c = calloc(1, sizeof(*c));
  if (!c)
    return NULL;
  c->env = *env;
  c->creds = creds;
  c->region = strdup(cfg->region);
  c->endpoint_cfg = cfg->endpoint ? strdup(cfg->endpoint) : NULL;
  c->max_attempts = cfg->max_attempts > 0 ? cfg->max_attempts : DEFAULT_ATTEMPTS;
  c->backoff_base_ms = cfg->backoff_base_ms > 0 ? cfg->backoff_base_ms : 100;
  c->timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : 30000;
  c->max_response_bytes = cfg->max_response_bytes;
  pthread_mutex_init(&c->mu, NULL);
  if (!c->region || (cfg->endpoint && !c->endpoint_cfg)) {
    nw_aws_client_free(c);
    return NULL;
  }
  return c;
}

void nw_aws_client_free(nw_aws_client *c) {
  if (!c)
    return;
  for (size_t i = 0; i < c->n_endpoints; i++) {
    free(c->ep_service[i]);
    free(c->ep_url[i]);
  }
  pthread_mutex_destroy(&c->mu);
  free(c->region);
  free(c->endpoint_cfg);
  free(c);
}

const char *nw_aws_client_region(const nw_aws_client *c) { return c->region; }

const char *nw_aws_client_endpoint(nw_aws_client *c, const char *service) {
  const char *url = NULL;
  pthread_mutex_lock(&c->mu);
  for (size_t i = 0; i < c->n_endpoints && !url; i++)
    if (strcmp(c->ep_service[i], service) == 0)
      url = c->ep_url[i];
  if (!url && c->n_endpoints < MAX_ENDPOINTS) {
    char *u = nw_aws_endpoint(&c->env, service, c->region, c->endpoint_cfg);
    char *s = strdup(service);
    if (u && s) {
      c->ep_service[c->n_endpoints] = s;
      c->ep_url[c->n_endpoints++] = u;
      url = u;
    } else {
      free(u);
      free(s);
    }
  }
  pthread_mutex_unlock(&c->mu);
  return url;
}

nw_status nw_aws_query(nw_aws_client *c, const char *service,
                       const char *action, const char *version,
                       const nw_aws_params *params, nw_arena *arena,
                       xmlDocPtr *doc, nw_aws_fault *fault, nw_error *err) {
  *doc = NULL;
  if (params && params->oom)
    return nw_aws_error(err, NW_ERR, "%s %s: out of memory", service, action);
  nw_aws_buf body = {0};
  nw_aws_buf_printf(&body, "Action=%s&Version=%s", action, version);
  for (size_t i = 0; params && i < params->len; i++) {
    nw_aws_buf_puts(&body, "&");
    nw_aws_buf_uri_encode(&body, params->names[i], strlen(params->names[i]), 0);
    nw_aws_buf_puts(&body, "=");
    nw_aws_buf_uri_encode(&body, params->values[i], strlen(params->values[i]),
                          0);
  }
  if (body.oom) {
    nw_aws_buf_free(&body);
    return nw_aws_error(err, NW_ERR, "%s %s: out of memory", service, action);
  }
  nw_http_header hs[] = {
      {"Content-Type", "application/x-www-form-urlencoded; charset=utf-8"}};
  nw_http_response resp;
  nw_status st = call(c, service, action, hs, 1, body.data, body.len,
                      aws__query_error, arena, &resp, fault, err);
  nw_aws_buf_free(&body);
  if (st != NW_OK)
    return st;
  char what[160];
  snprintf(what, sizeof(what), "%s %s", service, action);
  *doc = nw_aws_xml_parse(resp.body, resp.body_len, what, err);
  return *doc ? NW_OK : NW_ERR_INVALID;
}

nw_status nw_aws_json(nw_aws_client *c, const char *service,
                      const char *target_prefix, const char *operation,
                      const char *json_version, json_t *body, nw_arena *arena,
                      json_t **out, nw_aws_fault *fault, nw_error *err) {
  *out = NULL;
  char *text = body ? json_dumps(body, JSON_COMPACT) : strdup("{}");
  if (!text)
    return nw_aws_error(err, NW_ERR, "%s %s: cannot encode the request",
                        service, operation);
  char target[256], ctype[64];
  snprintf(target, sizeof(target), "%s.%s", target_prefix, operation);
  snprintf(ctype, sizeof(ctype), "application/x-amz-json-%s", json_version);
  nw_http_header hs[] = {{"Content-Type", ctype}, {"X-Amz-Target", target}};
  nw_http_response resp;
  nw_status st = call(c, service, operation, hs, 2, text, strlen(text),
                      json_error, arena, &resp, fault, err);
  free(text);
  if (st != NW_OK)
    return st;
  json_error_t jerr;
  *out = json_loadb(resp.body ? resp.body : "", resp.body_len, 0, &jerr);
  if (!*out)
    return nw_aws_error(err, NW_ERR_INVALID,
                        "%s %s: malformed JSON answer at line %d: %s", service,
                        operation, jerr.line, jerr.text);
  return NW_OK;
}
