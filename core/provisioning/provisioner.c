#include "provisioning/provisioner.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/objutil.h"
#include "cluster/providers.h"
#include "lifecycle/claim.h"
#include "metrics/metrics.h"
#include "model/objects.h"
#include "provisioning/snapshot.h"
#include "scheduling/scheduler.h"
#include "util/arena.h"
#include "util/log.h"

enum { SETTLE_MS = 5000, MAX_EVENTS_PER_PASS = 200 };

struct nw__provisioner {
  nw__env *env;
  nw__timer *idle;         /* batch closes when this fires ... */
  nw__timer *max;          /* ... or this */
  int running;             /* a pass is on a worker */
  int rerun;               /* pods arrived during the pass */
  int closing;
  /* Names of claims this provisioner created that the store has not shown
   * yet: until it does, another pass could launch the same capacity. */
  char **awaiting;
  size_t n_awaiting;
  int64_t awaiting_since;
  uint64_t name_seq;
  /* "ns/name" -> when the pod was first seen pending (ms), for the
   * pending-to-decision latency. */
  json_t *seen;
  /* Decoded objects reused from pass to pass. */
  nw__snap_cache *cache;
};

static void pod_key(const char *ns, const char *name, char *buf, size_t len) {
  snprintf(buf, len, "%s/%s", ns ? ns : "", name ? name : "");
}

static int cmp_i64(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return (x > y) - (x < y);
}

/* Observes, for every pod the pass placed, the time from when it was first
 * seen pending to now (its NodeClaim is being created), and logs the
 * median and p99 of the pass. */
static void record_latency(struct nw__provisioner *p, const json_t *rows) {
  size_t n = json_array_size(rows), k = 0;
  int64_t *lat = calloc(n + 1, sizeof(*lat));
  int64_t now = p->env->ops->now_ms(p->env);
  size_t i;
  json_t *row;
  json_array_foreach((json_t *)rows, i, row) {
    char key[512];
    pod_key(json_string_value(json_array_get(row, 0)),
            json_string_value(json_array_get(row, 1)), key, sizeof(key));
    json_t *t = json_object_get(p->seen, key);
    if (!t)
      continue;
    lat[k] = now - json_integer_value(t);
    nw__metric_observe("provisioning_latency_seconds", NULL, (double)lat[k] / 1000.0);
    json_object_del(p->seen, key);
    k++;
  }
  if (k) {
    qsort(lat, k, sizeof(*lat), cmp_i64);
    /* min is the pod that arrived last: the idle window plus our own
     * scheduling time, the part of the latency the daemon controls. */
    NW_INFO("provisioner", "pending-to-NodeClaim latency over %zu pods: min %lld ms, p50 %lld ms, p99 %lld ms",
            k, (long long)lat[0], (long long)lat[k / 2],
            (long long)lat[(k * 99) / 100 < k ? (k * 99) / 100 : k - 1]);
  }
  free(lat);
}

/* ---- a pass ------------------------------------------------------------ */

typedef struct pass {
  nw__provisioner *p;
  nw__snapshot *snap;
  int64_t started_ms;
  /* results, built on the worker */
  json_t *claims;          /* array of NodeClaim objects to create */
  json_t *nominations;     /* [[ns, name, target], ...] */
  json_t *failures;        /* [[ns, name, reason], ...] */
  char error[512];
} pass;

/* ---- scheduling (on a worker) ------------------------------------------ */



static json_t *build_claim(pass *ps, const nw__sched_claim *c) {
  nw__provisioner *p = ps->p;
  char name[128];
  nw__claim_name(c->nodepool,
                 p->name_seq++ ^ (uint64_t)p->env->ops->now_ms(p->env) << 16,
                 name, sizeof(name));
  return nw__claim_for_pool(&ps->snap->pools[c->pool], name,
                            nw__requirements_to_json(&c->requirements),
                            nw__resources_to_json(&c->requests), c->price);
}

static void nominate(pass *ps, const nw__sched_result *r) {
  ps->nominations = json_array();
  ps->failures = json_array();
  for (size_t i = 0; i < r->n_placements; i++) {
    const nw__sched_placement *pl = &r->placements[i];
    const char *target = NULL;
    if (pl->kind == NW__PLACE_NODE)
      target = ps->snap->nodes[pl->index].node->name;
    else if (pl->kind == NW__PLACE_CLAIM)
      target = json_string_value(json_object_get(json_object_get(
          json_array_get(ps->claims, pl->index), "metadata"), "name"));
    if (target)
      json_array_append_new(ps->nominations,
                            json_pack("[s, s, s]", pl->pod->namespace_ ?: "",
                                      pl->pod->name, target));
    else
      json_array_append_new(ps->failures,
                            json_pack("[s, s, s]", pl->pod->namespace_ ?: "",
                                      pl->pod->name, pl->error ?: "no pool fits"));
  }
}

