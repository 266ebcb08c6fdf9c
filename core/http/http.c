#include "http/http.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/arena.h"

enum {
  DEFAULT_TIMEOUT_MS = 30000,
  DEFAULT_MAX_BYTES = 64 * 1024 * 1024
};

static CURLSH *g_share;
static pthread_mutex_t g_share_locks[CURL_LOCK_DATA_LAST];

nw_status nw__error_set(nw_error *err, nw_status status, const char *fmt, ...) {
  if (!err)
    return status;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err->message, sizeof(err->message), fmt, ap);
  va_end(ap);
  err->status = status;
  return status;
}

static void share_lock(CURL *h, curl_lock_data data, curl_lock_access a,
                       void *u) {
  (void)h;
  (void)a;
  (void)u;
  pthread_mutex_lock(&g_share_locks[data]);
}

static void share_unlock(CURL *h, curl_lock_data data, void *u) {
  (void)h;
  (void)u;
  pthread_mutex_unlock(&g_share_locks[data]);
}

int nw__http_global_init(void) {
  if (g_share)
    return 0;
  if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
    return -1;
  for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
    pthread_mutex_init(&g_share_locks[i], NULL);
  g_share = curl_share_init();
  if (!g_share)
    return -1;
  curl_share_setopt(g_share, CURLSHOPT_LOCKFUNC, share_lock);
  curl_share_setopt(g_share, CURLSHOPT_UNLOCKFUNC, share_unlock);
  curl_share_setopt(g_share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
  curl_share_setopt(g_share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
  curl_share_setopt(g_share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
  return 0;
}

void nw__http_global_cleanup(void) {
  if (!g_share)
    return;
  curl_share_cleanup(g_share);
  g_share = NULL;
  curl_global_cleanup();
}

typedef struct body_buf {
  char *data;
  size_t len;
  size_t cap;
  size_t max;
  int too_big;
} body_buf;

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *userdata) {
  body_buf *b = userdata;
  size_t n = size * nmemb;
  if (b->len + n > b->max) {
    b->too_big = 1;
    return 0;
  }
  if (b->len + n + 1 > b->cap) {
    size_t cap = (b->cap ? b->cap * 2 : 4096);
    while (cap < b->len + n + 1)
      cap *= 2;
    char *grown = realloc(b->data, cap);
    if (!grown)
      return 0;
    b->data = grown;
    b->cap = cap;
  }
  memcpy(b->data + b->len, ptr, n);
  b->len += n;
  b->data[b->len] = '\0';
  return n;
}

typedef struct header_acc {
  nw_arena *arena;
  nw_http_header items[64];
  size_t n;
} header_acc;

static size_t on_header(char *buf, size_t size, size_t nitems, void *userdata) {
  header_acc *h = userdata;
  size_t n = size * nitems;
  const char *colon = memchr(buf, ':', n);
  if (!colon || h->n >= 64 || !h->arena)
    return n;
  const char *v = colon + 1;
  const char *end = buf + n;
  while (v < end && (*v == ' ' || *v == '\t'))
    v++;
  while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
    end--;
  h->items[h->n].name = nw__arena_strndup(h->arena, buf, (size_t)(colon - buf));
  h->items[h->n].value = nw__arena_strndup(h->arena, v, (size_t)(end - v));
  h->n++;
  return n;
}

/* Sets up a handle for req; the caller owns *hdrs and frees it. */
static CURL *prepare(const nw_http_request *req, struct curl_slist **hdrs,
                     nw_error *err) {
  if (!req || !req->url || !req->method) {
    nw__error_set(err, NW_ERR_INVALID, "http: request needs a method and url");
    return NULL;
  }
  CURL *c = curl_easy_init();
  if (!c) {
    nw__error_set(err, NW_ERR, "http: out of memory");
    return NULL;
  }
  curl_easy_setopt(c, CURLOPT_URL, req->url);
  curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, req->method);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_SHARE, g_share);
  curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
  if (req->unix_socket)
    curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, req->unix_socket);
  if (strcmp(req->method, "HEAD") == 0)
    curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
  *hdrs = NULL;
  for (size_t i = 0; i < req->n_headers; i++) {
    char line[8192];
    snprintf(line, sizeof(line), "%s: %s", req->headers[i].name,
             req->headers[i].value ? req->headers[i].value : "");
    *hdrs = curl_slist_append(*hdrs, line);
  }
  /* curl adds "Expect: 100-continue" to large POSTs; servers such as
   * moto and the apiserver do not need the extra round trip. */
  *hdrs = curl_slist_append(*hdrs, "Expect:");
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, *hdrs);
  if (req->body) {
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, req->body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
  }
  return c;
}

