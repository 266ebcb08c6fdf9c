#include "kube/client.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kube/kutil.h"
#include "util/log.h"

#ifndef NW_VERSION
#define NW_VERSION "dev"
#endif

#define DEFAULT_QPS 50.0
#define DEFAULT_BURST 100
#define DEFAULT_TIMEOUT_MS 60000L
#define CONNECT_TIMEOUT_MS 10000L

typedef struct kreq {
  nw__kube_client *c;
  CURL *easy;
  struct curl_slist *headers;
  char *method;
  char *path;
  char *ctype;
  char *body;
  char *buf;
  size_t len;
  size_t cap;
  nw__kube_done_fn done;
  nw__kube_event_fn on_event;
  void *user;
  int stream;
  int canceled;
  int auth_retried;
  int active;    /* added to the multi handle */
  int queued;    /* in the pending queue */
  nw_error setup_err;
  nw_status setup_status;
  struct kreq *next;
  struct kreq *prev;
  char errbuf[CURL_ERROR_SIZE];
} kreq;

struct nw__kube_req {
  kreq r;
};

typedef struct poll_ctx {
  uv_poll_t poll;
  curl_socket_t fd;
  nw__kube_client *c;
  struct poll_ctx *next;
  struct poll_ctx *prev;
} poll_ctx;

struct nw__kube_client {
  nw__kube_config *cfg;
  uv_loop_t *loop;
  CURLM *multi;
  CURLSH *share;
  /* One lock per kind of shared data: curl nests them. */
  pthread_mutex_t share_lock[CURL_LOCK_DATA_LAST];
  uv_timer_t curl_timer;
  uv_timer_t queue_timer;
  kreq *pending_head;
  kreq *pending_tail;
  kreq *active;
  poll_ctx *polls;
  pthread_mutex_t rl_lock;
  double qps;
  double tokens;
  int burst;
  int64_t last_refill_us;
  long timeout_ms;
  char *ua;
  unsigned long requests;
  int open_handles;
  int freeing;
  int in_curl;
};

static const char *COMP = "kube";

/* ---- token bucket ------------------------------------------------------ */

static int64_t mono_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Takes a token; returns 0 when one was available, else the microseconds
 * until one will be (and takes nothing). */
static int64_t rl_take(nw__kube_client *c) {
  int64_t wait = 0;
  pthread_mutex_lock(&c->rl_lock);
  int64_t now = mono_us();
  c->tokens += (double)(now - c->last_refill_us) * c->qps / 1e6;
  if (c->tokens > c->burst)
    c->tokens = c->burst;
  c->last_refill_us = now;
  if (c->tokens >= 1.0)
    c->tokens -= 1.0;
  else
    wait = (int64_t)((1.0 - c->tokens) * 1e6 / c->qps) + 1;
  pthread_mutex_unlock(&c->rl_lock);
  return wait;
}

/* ---- request objects --------------------------------------------------- */

static void kreq_free(kreq *r) {
  if (!r)
    return;
  if (r->easy)
    curl_easy_cleanup(r->easy);
  curl_slist_free_all(r->headers);
  free(r->method);
  free(r->path);
  free(r->ctype);
  free(r->body);
  free(r->buf);
  free(r);
}

static int buf_append(kreq *r, const char *data, size_t n) {
  if (r->len + n + 1 > r->cap) {
    size_t cap = r->cap ? r->cap : 16384;
    while (cap < r->len + n + 1)
      cap *= 2;
    char *nb = realloc(r->buf, cap);
    if (!nb)
      return -1;
    r->buf = nb;
    r->cap = cap;
  }
  memcpy(r->buf + r->len, data, n);
  r->len += n;
  r->buf[r->len] = '\0';
  return 0;
}

