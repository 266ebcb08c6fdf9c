/*
 * Candidate rules and disruption cost; see candidate.h.
 */
#include "disruption/candidate.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/objutil.h"
#include "kube/kutil.h"

/* What the rules need of a pod, from JSON or from the model. */
typedef struct pod_view {
  const char *ns;
  const char *name;
  const char *deletion_cost;  /* annotation, or NULL */
  const char *do_not_disrupt; /* annotation, or NULL */
  int has_priority;
  int64_t priority;
  int64_t start_ms;           /* -1 when unknown */
  int finished;               /* Succeeded or Failed */
  /* Label lookup for selectors. */
  const char *(*label)(const void *src, const char *key);
  const void *src;
} pod_view;

static int phase_finished(const char *phase) {
  return phase != NULL &&
         (strcmp(phase, "Succeeded") == 0 || strcmp(phase, "Failed") == 0);
}

static const char *json_label(const void *src, const char *key) {
  const json_t *labels = json_object_get(json_object_get(src, "metadata"),
                                         "labels");

  return json_string_value(json_object_get(labels, key));
}

static pod_view json_view(const json_t *pod) {
  pod_view v;
  const json_t *prio = json_object_get(json_object_get(pod, "spec"), "priority");
  const char *start = nw__kube_str(pod, "status.startTime");

  if (start == NULL)
    start = nw__kube_str(pod, "metadata.creationTimestamp");
  v.ns = nw__kube_str(pod, "metadata.namespace");
  v.name = nw__kube_str(pod, "metadata.name");
  v.deletion_cost = nw__annotation(pod, NW__ANN_POD_DELETION_COST);
  v.do_not_disrupt = nw__annotation(pod, NW__ANN_DO_NOT_DISRUPT);
  v.has_priority = json_is_integer(prio);
  v.priority = v.has_priority ? (int64_t)json_integer_value(prio) : 0;
  v.start_ms = start != NULL ? nw__kube_parse_time(start) : -1;
  v.finished = phase_finished(nw__kube_str(pod, "status.phase"));
  v.label = json_label;
  v.src = pod;
  return v;
}

static const char *model_label(const void *src, const char *key) {
  return nw__labels_get(&((const nw__pod *)src)->labels, key);
}

static pod_view model_view(const nw__pod *pod) {
  pod_view v;

  v.ns = pod->namespace_;
  v.name = pod->name;
  v.deletion_cost = pod->deletion_cost;
  v.do_not_disrupt = pod->do_not_disrupt;
  /* The model reads an absent priority as 0, which costs the same. */
  v.has_priority = 1;
  v.priority = pod->priority;
  v.start_ms = pod->creation_ms > 0 ? pod->creation_ms : -1;
  v.finished = nw__pod_finished(pod);
  v.label = model_label;
  v.src = pod;
  return v;
}

static void pod_error(nw_error *err, const pod_view *pod, const char *fmt,
                      const char *value) {
  char what[256];

  if (err == NULL)
    return;
  snprintf(what, sizeof(what), fmt, value);
  err->status = NW_ERR_INVALID;
  snprintf(err->message, sizeof(err->message), "pod %s/%s: %s",
           pod->ns ? pod->ns : "?", pod->name ? pod->name : "?", what);
}

static double eviction_cost(const pod_view *pod, nw_error *err) {
  const char *dc = pod->deletion_cost;
  double cost = 1.0;

  if (dc != NULL) {
    char *end;
    double v;
    errno = 0;
    v = strtod(dc, &end);
    if (end == dc || *end != '\0' || errno != 0 || !isfinite(v))
      pod_error(err, pod, "invalid " NW__ANN_POD_DELETION_COST " \"%s\"; "
                "ignored", dc);
    else
      cost += v / 134217728.0; /* 2^27 */
  }
  if (pod->has_priority)
    cost += (double)pod->priority / 33554432.0; /* 2^25 */
  if (cost < -10.0)
    return -10.0;
  return cost > 10.0 ? 10.0 : cost;
}

double nw__pod_eviction_cost(const json_t *pod, nw_error *err) {
  pod_view v = json_view(pod);

  return eviction_cost(&v, err);
}

double nw__model_pod_eviction_cost(const nw__pod *pod, nw_error *err) {
  /* Without a deletion cost only the priority counts: the pod's other
   * fields stay unread (this runs for every pod of every candidate node
   * in every pass). */
  if (pod->deletion_cost == NULL) {
    pod_view bare = {.has_priority = 1, .priority = pod->priority};
    return eviction_cost(&bare, err);
  }
  pod_view v = model_view(pod);

  return eviction_cost(&v, err);
}

