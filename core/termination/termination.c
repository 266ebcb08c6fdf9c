#include "termination/termination.h"

#include <stdlib.h>
#include <string.h>

#include "cluster/objutil.h"
#include "cluster/ordset.h"
#include "cluster/providers.h"
#include "util/duration.h"
#include "metrics/metrics.h"
#include "kube/kutil.h"
#include "util/log.h"

#define FINALIZER "karpenter.sh/termination"
#define DISRUPTED_TAINT "karpenter.sh/disrupted"
#define DO_NOT_DISRUPT "karpenter.sh/do-not-disrupt"

enum { TICK_MS = 1000 };

/* Per claim being terminated: what is in flight. */
typedef struct term {
  struct term *next;
  char *name;
  int deleting_instance;   /* provider delete on a worker */
  int instance_gone;
  int evictions_inflight;
} term;

struct nw__termination {
  nw__env *env;
  term *terms;
  /* The claims with a deletionTimestamp: the only ones a pass looks at.
   * Walking all claims on every pass (each change of a deleting claim and
   * every TICK_MS) was a sixth of a 2,000-node simulation's CPU.  Kept
   * from the store's watch, so it is exactly the store's deleting claims,
   * also after a relist. */
  nw__ordset *deleting;
  uint64_t joined;      /* claims that joined `deleting` so far */
  nw__timer *tick;
  nw__timer *soon;
  int closing;
  int inflight;
};

static void release(nw__termination *t);

static term *term_get(nw__termination *t, const char *name) {
  for (term *x = t->terms; x; x = x->next) {
    if (strcmp(x->name, name) == 0)
      return x;
  }
  term *x = calloc(1, sizeof(*x));
  x->name = strdup(name);
  x->next = t->terms;
  t->terms = x;
  return x;
}

static void term_drop(nw__termination *t, const char *name) {
  for (term **pp = &t->terms; *pp; pp = &(*pp)->next) {
    if (strcmp((*pp)->name, name) == 0) {
      term *x = *pp;
      *pp = x->next;
      free(x->name);
      free(x);
      return;
    }
  }
}

static void ignore_done(void *arg, nw_status st, const json_t *res,
                        const char *msg) {
  (void)arg;
  (void)res;
  if (st != NW_OK && st != NW_ERR_NOT_FOUND)
    NW_WARN("termination", "write failed: %s", msg ? msg : "");
}

/* ---- draining ---------------------------------------------------------- */

static int owned_by_daemonset(const json_t *pod) {
  const json_t *refs = json_object_get(json_object_get(pod, "metadata"), "ownerReferences");
  size_t i;
  const json_t *r;
  json_array_foreach(refs, i, r) {
    const char *k = json_string_value(json_object_get(r, "kind"));
    if (k && strcmp(k, "DaemonSet") == 0)
      return 1;
  }
  return 0;
}

static int is_critical(const json_t *pod) {
  const char *pc = json_string_value(json_object_get(json_object_get(pod, "spec"), "priorityClassName"));
  return pc && (strcmp(pc, "system-cluster-critical") == 0 ||
                strcmp(pc, "system-node-critical") == 0);
}

static int finished(const json_t *pod) {
  const char *ph = json_string_value(json_object_get(json_object_get(pod, "status"), "phase"));
  return ph && (strcmp(ph, "Succeeded") == 0 || strcmp(ph, "Failed") == 0);
}

typedef struct drain {
  nw__termination *t;
  term *x;
  int64_t now;
  int force;           /* terminationGracePeriod elapsed */
  int critical_pass;   /* 0: non-critical pods, 1: critical pods */
  int remaining;       /* pods still to go */
  int noncritical_left;
} drain;

typedef struct evict_ctx {
  nw__termination *t;
  char *claim;
} evict_ctx;

static void evict_done(void *arg, nw_status st, const json_t *res,
                       const char *msg) {
  evict_ctx *e = arg;
  (void)res;
  e->t->inflight--;
  if (!e->t->closing) {
    term *x = term_get(e->t, e->claim);
    x->evictions_inflight--;
    if (st == NW_ERR_RETRYABLE)
      NW_DEBUG("termination", "eviction deferred by a PDB: %s", msg ? msg : "");
  }
  nw__termination *t = e->t;
  free(e->claim);
  free(e);
  release(t);
}

/* Pods the drain must remove: not DaemonSet, not static/mirror, not done,
 * not already terminating. */
static int drainable(const json_t *pod) {
  return !owned_by_daemonset(pod) && !finished(pod) &&
         !nw__annotation(pod, "kubernetes.io/config.mirror") &&
         !nw__obj_deleting(pod);
}