/* Hands complete lines of a watch stream to on_event; keeps the rest. */
static void stream_lines(kreq *r) {
  size_t start = 0;
  for (;;) {
    char *nl = memchr(r->buf + start, '\n', r->len - start);
    if (!nl || r->canceled)
      break;
    size_t n = (size_t)(nl - (r->buf + start));
    if (n > 0) {
      json_error_t je;
      json_t *ev = json_loadb(r->buf + start, n, 0, &je);
      if (ev)
        r->on_event(r->user, ev);
      else
        NW_WARN(COMP, "watch %s: undecodable event skipped: %s", r->path, je.text);
      json_decref(ev);
    }
    start += n + 1;
  }
  memmove(r->buf, r->buf + start, r->len - start);
  r->len -= start;
}

static size_t on_write(char *data, size_t size, size_t nmemb, void *ud) {
  kreq *r = ud;
  size_t n = size * nmemb;
  if (r->canceled)
    return 0;
  if (buf_append(r, data, n) < 0)
    return 0;
  if (r->stream) {
    long code = 0;
    curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &code);
    if (code == 200)
      stream_lines(r);
    if (r->canceled)
      return 0;
  }
  return n;
}

/* Builds the easy handle: URL, method, body, headers, TLS and credentials. */
static nw_status kreq_setup(kreq *r) {
  nw__kube_client *c = r->c;
  char *url = NULL;
  if (r->easy)
    curl_easy_cleanup(r->easy);
  curl_slist_free_all(r->headers);
  r->headers = NULL;
  r->len = 0;
  r->easy = curl_easy_init();
  if (!r->easy || asprintf(&url, "%s%s", nw__kube_config_server(c->cfg), r->path) < 0)
    return nw__kube_err(&r->setup_err, NW_ERR, "%s %s: out of memory", r->method, r->path);
  CURL *e = r->easy;
  curl_easy_setopt(e, CURLOPT_URL, url);
  free(url);
  curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, r->method);
  if (strcmp(r->method, "GET") == 0)
    curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
  if (r->body) {
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, r->body);
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)strlen(r->body));
  }
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
  curl_easy_setopt(e, CURLOPT_PRIVATE, r);
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->errbuf);
  curl_easy_setopt(e, CURLOPT_USERAGENT, c->ua);
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, CONNECT_TIMEOUT_MS);
  curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
  /* HTTP/1.1, not HTTP/2.  With Debian 12's libcurl 7.88.1 in multi_socket
   * mode, one HTTP/2 connection carrying the informers' watches and a
   * paginated LIST stalled a page mid-body (about 32 KB received, then
   * nothing until the 60 s timeout) in roughly one daemon start in three
   * against 20,000 pods; driving curl harder (all sockets every second)
   * did not help, and over HTTP/1.1 none of a dozen starts stalled, each
   * faster too.  A connection per watch is what client-go does over
   * HTTP/1.1 as well; the apiserver handles thousands. */
  curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
  curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
  if (!r->stream)
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, c->timeout_ms);
  if (c->share)
    curl_easy_setopt(e, CURLOPT_SHARE, c->share);
  r->errbuf[0] = '\0';
  struct curl_slist *h = curl_slist_append(NULL, "Accept: application/json");
  char ct[128];
  snprintf(ct, sizeof(ct), "Content-Type: %s", r->ctype ? r->ctype : "application/json");
  if (h && r->body)
    h = curl_slist_append(h, ct);
  r->headers = h;
  nw_status st = nw__kube_config_apply(c->cfg, e, &r->headers, &r->setup_err);
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->headers);
  if (st != NW_OK)
    return st;
  __atomic_fetch_add(&c->requests, 1, __ATOMIC_RELAXED);
  return NW_OK;
}

static nw_status curl_code_status(CURLcode cc) {
  switch (cc) {
  case CURLE_COULDNT_CONNECT:
  case CURLE_COULDNT_RESOLVE_HOST:
  case CURLE_OPERATION_TIMEDOUT:
  case CURLE_SEND_ERROR:
  case CURLE_RECV_ERROR:
  case CURLE_GOT_NOTHING:
  case CURLE_HTTP2:
  case CURLE_HTTP2_STREAM:
  case CURLE_PARTIAL_FILE:
    return NW_ERR_RETRYABLE;
  case CURLE_PEER_FAILED_VERIFICATION:
  case CURLE_SSL_CACERT_BADFILE:
  case CURLE_SSL_CERTPROBLEM:
  case CURLE_URL_MALFORMAT:
    return NW_ERR_INVALID;
  default:
    return NW_ERR;
  }
}

