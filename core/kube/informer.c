#include "kube/informer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kube/kutil.h"
#include "util/log.h"

#define DEFAULT_PAGE 500
#define BACKOFF_BASE_MS 500.0
#define BACKOFF_MAX_MS 30000.0
/* The server ends each watch after a random 5..10 minutes, so connections
 * are refreshed and load spreads over apiserver replicas. */
#define WATCH_MIN_S 300
#define WATCH_SPREAD_S 300

static const char *COMP = "informer";

typedef struct index_def {
  char *name;
  char *arg;
  int label;   /* 1: label value, 0: dotted field path */
  json_t *map; /* value -> {store key: null} */
} index_def;

struct nw__informer {
  nw__kube_client *c;
  const nw__kube_resource *res;
  char *ns;
  char *lsel;
  char *fsel;
  int page_size;
  int compact;
  nw__informer_transform_fn transform;
  void *transform_user;
  nw__informer_handlers *handlers;
  size_t n_handlers;
  index_def *idx;
  size_t n_idx;
  json_t *store;  /* key -> object (or its JSON text when compact) */
  json_t *seen;   /* keys listed during the current LIST */
  char *rv;
  char *cont;
  int synced;
  int started;
  unsigned lists;
  unsigned failures;
  uint64_t list_start_ns; /* when the current LIST began (uv_hrtime) */
  unsigned list_pages;    /* pages of the current LIST received */
  unsigned list_retries;  /* failed page requests of the current LIST */
  nw__kube_req *req;
  uv_timer_t timer;
  uint64_t rng;
  void (*next_step)(nw__informer *inf);
};

/* ---- helpers ----------------------------------------------------------- */

static uint64_t rng_next(nw__informer *inf) {
  inf->rng ^= inf->rng << 13;
  inf->rng ^= inf->rng >> 7;
  inf->rng ^= inf->rng << 17;
  return inf->rng;
}

static void set_str(char **dst, const char *s) {
  free(*dst);
  *dst = s ? strdup(s) : NULL;
}

/* "ns/name" for namespaced resources, "name" otherwise; caller frees. */
static char *object_key(const nw__informer *inf, const json_t *obj) {
  const char *name = nw__kube_str(obj, "metadata.name");
  const char *ns = nw__kube_str(obj, "metadata.namespace");
  char *k = NULL;
  if (!name)
    return NULL;
  if (inf->res->namespaced && ns) {
    if (asprintf(&k, "%s/%s", ns, name) < 0)
      return NULL;
    return k;
  }
  return strdup(name);
}

/* A new reference to the cached object for key, decoded when compact. */
static void add_type_meta(const nw__informer *inf, json_t *obj);

static json_t *decode(const nw__informer *inf, const json_t *stored) {
  if (!stored)
    return NULL;
  if (!inf->compact)
    return json_incref((json_t *)stored);
  json_t *obj = json_loadb(json_string_value(stored), json_string_length(stored), 0, NULL);
  if (obj)
    add_type_meta(inf, obj);
  return obj;
}

/* Compact text leaves out kind and apiVersion (the same for every object,
 * restored by decode): 3-4% of a small pod. */
static json_t *encode(const nw__informer *inf, json_t *obj) {
  if (!inf->compact)
    return json_incref(obj);
  json_t *shallow = json_copy(obj);
  json_object_del(shallow, "kind");
  json_object_del(shallow, "apiVersion");
  char *text = shallow ? json_dumps(shallow, JSON_COMPACT) : NULL;
  json_decref(shallow);
  json_t *s = text ? json_stringn_nocheck(text, strlen(text)) : NULL;
  free(text);
  return s;
}

static const char *index_value(const index_def *d, const json_t *obj) {
  if (d->label)
    return json_string_value(
        json_object_get(json_object_get(json_object_get(obj, "metadata"), "labels"), d->arg));
  return nw__kube_str(obj, d->arg);
}

static void index_update(nw__informer *inf, const json_t *obj, const char *key,
                         int add) {
  for (size_t i = 0; obj && i < inf->n_idx; i++) {
    index_def *d = &inf->idx[i];
    const char *v = index_value(d, obj);
    if (!v)
      continue;
    json_t *set = json_object_get(d->map, v);
    if (add) {
      if (!set) {
        set = json_object();
        json_object_set_new(d->map, v, set);
      }
      json_object_set_new(set, key, json_null());
    } else if (set) {
      json_object_del(set, key);
      if (json_object_size(set) == 0)
        json_object_del(d->map, v);
    }
  }
}

