#include "sim/venv.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/objutil.h"
#include "disruption/candidate.h"

struct nw__timer {
  int64_t when;
  uint64_t seq;     /* start order: ties fire first-started first */
  size_t pos;       /* index in the heap, for timer_stop */
  nw__timer_fn fn;
  void *arg;
};

struct nw__venv {
  nw__env env;      /* first: controllers get &v->env */
  int64_t now;
  uint64_t seq;
  uint64_t rng;
  uint64_t rv;      /* resourceVersion counter */
  nw__timer **heap;
  size_t len, cap;
  nw__venv_event_fn on_event;
  void *event_user;
  /* Objects a write replaced or removed, kept alive until the callback
   * that wrote returns: in the daemon a write reaches the store only with
   * the next watch event, so a controller may still read the object it
   * just patched, and here it still can. */
  json_t *graveyard;
};

static void bury(nw__venv *v, json_t *obj) {
  if (obj)
    json_array_append(v->graveyard, obj);
}

/* ---- the timer heap ------------------------------------------------- */

static int before(const nw__timer *a, const nw__timer *b) {
  if (a->when != b->when)
    return a->when < b->when;
  return a->seq < b->seq;
}

static void heap_set(nw__venv *v, size_t i, nw__timer *t) {
  v->heap[i] = t;
  t->pos = i;
}

static void sift_up(nw__venv *v, size_t i) {
  nw__timer *t = v->heap[i];
  while (i > 0) {
    size_t parent = (i - 1) / 2;
    if (!before(t, v->heap[parent]))
      break;
    heap_set(v, i, v->heap[parent]);
    i = parent;
  }
  heap_set(v, i, t);
}

static void sift_down(nw__venv *v, size_t i) {
  nw__timer *t = v->heap[i];
  for (;;) {
    size_t c = 2 * i + 1;
    if (c >= v->len)
      break;
    if (c + 1 < v->len && before(v->heap[c + 1], v->heap[c]))
      c++;
    if (!before(v->heap[c], t))
      break;
    heap_set(v, i, v->heap[c]);
    i = c;
  }
  heap_set(v, i, t);
}

static void heap_remove(nw__venv *v, size_t i) {
  nw__timer *last = v->heap[--v->len];
  if (i == v->len)
    return;
  heap_set(v, i, last);
  sift_down(v, i);
  sift_up(v, last->pos);
}

static nw__timer *timer_start(nw__env *env, int64_t delay_ms, nw__timer_fn fn,
                              void *arg) {
  nw__venv *v = (nw__venv *)env;
  if (v->len == v->cap) {
    size_t cap = v->cap ? v->cap * 2 : 64;
    nw__timer **grown = realloc(v->heap, cap * sizeof(*grown));
    if (!grown)
      return NULL;
    v->heap = grown;
    v->cap = cap;
  }
  nw__timer *t = malloc(sizeof(*t));
  if (!t)
    return NULL;
  t->when = v->now + (delay_ms > 0 ? delay_ms : 0);
  t->seq = v->seq++;
  t->fn = fn;
  t->arg = arg;
  v->heap[v->len] = t;
  t->pos = v->len++;
  sift_up(v, t->pos);
  return t;
}

static void timer_stop(nw__env *env, nw__timer *t) {
  nw__venv *v = (nw__venv *)env;
  if (!t || t->pos >= v->len || v->heap[t->pos] != t)
    return;
  heap_remove(v, t->pos);
  free(t);
}

uint64_t nw__venv_run_until(nw__venv *v, int64_t until_ms) {
  uint64_t fired = 0;
  while (v->len > 0 && v->heap[0]->when <= until_ms) {
    nw__timer *t = v->heap[0];
    heap_remove(v, 0);
    if (t->when > v->now)
      v->now = t->when;
    nw__timer_fn fn = t->fn;
    void *arg = t->arg;
    /* Freed before the call: the handle is invalid once it fires, and the
     * callback may start new timers. */
    free(t);
    fn(arg);
    json_array_clear(v->graveyard);
    fired++;
  }
  if (until_ms > v->now)
    v->now = until_ms;
  return fired;
}