static nw_status http_status_map(long code) {
  if (code >= 200 && code < 300)
    return NW_OK;
  if (code == 404)
    return NW_ERR_NOT_FOUND;
  if (code == 401 || code == 403)
    return NW_ERR_AUTH;
  if (code == 429 || code >= 500)
    return NW_ERR_RETRYABLE;
  if (code == 400 || code == 422)
    return NW_ERR_INVALID;
  return NW_ERR;
}

/* Fills resp for a finished transfer; resp->body is a new reference the
 * caller releases after the callback. */
static void build_response(kreq *r, CURLcode cc, nw__kube_response *resp) {
  const char *server = nw__kube_config_server(r->c->cfg);
  memset(resp, 0, sizeof(*resp));
  resp->reason = "";
  if (cc != CURLE_OK) {
    resp->status = curl_code_status(cc);
    const char *detail = r->errbuf[0] ? r->errbuf : curl_easy_strerror(cc);
    if (cc == CURLE_PEER_FAILED_VERIFICATION || cc == CURLE_SSL_CACERT_BADFILE)
      nw__kube_err(&resp->err, resp->status,
                   "%s %s: TLS: the server certificate of %s is not trusted "
                   "(check certificate-authority in %s): %s", r->method, r->path,
                   server, nw__kube_config_origin(r->c->cfg), detail);
    else if (cc == CURLE_COULDNT_CONNECT || cc == CURLE_COULDNT_RESOLVE_HOST ||
             cc == CURLE_OPERATION_TIMEDOUT)
      nw__kube_err(&resp->err, resp->status, "%s %s: cannot reach %s: %s",
                   r->method, r->path, server, detail);
    else
      nw__kube_err(&resp->err, resp->status, "%s %s: connection to %s failed: %s",
                   r->method, r->path, server, detail);
    return;
  }
  curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &resp->http_status);
  if (r->len > 0) {
    json_error_t je;
    resp->body = json_loadb(r->buf, r->len, 0, &je);
  }
  resp->status = http_status_map(resp->http_status);
  const char *reason = json_string_value(json_object_get(resp->body, "reason"));
  const char *kind = json_string_value(json_object_get(resp->body, "kind"));
  if (reason && kind && strcmp(kind, "Status") == 0)
    resp->reason = reason;
  if (resp->status == NW_OK)
    return;
  const char *msg = json_string_value(json_object_get(resp->body, "message"));
  if (!msg && resp->http_status == 401)
    msg = "Unauthorized: the credentials were rejected";
  nw__kube_err(&resp->err, resp->status, "%s %s: HTTP %ld%s%s%s%s", r->method,
               r->path, resp->http_status, resp->reason[0] ? " " : "",
               resp->reason, msg ? ": " : "", msg ? msg : "");
}

/* A 401 with refreshable credentials (exec plugin, token file) is retried
 * once after dropping the cached credential. */
static int should_retry_auth(kreq *r, CURLcode cc) {
  long code = 0;
  if (cc != CURLE_OK || r->auth_retried)
    return 0;
  curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &code);
  if (code != 401)
    return 0;
  r->auth_retried = 1;
  nw__kube_config_invalidate(r->c->cfg);
  return 1;
}

static void deliver(kreq *r, CURLcode cc) {
  nw__kube_response resp;
  build_response(r, cc, &resp);
  if (r->done)
    r->done(r->user, &resp);
  json_decref(resp.body);
}

