/*
 * Interruptions: a background thread follows the Docker events stream for
 * the cluster's node containers and queues die/kill/stop/oom as state
 * changes; poll_events drains the queue.
 *
 * The stream is read in short windows (`until` one second ahead) rather
 * than one endless request, so that fini never waits on a silent socket
 * for longer than a window.  Consecutive windows abut (`since` = the last
 * `until`), and events not newer than the newest one seen are skipped, so
 * nothing is lost or repeated at the seams.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kind.h"

#define WINDOW_MS 1000
#define QUEUE_CAP 1024
#define LINE_MAX_BYTES 65536

int nw__kind_event_parse(const char *line, size_t len, const char *cluster,
                         nw__kind_event *out, int64_t *time_ns) {
  json_t *v = json_loadb(line, len, 0, NULL);
  int ok = 0;
  json_t *attrs = json_object_get(json_object_get(v, "Actor"), "Attributes");
  const char *type = json_string_value(json_object_get(v, "Type"));
  const char *action = json_string_value(json_object_get(v, "Action"));
  const char *name = json_string_value(json_object_get(attrs, "name"));
  const char *cl = json_string_value(json_object_get(attrs, NW_KIND_LABEL_CLUSTER));
  json_t *tn = json_object_get(v, "timeNano");
  /* Only node containers this provider made: the cluster's, with a claim. */
  if (type && action && name && cl && strcmp(type, "container") == 0 &&
      strcmp(cl, cluster) == 0 && json_object_get(attrs, NW_KIND_LABEL_CLAIM) &&
      json_is_integer(tn)) {
    const char *state = NULL;
    const char *sig = json_string_value(json_object_get(attrs, "signal"));
    const char *code = json_string_value(json_object_get(attrs, "exitCode"));
    memset(out, 0, sizeof(*out));
    /* A signal may yet be survived; the end of the process is final. */
    if (strcmp(action, "kill") == 0) {
      state = "stopping";
      snprintf(out->detail, sizeof(out->detail),
               "docker: container %s was sent signal %s", name, sig ? sig : "?");
    } else if (strcmp(action, "die") == 0 || strcmp(action, "stop") == 0) {
      state = "terminated";
      snprintf(out->detail, sizeof(out->detail),
               "docker: container %s %s%s%s", name,
               action[0] == 'd' ? "died" : "was stopped",
               code ? " with exit code " : "", code ? code : "");
    } else if (strcmp(action, "oom") == 0) {
      state = "terminated";
      snprintf(out->detail, sizeof(out->detail),
               "docker: container %s ran out of memory", name);
    }
    if (state) {
      snprintf(out->provider_id, sizeof(out->provider_id), "%s%s/%s",
               NW_KIND_PROVIDER_PREFIX, cluster, name);
      snprintf(out->state, sizeof(out->state), "%s", state);
      *time_ns = (int64_t)json_integer_value(tn);
      out->time_ms = *time_ns / 1000000;
      ok = 1;
    }
  }
  json_decref(v);
  return ok;
}

/* Appends ev to the queue, dropping the oldest when it is full. */
static void enqueue(nw__kind *k, const nw__kind_event *ev) {
  pthread_mutex_lock(&k->q_lock);
  if (k->q_len == k->q_cap) {
    k->q_head = (k->q_head + 1) % k->q_cap;
    k->q_len--;
    k->host->log(k->h, NW_LOG_WARN,
                 "docker events: queue full (%zu), dropped the oldest event",
                 k->q_cap);
  }
  k->queue[(k->q_head + k->q_len) % k->q_cap] = *ev;
  k->q_len++;
  pthread_cond_broadcast(&k->q_cond);
  pthread_mutex_unlock(&k->q_lock);
}

/* What one window's stream callback accumulates. */
typedef struct window {
  nw__kind *k;
  char *buf;
  size_t len;
} window;