/* List items carry no kind/apiVersion; add them so every cached object
 * can be written back as is. */
static void add_type_meta(const nw__informer *inf, json_t *obj) {
  char av[128];
  if (!json_object_get(obj, "kind"))
    json_object_set_new(obj, "kind", json_string(inf->res->kind));
  if (!json_object_get(obj, "apiVersion"))
    json_object_set_new(obj, "apiVersion",
                        json_string(nw__kube_api_version(inf->res, av, sizeof(av))));
}

/* Applies the transform; consumes obj, returns a new reference or NULL. */
static json_t *prepare(nw__informer *inf, json_t *obj) {
  add_type_meta(inf, obj);
  if (inf->transform)
    return inf->transform(inf->transform_user, obj);
  json_object_del(json_object_get(obj, "metadata"), "managedFields");
  return obj;
}

/* ---- cache mutations --------------------------------------------------- */

/* Stores obj (reference consumed) and runs add/update handlers. */
static void upsert(nw__informer *inf, json_t *obj) {
  char *key = object_key(inf, obj);
  if (!key) {
    NW_WARN(COMP, "%s: object without metadata.name ignored", inf->res->resource);
    json_decref(obj);
    return;
  }
  if (inf->seen)
    json_object_set_new(inf->seen, key, json_null());
  json_t *old = decode(inf, json_object_get(inf->store, key));
  const char *orv = nw__kube_str(old, "metadata.resourceVersion");
  const char *nrv = nw__kube_str(obj, "metadata.resourceVersion");
  if (old && orv && nrv && strcmp(orv, nrv) == 0) {
    json_decref(old);
    json_decref(obj);
    free(key);
    return;
  }
  index_update(inf, old, key, 0);
  json_object_set_new(inf->store, key, encode(inf, obj));
  index_update(inf, obj, key, 1);
  for (size_t i = 0; i < inf->n_handlers; i++) {
    nw__informer_handlers *h = &inf->handlers[i];
    if (old && h->on_update)
      h->on_update(h->user, old, obj);
    else if (!old && h->on_add)
      h->on_add(h->user, obj);
  }
  json_decref(old);
  json_decref(obj);
  free(key);
}

/* Removes key; last is the final state to report (borrowed, may be NULL
 * to report the cached one). */
static void remove_key(nw__informer *inf, const char *key, const json_t *last) {
  json_t *old = decode(inf, json_object_get(inf->store, key));
  if (!old)
    return;
  index_update(inf, old, key, 0);
  json_object_del(inf->store, key);
  for (size_t i = 0; i < inf->n_handlers; i++) {
    nw__informer_handlers *h = &inf->handlers[i];
    if (h->on_delete)
      h->on_delete(h->user, last ? last : old);
  }
  json_decref(old);
}

/* ---- list / watch ------------------------------------------------------ */

static void list_page(nw__informer *inf);
static void watch_start(nw__informer *inf);

static void on_timer(uv_timer_t *t) {
  nw__informer *inf = t->data;
  void (*step)(nw__informer *) = inf->next_step;
  inf->next_step = NULL;
  if (step)
    step(inf);
}

static void schedule(nw__informer *inf, void (*step)(nw__informer *), uint64_t ms) {
  inf->next_step = step;
  uv_timer_start(&inf->timer, on_timer, ms, 0);
}

static void backoff(nw__informer *inf, void (*step)(nw__informer *)) {
  double ms = BACKOFF_BASE_MS;
  for (unsigned i = 0; i < inf->failures && ms < BACKOFF_MAX_MS; i++)
    ms *= 2;
  if (ms > BACKOFF_MAX_MS)
    ms = BACKOFF_MAX_MS;
  /* Jitter in [0.5, 1.5) so many daemons restarting together spread out. */
  ms *= 0.5 + (double)(rng_next(inf) % 1000) / 1000.0;
  inf->failures++;
  schedule(inf, step, (uint64_t)ms);
}