static void deliver_setup_error(kreq *r) {
  nw__kube_response resp;
  memset(&resp, 0, sizeof(resp));
  resp.reason = "";
  resp.status = r->setup_status;
  resp.err = r->setup_err;
  if (r->done)
    r->done(r->user, &resp);
}

static void deliver_canceled(kreq *r) {
  r->setup_status = nw__kube_err(&r->setup_err, NW_ERR, "%s %s: canceled: client closed",
                                 r->method, r->path);
  deliver_setup_error(r);
}

static kreq *kreq_new(nw__kube_client *c, const char *method, const char *path,
                      const char *ctype, const json_t *body,
                      nw__kube_done_fn done, void *user) {
  kreq *r = calloc(1, sizeof(struct nw__kube_req));
  if (!r)
    return NULL;
  r->c = c;
  r->method = strdup(method);
  r->path = strdup(path);
  r->ctype = ctype ? strdup(ctype) : NULL;
  r->body = body ? json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
  r->done = done;
  r->user = user;
  if (!r->method || !r->path || (body && !r->body)) {
    kreq_free(r);
    return NULL;
  }
  return r;
}

/* ---- blocking mode ----------------------------------------------------- */

static void share_lock(CURL *h, curl_lock_data d, curl_lock_access a, void *u) {
  (void)h;
  (void)a;
  pthread_mutex_lock(&((nw__kube_client *)u)->share_lock[d]);
}

static void share_unlock(CURL *h, curl_lock_data d, void *u) {
  (void)h;
  pthread_mutex_unlock(&((nw__kube_client *)u)->share_lock[d]);
}

static void run_blocking(kreq *r) {
  for (;;) {
    int64_t wait = rl_take(r->c);
    if (wait == 0)
      break;
    struct timespec ts = {(time_t)(wait / 1000000), (long)(wait % 1000000) * 1000};
    nanosleep(&ts, NULL);
  }
  for (;;) {
    r->setup_status = kreq_setup(r);
    if (r->setup_status != NW_OK) {
      deliver_setup_error(r);
      return;
    }
    CURLcode cc = curl_easy_perform(r->easy);
    if (should_retry_auth(r, cc))
      continue;
    deliver(r, cc);
    return;
  }
}

/* ---- loop mode: curl multi on libuv ------------------------------------ */

static void client_release(nw__kube_client *c);

static void on_handle_closed(uv_handle_t *h) {
  nw__kube_client *c = h->data;
  if (h->type == UV_POLL)
    free(h);
  c->open_handles--;
  if (c->freeing && c->open_handles == 0)
    client_release(c);
}

static void active_unlink(nw__kube_client *c, kreq *r) {
  if (r->prev)
    r->prev->next = r->next;
  else
    c->active = r->next;
  if (r->next)
    r->next->prev = r->prev;
  r->next = r->prev = NULL;
  r->active = 0;
}

static void active_link(nw__kube_client *c, kreq *r) {
  r->prev = NULL;
  r->next = c->active;
  if (c->active)
    c->active->prev = r;
  c->active = r;
  r->active = 1;
}

static void pending_push(nw__kube_client *c, kreq *r, int front) {
  r->next = r->prev = NULL;
  r->queued = 1;
  if (!c->pending_head) {
    c->pending_head = c->pending_tail = r;
  } else if (front) {
    r->next = c->pending_head;
    c->pending_head->prev = r;
    c->pending_head = r;
  } else {
    r->prev = c->pending_tail;
    c->pending_tail->next = r;
    c->pending_tail = r;
  }
}

static void pending_unlink(nw__kube_client *c, kreq *r) {
  if (r->prev)
    r->prev->next = r->next;
  else
    c->pending_head = r->next;
  if (r->next)
    r->next->prev = r->prev;
  else
    c->pending_tail = r->prev;
  r->next = r->prev = NULL;
  r->queued = 0;
}

static void on_pump(uv_timer_t *t);

static void pump_soon(nw__kube_client *c, uint64_t ms) {
  if (!c->freeing)
    uv_timer_start(&c->queue_timer, on_pump, ms, 0);
}