static void take_line(window *w, const char *line, size_t len) {
  nw__kind_event ev;
  int64_t ns = 0;
  if (!nw__kind_event_parse(line, len, w->k->cfg.cluster, &ev, &ns))
    return;
  if (ns <= w->k->last_event_ns)
    return;
  w->k->last_event_ns = ns;
  w->k->host->counter_add(w->k->h, "kind_docker_events_total", NULL, 1);
  enqueue(w->k, &ev);
}

static int on_chunk(void *user, const char *data, size_t len) {
  window *w = user;
  char *p = realloc(w->buf, w->len + len);
  if (!p)
    return 1;
  w->buf = p;
  memcpy(w->buf + w->len, data, len);
  w->len += len;
  size_t start = 0;
  for (size_t i = 0; i < w->len; i++) {
    if (w->buf[i] == '\n') {
      take_line(w, w->buf + start, i - start);
      start = i + 1;
    }
  }
  memmove(w->buf, w->buf + start, w->len - start);
  w->len -= start;
  if (w->len > LINE_MAX_BYTES)
    w->len = 0;
  pthread_mutex_lock(&w->k->q_lock);
  int stop = w->k->stopping;
  pthread_mutex_unlock(&w->k->q_lock);
  return stop;
}

static int stopping(nw__kind *k) {
  pthread_mutex_lock(&k->q_lock);
  int s = k->stopping;
  pthread_mutex_unlock(&k->q_lock);
  return s;
}

/* Sleeps up to ms, waking early when the plugin stops. */
static void nap(nw__kind *k, int64_t ms) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  ts.tv_sec += ms / 1000;
  ts.tv_nsec += (ms % 1000) * 1000000;
  if (ts.tv_nsec >= 1000000000) {
    ts.tv_sec++;
    ts.tv_nsec -= 1000000000;
  }
  pthread_mutex_lock(&k->q_lock);
  while (!k->stopping &&
         pthread_cond_timedwait(&k->q_cond, &k->q_lock, &ts) == 0) {
  }
  pthread_mutex_unlock(&k->q_lock);
}

/* Streams one window [since_ms, until_ms]; returns NW_OK or an error. */
static nw_status follow_window(nw__kind *k, int64_t since_ms, int64_t until_ms,
                               nw_error *err) {
  char filters[512], enc[1024], path[1400], prefix[16];
  snprintf(filters, sizeof(filters),
           "{\"type\":[\"container\"],\"label\":[\"%s=%s\"],"
           "\"event\":[\"die\",\"kill\",\"stop\",\"oom\"]}",
           NW_KIND_LABEL_CLUSTER, k->cfg.cluster);
  nw__kind_url_encode(filters, enc, sizeof(enc));
  pthread_mutex_lock(&k->api_lock);
  memcpy(prefix, k->api_prefix, sizeof(prefix));
  pthread_mutex_unlock(&k->api_lock);
  snprintf(path, sizeof(path),
           "http://localhost%s/events?since=%lld.%03lld000000&until=%lld.%03lld000000&filters=%s",
           prefix, (long long)(since_ms / 1000), (long long)(since_ms % 1000),
           (long long)(until_ms / 1000), (long long)(until_ms % 1000), enc);
  nw_http_request req = {
      .size = sizeof(req),
      .method = "GET",
      .url = path,
      .unix_socket = k->cfg.socket,
      .timeout_ms = WINDOW_MS + k->cfg.timeout_ms,
  };
  window w = {k, NULL, 0};
  long status = 0;
  nw_status st = k->host->http_stream(k->h, &req, on_chunk, &w, &status, err);
  if (st == NW_OK && status != 200 && !stopping(k))
    st = nw__kind_err(err, NW_ERR, "docker events: HTTP %ld: %.*s", status,
                      (int)(w.len > 200 ? 200 : w.len), w.buf ? w.buf : "");
  free(w.buf);
  return st;
}