static int visit_pod(void *user, json_t *pod) {
  drain *d = user;
  if (!drainable(pod))
    return 0;
  d->remaining++;
  int critical = is_critical(pod);
  if (!critical)
    d->noncritical_left++;
  if (critical != d->critical_pass)
    return 0;
  nw__env *env = d->t->env;
  /* do-not-disrupt pods wait for the grace period, as in Karpenter v1. */
  const char *dnd = nw__annotation(pod, DO_NOT_DISRUPT);
  if (dnd && strcmp(dnd, "true") == 0 && !d->force)
    return 0;
  evict_ctx *e = calloc(1, sizeof(*e));
  e->t = d->t;
  e->claim = strdup(d->x->name);
  d->x->evictions_inflight++;
  d->t->inflight++;
  if (d->force)
    env->ops->remove(env, NW__K_POD, nw__obj_ns(pod), nw__obj_name(pod), evict_done, e);
  else
    env->ops->evict(env, nw__obj_ns(pod), nw__obj_name(pod), evict_done, e);
  return 0;
}

/* Evicts what can go now; returns the number of pods still on the node. */
static int drain_node(nw__termination *t, term *x, const json_t *claim,
                      const json_t *node) {
  nw__env *env = t->env;
  drain d = {t, x, env->ops->now_ms(env), 0, 0, 0, 0};
  const char *tgp = json_string_value(json_object_get(json_object_get(claim, "spec"), "terminationGracePeriod"));
  int64_t grace_ms = -1;
  if (tgp)
    nw__duration_ms(tgp, &grace_ms);
  const char *del = json_string_value(json_object_get(json_object_get(claim, "metadata"), "deletionTimestamp"));
  int64_t since = del ? nw__kube_parse_time(del) : -1;
  d.force = grace_ms >= 0 && since >= 0 && d.now - since >= grace_ms;
  if (x->evictions_inflight > 0)
    return 1;
  nw__store_pods_on_node(env->store, nw__obj_name(node), visit_pod, &d);
  if (d.noncritical_left == 0 && d.remaining > 0) {
    /* Critical pods go last, once everything else has left. */
    d.critical_pass = 1;
    d.remaining = 0;
    nw__store_pods_on_node(env->store, nw__obj_name(node), visit_pod, &d);
  }
  return d.remaining;
}

void nw__taint_disrupted(nw__env *env, const json_t *node) {
  if (!node || nw__has_taint(node, DISRUPTED_TAINT))
    return;
  json_t *taints = json_deep_copy(json_object_get(json_object_get(node, "spec"), "taints"));
  if (!taints)
    taints = json_array();
  json_array_append_new(taints, json_pack("{s:s, s:s}", "key", DISRUPTED_TAINT,
                                          "effect", "NoSchedule"));
  json_t *patch = json_pack("{s:{s:o}}", "spec", "taints", taints);
  env->ops->patch(env, NW__K_NODE, NULL, nw__obj_name(node), patch, 0, ignore_done, NULL);
  json_decref(patch);
}

/* ---- instance deletion ------------------------------------------------- */

typedef struct del_job {
  nw__termination *t;
  char *claim;
  char *provider_id;
  nw__plugin *prov;
  nw_status st;
  nw_error err;
} del_job;

static void delete_work(void *arg) {
  del_job *j = arg;
  const nw_provider_vtable *vt = nw__plugin_provider(j->prov);
  j->st = vt->delete_instance(nw__plugin_state(j->prov), j->provider_id, &j->err);
}

static void delete_done(void *arg) {
  del_job *j = arg;
  nw__termination *t = j->t;
  t->inflight--;
  if (!t->closing) {
    term *x = term_get(t, j->claim);
    x->deleting_instance = 0;
    if (j->st == NW_OK || j->st == NW_ERR_NOT_FOUND) {
      x->instance_gone = 1;
    } else {
      NW_WARN("termination", "deleting %s failed, will retry: %s",
              j->provider_id, j->err.message);
      nw__metric_add("provider_errors_total", "call=delete", 1);
    }
  }
  free(j->claim);
  free(j->provider_id);
  free(j);
  release(t);
}

/* prov: the provider serving the claim's node class (borrowed). */
static void start_delete(nw__termination *t, term *x, nw__plugin *prov,
                         const char *pid) {
  del_job *j = calloc(1, sizeof(*j));
  j->t = t;
  j->claim = strdup(x->name);
  j->provider_id = strdup(pid);
  j->prov = prov;
  x->deleting_instance = 1;
  t->inflight++;
  t->env->ops->submit(t->env, delete_work, delete_done, j);
}

/* ---- the pass ---------------------------------------------------------- */

static void finish(nw__termination *t, json_t *claim, const json_t *node) {
  nw__env *env = t->env;
  env->ops->event(env, claim, "Normal", "Terminated", "instance deleted");
  nw__metric_add("nodeclaims_terminated_total", NULL, 1);
  term_drop(t, nw__obj_name(claim));
  if (node)
    env->ops->remove(env, NW__K_NODE, NULL, nw__obj_name(node), ignore_done, NULL);
  json_t *patch = json_pack("{s:{s:o}}", "metadata", "finalizers",
                            nw__finalizers_without(claim, FINALIZER));
  env->ops->patch(env, NW__K_NODECLAIM, NULL, nw__obj_name(claim), patch, 0,
                  ignore_done, NULL);
  json_decref(patch);
}