static nw_status transport_error(CURLcode rc, const char *url, nw_error *err) {
  nw_status st = NW_ERR;
  if (rc == CURLE_OPERATION_TIMEDOUT || rc == CURLE_COULDNT_CONNECT ||
      rc == CURLE_COULDNT_RESOLVE_HOST || rc == CURLE_SEND_ERROR ||
      rc == CURLE_RECV_ERROR || rc == CURLE_GOT_NOTHING)
    st = NW_ERR_RETRYABLE;
  /* The URL may carry a query with a signature; print only up to '?'. */
  const char *q = strchr(url, '?');
  int n = q ? (int)(q - url) : (int)strlen(url);
  return nw__error_set(err, st, "http: %.*s: %s", n, url, curl_easy_strerror(rc));
}

nw_status nw__http_request(const nw_http_request *req, nw_http_response *resp,
                           nw_arena *arena, nw_error *err) {
  struct curl_slist *hdrs = NULL;
  CURL *c = prepare(req, &hdrs, err);
  if (!c)
    return err ? (nw_status)err->status : NW_ERR;
  body_buf body = {0};
  body.max = req->max_response_bytes ? req->max_response_bytes : DEFAULT_MAX_BYTES;
  header_acc *ha = nw__arena_alloc(arena, sizeof(header_acc));
  if (ha)
    ha->arena = arena;
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS,
                   (long)(req->timeout_ms ? req->timeout_ms : DEFAULT_TIMEOUT_MS));
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, ha);
  CURLcode rc = curl_easy_perform(c);
  nw_status st = NW_OK;
  if (body.too_big) {
    st = nw__error_set(err, NW_ERR, "http: response larger than %zu bytes",
                       body.max);
  } else if (rc != CURLE_OK) {
    st = transport_error(rc, req->url, err);
  } else {
    memset(resp, 0, sizeof(*resp));
    resp->size = sizeof(*resp);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &resp->status);
    resp->body = nw__arena_strndup(arena, body.data ? body.data : "", body.len);
    resp->body_len = body.len;
    resp->headers = ha ? ha->items : NULL;
    resp->n_headers = ha ? ha->n : 0;
  }
  free(body.data);
  curl_slist_free_all(hdrs);
  curl_easy_cleanup(c);
  return st;
}

typedef struct stream_ctx {
  nw_http_chunk_fn fn;
  void *user;
  int stopped;
} stream_ctx;

static size_t on_stream(char *ptr, size_t size, size_t nmemb, void *userdata) {
  stream_ctx *s = userdata;
  size_t n = size * nmemb;
  if (s->fn(s->user, ptr, n) != 0) {
    s->stopped = 1;
    return 0;
  }
  return n;
}

nw_status nw__http_stream(const nw_http_request *req, nw_http_chunk_fn on_chunk,
                          void *user, long *status, nw_error *err) {
  struct curl_slist *hdrs = NULL;
  CURL *c = prepare(req, &hdrs, err);
  if (!c)
    return err ? (nw_status)err->status : NW_ERR;
  stream_ctx s = {on_chunk, user, 0};
  if (req->timeout_ms)
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)req->timeout_ms);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_stream);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &s);
  CURLcode rc = curl_easy_perform(c);
  nw_status st = NW_OK;
  if (status)
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
  if (rc != CURLE_OK && !s.stopped)
    st = transport_error(rc, req->url, err);
  curl_slist_free_all(hdrs);
  curl_easy_cleanup(c);
  return st;
}