double nw__lifetime_remaining(int64_t created_ms, int64_t expire_after_ms,
                              int64_t now_ms) {
  double left;

  if (expire_after_ms <= 0)
    return 1.0;
  left = (double)(expire_after_ms - (now_ms - created_ms)) /
         (double)expire_after_ms;
  if (left < 0)
    return 0;
  return left > 1 ? 1 : left;
}

double nw__disruption_cost(const json_t *const *pods, size_t n_pods,
                           double lifetime_remaining) {
  double sum = 0;

  for (size_t i = 0; i < n_pods; i++)
    sum += nw__pod_eviction_cost(pods[i], NULL);
  return sum * lifetime_remaining;
}

static int do_not_disrupt(const pod_view *pod, int64_t now_ms,
                          int64_t *until_ms, nw_error *err) {
  const char *v = pod->do_not_disrupt;
  int64_t dur;
  int64_t until = 0;
  int blocked = 0;

  if (v == NULL || pod->finished || strcmp(v, "false") == 0) {
    blocked = 0;
  } else if (strcmp(v, "true") == 0) {
    blocked = 1;
    until = INT64_MAX;
  } else if (nw__duration_parse(v, &dur) == 0 && dur >= 0) {
    /* Without a start time the window cannot be placed; keep the pod. */
    until = pod->start_ms >= 0 ? pod->start_ms + dur * 1000 : INT64_MAX;
    blocked = now_ms < until;
    if (!blocked)
      until = 0;
  } else {
    pod_error(err, pod, NW__ANN_DO_NOT_DISRUPT " \"%s\" is neither true, "
              "false nor a duration; treated as true", v);
    blocked = 1;
    until = INT64_MAX;
  }
  if (until_ms != NULL)
    *until_ms = until;
  return blocked;
}

int nw__pod_do_not_disrupt(const json_t *pod, int64_t now_ms,
                           int64_t *until_ms, nw_error *err) {
  pod_view v = json_view(pod);

  return do_not_disrupt(&v, now_ms, until_ms, err);
}

int nw__model_pod_do_not_disrupt(const nw__pod *pod, int64_t now_ms,
                                 int64_t *until_ms, nw_error *err) {
  pod_view v;

  /* Nearly every pod has no annotation; that answer needs no view. */
  if (pod->do_not_disrupt == NULL) {
    if (until_ms != NULL)
      *until_ms = 0;
    return 0;
  }
  v = model_view(pod);

  return do_not_disrupt(&v, now_ms, until_ms, err);
}

int nw__object_do_not_disrupt(const json_t *obj) {
  return nw__annotation(obj, NW__ANN_DO_NOT_DISRUPT) != NULL;
}

/* ---- PodDisruptionBudgets ------------------------------------------ */

/*
 * PDB selectors stay JSON here: PDBs live in the store as JSON and the
 * model decodes no PDB kind.  The semantics are metav1.LabelSelector's,
 * the same as nw__requirements_match_labels applies to decoded selectors.
 */
static int value_in(const json_t *values, const char *v) {
  size_t i;
  const json_t *x;

  json_array_foreach(values, i, x) {
    if (v != NULL && json_is_string(x) && strcmp(json_string_value(x), v) == 0)
      return 1;
  }
  return 0;
}

/* One matchExpressions entry; -1 when unreadable. */
static int expression_matches(const json_t *e, const pod_view *pod) {
  const char *key = json_string_value(json_object_get(e, "key"));
  const char *op = json_string_value(json_object_get(e, "operator"));
  const json_t *values = json_object_get(e, "values");
  const char *v;

  if (key == NULL || op == NULL)
    return -1;
  v = pod->label(pod->src, key);
  if (strcmp(op, "In") == 0)
    return json_is_array(values) ? value_in(values, v) : -1;
  if (strcmp(op, "NotIn") == 0)
    return json_is_array(values) ? !value_in(values, v) : -1;
  if (strcmp(op, "Exists") == 0)
    return v != NULL;
  if (strcmp(op, "DoesNotExist") == 0)
    return v == NULL;
  return -1;
}

/* An empty selector matches everything (policy/v1), a missing one
 * nothing.  -1 when unreadable. */
static int selector_matches(const json_t *sel, const pod_view *pod) {
  const json_t *ml, *me, *x;
  const char *k;
  size_t i;

  if (sel == NULL || json_is_null(sel))
    return 0;
  if (!json_is_object(sel))
    return -1;
  ml = json_object_get(sel, "matchLabels");
  me = json_object_get(sel, "matchExpressions");
  json_object_foreach((json_t *)ml, k, x) {
    const char *v = pod->label(pod->src, k);
    if (!json_is_string(x))
      return -1;
    if (v == NULL || strcmp(v, json_string_value(x)) != 0)
      return 0;
  }
  json_array_foreach(me, i, x) {
    int m = expression_matches(x, pod);
    if (m <= 0)
      return m;
  }
  return 1;
}