static void schedule_work(void *arg) {
  pass *ps = arg;
  nw__snapshot *snap = ps->snap;
  nw_error err = {0};
  ps->claims = json_array();
  if (snap->n_pending == 0)
    return;
  nw__snapshot_prepare_cached(snap, ps->p->env->plugins, ps->p->cache);
  if (snap->error[0])
    snprintf(ps->error, sizeof(ps->error), "%s", snap->error);
  nw__scheduler *s = nw__scheduler_new(&snap->input, &err);
  if (!s) {
    snprintf(ps->error, sizeof(ps->error), "scheduler: %s", err.message);
    return;
  }
  nw__sched_result *r = nw__scheduler_solve(s, snap->pending, snap->n_pending,
                                            NULL, snap->arena, &err);
  if (r) {
    for (size_t i = 0; i < r->n_claims; i++)
      json_array_append_new(ps->claims, build_claim(ps, &r->claims[i]));
    nominate(ps, r);
  } else {
    snprintf(ps->error, sizeof(ps->error), "scheduler: %s", err.message);
  }
  nw__scheduler_free(s);
}

/* ---- results (on the loop) --------------------------------------------- */

static void created(void *arg, nw_status st, const json_t *res, const char *msg) {
  nw__provisioner *p = arg;
  (void)res;
  if (st != NW_OK) {
    NW_WARN("provisioner", "creating a NodeClaim failed: %s", msg ? msg : "");
    nw__metric_add("nodeclaims_create_errors_total", NULL, 1);
  }
  (void)p;
}

static void pod_event(nw__env *env, const char *ns, const char *name,
                      const char *type, const char *reason, const char *note) {
  json_t *pod = nw__store_get(env->store, NW__K_POD, ns, name);
  if (pod)
    env->ops->event(env, pod, type, reason, note);
}

static void free_pass(pass *ps) {
  nw__snapshot_free(ps->snap);
  json_decref(ps->claims);
  json_decref(ps->nominations);
  json_decref(ps->failures);
  free(ps);
}

static void awaiting_reset(nw__provisioner *p) {
  for (size_t i = 0; i < p->n_awaiting; i++)
    free(p->awaiting[i]);
  free(p->awaiting);
  p->awaiting = NULL;
  p->n_awaiting = 0;
}

static void open_batch(nw__provisioner *p);

static void schedule_done(void *arg) {
  pass *ps = arg;
  nw__provisioner *p = ps->p;
  nw__env *env = p->env;
  p->running = 0;
  if (p->closing) {
    free_pass(ps);
    nw__snap_cache_free(p->cache);
    free(p);
    return;
  }
  double seconds = (double)(env->ops->now_ms(env) - ps->started_ms) / 1000.0;
  nw__metric_observe("scheduling_duration_seconds", NULL, seconds);
  nw__metric_set("pods_pending", NULL, (double)ps->snap->n_pending);
  if (ps->error[0]) {
    NW_WARN("provisioner", "%s", ps->error);
  }
  size_t n = json_array_size(ps->claims);
  awaiting_reset(p);
  p->awaiting = calloc(n + 1, sizeof(char *));
  p->awaiting_since = env->ops->now_ms(env);
  for (size_t i = 0; i < n; i++) {
    json_t *c = json_array_get(ps->claims, i);
    p->awaiting[p->n_awaiting++] = strdup(nw__obj_name(c));
    env->ops->create(env, NW__K_NODECLAIM, c, created, p);
    char labels[300];
    snprintf(labels, sizeof(labels), "nodepool=%s",
             nw__label(c, "karpenter.sh/nodepool"));
    nw__metric_add("nodeclaims_created_total", labels, 1);
  }
  if (n)
    NW_INFO("provisioner", "%zu pending pods: %zu new NodeClaims (%zu instance types considered)",
            ps->snap->n_pending, n, ps->snap->n_types_total);
  record_latency(p, ps->nominations);
  size_t ev = 0;
  size_t i;
  json_t *row;
  json_array_foreach(ps->nominations, i, row) {
    if (ev++ >= MAX_EVENTS_PER_PASS)
      break;
    char note[256];
    snprintf(note, sizeof(note), "Pod should schedule on: nodeclaim/%s",
             json_string_value(json_array_get(row, 2)));
    pod_event(env, json_string_value(json_array_get(row, 0)),
              json_string_value(json_array_get(row, 1)), "Normal", "Nominated", note);
  }
  json_array_foreach(ps->failures, i, row) {
    if (ev++ >= MAX_EVENTS_PER_PASS)
      break;
    char note[1024];
    snprintf(note, sizeof(note), "Failed to schedule pod, %s",
             json_string_value(json_array_get(row, 2)));
    pod_event(env, json_string_value(json_array_get(row, 0)),
              json_string_value(json_array_get(row, 1)), "Warning",
              "FailedScheduling", note);
  }
  free_pass(ps);
  if (p->rerun) {
    p->rerun = 0;
    open_batch(p);
  }
}