static void finish(nw__kube_client *c, kreq *r, CURLcode cc) {
  curl_multi_remove_handle(c->multi, r->easy);
  active_unlink(c, r);
  if (r->canceled) {
    kreq_free(r);
    return;
  }
  if (should_retry_auth(r, cc)) {
    pending_push(c, r, 1);
    pump_soon(c, 0);
    return;
  }
  deliver(r, cc);
  kreq_free(r);
}

static void check_info(nw__kube_client *c) {
  int left;
  for (;;) {
    CURLMsg *m = curl_multi_info_read(c->multi, &left);
    if (!m)
      break;
    if (m->msg != CURLMSG_DONE)
      continue;
    kreq *r = NULL;
    CURLcode cc = m->data.result;
    curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&r);
    finish(c, r, cc);
  }
}

/* Requests canceled while curl was running are removed afterwards. */
static void sweep_canceled(nw__kube_client *c) {
  kreq *r = c->active;
  while (r) {
    kreq *next = r->next;
    if (r->canceled) {
      curl_multi_remove_handle(c->multi, r->easy);
      active_unlink(c, r);
      kreq_free(r);
    }
    r = next;
  }
}

static void socket_action(nw__kube_client *c, curl_socket_t fd, int flags) {
  int running = 0;
  c->in_curl++;
  curl_multi_socket_action(c->multi, fd, flags, &running);
  check_info(c);
  c->in_curl--;
  if (!c->in_curl)
    sweep_canceled(c);
}

static void on_poll(uv_poll_t *h, int status, int events) {
  poll_ctx *p = (poll_ctx *)h;
  int flags = 0;
  if (status < 0)
    flags = CURL_CSELECT_ERR;
  if (events & UV_READABLE)
    flags |= CURL_CSELECT_IN;
  if (events & UV_WRITABLE)
    flags |= CURL_CSELECT_OUT;
  socket_action(p->c, p->fd, flags);
}

static void poll_close(nw__kube_client *c, poll_ctx *p) {
  if (p->prev)
    p->prev->next = p->next;
  else
    c->polls = p->next;
  if (p->next)
    p->next->prev = p->prev;
  uv_poll_stop(&p->poll);
  p->poll.data = c;
  uv_close((uv_handle_t *)&p->poll, on_handle_closed);
}

static int on_socket(CURL *easy, curl_socket_t fd, int what, void *userp,
                     void *socketp) {
  nw__kube_client *c = userp;
  poll_ctx *p = socketp;
  (void)easy;
  if (what == CURL_POLL_REMOVE) {
    if (p) {
      poll_close(c, p);
      curl_multi_assign(c->multi, fd, NULL);
    }
    return 0;
  }
  if (!p) {
    p = calloc(1, sizeof(*p));
    if (!p)
      return -1;
    p->fd = fd;
    p->c = c;
    if (uv_poll_init_socket(c->loop, &p->poll, fd) != 0) {
      free(p);
      return -1;
    }
    c->open_handles++;
    p->next = c->polls;
    if (c->polls)
      c->polls->prev = p;
    c->polls = p;
    curl_multi_assign(c->multi, fd, p);
  }
  p->poll.data = p;
  int ev = 0;
  if (what & CURL_POLL_IN)
    ev |= UV_READABLE;
  if (what & CURL_POLL_OUT)
    ev |= UV_WRITABLE;
  uv_poll_start(&p->poll, ev, on_poll);
  return 0;
}

static void on_curl_timer(uv_timer_t *t) {
  socket_action(t->data, CURL_SOCKET_TIMEOUT, 0);
}

static int on_timer_change(CURLM *multi, long timeout_ms, void *userp) {
  nw__kube_client *c = userp;
  (void)multi;
  if (timeout_ms < 0)
    uv_timer_stop(&c->curl_timer);
  else
    uv_timer_start(&c->curl_timer, on_curl_timer, (uint64_t)timeout_ms, 0);
  return 0;
}