static void list_restart(nw__informer *inf) {
  set_str(&inf->cont, NULL);
  inf->list_start_ns = uv_hrtime();
  inf->list_pages = 0;
  inf->list_retries = 0;
  json_decref(inf->seen);
  /* Listed keys are only needed to find deletions in a non-empty cache;
   * skipping them on the first list saves memory and heap fragmentation. */
  inf->seen = json_object_size(inf->store) ? json_object() : NULL;
  list_page(inf);
}

static void list_finish(nw__informer *inf) {
  /* What was cached but not listed was deleted while we were not watching. */
  json_t *gone = json_array();
  const char *key;
  json_t *v;
  json_object_foreach(inf->store, key, v) {
    if (inf->seen && !json_object_get(inf->seen, key))
      json_array_append_new(gone, json_string(key));
  }
  size_t i;
  json_array_foreach(gone, i, v) remove_key(inf, json_string_value(v), NULL);
  json_decref(gone);
  json_decref(inf->seen);
  inf->seen = NULL;
  inf->lists++;
  inf->failures = 0;
  /* How long the first sync took, and why, is what an operator needs when
   * a daemon is slow to become ready: say it once, at info level. */
  double ms = (double)(uv_hrtime() - inf->list_start_ns) / 1e6;
  if (inf->synced)
    NW_DEBUG(COMP, "%s: listed %zu objects at resourceVersion %s in %.0f ms",
             inf->res->resource, json_object_size(inf->store), inf->rv, ms);
  else
    NW_INFO(COMP, "%s: synced %zu objects in %.0f ms (%u pages, %u retried)",
            inf->res->resource, json_object_size(inf->store), ms,
            inf->list_pages, inf->list_retries);
  if (!inf->synced) {
    inf->synced = 1;
    for (size_t h = 0; h < inf->n_handlers; h++) {
      if (inf->handlers[h].on_synced)
        inf->handlers[h].on_synced(inf->handlers[h].user);
    }
  }
  watch_start(inf);
}

static void on_list(void *user, nw__kube_response *resp) {
  nw__informer *inf = user;
  inf->req = NULL;
  if (resp->status != NW_OK) {
    NW_WARN(COMP, "list %s: %s", inf->res->resource, resp->err.message);
    inf->list_retries++;
    /* 410 here means the continue token expired: start over at once.
     * Other failures (timeouts, 429, 5xx) retry the same page: the token
     * stays valid for minutes, and starting a list of 20,000 objects over
     * because its 30th page failed is how a loaded apiserver stays
     * loaded. */
    if (resp->http_status == 410)
      schedule(inf, list_restart, 0);
    else
      backoff(inf, inf->cont ? list_page : list_restart);
    return;
  }
  inf->list_pages++;
  inf->failures = 0;
  size_t i;
  json_t *item;
  json_array_foreach(json_object_get(resp->body, "items"), i, item) {
    json_t *obj = prepare(inf, json_incref(item));
    if (obj)
      upsert(inf, obj);
  }
  const char *cont = nw__kube_str(resp->body, "metadata.continue");
  if (cont && *cont) {
    set_str(&inf->cont, cont);
    list_page(inf);
    return;
  }
  set_str(&inf->rv, nw__kube_str(resp->body, "metadata.resourceVersion"));
  list_finish(inf);
}

/* Appends "&name=escaped(value)" to buf when value is set. */
static void add_query(char *buf, size_t len, const char *name, const char *value) {
  if (!value || !*value)
    return;
  char *e = nw__kube_escape(value);
  size_t n = strlen(buf);
  snprintf(buf + n, len - n, "%s%s=%s", n ? "&" : "", name, e ? e : "");
  free(e);
}

static void list_page(nw__informer *inf) {
  char q[4096];
  snprintf(q, sizeof(q), "limit=%d", inf->page_size);
  add_query(q, sizeof(q), "continue", inf->cont);
  add_query(q, sizeof(q), "labelSelector", inf->lsel);
  add_query(q, sizeof(q), "fieldSelector", inf->fsel);
  char *path = nw__kube_path(inf->res, inf->ns, NULL, NULL, q);
  inf->req = nw__kube_request(inf->c, "GET", path, NULL, NULL, on_list, inf);
  free(path);
}

static void relist(nw__informer *inf) {
  NW_INFO(COMP, "%s: relisting", inf->res->resource);
  list_restart(inf);
}