static int reconcile_instance(nw__termination *t, term *x, nw__plugin *prov,
                              json_t *claim, const char *pid, json_t *node);

static void reconcile(nw__termination *t, json_t *claim) {
  if (!nw__obj_deleting(claim) || !nw__has_finalizer(claim, FINALIZER))
    return;
  /* Another autoscaler's claim (no loaded provider serves its node class):
   * releasing its finalizer here would leak its instance. */
  nw__plugin *prov = nw__provider_for_obj(t->env->plugins, claim);
  if (!prov)
    return;
  term *x = term_get(t, nw__obj_name(claim));
  const char *pid = json_string_value(json_object_get(json_object_get(claim, "status"), "providerID"));
  /* Held: tainting replaces the stored Node. */
  json_t *node = json_incref(pid && *pid ? nw__store_by_provider_id(t->env->store, NW__K_NODE, pid) : NULL);
  int busy = 0;
  if (node) {
    nw__taint_disrupted(t->env, node);
    busy = drain_node(t, x, claim, node) > 0;
  }
  if (!busy)
    busy = reconcile_instance(t, x, prov, claim, pid, node);
  json_decref(node);
}

/* After the drain: the instance, then the Node and the finalizer.
 * Returns non-zero while waiting. */
static int reconcile_instance(nw__termination *t, term *x, nw__plugin *prov,
                              json_t *claim, const char *pid, json_t *node) {
  if (!pid || !*pid)
    x->instance_gone = 1;
  if (!x->instance_gone) {
    if (!x->deleting_instance)
      start_delete(t, x, prov, pid);
    return 1;
  }
  finish(t, claim, node);
  return 0;
}

/* Visits the deleting claims in store order, as a walk of every claim
 * would: a claim that starts deleting during the pass is visited in it
 * when it comes after the claim being visited. */
static void visit_deleting(nw__termination *t) {
  int64_t last = -1;
  int again = 1;
  while (again) {
    uint64_t joined = t->joined;
    char **names = nw__ordset_list(t->deleting, last, NULL);
    for (char **p = names; *p && t->joined == joined; p++) {
      /* A name gone from the store (removed by an earlier visit) has no
       * place any more and must not move `last` back to the start. */
      int64_t place = nw__ordset_place(t->deleting, *p);
      last = place > last ? place : last;
      /* Held: finishing it may remove it from the store. */
      json_t *claim = json_incref(nw__store_get(t->env->store, NW__K_NODECLAIM, NULL, *p));
      if (claim)
        reconcile(t, claim);
      json_decref(claim);
    }
    again = t->joined != joined;
    nw__ordset_list_free(names);
  }
}

static void soon_fired(void *arg) {
  nw__termination *t = arg;
  t->soon = NULL;
  visit_deleting(t);
}

/* Leaves a pending `soon` pass alone: forgetting it (as the tick once
 * did) left a timer that nw__termination_free could not stop, so it could
 * fire on a freed controller. */
static void tick(void *arg) {
  nw__termination *t = arg;
  visit_deleting(t);
  t->tick = t->env->ops->timer_start(t->env, TICK_MS, tick, t);
}

/* Keeps `deleting` in step with the store. */
static void track(nw__termination *t, const json_t *o, const json_t *n) {
  const char *name = nw__obj_name(n ? n : o);
  int member = n && nw__obj_deleting(n);
  if (member && !nw__ordset_has(t->deleting, name))
    t->joined++;
  nw__ordset_put(t->deleting, name, o == NULL, n == NULL, member);
}

static void on_change(void *user, nw__kind kind, const json_t *o, const json_t *n) {
  nw__termination *t = user;
  if (kind != NW__K_NODECLAIM)
    return;
  track(t, o, n);
  if (n && nw__obj_deleting(n) && !t->soon)
    t->soon = t->env->ops->timer_start(t->env, 0, soon_fired, t);
}

static int seed(void *user, json_t *claim) {
  track(user, NULL, claim);
  return 0;
}

nw__termination *nw__termination_new(nw__env *env) {
  nw__termination *t = calloc(1, sizeof(*t));
  if (!t)
    return NULL;
  t->env = env;
  t->deleting = nw__ordset_new();
  if (!t->deleting) {
    free(t);
    return NULL;
  }
  nw__store_foreach(env->store, NW__K_NODECLAIM, seed, t);
  nw__store_watch(env->store, on_change, t);
  t->tick = env->ops->timer_start(env, TICK_MS, tick, t);
  return t;
}

static void release(nw__termination *t) {
  if (!t->closing || t->inflight > 0)
    return;
  while (t->terms)
    term_drop(t, t->terms->name);
  nw__ordset_free(t->deleting);
  free(t);
}

void nw__termination_free(nw__termination *t) {
  if (!t)
    return;
  t->closing = 1;
  nw__store_unwatch(t->env->store, on_change, t);
  if (t->tick)
    t->env->ops->timer_stop(t->env, t->tick);
  if (t->soon)
    t->env->ops->timer_stop(t->env, t->soon);
  release(t);
}