/* Starts queued requests while the token bucket allows. */
static void on_pump(uv_timer_t *t) {
  nw__kube_client *c = t->data;
  while (c->pending_head) {
    int64_t wait = rl_take(c);
    if (wait > 0) {
      pump_soon(c, (uint64_t)(wait + 999) / 1000);
      return;
    }
    kreq *r = c->pending_head;
    pending_unlink(c, r);
    r->setup_status = kreq_setup(r);
    if (r->setup_status != NW_OK) {
      deliver_setup_error(r);
      kreq_free(r);
      continue;
    }
    active_link(c, r);
    curl_multi_add_handle(c->multi, r->easy);
  }
}

/* ---- public ------------------------------------------------------------ */

static void global_init(void) { curl_global_init(CURL_GLOBAL_DEFAULT); }

static void client_release(nw__kube_client *c) {
  if (c->multi)
    curl_multi_cleanup(c->multi);
  if (c->share)
    curl_share_cleanup(c->share);
  for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
    pthread_mutex_destroy(&c->share_lock[i]);
  pthread_mutex_destroy(&c->rl_lock);
  free(c->ua);
  free(c);
}

nw__kube_client *nw__kube_client_new(nw__kube_config *cfg, uv_loop_t *loop,
                                     const nw__kube_client_options *opts,
                                     nw_error *err) {
  static pthread_once_t once = PTHREAD_ONCE_INIT;
  nw__kube_client *c = calloc(1, sizeof(*c));
  nw__kube_client_options o = {0};
  if (opts)
    o = *opts;
  if (!c) {
    nw__kube_err(err, NW_ERR, "kube client: out of memory");
    return NULL;
  }
  pthread_once(&once, global_init);
  c->cfg = cfg;
  c->loop = loop;
  c->qps = o.qps > 0 ? o.qps : DEFAULT_QPS;
  c->burst = o.burst > 0 ? o.burst : DEFAULT_BURST;
  c->tokens = c->burst;
  c->last_refill_us = mono_us();
  c->timeout_ms = o.timeout_ms > 0 ? o.timeout_ms : DEFAULT_TIMEOUT_MS;
  c->ua = strdup(o.user_agent ? o.user_agent : "nodewright/" NW_VERSION);
  for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
    pthread_mutex_init(&c->share_lock[i], NULL);
  pthread_mutex_init(&c->rl_lock, NULL);
  if (!loop) {
    c->share = curl_share_init();
    curl_share_setopt(c->share, CURLSHOPT_LOCKFUNC, share_lock);
    curl_share_setopt(c->share, CURLSHOPT_UNLOCKFUNC, share_unlock);
    curl_share_setopt(c->share, CURLSHOPT_USERDATA, c);
    curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
    curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
    curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
    return c;
  }
  c->multi = curl_multi_init();
  curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
  curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c);
  curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, on_timer_change);
  curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c);
  uv_timer_init(loop, &c->curl_timer);
  uv_timer_init(loop, &c->queue_timer);
  c->curl_timer.data = c;
  c->queue_timer.data = c;
  c->open_handles = 2;
  return c;
}

void nw__kube_client_free(nw__kube_client *c) {
  if (!c)
    return;
  if (!c->loop) {
    client_release(c);
    return;
  }
  c->freeing = 1;
  while (c->pending_head) {
    kreq *r = c->pending_head;
    pending_unlink(c, r);
    deliver_canceled(r);
    kreq_free(r);
  }
  while (c->active) {
    kreq *r = c->active;
    curl_multi_remove_handle(c->multi, r->easy);
    active_unlink(c, r);
    if (!r->canceled)
      deliver_canceled(r);
    kreq_free(r);
  }
  curl_multi_cleanup(c->multi);
  c->multi = NULL;
  while (c->polls)
    poll_close(c, c->polls);
  uv_timer_stop(&c->curl_timer);
  uv_timer_stop(&c->queue_timer);
  uv_close((uv_handle_t *)&c->curl_timer, on_handle_closed);
  uv_close((uv_handle_t *)&c->queue_timer, on_handle_closed);
}