int64_t nw__venv_next_due(const nw__venv *v) {
  return v->len ? v->heap[0]->when : INT64_MAX;
}

int64_t nw__venv_now(const nw__venv *v) { return v->now; }
size_t nw__venv_pending(const nw__venv *v) { return v->len; }

static int64_t now_ms(nw__env *env) { return ((nw__venv *)env)->now; }

/* ---- submit --------------------------------------------------------- */

typedef struct job {
  nw__timer_fn done;
  void *arg;
} job;

static void job_done(void *p) {
  job j = *(job *)p;
  free(p);
  if (j.done)
    j.done(j.arg);
}

static void submit(nw__env *env, nw__timer_fn work, nw__timer_fn done,
                   void *arg) {
  job *j = malloc(sizeof(*j));
  if (!j)
    return;
  j->done = done;
  j->arg = arg;
  env->pending_latency_ms = 0;
  if (work)
    work(arg);
  int64_t latency = env->pending_latency_ms;
  env->pending_latency_ms = 0;
  timer_start(env, latency, job_done, j);
}

/* ---- write completions ------------------------------------------------ */

typedef struct reply {
  nw__write_done_fn done;
  void *arg;
  nw_status status;
  json_t *result;
  char message[256];
} reply;

static void reply_fire(void *p) {
  reply *r = p;
  if (r->done)
    r->done(r->arg, r->status, r->result, r->status == NW_OK ? NULL
                                                              : r->message);
  json_decref(r->result);
  free(r);
}

/* Queues done(arg, status, result, message) at the current instant.
 * Takes the reference to result. */
static void answer(nw__venv *v, nw__write_done_fn done, void *arg,
                   nw_status status, json_t *result, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

static void answer(nw__venv *v, nw__write_done_fn done, void *arg,
                   nw_status status, json_t *result, const char *fmt, ...) {
  reply *r = calloc(1, sizeof(*r));
  if (!r) {
    json_decref(result);
    return;
  }
  r->done = done;
  r->arg = arg;
  r->status = status;
  r->result = result;
  if (fmt) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->message, sizeof(r->message), fmt, ap);
    va_end(ap);
  }
  timer_start(&v->env, 0, reply_fire, r);
}

/* ---- the in-memory API ---------------------------------------------- */