static void on_event(void *user, json_t *ev) {
  nw__informer *inf = user;
  const char *type = json_string_value(json_object_get(ev, "type"));
  json_t *obj = json_object_get(ev, "object");
  const char *rv = nw__kube_str(obj, "metadata.resourceVersion");
  if (!type || !json_is_object(obj))
    return;
  if (strcmp(type, "ERROR") == 0) {
    long code = (long)json_integer_value(json_object_get(obj, "code"));
    const char *msg = json_string_value(json_object_get(obj, "message"));
    NW_INFO(COMP, "watch %s: %ld %s", inf->res->resource, code, msg ? msg : "");
    nw__kube_cancel(inf->req);
    inf->req = NULL;
    if (code == 410)
      schedule(inf, relist, 0);
    else
      backoff(inf, watch_start);
    return;
  }
  if (strcmp(type, "ADDED") == 0 || strcmp(type, "MODIFIED") == 0) {
    json_t *o = prepare(inf, json_incref(obj));
    if (o)
      upsert(inf, o);
  } else if (strcmp(type, "DELETED") == 0) {
    char *key = object_key(inf, obj);
    json_t *o = key ? prepare(inf, json_incref(obj)) : NULL;
    if (key)
      remove_key(inf, key, o);
    json_decref(o);
    free(key);
  }
  if (rv)
    set_str(&inf->rv, rv);
}

static void on_watch_done(void *user, nw__kube_response *resp) {
  nw__informer *inf = user;
  inf->req = NULL;
  if (resp->status == NW_OK) {
    /* The server's timeoutSeconds elapsed: resume where we are. */
    inf->failures = 0;
    watch_start(inf);
    return;
  }
  if (resp->http_status == 410) {
    schedule(inf, relist, 0);
    return;
  }
  NW_WARN(COMP, "watch %s: %s; reconnecting", inf->res->resource, resp->err.message);
  backoff(inf, watch_start);
}

static void watch_start(nw__informer *inf) {
  char q[4096];
  snprintf(q, sizeof(q), "watch=1&allowWatchBookmarks=true&timeoutSeconds=%d",
           WATCH_MIN_S + (int)(rng_next(inf) % WATCH_SPREAD_S));
  add_query(q, sizeof(q), "resourceVersion", inf->rv);
  add_query(q, sizeof(q), "labelSelector", inf->lsel);
  add_query(q, sizeof(q), "fieldSelector", inf->fsel);
  char *path = nw__kube_path(inf->res, inf->ns, NULL, NULL, q);
  inf->req = nw__kube_stream_start(inf->c, path, on_event, on_watch_done, inf);
  free(path);
}

/* ---- public ------------------------------------------------------------ */

nw__informer *nw__informer_new(nw__kube_client *client,
                               const nw__kube_resource *res,
                               const nw__informer_options *opts) {
  nw__informer *inf = calloc(1, sizeof(*inf));
  if (!inf)
    return NULL;
  inf->c = client;
  inf->res = res;
  if (opts) {
    set_str(&inf->ns, opts->ns);
    set_str(&inf->lsel, opts->label_selector);
    set_str(&inf->fsel, opts->field_selector);
    inf->page_size = opts->page_size;
    inf->compact = opts->compact;
    inf->transform = opts->transform;
    inf->transform_user = opts->transform_user;
  }
  if (inf->page_size <= 0)
    inf->page_size = DEFAULT_PAGE;
  inf->store = json_object();
  inf->rng = uv_hrtime() | 1;
  uv_timer_init(nw__kube_client_loop(client), &inf->timer);
  inf->timer.data = inf;
  return inf;
}

int nw__informer_add_handlers(nw__informer *inf, const nw__informer_handlers *h) {
  nw__informer_handlers *n =
      realloc(inf->handlers, (inf->n_handlers + 1) * sizeof(*n));
  if (!n)
    return -1;
  inf->handlers = n;
  n[inf->n_handlers++] = *h;
  const char *key;
  json_t *v;
  json_object_foreach(inf->store, key, v) {
    json_t *obj = decode(inf, v);
    if (h->on_add && obj)
      h->on_add(h->user, obj);
    json_decref(obj);
  }
  if (inf->synced && h->on_synced)
    h->on_synced(h->user);
  return 0;
}