static void *follow(void *arg) {
  nw__kind *k = arg;
  int64_t since = k->host->now_ms(k->h);
  int64_t backoff = 0;
  char last_error[512] = "";
  while (!stopping(k)) {
    nw_error err = {0};
    nw_status st = NW_OK;
    /* The thread has no arena for host->http, so it negotiates through the
     * stream variant when no callback has done it yet. */
    if (!nw__kind_have_version(k))
      st = nw__kind_negotiate_stream(k, &err);
    int64_t until = k->host->now_ms(k->h) + WINDOW_MS;
    if (st == NW_OK)
      st = follow_window(k, since, until, &err);
    if (st != NW_OK) {
      pthread_mutex_lock(&k->api_lock);
      k->api_prefix[0] = '\0';
      pthread_mutex_unlock(&k->api_lock);
    }
    if (st == NW_OK) {
      since = until;
      backoff = 0;
      last_error[0] = '\0';
      continue;
    }
    if (strcmp(last_error, err.message) != 0) {
      k->host->log(k->h, NW_LOG_WARN, "%s (retrying)", err.message);
      snprintf(last_error, sizeof(last_error), "%s", err.message);
    }
    backoff = backoff ? (backoff * 2 > 30000 ? 30000 : backoff * 2) : 500;
    nap(k, backoff);
  }
  return NULL;
}

nw_status nw__kind_events_start(nw__kind *k, nw_error *err) {
  pthread_condattr_t ca;
  k->queue = calloc(QUEUE_CAP, sizeof(nw__kind_event));
  if (!k->queue)
    return nw__kind_err(err, NW_ERR, "kind: out of memory");
  k->q_cap = QUEUE_CAP;
  pthread_condattr_init(&ca);
  /* Waits are real time on a real daemon; the host clocks cannot drive a
   * condition variable. */
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&k->q_cond, &ca);
  pthread_condattr_destroy(&ca);
  if (pthread_create(&k->thread, NULL, follow, k) != 0)
    return nw__kind_err(err, NW_ERR, "kind: cannot start the events thread");
  k->thread_started = 1;
  return NW_OK;
}

void nw__kind_events_stop(nw__kind *k) {
  if (k->thread_started) {
    pthread_mutex_lock(&k->q_lock);
    k->stopping = 1;
    pthread_cond_broadcast(&k->q_cond);
    pthread_mutex_unlock(&k->q_lock);
    pthread_join(k->thread, NULL);
    k->thread_started = 0;
  }
  if (k->q_cap)
    pthread_cond_destroy(&k->q_cond);
  free(k->queue);
  k->queue = NULL;
  k->q_cap = k->q_len = k->q_head = 0;
}

nw_status nw__kind_poll(nw__kind *k, int64_t wait_ms, size_t max,
                        nw_arena *arena, nw_provider_event **out, size_t *n,
                        nw_error *err) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  ts.tv_sec += wait_ms / 1000;
  ts.tv_nsec += (wait_ms % 1000) * 1000000;
  if (ts.tv_nsec >= 1000000000) {
    ts.tv_sec++;
    ts.tv_nsec -= 1000000000;
  }
  *out = NULL;
  *n = 0;
  pthread_mutex_lock(&k->q_lock);
  while (k->q_len == 0 && wait_ms > 0 && !k->stopping &&
         pthread_cond_timedwait(&k->q_cond, &k->q_lock, &ts) == 0) {
  }
  size_t take = k->q_len < max ? k->q_len : max;
  nw_provider_event *evs = take ? k->host->arena_alloc(arena, take * sizeof(*evs)) : NULL;
  for (size_t i = 0; evs && i < take; i++) {
    const nw__kind_event *e = &k->queue[k->q_head];
    evs[i].kind = NW_EVENT_STATE_CHANGE;
    evs[i].provider_id = k->host->arena_strdup(arena, e->provider_id);
    evs[i].state = k->host->arena_strdup(arena, e->state);
    evs[i].detail = k->host->arena_strdup(arena, e->detail);
    evs[i].time_ms = e->time_ms;
    k->q_head = (k->q_head + 1) % k->q_cap;
    k->q_len--;
  }
  pthread_mutex_unlock(&k->q_lock);
  if (take && !evs)
    return nw__kind_err(err, NW_ERR, "kind: out of memory");
  *out = evs;
  *n = take;
  return NW_OK;
}