static uint64_t next_rand(nw__venv *v) {
  uint64_t z = (v->rng += 0x9e3779b97f4a7c15ull); /* splitmix64 */
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

static json_t *metadata_of(json_t *obj) {
  json_t *md = json_object_get(obj, "metadata");
  if (!json_is_object(md)) {
    md = json_object();
    json_object_set_new(obj, "metadata", md);
  }
  return md;
}

/* Gives obj a metadata of its own (a shallow copy) when it may share it
 * with a stored object, so that setting fields in it changes only obj. */
static void own_metadata(json_t *obj) {
  json_t *md = json_object_get(obj, "metadata");
  if (json_is_object(md))
    json_object_set_new(obj, "metadata", json_copy(md));
}

static void bump_version(nw__venv *v, json_t *obj) {
  char buf[24];
  snprintf(buf, sizeof(buf), "%llu", (unsigned long long)++v->rv);
  json_object_set_new(metadata_of(obj), "resourceVersion", json_string(buf));
}

/* Gives metadata.generateName objects a name, kube style: 5 characters
 * from [bcdfghjklmnpqrstvwxz2456789]. */
static void generate_name(nw__venv *v, json_t *md) {
  static const char alphabet[] = "bcdfghjklmnpqrstvwxz2456789";
  const char *prefix = json_string_value(json_object_get(md, "generateName"));
  char buf[256];
  size_t n = snprintf(buf, sizeof(buf) - 6, "%s", prefix ? prefix : "");
  for (int i = 0; i < 5; i++)
    buf[n + i] = alphabet[next_rand(v) % (sizeof(alphabet) - 1)];
  buf[n + 5] = '\0';
  json_object_set_new(md, "name", json_string(buf));
}

static void api_create(nw__env *env, nw__kind kind, const json_t *obj,
                       nw__write_done_fn done, void *arg) {
  nw__venv *v = (nw__venv *)env;
  json_t *copy = json_deep_copy(obj);
  json_t *md = metadata_of(copy);
  char buf[64];
  if (!json_string_value(json_object_get(md, "name")))
    generate_name(v, md);
  const char *ns = json_string_value(json_object_get(md, "namespace"));
  const char *name = json_string_value(json_object_get(md, "name"));
  if (nw__store_get(env->store, kind, ns, name)) {
    answer(v, done, arg, NW_ERR_INVALID, NULL,
           "%s %s: AlreadyExists", nw__kind_name(kind), name);
    json_decref(copy);
    return;
  }
  uint64_t a = next_rand(v), b = next_rand(v);
  snprintf(buf, sizeof(buf), "%08x-%04x-%04x-%04x-%012llx",
           (unsigned)(a >> 32), (unsigned)(a >> 16) & 0xffff,
           (unsigned)a & 0xffff, (unsigned)(b >> 48),
           (unsigned long long)(b & 0xffffffffffffull));
  json_object_set_new(md, "uid", json_string(buf));
  nw__rfc3339(v->now, buf, sizeof(buf));
  json_object_set_new(md, "creationTimestamp", json_string(buf));
  json_object_del(md, "deletionTimestamp");
  bump_version(v, copy);
  json_incref(copy);
  nw__store_put(env->store, kind, copy);
  answer(v, done, arg, NW_OK, copy, NULL);
}

json_t *nw__merge_patch(const json_t *target, const json_t *patch) {
  if (!json_is_object(patch))
    return json_deep_copy(patch);
  /* Only the objects on the patch's paths are copied; the rest is shared
   * with the target, which is safe because stored objects never change
   * (store.h) and cheap where a patch sets one field of a large object. */
  json_t *out = json_is_object(target) ? json_copy((json_t *)target)
                                       : json_object();
  const char *key;
  json_t *value;
  json_object_foreach((json_t *)patch, key, value) {
    if (json_is_null(value)) {
      json_object_del(out, key);
      continue;
    }
    json_object_set_new(out, key,
                        nw__merge_patch(json_object_get(out, key), value));
  }
  return out;
}

static int finalizers_empty(const json_t *obj) {
  json_t *f = json_object_get(json_object_get(obj, "metadata"), "finalizers");
  return !json_is_array(f) || json_array_size(f) == 0;
}

static void api_patch(nw__env *env, nw__kind kind, const char *ns,
                      const char *name, const json_t *merge_patch, int status,
                      nw__write_done_fn done, void *arg) {
  nw__venv *v = (nw__venv *)env;
  json_t *cur = nw__store_get(env->store, kind, ns, name);
  if (!cur) {
    answer(v, done, arg, NW_ERR_NOT_FOUND, NULL, "%s %s%s%s: NotFound",
           nw__kind_name(kind), ns ? ns : "", ns ? "/" : "", name);
    return;
  }
  /* A status subresource: status patches change only status, other
   * patches never change it.  The caller's patch is only read: what is
   * dropped from it is dropped from shallow copies. */
  json_t *p;
  if (status) {
    json_t *st = json_object_get(merge_patch, "status");
    p = json_object();
    if (st)
      json_object_set(p, "status", st);
  } else {
    p = json_is_object(merge_patch) ? json_copy((json_t *)merge_patch)
                                    : json_object();
    json_object_del(p, "status");
  }
  /* Identity fields never change through a patch. */
  json_t *pmd = json_object_get(p, "metadata");
  if (json_is_object(pmd)) {
    pmd = json_copy(pmd);
    json_object_set_new(p, "metadata", pmd);
    json_object_del(pmd, "name");
    json_object_del(pmd, "namespace");
    json_object_del(pmd, "uid");
    json_object_del(pmd, "creationTimestamp");
    json_object_del(pmd, "deletionTimestamp");
  }
  json_t *next = nw__merge_patch(cur, p);
  json_decref(p);
  own_metadata(next);
  bump_version(v, next);
  bury(v, cur);
  if (nw__obj_deleting(next) && finalizers_empty(next)) {
    nw__store_remove(env->store, kind, ns, name);
    answer(v, done, arg, NW_OK, next, NULL);
    return;
  }
  json_incref(next);
  nw__store_put(env->store, kind, next);
  answer(v, done, arg, NW_OK, next, NULL);
}

static void api_remove(nw__env *env, nw__kind kind, const char *ns,
                       const char *name, nw__write_done_fn done, void *arg) {
  nw__venv *v = (nw__venv *)env;
  json_t *cur = nw__store_get(env->store, kind, ns, name);
  if (!cur) {
    answer(v, done, arg, NW_ERR_NOT_FOUND, NULL, "%s %s%s%s: NotFound",
           nw__kind_name(kind), ns ? ns : "", ns ? "/" : "", name);
    return;
  }
  bury(v, cur);
  if (finalizers_empty(cur)) {
    json_t *last = json_incref(cur);
    nw__store_remove(env->store, kind, ns, name);
    answer(v, done, arg, NW_OK, last, NULL);
    return;
  }
  if (nw__obj_deleting(cur)) {
    answer(v, done, arg, NW_OK, json_incref(cur), NULL);
    return;
  }
  /* Shares all but the metadata with cur, which stays unchanged. */
  json_t *next = json_copy(cur);
  own_metadata(next);
  char buf[32];
  nw__rfc3339(v->now, buf, sizeof(buf));
  json_object_set_new(metadata_of(next), "deletionTimestamp",
                      json_string(buf));
  bump_version(v, next);
  json_incref(next);
  nw__store_put(env->store, kind, next);
  answer(v, done, arg, NW_OK, next, NULL);
}

typedef struct pdb_collect {
  const char *ns;
  json_t *arr;
} pdb_collect;

static int collect_pdb(void *user, json_t *pdb) {
  pdb_collect *c = user;
  const char *ns = nw__obj_ns(pdb);
  if (ns && c->ns && strcmp(ns, c->ns) == 0)
    json_array_append(c->arr, pdb);
  return 0;
}

int nw__pdb_selects(const json_t *pdb, const json_t *pod) {
  const char *pns = nw__obj_ns(pdb), *ns = nw__obj_ns(pod);
  if (!pns || !ns || strcmp(pns, ns) != 0)
    return 0;
  /* The disruption package's PDB check is the one selector matcher that
   * reads PDBs: a copy allowing no disruption blocks exactly the pods it
   * selects. */
  json_t *copy = json_deep_copy(pdb);
  json_t *st = json_object();
  json_object_set_new(st, "disruptionsAllowed", json_integer(0));
  json_object_set_new(copy, "status", st);
  json_t *one = json_array();
  json_array_append_new(one, copy);
  int selects = nw__pod_pdb_blocked(pod, one, NULL);
  json_decref(one);
  return selects;
}

/* Decrements status.disruptionsAllowed of the PDBs in `pdbs` that select
 * `pod`, as the eviction handler of the API server does; the world's
 * disruption controller recomputes it from the pods afterwards. */
static void charge_pdbs(nw__venv *v, const json_t *pod, json_t *pdbs) {
  size_t i;
  json_t *pdb;
  json_array_foreach(pdbs, i, pdb) {
    json_int_t allowed = json_integer_value(
        json_object_get(json_object_get(pdb, "status"), "disruptionsAllowed"));
    if (allowed <= 0 || !nw__pdb_selects(pdb, pod))
      continue;
    json_t *copy = json_deep_copy(pdb);
    json_object_set_new(json_object_get(copy, "status"), "disruptionsAllowed",
                        json_integer(allowed - 1));
    bump_version(v, copy);
    bury(v, pdb);
    nw__store_put(v->env.store, NW__K_PDB, copy);
  }
}

static void api_evict(nw__env *env, const char *ns, const char *name,
                      nw__write_done_fn done, void *arg) {
  nw__venv *v = (nw__venv *)env;
  json_t *pod = nw__store_get(env->store, NW__K_POD, ns, name);
  if (!pod) {
    answer(v, done, arg, NW_ERR_NOT_FOUND, NULL, "Pod %s/%s: NotFound",
           ns ? ns : "", name);
    return;
  }
  pdb_collect c = {ns, json_array()};
  nw__store_foreach(env->store, NW__K_PDB, collect_pdb, &c);
  const char *blocker = NULL;
  /* Pods that already finished are evicted regardless, as kube does. */
  const char *phase = json_string_value(
      json_object_get(json_object_get(pod, "status"), "phase"));
  int done_phase = phase && (strcmp(phase, "Succeeded") == 0 ||
                             strcmp(phase, "Failed") == 0);
  if (!done_phase && nw__pod_pdb_blocked(pod, c.arr, &blocker)) {
    answer(v, done, arg, NW_ERR_RETRYABLE, NULL,
           "Cannot evict pod %s/%s as it would violate the pod's disruption "
           "budget %s (429)", ns ? ns : "", name, blocker ? blocker : "");
    json_decref(c.arr);
    return;
  }
  json_t *last = json_incref(pod);
  bury(v, pod);
  charge_pdbs(v, pod, c.arr);
  json_decref(c.arr);
  nw__store_remove(env->store, NW__K_POD, ns, name);
  answer(v, done, arg, NW_OK, last, NULL);
}

static void api_event(nw__env *env, const json_t *regarding, const char *type,
                      const char *reason, const char *note) {
  nw__venv *v = (nw__venv *)env;
  if (v->on_event)
    v->on_event(v->event_user, v->now, regarding, type, reason, note);
}

static const nw__env_ops venv_ops = {
    .now_ms = now_ms,
    .timer_start = timer_start,
    .timer_stop = timer_stop,
    .submit = submit,
    .create = api_create,
    .patch = api_patch,
    .remove = api_remove,
    .evict = api_evict,
    .event = api_event,
};

nw__venv *nw__venv_new(nw__store *store, nw__plugin_set *plugins,
                       int64_t start_ms, uint64_t seed) {
  nw__venv *v = calloc(1, sizeof(*v));
  if (!v)
    return NULL;
  v->env.ops = &venv_ops;
  v->env.store = store;
  v->env.plugins = plugins;
  v->env.cluster_name = "simulated";
  v->env.batch_idle_ms = 1000;
  v->env.batch_max_ms = 10000;
  v->now = start_ms;
  v->rng = seed;
  v->graveyard = json_array();
  return v;
}

void nw__venv_free(nw__venv *v) {
  if (!v)
    return;
  for (size_t i = 0; i < v->len; i++) {
    /* Pending writes own a reference and a struct; jobs own a struct. */
    if (v->heap[i]->fn == reply_fire) {
      reply *r = v->heap[i]->arg;
      json_decref(r->result);
      free(r);
    } else if (v->heap[i]->fn == job_done) {
      free(v->heap[i]->arg);
    }
    free(v->heap[i]);
  }
  free(v->heap);
  json_decref(v->graveyard);
  free(v);
}

nw__env *nw__venv_env(nw__venv *v) { return &v->env; }

void nw__venv_on_event(nw__venv *v, nw__venv_event_fn fn, void *user) {
  v->on_event = fn;
  v->event_user = user;
}
