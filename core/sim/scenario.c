#include "sim/scenario.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/yaml.h"
#include "kube/kutil.h"
#include "model/objects.h"
#include "model/quantity.h"
#include "util/arena.h"

typedef struct ctx {
  const char *file;
  char *err;
  size_t errlen;
  nw__scenario *s;
} ctx;

static int bad(ctx *c, const nw__ynode *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int bad(ctx *c, const nw__ynode *n, const char *fmt, ...) {
  char msg[600];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  return nw__yerr(c->err, c->errlen, c->file, n, "%s", msg);
}

static int only_keys(ctx *c, const nw__ynode *map, const char *where,
                     const char *const *allowed) {
  return nw__ycheck_keys(c->err, c->errlen, c->file, map, where, allowed);
}

static int want(ctx *c, const nw__ynode *n, nw__ynode_kind kind,
                const char *where) {
  static const char *const names[] = {"scalar", "map", "sequence"};
  if (n->kind != kind)
    return bad(c, n, "%s must be a %s, found a %s", where, names[kind],
               nw__ynode_kind_name(n));
  return 0;
}

static int get_str(ctx *c, const nw__ynode *n, const char *where,
                   const char **out) {
  if (n->kind != NW__Y_SCALAR || nw__yscalar_is_null(n))
    return bad(c, n, "%s must be a string, found a %s", where,
               n->kind == NW__Y_SCALAR ? "null" : nw__ynode_kind_name(n));
  *out = nw__arena_strdup(c->s->arena, n->value);
  return 0;
}

static int get_int(ctx *c, const nw__ynode *n, const char *where,
                   long long lo, long long hi, long long *out) {
  if (n->kind != NW__Y_SCALAR || nw__yscalar_int(n, out) != 0)
    return bad(c, n, "%s must be an integer", where);
  if (*out < lo || *out > hi)
    return bad(c, n, "%s must be from %lld to %lld, found %lld", where, lo,
               hi, *out);
  return 0;
}

static int get_double(ctx *c, const nw__ynode *n, const char *where,
                      double lo, double hi, double *out) {
  if (n->kind != NW__Y_SCALAR || nw__yscalar_double(n, out) != 0 ||
      !isfinite(*out))
    return bad(c, n, "%s must be a number", where);
  if (*out < lo || *out > hi)
    return bad(c, n, "%s must be from %g to %g, found %g", where, lo, hi,
               *out);
  return 0;
}

/* A Go duration ("90s", "1h30m"); "0s" allowed, "Never" not. */
static int get_duration(ctx *c, const nw__ynode *n, const char *where,
                        int64_t *out_ms) {
  int64_t s;
  if (n->kind != NW__Y_SCALAR || nw__duration_parse(n->value, &s) != 0 ||
      s < 0)
    return bad(c, n, "%s must be a duration such as \"90s\" or \"1h30m\"",
               where);
  *out_ms = s * 1000;
  return 0;
}

/* The subtree as JSON (a new reference). */
static json_t *to_json(const nw__ynode *n) { return nw__ynode_to_json(n); }

/* ---- curves ------------------------------------------------------------ */

double nw__sim_curve_at(const nw__sim_curve *c, int64_t t) {
  if (c->len == 0 || t < c->items[0].at_ms)
    return 0;
  size_t i = 0;
  while (i + 1 < c->len && c->items[i + 1].at_ms <= t)
    i++;
  if (!c->linear || i + 1 >= c->len)
    return c->items[i].value;
  const nw__sim_point *a = &c->items[i], *b = &c->items[i + 1];
  double f = (double)(t - a->at_ms) / (double)(b->at_ms - a->at_ms);
  return a->value + f * (b->value - a->value);
}

/* A sequence of {at, <value_key>} maps, strictly increasing in time. */
static int parse_curve(ctx *c, const nw__ynode *n, const char *where,
                       const char *value_key, double hi, nw__sim_curve *out) {
  if (want(c, n, NW__Y_SEQ, where) != 0)
    return -1;
  if (n->len == 0)
    return bad(c, n, "%s must list at least one point", where);
  const char *const keys[] = {"at", value_key, NULL};
  out->len = n->len;
  out->items = nw__arena_alloc(c->s->arena, n->len * sizeof(*out->items));
  for (size_t i = 0; i < n->len; i++) {
    const nw__ynode *p = n->items[i];
    char w[96];
    snprintf(w, sizeof(w), "%s[%zu]", where, i);
    if (want(c, p, NW__Y_MAP, w) != 0 || only_keys(c, p, w, keys) != 0)
      return -1;
    const nw__ynode *at = nw__ymap_get(p, "at");
    const nw__ynode *v = nw__ymap_get(p, value_key);
    if (!at || !v)
      return bad(c, p, "%s needs \"at\" and \"%s\"", w, value_key);
    if (get_duration(c, at, "at", &out->items[i].at_ms) != 0 ||
        get_double(c, v, value_key, 0, hi, &out->items[i].value) != 0)
      return -1;
    if (i > 0 && out->items[i].at_ms <= out->items[i - 1].at_ms)
      return bad(c, at, "%s: points must be in increasing time order", w);
  }
  return 0;
}

/* ---- workloads --------------------------------------------------------- */

static int check_resources(ctx *c, const nw__ynode *n, const char *where) {
  if (want(c, n, NW__Y_MAP, where) != 0)
    return -1;
  for (size_t i = 0; i < n->len; i++) {
    const char *name = n->keys[i]->value;
    const nw__ynode *v = n->items[i];
    int64_t q;
    char qerr[200];
    if (v->kind != NW__Y_SCALAR ||
        nw__quantity_parse(v->value, nw__resource_is_milli(name), &q, qerr,
                           sizeof(qerr)) != 0)
      return bad(c, v, "%s.%s: not a Kubernetes quantity", where, name);
  }
  return 0;
}

/*
 * Builds the pod template from the shorthand fields: one container
 * "main" with the requests, plus labels, nodeSelector, tolerations,
 * affinity and spread constraints as Kubernetes writes them.
 */
static json_t *pod_template(const nw__ynode *w, const char *app) {
  json_t *labels = json_object();
  const nw__ynode *n = nw__ymap_get(w, "labels");
  if (n) {
    json_decref(labels);
    labels = to_json(n);
  }
  if (!json_object_get(labels, "app"))
    json_object_set_new(labels, "app", json_string(app));
  json_t *container = json_pack("{s:s, s:s}", "name", "main", "image",
                                "registry.k8s.io/pause:3.9");
  n = nw__ymap_get(w, "requests");
  if (n)
    json_object_set_new(container, "resources",
                        json_pack("{s:o}", "requests", to_json(n)));
  json_t *spec = json_pack("{s:[o]}", "containers", container);
  static const char *const pass[][2] = {
      {"nodeSelector", "nodeSelector"},
      {"tolerations", "tolerations"},
      {"affinity", "affinity"},
      {"topologySpreadConstraints", "topologySpreadConstraints"},
      {"priorityClassName", "priorityClassName"}};
  for (size_t i = 0; i < sizeof(pass) / sizeof(pass[0]); i++) {
    n = nw__ymap_get(w, pass[i][0]);
    if (n)
      json_object_set_new(spec, pass[i][1], to_json(n));
  }
  json_t *annotations = NULL;
  n = nw__ymap_get(w, "annotations");
  if (n)
    annotations = to_json(n);
  json_t *md = json_pack("{s:o}", "labels", labels);
  if (annotations)
    json_object_set_new(md, "annotations", annotations);
  return json_pack("{s:o, s:o}", "metadata", md, "spec", spec);
}

/* Decodes the template as a pod so a bad nodeSelector, toleration or
 * affinity is reported here, not mid-run. */
static int check_template(ctx *c, const nw__ynode *at, const char *where,
                          const json_t *tmpl, const char *ns,
                          const char *name) {
  json_t *pod = json_deep_copy(tmpl);
  json_t *md = json_object_get(pod, "metadata");
  json_object_set_new(md, "name", json_string(name));
  json_object_set_new(md, "namespace", json_string(ns));
  nw_arena *a = nw__arena_new();
  nw_error e = {0};
  nw__pod *p = nw__pod_decode(pod, a, &e);
  json_decref(pod);
  nw__arena_free(a);
  if (!p)
    return bad(c, at, "%s: %s", where, e.message);
  return 0;
}

static int parse_hpa(ctx *c, const nw__ynode *n, nw__sim_workload *w) {
  static const char *const keys[] = {
      "minReplicas", "maxReplicas", "targetCPUUtilizationPercentage",
      "podCapacity", "scaleUpStabilizationWindow",
      "scaleDownStabilizationWindow", "syncPeriod", "tolerance", "load",
      "interpolation", NULL};
  if (want(c, n, NW__Y_MAP, "hpa") != 0 || only_keys(c, n, "hpa", keys) != 0)
    return -1;
  nw__sim_hpa *h = &w->hpa;
  long long v;
  h->min_replicas = 1;
  h->target_utilization = 80;
  h->scale_down_window_ms = 300000;
  h->sync_ms = 15000;
  h->tolerance = 0.1;
  const nw__ynode *f;
  if ((f = nw__ymap_get(n, "minReplicas"))) {
    if (get_int(c, f, "hpa.minReplicas", 0, 100000, &v) != 0)
      return -1;
    h->min_replicas = (int32_t)v;
  }
  f = nw__ymap_get(n, "maxReplicas");
  if (!f)
    return bad(c, n, "hpa.maxReplicas is required");
  if (get_int(c, f, "hpa.maxReplicas", 1, 100000, &v) != 0)
    return -1;
  h->max_replicas = (int32_t)v;
  if (h->max_replicas < h->min_replicas)
    return bad(c, f, "hpa.maxReplicas (%d) is below minReplicas (%d)",
               h->max_replicas, h->min_replicas);
  if ((f = nw__ymap_get(n, "targetCPUUtilizationPercentage")) &&
      get_double(c, f, "hpa.targetCPUUtilizationPercentage", 1, 1000,
                 &h->target_utilization) != 0)
    return -1;
  f = nw__ymap_get(n, "podCapacity");
  if (!f)
    return bad(c, n, "hpa.podCapacity (req/s one pod serves at 100%% CPU) "
                     "is required");
  if (get_double(c, f, "hpa.podCapacity", 1e-6, 1e12, &h->pod_capacity_rps))
    return -1;
  if ((f = nw__ymap_get(n, "scaleUpStabilizationWindow")) &&
      get_duration(c, f, "hpa.scaleUpStabilizationWindow",
                   &h->scale_up_window_ms) != 0)
    return -1;
  if ((f = nw__ymap_get(n, "scaleDownStabilizationWindow")) &&
      get_duration(c, f, "hpa.scaleDownStabilizationWindow",
                   &h->scale_down_window_ms) != 0)
    return -1;
  if ((f = nw__ymap_get(n, "syncPeriod"))) {
    if (get_duration(c, f, "hpa.syncPeriod", &h->sync_ms) != 0)
      return -1;
    if (h->sync_ms <= 0)
      return bad(c, f, "hpa.syncPeriod must be positive");
  }
  if ((f = nw__ymap_get(n, "tolerance")) &&
      get_double(c, f, "hpa.tolerance", 0, 1, &h->tolerance) != 0)
    return -1;
  f = nw__ymap_get(n, "load");
  if (!f)
    return bad(c, n, "hpa.load (a list of {at, rps}) is required");
  if (parse_curve(c, f, "hpa.load", "rps", 1e12, &w->load) != 0)
    return -1;
  if ((f = nw__ymap_get(n, "interpolation"))) {
    if (f->kind != NW__Y_SCALAR || (strcmp(f->value, "step") != 0 &&
                                    strcmp(f->value, "linear") != 0))
      return bad(c, f, "hpa.interpolation must be step or linear");
    w->load.linear = strcmp(f->value, "linear") == 0;
  }
  w->has_hpa = 1;
  return 0;
}

static int parse_pdb(ctx *c, const nw__ynode *n, nw__sim_workload *w) {
  static const char *const keys[] = {"minAvailable", "maxUnavailable", NULL};
  if (want(c, n, NW__Y_MAP, "pdb") != 0 || only_keys(c, n, "pdb", keys) != 0)
    return -1;
  if (n->len != 1)
    return bad(c, n, "pdb needs exactly one of minAvailable, maxUnavailable");
  const nw__ynode *v = n->items[0];
  long long iv;
  json_t *value;
  if (v->kind == NW__Y_SCALAR && nw__yscalar_int(v, &iv) == 0 && iv >= 0) {
    value = json_integer(iv);
  } else if (v->kind == NW__Y_SCALAR && strlen(v->value) > 1 &&
             v->value[strlen(v->value) - 1] == '%') {
    value = json_string(v->value);
  } else {
    return bad(c, v, "pdb.%s must be a count or a percentage", n->keys[0]->value);
  }
  json_t *labels = json_object_get(
      json_object_get(w->pod_template, "metadata"), "labels");
  w->pdb = json_pack("{s:s, s:s, s:{s:s, s:s}, s:{s:o, s:{s:O}}}",
                     "apiVersion", "policy/v1", "kind", "PodDisruptionBudget",
                     "metadata", "name", w->name, "namespace", w->namespace_,
                     "spec", n->keys[0]->value, value, "selector",
                     "matchLabels", labels);
  return 0;
}

static int parse_workload(ctx *c, const nw__ynode *n, size_t i,
                          nw__sim_workload *w) {
  static const char *const keys[] = {
      "name", "namespace", "replicas", "schedule", "hpa", "requests",
      "labels", "annotations", "nodeSelector", "tolerations", "affinity",
      "topologySpreadConstraints", "priorityClassName", "pdb", "podStartup",
      "interpolation", NULL};
  char where[64];
  snprintf(where, sizeof(where), "workloads[%zu]", i);
  if (want(c, n, NW__Y_MAP, where) != 0 || only_keys(c, n, where, keys) != 0)
    return -1;
  const nw__ynode *f = nw__ymap_get(n, "name");
  if (!f)
    return bad(c, n, "%s: name is required", where);
  if (get_str(c, f, "name", &w->name) != 0)
    return -1;
  w->namespace_ = "default";
  if ((f = nw__ymap_get(n, "namespace")) &&
      get_str(c, f, "namespace", &w->namespace_) != 0)
    return -1;
  if ((f = nw__ymap_get(n, "requests")) &&
      check_resources(c, f, "requests") != 0)
    return -1;
  w->pod_startup_ms = 5000;
  if ((f = nw__ymap_get(n, "podStartup")) &&
      get_duration(c, f, "podStartup", &w->pod_startup_ms) != 0)
    return -1;
  w->pod_template = pod_template(n, w->name);
  if (check_template(c, n, where, w->pod_template, w->namespace_, w->name))
    return -1;
  const nw__ynode *rep = nw__ymap_get(n, "replicas");
  const nw__ynode *sched = nw__ymap_get(n, "schedule");
  const nw__ynode *hpa = nw__ymap_get(n, "hpa");
  if (!!rep + !!sched + !!hpa != 1)
    return bad(c, n, "%s needs exactly one of replicas, schedule, hpa", where);
  long long v;
  if (rep) {
    if (get_int(c, rep, "replicas", 0, 1000000, &v) != 0)
      return -1;
    w->replicas = (int32_t)v;
  }
  if (sched && parse_curve(c, sched, "schedule", "replicas", 1000000,
                           &w->schedule) != 0)
    return -1;
  if (hpa && parse_hpa(c, hpa, w) != 0)
    return -1;
  if ((f = nw__ymap_get(n, "interpolation"))) {
    if (!sched)
      return bad(c, f, "interpolation applies to a schedule (the HPA's load "
                       "has its own)");
    if (f->kind != NW__Y_SCALAR || (strcmp(f->value, "step") != 0 &&
                                    strcmp(f->value, "linear") != 0))
      return bad(c, f, "interpolation must be step or linear");
    w->schedule.linear = strcmp(f->value, "linear") == 0;
  }
  if ((f = nw__ymap_get(n, "pdb")) && parse_pdb(c, f, w) != 0)
    return -1;
  return 0;
}

/* ---- daemonsets, static nodes, events ---------------------------------- */

static int parse_daemonset(ctx *c, const nw__ynode *n, size_t i) {
  static const char *const keys[] = {"name", "namespace", "requests",
                                     "labels", "nodeSelector", "tolerations",
                                     "affinity", NULL};
  char where[64];
  snprintf(where, sizeof(where), "daemonSets[%zu]", i);
  if (want(c, n, NW__Y_MAP, where) != 0 || only_keys(c, n, where, keys) != 0)
    return -1;
  const char *name, *ns = "kube-system";
  const nw__ynode *f = nw__ymap_get(n, "name");
  if (!f)
    return bad(c, n, "%s: name is required", where);
  if (get_str(c, f, "name", &name) != 0)
    return -1;
  if ((f = nw__ymap_get(n, "namespace")) && get_str(c, f, "namespace", &ns))
    return -1;
  if ((f = nw__ymap_get(n, "requests")) &&
      check_resources(c, f, "requests") != 0)
    return -1;
  json_t *tmpl = pod_template(n, name);
  json_t *spec = json_object_get(tmpl, "spec");
  /* DaemonSet pods tolerate everything unless told otherwise, as the
   * node-level agents people run do. */
  if (!json_object_get(spec, "tolerations"))
    json_object_set_new(spec, "tolerations",
                        json_pack("[{s:s}]", "operator", "Exists"));
  json_t *ds = json_pack(
      "{s:s, s:s, s:{s:s, s:s}, s:{s:{s:O}, s:o}}", "apiVersion", "apps/v1",
      "kind", "DaemonSet", "metadata", "name", name, "namespace", ns, "spec",
      "selector", "matchLabels",
      json_object_get(json_object_get(tmpl, "metadata"), "labels"),
      "template", tmpl);
  nw_arena *a = nw__arena_new();
  nw_error e = {0};
  nw__daemonset *d = nw__daemonset_decode(ds, a, &e);
  nw__arena_free(a);
  if (!d) {
    json_decref(ds);
    return bad(c, n, "%s: %s", where, e.message);
  }
  json_array_append_new(c->s->daemonsets, ds);
  return 0;
}

static int parse_static_node(ctx *c, const nw__ynode *n, size_t i,
                             nw__sim_static_node *sn) {
  static const char *const keys[] = {"name", "instanceType", "zone",
                                     "capacityType", "labels", "taints", NULL};
  char where[64];
  snprintf(where, sizeof(where), "nodes[%zu]", i);
  if (want(c, n, NW__Y_MAP, where) != 0 || only_keys(c, n, where, keys) != 0)
    return -1;
  sn->line = n->line;
  sn->column = n->column;
  const nw__ynode *f;
  if (!(f = nw__ymap_get(n, "name")) || get_str(c, f, "name", &sn->name))
    return f ? -1 : bad(c, n, "%s: name is required", where);
  if (!(f = nw__ymap_get(n, "instanceType")) ||
      get_str(c, f, "instanceType", &sn->instance_type))
    return f ? -1 : bad(c, n, "%s: instanceType is required", where);
  sn->zone = NULL;
  if ((f = nw__ymap_get(n, "zone")) && get_str(c, f, "zone", &sn->zone))
    return -1;
  sn->capacity_type = NW_CAPACITY_ON_DEMAND;
  if ((f = nw__ymap_get(n, "capacityType"))) {
    if (get_str(c, f, "capacityType", &sn->capacity_type) != 0)
      return -1;
    if (strcmp(sn->capacity_type, "on-demand") != 0 &&
        strcmp(sn->capacity_type, "spot") != 0)
      return bad(c, f, "capacityType must be on-demand or spot");
  }
  f = nw__ymap_get(n, "labels");
  if (f && want(c, f, NW__Y_MAP, "labels") != 0)
    return -1;
  sn->labels = f ? to_json(f) : json_object();
  f = nw__ymap_get(n, "taints");
  if (f && want(c, f, NW__Y_SEQ, "taints") != 0)
    return -1;
  sn->taints = f ? to_json(f) : json_array();
  /* The node decoder validates taints (keys, effects). */
  json_t *node = json_pack("{s:{s:s, s:O}, s:{s:O}}", "metadata", "name",
                           sn->name, "labels", sn->labels, "spec", "taints",
                           sn->taints);
  nw_arena *a = nw__arena_new();
  nw_error e = {0};
  nw__node *dn = nw__node_decode(node, a, &e);
  nw__arena_free(a);
  json_decref(node);
  if (!dn)
    return bad(c, n, "%s: %s", where, e.message);
  return 0;
}

static int parse_event(ctx *c, const nw__ynode *n, size_t i,
                       nw__sim_event *ev) {
  static const char *const keys[] = {"at", "type", "node", "selector",
                                     "count", NULL};
  char where[64];
  snprintf(where, sizeof(where), "events[%zu]", i);
  if (want(c, n, NW__Y_MAP, where) != 0 || only_keys(c, n, where, keys) != 0)
    return -1;
  ev->line = n->line;
  ev->column = n->column;
  const nw__ynode *f;
  if (!(f = nw__ymap_get(n, "at")))
    return bad(c, n, "%s: at is required", where);
  if (get_duration(c, f, "at", &ev->at_ms) != 0)
    return -1;
  if (!(f = nw__ymap_get(n, "type")))
    return bad(c, n, "%s: type is required", where);
  if (f->kind == NW__Y_SCALAR && strcmp(f->value, "spotInterruption") == 0)
    ev->kind = NW__SIM_SPOT_INTERRUPTION;
  else if (f->kind == NW__Y_SCALAR && strcmp(f->value, "nodeFailure") == 0)
    ev->kind = NW__SIM_NODE_FAILURE;
  else if (f->kind == NW__Y_SCALAR && strcmp(f->value, "instanceStopped") == 0)
    ev->kind = NW__SIM_INSTANCE_STOPPED;
  else
    return bad(c, f, "type must be spotInterruption, nodeFailure or "
                     "instanceStopped");
  if ((f = nw__ymap_get(n, "node")) && get_str(c, f, "node", &ev->node))
    return -1;
  if ((f = nw__ymap_get(n, "selector"))) {
    if (want(c, f, NW__Y_MAP, "selector") != 0)
      return -1;
    ev->selector = to_json(f);
  }
  ev->count = 1;
  long long v;
  if ((f = nw__ymap_get(n, "count"))) {
    if (get_int(c, f, "count", 1, 100000, &v) != 0)
      return -1;
    ev->count = (int32_t)v;
  }
  return 0;
}

/* ---- manifests ----------------------------------------------------------- */

static int parse_nodepools(ctx *c, const nw__ynode *n) {
  if (want(c, n, NW__Y_SEQ, "nodePools") != 0)
    return -1;
  for (size_t i = 0; i < n->len; i++) {
    const nw__ynode *m = n->items[i];
    char where[64];
    snprintf(where, sizeof(where), "nodePools[%zu]", i);
    if (want(c, m, NW__Y_MAP, where) != 0)
      return -1;
    json_t *obj = to_json(m);
    const char *kind = json_string_value(json_object_get(obj, "kind"));
    const char *api = json_string_value(json_object_get(obj, "apiVersion"));
    if (!kind || strcmp(kind, "NodePool") != 0 || !api ||
        strcmp(api, "karpenter.sh/v1") != 0) {
      json_decref(obj);
      return bad(c, m, "%s must be a karpenter.sh/v1 NodePool", where);
    }
    nw_arena *a = nw__arena_new();
    nw_error e = {0};
    nw__nodepool *p = nw__nodepool_decode(obj, a, &e);
    nw__arena_free(a);
    if (!p) {
      json_decref(obj);
      return bad(c, m, "%s: %s", where, e.message);
    }
    json_array_append_new(c->s->nodepools, obj);
  }
  return 0;
}

static int parse_nodeclasses(ctx *c, const nw__ynode *n) {
  if (want(c, n, NW__Y_SEQ, "nodeClasses") != 0)
    return -1;
  for (size_t i = 0; i < n->len; i++) {
    const nw__ynode *m = n->items[i];
    char where[64];
    snprintf(where, sizeof(where), "nodeClasses[%zu]", i);
    if (want(c, m, NW__Y_MAP, where) != 0)
      return -1;
    json_t *obj = to_json(m);
    if (!json_string_value(json_object_get(obj, "kind")) ||
        !json_string_value(json_object_get(obj, "apiVersion")) ||
        !nw__kube_str(obj, "metadata.name")) {
      json_decref(obj);
      return bad(c, m, "%s needs apiVersion, kind and metadata.name", where);
    }
    json_array_append_new(c->s->nodeclasses, obj);
  }
  return 0;
}

/* ---- top level ------------------------------------------------------------ */

static int parse_catalog(ctx *c, const nw__ynode *n) {
  static const char *const keys[] = {"type", "path", "types", NULL};
  if (want(c, n, NW__Y_MAP, "catalog") != 0 ||
      only_keys(c, n, "catalog", keys) != 0)
    return -1;
  const nw__ynode *f = nw__ymap_get(n, "type");
  if (f) {
    if (f->kind == NW__Y_SCALAR && strcmp(f->value, "aws") == 0)
      c->s->catalog = NW__SIM_CATALOG_AWS;
    else if (f->kind == NW__Y_SCALAR && strcmp(f->value, "synthetic") == 0)
      c->s->catalog = NW__SIM_CATALOG_SYNTHETIC;
    else
      return bad(c, f, "catalog.type must be aws or synthetic");
  }
  if ((f = nw__ymap_get(n, "path"))) {
    if (c->s->catalog != NW__SIM_CATALOG_AWS)
      return bad(c, f, "catalog.path is only for type aws");
    if (get_str(c, f, "catalog.path", &c->s->catalog_path) != 0)
      return -1;
  }
  c->s->synthetic_types = 50;
  long long v;
  if ((f = nw__ymap_get(n, "types"))) {
    if (c->s->catalog != NW__SIM_CATALOG_SYNTHETIC)
      return bad(c, f, "catalog.types is only for type synthetic");
    if (get_int(c, f, "catalog.types", 1, 10000, &v) != 0)
      return -1;
    c->s->synthetic_types = (size_t)v;
  }
  return 0;
}

static int parse_timing(ctx *c, const nw__ynode *n) {
  static const char *const keys[] = {"bootLatency", "launchLatency",
                                     "interruptionNotice", "batchIdleDuration",
                                     "batchMaxDuration", NULL};
  static const char *const where = "timing";
  if (want(c, n, NW__Y_MAP, where) != 0 || only_keys(c, n, where, keys) != 0)
    return -1;
  int64_t *dst[] = {&c->s->boot_ms, &c->s->launch_api_ms,
                    &c->s->interruption_notice_ms, &c->s->batch_idle_ms,
                    &c->s->batch_max_ms};
  for (size_t i = 0; keys[i]; i++) {
    const nw__ynode *f = nw__ymap_get(n, keys[i]);
    if (f && get_duration(c, f, keys[i], dst[i]) != 0)
      return -1;
  }
  if (c->s->batch_idle_ms <= 0 || c->s->batch_max_ms < c->s->batch_idle_ms)
    return bad(c, n, "timing: batchIdleDuration must be positive and at most "
                     "batchMaxDuration");
  return 0;
}

static int parse_plugins(ctx *c, const nw__ynode *n) {
  static const char *const keys[] = {"path", "config", NULL};
  if (want(c, n, NW__Y_SEQ, "plugins") != 0)
    return -1;
  c->s->n_plugins = n->len;
  c->s->plugins = nw__arena_alloc(c->s->arena,
                                  (n->len + 1) * sizeof(*c->s->plugins));
  for (size_t i = 0; i < n->len; i++) {
    const nw__ynode *p = n->items[i];
    char where[48];
    snprintf(where, sizeof(where), "plugins[%zu]", i);
    if (want(c, p, NW__Y_MAP, where) != 0 || only_keys(c, p, where, keys))
      return -1;
    const nw__ynode *f = nw__ymap_get(p, "path");
    if (!f)
      return bad(c, p, "%s: path is required (a .so file, or a plugin name "
                       "found in the plugin directory)", where);
    if (get_str(c, f, "path", &c->s->plugins[i].path) != 0)
      return -1;
    json_t *cfg = json_object();
    if ((f = nw__ymap_get(p, "config"))) {
      if (want(c, f, NW__Y_MAP, "config") != 0) {
        json_decref(cfg);
        return -1;
      }
      json_decref(cfg);
      cfg = to_json(f);
    }
    c->s->plugins[i].config_json = json_dumps(cfg, JSON_COMPACT);
    json_decref(cfg);
  }
  return 0;
}

static int parse_list(ctx *c, const nw__ynode *n, const char *where,
                      size_t elem, void **items, size_t *len) {
  if (want(c, n, NW__Y_SEQ, where) != 0)
    return -1;
  *len = n->len;
  *items = nw__arena_alloc(c->s->arena, (n->len + 1) * elem);
  return 0;
}

static int parse_root(ctx *c, const nw__ynode *root) {
  static const char *const keys[] = {
      "name", "seed", "start", "duration", "sampleInterval", "catalog",
      "timing", "plugins", "strategy", "nodeClasses", "nodePools", "daemonSets", "nodes",
      "workloads", "events", NULL};
  nw__scenario *s = c->s;
  if (!root)
    return bad(c, NULL, "the scenario is empty");
  if (want(c, root, NW__Y_MAP, "the scenario") != 0 ||
      only_keys(c, root, "the scenario", keys) != 0)
    return -1;
  const nw__ynode *f;
  long long v;
  s->name = "scenario";
  if ((f = nw__ymap_get(root, "name")) && get_str(c, f, "name", &s->name))
    return -1;
  if ((f = nw__ymap_get(root, "seed"))) {
    if (get_int(c, f, "seed", 0, INT64_MAX, &v) != 0)
      return -1;
    s->seed = (uint64_t)v;
  }
  if ((f = nw__ymap_get(root, "start"))) {
    if (f->kind != NW__Y_SCALAR || nw__kube_parse_time(f->value) < 0)
      return bad(c, f, "start must be an RFC 3339 time such as "
                       "\"2026-01-05T08:00:00Z\"");
    s->start_ms = nw__kube_parse_time(f->value);
  }
  if (!(f = nw__ymap_get(root, "duration")))
    return bad(c, root, "duration is required");
  if (get_duration(c, f, "duration", &s->duration_ms) != 0)
    return -1;
  if (s->duration_ms <= 0)
    return bad(c, f, "duration must be positive");
  if ((f = nw__ymap_get(root, "sampleInterval"))) {
    if (get_duration(c, f, "sampleInterval", &s->sample_ms) != 0)
      return -1;
    if (s->sample_ms < 1000)
      return bad(c, f, "sampleInterval must be at least 1s");
  }
  if ((f = nw__ymap_get(root, "catalog")) && parse_catalog(c, f) != 0)
    return -1;
  if ((f = nw__ymap_get(root, "timing")) && parse_timing(c, f) != 0)
    return -1;
  if ((f = nw__ymap_get(root, "plugins")) && parse_plugins(c, f) != 0)
    return -1;
  s->strategy = "default";
  if ((f = nw__ymap_get(root, "strategy")) &&
      get_str(c, f, "strategy", &s->strategy) != 0)
    return -1;
  if ((f = nw__ymap_get(root, "nodeClasses")) && parse_nodeclasses(c, f))
    return -1;
  if (!(f = nw__ymap_get(root, "nodePools")))
    return bad(c, root, "nodePools is required (Karpenter v1 NodePools)");
  if (parse_nodepools(c, f) != 0)
    return -1;
  if ((f = nw__ymap_get(root, "daemonSets"))) {
    if (want(c, f, NW__Y_SEQ, "daemonSets") != 0)
      return -1;
    for (size_t i = 0; i < f->len; i++)
      if (parse_daemonset(c, f->items[i], i) != 0)
        return -1;
  }
  if ((f = nw__ymap_get(root, "nodes"))) {
    if (parse_list(c, f, "nodes", sizeof(*s->static_nodes),
                   (void **)&s->static_nodes, &s->n_static_nodes) != 0)
      return -1;
    for (size_t i = 0; i < f->len; i++)
      if (parse_static_node(c, f->items[i], i, &s->static_nodes[i]) != 0)
        return -1;
  }
  if (!(f = nw__ymap_get(root, "workloads")))
    return bad(c, root, "workloads is required");
  if (parse_list(c, f, "workloads", sizeof(*s->workloads),
                 (void **)&s->workloads, &s->n_workloads) != 0)
    return -1;
  for (size_t i = 0; i < f->len; i++)
    if (parse_workload(c, f->items[i], i, &s->workloads[i]) != 0)
      return -1;
  if ((f = nw__ymap_get(root, "events"))) {
    if (parse_list(c, f, "events", sizeof(*s->events), (void **)&s->events,
                   &s->n_events) != 0)
      return -1;
    for (size_t i = 0; i < f->len; i++)
      if (parse_event(c, f->items[i], i, &s->events[i]) != 0)
        return -1;
  }
  return 0;
}

static nw__scenario *scenario_new(const char *file) {
  nw__scenario *s = calloc(1, sizeof(*s));
  if (!s)
    return NULL;
  s->arena = nw__arena_new();
  s->file = nw__arena_strdup(s->arena, file);
  s->start_ms = 1767600000000LL; /* 2026-01-05T08:00:00Z, a Monday */
  s->sample_ms = 60000;
  s->boot_ms = 45000;
  s->launch_api_ms = 2000;
  s->interruption_notice_ms = 120000;
  s->batch_idle_ms = 1000;
  s->batch_max_ms = 10000;
  s->nodepools = json_array();
  s->nodeclasses = json_array();
  s->daemonsets = json_array();
  return s;
}

static nw__scenario *finish(nw__scenario *s, nw__ydoc *doc, char *err,
                            size_t errlen) {
  ctx c = {s->file, err, errlen, s};
  int rc = parse_root(&c, doc->root);
  nw__ydoc_free(doc);
  if (rc != 0) {
    nw__scenario_free(s);
    return NULL;
  }
  return s;
}

nw__scenario *nw__scenario_parse(const char *file, const char *text,
                                 size_t len, char *err, size_t errlen) {
  nw__ydoc *doc = nw__yaml_parse(file, text, len, err, errlen);
  if (!doc)
    return NULL;
  nw__scenario *s = scenario_new(file);
  if (!s) {
    nw__ydoc_free(doc);
    snprintf(err, errlen, "%s: out of memory", file);
    return NULL;
  }
  return finish(s, doc, err, errlen);
}

nw__scenario *nw__scenario_load(const char *path, char *err, size_t errlen) {
  nw__ydoc *doc = nw__yaml_load(path, err, errlen);
  if (!doc)
    return NULL;
  nw__scenario *s = scenario_new(path);
  if (!s) {
    nw__ydoc_free(doc);
    snprintf(err, errlen, "%s: out of memory", path);
    return NULL;
  }
  return finish(s, doc, err, errlen);
}

void nw__scenario_free(nw__scenario *s) {
  if (!s)
    return;
  for (size_t i = 0; i < s->n_workloads; i++) {
    json_decref(s->workloads[i].pod_template);
    json_decref(s->workloads[i].pdb);
  }
  for (size_t i = 0; i < s->n_static_nodes; i++) {
    json_decref(s->static_nodes[i].labels);
    json_decref(s->static_nodes[i].taints);
  }
  for (size_t i = 0; i < s->n_events; i++)
    json_decref(s->events[i].selector);
  for (size_t i = 0; i < s->n_plugins; i++)
    free(s->plugins[i].config_json);
  json_decref(s->nodepools);
  json_decref(s->nodeclasses);
  json_decref(s->daemonsets);
  nw__arena_free(s->arena);
  free(s);
}