static int add_index(nw__informer *inf, const char *name, const char *arg,
                     int label) {
  for (size_t i = 0; i < inf->n_idx; i++) {
    if (strcmp(inf->idx[i].name, name) == 0)
      return -1;
  }
  index_def *n = realloc(inf->idx, (inf->n_idx + 1) * sizeof(*n));
  if (!n)
    return -1;
  inf->idx = n;
  index_def *d = &n[inf->n_idx++];
  d->name = strdup(name);
  d->arg = strdup(arg);
  d->label = label;
  d->map = json_object();
  const char *key;
  json_t *v;
  json_object_foreach(inf->store, key, v) {
    json_t *obj = decode(inf, v);
    const char *val = obj ? index_value(d, obj) : NULL;
    if (val) {
      json_t *set = json_object_get(d->map, val);
      if (!set) {
        set = json_object();
        json_object_set_new(d->map, val, set);
      }
      json_object_set_new(set, key, json_null());
    }
    json_decref(obj);
  }
  return 0;
}

int nw__informer_add_index_field(nw__informer *inf, const char *name,
                                 const char *dotted_path) {
  return add_index(inf, name, dotted_path, 0);
}

int nw__informer_add_index_label(nw__informer *inf, const char *name,
                                 const char *label_key) {
  return add_index(inf, name, label_key, 1);
}

void nw__informer_start(nw__informer *inf) {
  if (inf->started)
    return;
  inf->started = 1;
  list_restart(inf);
}

static void on_closed(uv_handle_t *h) {
  nw__informer *inf = h->data;
  free(inf);
}

void nw__informer_free(nw__informer *inf) {
  if (!inf)
    return;
  nw__kube_cancel(inf->req);
  uv_timer_stop(&inf->timer);
  for (size_t i = 0; i < inf->n_idx; i++) {
    free(inf->idx[i].name);
    free(inf->idx[i].arg);
    json_decref(inf->idx[i].map);
  }
  free(inf->idx);
  free(inf->handlers);
  json_decref(inf->store);
  json_decref(inf->seen);
  free(inf->ns);
  free(inf->lsel);
  free(inf->fsel);
  free(inf->rv);
  free(inf->cont);
  uv_close((uv_handle_t *)&inf->timer, on_closed);
}

int nw__informer_synced(const nw__informer *inf) { return inf->synced; }
size_t nw__informer_size(const nw__informer *inf) {
  return json_object_size(inf->store);
}
const char *nw__informer_resource_version(const nw__informer *inf) {
  return inf->rv ? inf->rv : "";
}
unsigned nw__informer_lists(const nw__informer *inf) { return inf->lists; }

json_t *nw__informer_get(nw__informer *inf, const char *ns, const char *name) {
  char key[600];
  if (inf->res->namespaced)
    snprintf(key, sizeof(key), "%s/%s", ns ? ns : "", name);
  else
    snprintf(key, sizeof(key), "%s", name);
  return decode(inf, json_object_get(inf->store, key));
}

size_t nw__informer_foreach(nw__informer *inf, nw__informer_visit_fn fn,
                            void *user) {
  size_t n = 0;
  const char *key;
  json_t *v;
  json_object_foreach(inf->store, key, v) {
    json_t *obj = decode(inf, v);
    int stop = obj ? fn(user, obj) : 0;
    json_decref(obj);
    n++;
    if (stop)
      break;
  }
  return n;
}

static const index_def *find_index(const nw__informer *inf, const char *name) {
  for (size_t i = 0; i < inf->n_idx; i++) {
    if (strcmp(inf->idx[i].name, name) == 0)
      return &inf->idx[i];
  }
  return NULL;
}

size_t nw__informer_index_foreach(nw__informer *inf, const char *index,
                                  const char *value, nw__informer_visit_fn fn,
                                  void *user) {
  const index_def *d = find_index(inf, index);
  json_t *set = d ? json_object_get(d->map, value) : NULL;
  size_t n = 0;
  const char *key;
  json_t *v;
  json_object_foreach(set, key, v) {
    json_t *obj = decode(inf, json_object_get(inf->store, key));
    int stop = obj ? fn(user, obj) : 0;
    json_decref(obj);
    n++;
    if (stop)
      break;
  }
  return n;
}

size_t nw__informer_index_count(nw__informer *inf, const char *index,
                                const char *value) {
  const index_def *d = find_index(inf, index);
  return d ? json_object_size(json_object_get(d->map, value)) : 0;
}