nw__kube_config *nw__kube_client_config(nw__kube_client *c) { return c->cfg; }
uv_loop_t *nw__kube_client_loop(nw__kube_client *c) { return c->loop; }
unsigned long nw__kube_client_requests(const nw__kube_client *c) {
  return __atomic_load_n(&c->requests, __ATOMIC_RELAXED);
}

static void report_oom(nw__kube_done_fn done, void *user, const char *path) {
  nw__kube_response resp;
  memset(&resp, 0, sizeof(resp));
  resp.reason = "";
  resp.status = nw__kube_err(&resp.err, NW_ERR, "%s: out of memory", path);
  if (done)
    done(user, &resp);
}

nw__kube_req *nw__kube_request(nw__kube_client *c, const char *method,
                               const char *path, const char *content_type,
                               const json_t *body, nw__kube_done_fn done,
                               void *user) {
  kreq *r = kreq_new(c, method, path, content_type, body, done, user);
  if (!r) {
    report_oom(done, user, path);
    return NULL;
  }
  if (!c->loop) {
    run_blocking(r);
    kreq_free(r);
    return NULL;
  }
  if (c->freeing) {
    deliver_canceled(r);
    kreq_free(r);
    return NULL;
  }
  pending_push(c, r, 0);
  pump_soon(c, 0);
  return (nw__kube_req *)r;
}

typedef struct call_result {
  nw_status status;
  json_t *body;
  long http;
  nw_error err;
} call_result;

static void call_done(void *user, nw__kube_response *resp) {
  call_result *cr = user;
  cr->status = resp->status;
  cr->http = resp->http_status;
  cr->body = json_incref(resp->body);
  cr->err = resp->err;
}

nw_status nw__kube_call(nw__kube_client *c, const char *method,
                        const char *path, const char *content_type,
                        const json_t *body, json_t **out, long *http,
                        nw_error *err) {
  call_result cr;
  memset(&cr, 0, sizeof(cr));
  if (c->loop)
    return nw__kube_err(err, NW_ERR_INVALID,
                        "%s %s: nw__kube_call needs a blocking-mode client",
                        method, path);
  nw__kube_request(c, method, path, content_type, body, call_done, &cr);
  if (http)
    *http = cr.http;
  if (out)
    *out = cr.body;
  else
    json_decref(cr.body);
  if (cr.status != NW_OK && err)
    *err = cr.err;
  return cr.status;
}

nw__kube_req *nw__kube_stream_start(nw__kube_client *c, const char *path,
                                    nw__kube_event_fn on_event,
                                    nw__kube_done_fn done, void *user) {
  if (!c->loop) {
    nw__kube_response resp;
    memset(&resp, 0, sizeof(resp));
    resp.reason = "";
    resp.status = nw__kube_err(&resp.err, NW_ERR_INVALID,
                               "GET %s: streams need a loop-mode client", path);
    done(user, &resp);
    return NULL;
  }
  kreq *r = kreq_new(c, "GET", path, NULL, NULL, done, user);
  if (!r) {
    report_oom(done, user, path);
    return NULL;
  }
  r->stream = 1;
  r->on_event = on_event;
  if (c->freeing) {
    deliver_canceled(r);
    kreq_free(r);
    return NULL;
  }
  pending_push(c, r, 0);
  pump_soon(c, 0);
  return (nw__kube_req *)r;
}

void nw__kube_cancel(nw__kube_req *s) {
  kreq *r = (kreq *)s;
  nw__kube_client *c;
  if (!r)
    return;
  c = r->c;
  r->canceled = 1;
  if (r->queued) {
    pending_unlink(c, r);
    kreq_free(r);
  } else if (r->active && !c->in_curl) {
    curl_multi_remove_handle(c->multi, r->easy);
    active_unlink(c, r);
    kreq_free(r);
  }
}