/* Claims created by the last pass that the store does not show yet. */
static int awaiting_claims(nw__provisioner *p) {
  nw__env *env = p->env;
  if (env->ops->now_ms(env) - p->awaiting_since > SETTLE_MS) {
    awaiting_reset(p);
    return 0;
  }
  for (size_t i = 0; i < p->n_awaiting; i++) {
    if (!nw__store_get(env->store, NW__K_NODECLAIM, NULL, p->awaiting[i]))
      return 1;
  }
  awaiting_reset(p);
  return 0;
}

static void close_batch(void *arg);

static void run_pass(nw__provisioner *p) {
  nw__env *env = p->env;
  if (p->running) {
    p->rerun = 1;
    return;
  }
  if (awaiting_claims(p)) {
    /* Wait for the store to show what we created, then look again. */
    p->idle = env->ops->timer_start(env, 200, close_batch, p);
    return;
  }
  pass *ps = calloc(1, sizeof(*ps));
  ps->p = p;
  ps->snap = nw__snapshot_take_cached(env, p->cache);
  ps->started_ms = env->ops->now_ms(env);
  if (ps->snap->n_pending == 0) {
    free_pass(ps);
    return;
  }
  p->running = 1;
  env->ops->submit(env, schedule_work, schedule_done, ps);
}

static void close_batch(void *arg) {
  nw__provisioner *p = arg;
  nw__env *env = p->env;
  /* Whichever timer fired, the other one goes. */
  if (p->idle)
    env->ops->timer_stop(env, p->idle);
  if (p->max)
    env->ops->timer_stop(env, p->max);
  p->idle = p->max = NULL;
  run_pass(p);
}

static void idle_fired(void *arg) {
  nw__provisioner *p = arg;
  p->idle = NULL;
  close_batch(p);
}

static void max_fired(void *arg) {
  nw__provisioner *p = arg;
  p->max = NULL;
  close_batch(p);
}

/* A pending pod arrived: (re)start the idle window, open the max window. */
static void open_batch(nw__provisioner *p) {
  nw__env *env = p->env;
  if (p->idle)
    env->ops->timer_stop(env, p->idle);
  p->idle = env->ops->timer_start(env, env->batch_idle_ms, idle_fired, p);
  if (!p->max)
    p->max = env->ops->timer_start(env, env->batch_max_ms, max_fired, p);
}

static void on_change(void *user, nw__kind kind, const json_t *o, const json_t *n) {
  nw__provisioner *p = user;
  (void)o;
  if (kind != NW__K_POD)
    return;
  char key[512];
  const json_t *obj = n ? n : o;
  pod_key(nw__obj_ns(obj), nw__obj_name(obj), key, sizeof(key));
  if (n && nw__pod_pending(n)) {
    if (!json_object_get(p->seen, key))
      json_object_set_new(p->seen, key, json_integer(p->env->ops->now_ms(p->env)));
    open_batch(p);
  } else {
    json_object_del(p->seen, key);
  }
}

nw__provisioner *nw__provisioner_new(nw__env *env) {
  nw__provisioner *p = calloc(1, sizeof(*p));
  if (!p)
    return NULL;
  p->env = env;
  p->seen = json_object();
  p->cache = nw__snap_cache_new(env);
  nw__store_watch(env->store, on_change, p);
  return p;
}

void nw__provisioner_trigger(nw__provisioner *p) { close_batch(p); }

void nw__provisioner_free(nw__provisioner *p) {
  if (!p)
    return;
  nw__env *env = p->env;
  nw__store_unwatch(env->store, on_change, p);
  if (p->idle)
    env->ops->timer_stop(env, p->idle);
  if (p->max)
    env->ops->timer_stop(env, p->max);
  awaiting_reset(p);
  json_decref(p->seen);
  p->seen = NULL;
  p->closing = 1;
  /* A pass on a worker still uses the cache: the pass frees it. */
  if (!p->running) {
    nw__snap_cache_free(p->cache);
    free(p);
  }
}