static int pdb_blocked(const pod_view *pod, const json_t *pdbs,
                       const char **name) {
  int matching = 0;
  size_t i;
  const json_t *pdb;

  if (pod->finished)
    return 0;
  json_array_foreach(pdbs, i, pdb) {
    const char *pns = nw__kube_str(pdb, "metadata.namespace");
    const json_t *allowed;
    int m;
    if (pod->ns == NULL || pns == NULL || strcmp(pod->ns, pns) != 0)
      continue;
    m = selector_matches(json_object_get(json_object_get(pdb, "spec"),
                                         "selector"), pod);
    if (m == 0)
      continue;
    if (name != NULL)
      *name = nw__kube_str(pdb, "metadata.name");
    if (m < 0)
      return 1;
    allowed = json_object_get(json_object_get(pdb, "status"),
                              "disruptionsAllowed");
    if (!json_is_integer(allowed) || json_integer_value(allowed) <= 0)
      return 1;
    if (++matching > 1)
      return 1;
  }
  return 0;
}

int nw__pod_pdb_blocked(const json_t *pod, const json_t *pdbs,
                        const char **name) {
  pod_view v = json_view(pod);

  return pdb_blocked(&v, pdbs, name);
}

int nw__model_pod_pdb_blocked(const nw__pod *pod, const json_t *pdbs,
                              const char **name) {
  pod_view v;

  /* pdb_blocked's answer without a view for the usual cases. */
  if (json_array_size(pdbs) == 0 || nw__pod_finished(pod))
    return 0;
  v = model_view(pod);

  return pdb_blocked(&v, pdbs, name);
}

/* ---- timing -------------------------------------------------------- */

int nw__consolidatable(int64_t initialized_ms, int64_t last_pod_event_ms,
                       int64_t consolidate_after_ms, int64_t now_ms,
                       int64_t *recheck_ms) {
  int64_t since = last_pod_event_ms > 0 ? last_pod_event_ms : initialized_ms;
  int64_t wait;

  if (recheck_ms != NULL)
    *recheck_ms = -1;
  if (consolidate_after_ms < 0 || since < 0)
    return 0;
  wait = since + consolidate_after_ms - now_ms;
  if (wait <= 0) {
    if (recheck_ms != NULL)
      *recheck_ms = 0;
    return 1;
  }
  if (recheck_ms != NULL)
    *recheck_ms = wait;
  return 0;
}

/* lastTransitionTime of the Initialized condition when it is True. */
static int64_t initialized_at(const json_t *claim) {
  const char *status = nw__cond_status(claim, "Initialized");

  if (status == NULL || strcmp(status, "True") != 0)
    return -1;
  return nw__cond_time(claim, "Initialized");
}

static int cond_is_true(const json_t *claim, const char *type) {
  const char *s = nw__cond_status(claim, type);

  return s != NULL && strcmp(s, "True") == 0;
}

void nw__claim_facts_of(const json_t *claim, nw__claim_facts *out) {
  const char *last = nw__kube_str(claim, "status.lastPodEventTime");

  out->created_ms = nw__obj_created_ms(claim);
  out->initialized_ms = initialized_at(claim);
  out->last_pod_event_ms = last != NULL ? nw__kube_parse_time(last) : -1;
  out->initialized = (unsigned char)cond_is_true(claim, "Initialized");
  out->drifted = (unsigned char)cond_is_true(claim, "Drifted");
  out->deleting = (unsigned char)(nw__obj_deleting(claim) != 0);
  out->do_not_disrupt = (unsigned char)nw__object_do_not_disrupt(claim);
}

int nw__facts_consolidatable(const nw__claim_facts *f,
                             int64_t consolidate_after_ms, int64_t now_ms) {
  if (f->initialized_ms < 0)
    return 0;
  return nw__consolidatable(f->initialized_ms, f->last_pod_event_ms,
                            consolidate_after_ms, now_ms, NULL);
}

int nw__claim_consolidatable(const json_t *claim, int64_t consolidate_after_ms,
                             int64_t now_ms, int64_t *recheck_ms) {
  const char *last = nw__kube_str(claim, "status.lastPodEventTime");
  int64_t init = initialized_at(claim);
  int64_t event = last != NULL ? nw__kube_parse_time(last) : -1;

  if (init < 0) {
    if (recheck_ms != NULL)
      *recheck_ms = -1;
    return 0;
  }
  return nw__consolidatable(init, event, consolidate_after_ms, now_ms,
                            recheck_ms);
}

int nw__expired(int64_t created_ms, int64_t expire_after_ms, int64_t now_ms,
                int64_t *expires_at_ms) {
  int64_t at = expire_after_ms < 0 ? -1 : created_ms + expire_after_ms;

  if (expires_at_ms != NULL)
    *expires_at_ms = at;
  return at >= 0 && now_ms >= at;
}
