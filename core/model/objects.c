#include "model/objects.h"
#include "util/duration.h"
#include "kube/kutil.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/quantity.h"
#include "util/arena.h"

/* What is being decoded, for error messages. */
typedef struct dctx {
  nw_arena *a;
  nw_error *err;
  const char *kind;
  const char *ns;
  const char *name;
  int failed;
} dctx;

static void derr(dctx *c, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void derr(dctx *c, const char *field, const char *fmt, ...) {
  if (c->failed)
    return;
  c->failed = 1;
  if (!c->err)
    return;
  char msg[320];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  c->err->status = NW_ERR_INVALID;
  snprintf(c->err->message, sizeof(c->err->message), "%s %s%s%s: %s: %s",
           c->kind, c->ns ? c->ns : "", c->ns ? "/" : "",
           c->name ? c->name : "<unnamed>", field, msg);
}

static const char *dstr(dctx *c, const json_t *o, const char *key,
                        const char *dflt) {
  const json_t *v = json_object_get(o, key);
  if (!v || json_is_null(v))
    return dflt;
  if (!json_is_string(v)) {
    derr(c, key, "must be a string");
    return dflt;
  }
  return nw__arena_strdup(c->a, json_string_value(v));
}

static int64_t dint(dctx *c, const json_t *o, const char *key, int64_t dflt) {
  const json_t *v = json_object_get(o, key);
  if (!v || json_is_null(v))
    return dflt;
  if (!json_is_integer(v)) {
    derr(c, key, "must be an integer");
    return dflt;
  }
  return (int64_t)json_integer_value(v);
}

static const json_t *dobj(dctx *c, const json_t *o, const char *key) {
  const json_t *v = o ? json_object_get(o, key) : NULL;
  if (!v || json_is_null(v))
    return NULL;
  if (!json_is_object(v)) {
    derr(c, key, "must be an object");
    return NULL;
  }
  return v;
}

static const json_t *darr(dctx *c, const json_t *o, const char *key) {
  const json_t *v = o ? json_object_get(o, key) : NULL;
  if (!v || json_is_null(v))
    return NULL;
  if (!json_is_array(v)) {
    derr(c, key, "must be an array");
    return NULL;
  }
  return v;
}

static int cmp_kv(const void *a, const void *b) {
  return strcmp(((const nw_kv *)a)->key, ((const nw_kv *)b)->key);
}

/* A string map; sorted by key so that output is deterministic. */
static nw_labels dlabels(dctx *c, const json_t *o, const char *key) {
  nw_labels l = {0, NULL};
  const json_t *m = dobj(c, o, key);
  if (!m)
    return l;
  size_t n = json_object_size(m);
  nw_kv *items = nw__arena_alloc(c->a, (n ? n : 1) * sizeof(*items));
  const char *k;
  const json_t *v;
  size_t i = 0;
  json_object_foreach((json_t *)m, k, v) {
    if (!json_is_string(v)) {
      derr(c, key, "value of \"%s\" must be a string", k);
      return l;
    }
    items[i].key = nw__arena_strdup(c->a, k);
    items[i].value = nw__arena_strdup(c->a, json_string_value(v));
    i++;
  }
  qsort(items, n, sizeof(*items), cmp_kv);
  l.len = n;
  l.items = items;
  return l;
}

static const char *const *dstrings(dctx *c, const json_t *o, const char *key,
                                   size_t *n_out) {
  *n_out = 0;
  const json_t *arr = darr(c, o, key);
  if (!arr)
    return NULL;
  size_t n = json_array_size(arr);
  const char **out = nw__arena_alloc(c->a, (n ? n : 1) * sizeof(*out));
  for (size_t i = 0; i < n; i++) {
    const json_t *v = json_array_get(arr, i);
    if (!json_is_string(v)) {
      derr(c, key, "item %zu must be a string", i);
      return NULL;
    }
    out[i] = nw__arena_strdup(c->a, json_string_value(v));
  }
  *n_out = n;
  return out;
}

int nw__operator_parse(const char *s) {
  static const char *const names[] = {"In", "NotIn", "Exists", "DoesNotExist",
                                      "Gt", "Lt",    "Gte",    "Lte"};
  for (int i = 0; i < 8; i++)
    if (s && strcmp(s, names[i]) == 0)
      return i;
  return -1;
}

const char *nw__operator_name(nw_operator op) {
  static const char *const names[] = {"In", "NotIn", "Exists", "DoesNotExist",
                                      "Gt", "Lt",    "Gte",    "Lte"};
  return (unsigned)op < 8 ? names[op] : "?";
}

int nw__taint_effect_parse(const char *s) {
  if (!s)
    return -1;
  if (strcmp(s, "NoSchedule") == 0)
    return NW_TAINT_NO_SCHEDULE;
  if (strcmp(s, "PreferNoSchedule") == 0)
    return NW_TAINT_PREFER_NO_SCHEDULE;
  if (strcmp(s, "NoExecute") == 0)
    return NW_TAINT_NO_EXECUTE;
  return -1;
}

const char *nw__taint_effect_name(int effect) {
  switch (effect) {
  case NW_TAINT_NO_SCHEDULE:
    return "NoSchedule";
  case NW_TAINT_PREFER_NO_SCHEDULE:
    return "PreferNoSchedule";
  case NW_TAINT_NO_EXECUTE:
    return "NoExecute";
  default:
    return "";
  }
}

/* One node selector requirement (or label selector expression); `gte`
 * allows Gte/Lte (NodePool requirements only), `numeric` allows Gt/Lt. */
static int dreq(dctx *c, const json_t *e, const char *field, int numeric,
                int gte, nw_requirement *out) {
  if (!json_is_object(e)) {
    derr(c, field, "each requirement must be an object");
    return -1;
  }
  out->key = dstr(c, e, "key", NULL);
  const char *op = dstr(c, e, "operator", NULL);
  if (c->failed)
    return -1;
  if (!out->key || !*out->key) {
    derr(c, field, "requirement without a key");
    return -1;
  }
  int o = nw__operator_parse(op);
  if (o < 0 || (!numeric && o >= NW_OP_GT) || (!gte && o >= NW_OP_GTE)) {
    derr(c, field, "key %s: unsupported operator \"%s\"", out->key,
         op ? op : "");
    return -1;
  }
  out->op = (nw_operator)o;
  out->values = dstrings(c, e, "values", &out->n_values);
  out->min_values = (int32_t)dint(c, e, "minValues", 0);
  if (c->failed)
    return -1;
  int needs_values = o == NW_OP_IN || o == NW_OP_NOT_IN || o >= NW_OP_GT;
  if (needs_values && out->n_values == 0) {
    derr(c, field, "key %s: operator %s needs values", out->key, op);
    return -1;
  }
  if (!needs_values && out->n_values > 0) {
    derr(c, field, "key %s: operator %s takes no values", out->key, op);
    return -1;
  }
  if (o >= NW_OP_GT) {
    char *end;
    if (out->n_values != 1) {
      derr(c, field, "key %s: operator %s needs exactly one value", out->key,
           op);
      return -1;
    }
    strtoll(out->values[0], &end, 10);
    if (!*out->values[0] || *end) {
      derr(c, field, "key %s: operator %s needs an integer, got \"%s\"",
           out->key, op, out->values[0]);
      return -1;
    }
  }
  if (out->min_values < 0 || (out->min_values > 0 && o != NW_OP_IN &&
                              o != NW_OP_EXISTS && o != NW_OP_NOT_IN)) {
    derr(c, field, "key %s: invalid minValues", out->key);
    return -1;
  }
  return 0;
}

static nw_requirements dreqs(dctx *c, const json_t *arr, const char *field,
                             int numeric, int gte) {
  nw_requirements r = {0, NULL};
  if (!arr || json_is_null(arr))
    return r;
  if (!json_is_array(arr)) {
    derr(c, field, "must be an array");
    return r;
  }
  size_t n = json_array_size(arr);
  nw_requirement *items = nw__arena_alloc(c->a, (n ? n : 1) * sizeof(*items));
  for (size_t i = 0; i < n; i++)
    if (dreq(c, json_array_get(arr, i), field, numeric, gte, &items[i]) != 0)
      return r;
  r.len = n;
  r.items = items;
  return r;
}

/* matchLabels become In requirements in front of matchExpressions. */
static nw__selector dselector(dctx *c, const json_t *o, const char *key) {
  nw__selector s = {0, {0, NULL}};
  const json_t *sel = dobj(c, o, key);
  if (!sel)
    return s;
  s.present = 1;
  nw_labels ml = dlabels(c, sel, "matchLabels");
  nw_requirements me = dreqs(c, json_object_get(sel, "matchExpressions"), key,
                             0, 0);
  if (c->failed)
    return s;
  size_t n = ml.len + me.len;
  nw_requirement *items = nw__arena_alloc(c->a, (n ? n : 1) * sizeof(*items));
  for (size_t i = 0; i < ml.len; i++) {
    const char **v = nw__arena_alloc(c->a, sizeof(*v));
    v[0] = ml.items[i].value;
    items[i] = (nw_requirement){ml.items[i].key, NW_OP_IN, 1, v, 0};
  }
  for (size_t i = 0; i < me.len; i++)
    items[ml.len + i] = me.items[i];
  s.reqs.len = n;
  s.reqs.items = items;
  return s;
}

/* allowedTopologies expressions: key and values, the operator is In. */
static nw_requirements dtopology_term(dctx *c, const json_t *arr,
                                      const char *field) {
  nw_requirements r = {0, NULL};
  if (!arr)
    return r;
  if (!json_is_array(arr)) {
    derr(c, field, "must be an array");
    return r;
  }
  size_t n = json_array_size(arr);
  nw_requirement *items = nw__arena_alloc(c->a, (n ? n : 1) * sizeof(*items));
  for (size_t i = 0; i < n && !c->failed; i++) {
    const json_t *e = json_array_get(arr, i);
    items[i].key = dstr(c, e, "key", NULL);
    items[i].op = NW_OP_IN;
    items[i].values = dstrings(c, e, "values", &items[i].n_values);
    if (!c->failed && (!items[i].key || items[i].n_values == 0))
      derr(c, field, "expression %zu needs a key and values", i);
  }
  r.len = n;
  r.items = items;
  return r;
}

/* nodeSelectorTerms-like arrays: each term has matchExpressions (and for
 * node affinity also matchFields, which we do not support except
 * metadata.name, mapped to the hostname label's node name). */
static nw__terms dterms(dctx *c, const json_t *arr, const char *field,
                        const char *expr_key) {
  nw__terms t = {0, NULL};
  if (!arr)
    return t;
  if (!json_is_array(arr)) {
    derr(c, field, "must be an array");
    return t;
  }
  size_t n = json_array_size(arr);
  nw_requirements *items = nw__arena_alloc(c->a, (n ? n : 1) * sizeof(*items));
  for (size_t i = 0; i < n; i++) {
    const json_t *term = json_array_get(arr, i);
    if (!json_is_object(term)) {
      derr(c, field, "term %zu must be an object", i);
      return t;
    }
    if (strcmp(expr_key, "matchLabelExpressions") == 0)
      items[i] = dtopology_term(c, json_object_get(term, expr_key), field);
    else
      items[i] = dreqs(c, json_object_get(term, expr_key), field, 1, 0);
    if (c->failed)
      return t;
  }
  t.len = n;
  t.items = items;
  return t;
}

int nw__resources_decode(const json_t *obj, const char *where,
                         nw_resource_list *out, nw_arena *arena,
                         nw_error *err) {
  out->len = 0;
  out->items = NULL;
  if (!obj || json_is_null(obj))
    return 0;
  if (!json_is_object(obj)) {
    if (err) {
      err->status = NW_ERR_INVALID;
      snprintf(err->message, sizeof(err->message), "%s: must be an object",
               where);
    }
    return -1;
  }
  size_t n = json_object_size(obj);
  nw_resource *items = nw__arena_alloc(arena, (n ? n : 1) * sizeof(*items));
  const char *k;
  const json_t *v;
  size_t i = 0;
  json_object_foreach((json_t *)obj, k, v) {
    char buf[64], qerr[200];
    const char *s = buf;
    if (json_is_string(v))
      s = json_string_value(v);
    else if (json_is_integer(v))
      snprintf(buf, sizeof(buf), "%lld", (long long)json_integer_value(v));
    else if (json_is_real(v))
      snprintf(buf, sizeof(buf), "%.17g", json_real_value(v));
    else
      s = "";
    if (nw__quantity_parse(s, nw__resource_is_milli(k), &items[i].value, qerr,
                           sizeof(qerr)) != 0) {
      if (err) {
        err->status = NW_ERR_INVALID;
        snprintf(err->message, sizeof(err->message), "%s.%s: %s", where, k,
                 qerr);
      }
      return -1;
    }
    items[i].name = nw__arena_strdup(arena, k);
    i++;
  }
  out->len = n;
  out->items = items;
  return 0;
}

static nw_resource_list dres(dctx *c, const json_t *o, const char *key) {
  nw_resource_list l = {0, NULL};
  if (c->failed || !o)
    return l;
  nw_error e = {0};
  if (nw__resources_decode(json_object_get(o, key), key, &l, c->a, &e) != 0)
    derr(c, "resources", "%s", e.message);
  return l;
}

int64_t nw__resources_get(const nw_resource_list *l, const char *name) {
  for (size_t i = 0; i < l->len; i++)
    if (strcmp(l->items[i].name, name) == 0)
      return l->items[i].value;
  return 0;
}

const char *nw__labels_get(const nw_labels *l, const char *key) {
  for (size_t i = 0; i < l->len; i++)
    if (strcmp(l->items[i].key, key) == 0)
      return l->items[i].value;
  return NULL;
}

static int parse_i64(const char *s, long long *out) {
  char *end;
  if (!s || !*s)
    return -1;
  *out = strtoll(s, &end, 10);
  return *end ? -1 : 0;
}

static int req_match(const nw_requirement *r, const char *v) {
  long long have, want;
  switch (r->op) {
  case NW_OP_EXISTS:
    return v != NULL;
  case NW_OP_DOES_NOT_EXIST:
    return v == NULL;
  case NW_OP_IN:
  case NW_OP_NOT_IN: {
    int found = 0;
    for (size_t i = 0; v && i < r->n_values && !found; i++)
      found = strcmp(r->values[i], v) == 0;
    return r->op == NW_OP_IN ? found : !found;
  }
  default:
    if (parse_i64(v, &have) != 0 || parse_i64(r->values[0], &want) != 0)
      return 0;
    if (r->op == NW_OP_GT)
      return have > want;
    if (r->op == NW_OP_LT)
      return have < want;
    if (r->op == NW_OP_GTE)
      return have >= want;
    return have <= want;
  }
}

int nw__requirements_match_labels(const nw_requirements *reqs,
                                  const nw_labels *labels) {
  for (size_t i = 0; i < reqs->len; i++)
    if (!req_match(&reqs->items[i], nw__labels_get(labels, reqs->items[i].key)))
      return 0;
  return 1;
}

int nw__tolerates(const nw__toleration *tols, size_t n, const nw_taint *t) {
  for (size_t i = 0; i < n; i++) {
    const nw__toleration *x = &tols[i];
    if (x->effect >= 0 && x->effect != (int)t->effect)
      continue;
    if (*x->key && strcmp(x->key, t->key) != 0)
      continue;
    if (x->op == NW__TOL_EXISTS)
      return 1;
    const char *tv = t->value ? t->value : "";
    if (strcmp(x->value, tv) == 0)
      return 1;
  }
  return 0;
}

int nw__duration_parse(const char *s, int64_t *out_s) {
  int64_t ms;
  if (nw__duration_ms(s, &ms) != 0)
    return -1;
  *out_s = ms < 0 ? -1 : ms / 1000;
  return 0;
}

/* RFC 3339 to epoch ms; 0 when absent or malformed. */
static int64_t dtime(const char *s) {
  int64_t ms = s ? nw__kube_parse_time(s) : -1;
  return ms < 0 ? 0 : ms;
}

static void dmeta(dctx *c, const json_t *obj, const char **name,
                  const char **ns) {
  const json_t *md = dobj(c, obj, "metadata");
  if (!md) {
    derr(c, "metadata", "missing");
    return;
  }
  *name = dstr(c, md, "name", NULL);
  c->name = *name;
  if (ns) {
    *ns = dstr(c, md, "namespace", "default");
    c->ns = *ns;
  }
  if (!*name || !**name)
    derr(c, "metadata.name", "missing");
}

static nw_taints dtaints(dctx *c, const json_t *o, const char *key) {
  nw_taints t = {0, NULL};
  const json_t *arr = darr(c, o, key);
  if (!arr)
    return t;
  size_t n = json_array_size(arr);
  nw_taint *items = nw__arena_alloc(c->a, (n ? n : 1) * sizeof(*items));
  for (size_t i = 0; i < n; i++) {
    const json_t *e = json_array_get(arr, i);
    items[i].key = dstr(c, e, "key", NULL);
    items[i].value = dstr(c, e, "value", "");
    const char *eff = dstr(c, e, "effect", NULL);
    int ef = nw__taint_effect_parse(eff);
    if (!c->failed && (!items[i].key || ef < 0)) {
      derr(c, key, "taint %zu needs a key and an effect (got \"%s\")", i,
           eff ? eff : "");
    }
    if (c->failed)
      return t;
    items[i].effect = (nw_taint_effect)ef;
  }
  t.len = n;
  t.items = items;
  return t;
}

/* ---- pods ---------------------------------------------------------- */

static nw__pod_affinity_terms daffinity_terms(dctx *c, const json_t *o,
                                              const char *key, int weighted) {
  nw__pod_affinity_terms r = {0, NULL};
  const json_t *arr = darr(c, o, key);
  if (!arr)
    return r;
  size_t n = json_array_size(arr);
  nw__pod_affinity_term *items =
      nw__arena_alloc(c->a, (n ? n : 1) * sizeof(*items));
  for (size_t i = 0; i < n; i++) {
    const json_t *e = json_array_get(arr, i);
    const json_t *term = e;
    if (weighted) {
      items[i].weight = (int32_t)dint(c, e, "weight", 1);
      term = dobj(c, e, "podAffinityTerm");
      if (!term) {
        derr(c, key, "term %zu without podAffinityTerm", i);
        return r;
      }
    }
    items[i].selector = dselector(c, term, "labelSelector");
    items[i].namespaces = dstrings(c, term, "namespaces",
                                   &items[i].n_namespaces);
    items[i].namespace_selector = dselector(c, term, "namespaceSelector");
    items[i].topology_key = dstr(c, term, "topologyKey", NULL);
    items[i].match_label_keys = dstrings(c, term, "matchLabelKeys",
                                         &items[i].n_match_label_keys);
    items[i].mismatch_label_keys = dstrings(c, term, "mismatchLabelKeys",
                                            &items[i].n_mismatch_label_keys);
    if (c->failed)
      return r;
    if (!items[i].topology_key || !*items[i].topology_key) {
      derr(c, key, "term %zu without topologyKey", i);
      return r;
    }
  }
  r.len = n;
  r.items = items;
  return r;
}

static void dpod_affinity(dctx *c, const json_t *spec, nw__pod *p) {
  const json_t *aff = dobj(c, spec, "affinity");
  if (!aff)
    return;
  const json_t *na = dobj(c, aff, "nodeAffinity");
  if (na) {
    const json_t *req =
        dobj(c, na, "requiredDuringSchedulingIgnoredDuringExecution");
    if (req)
      p->required_node_affinity =
          dterms(c, json_object_get(req, "nodeSelectorTerms"),
                 "nodeSelectorTerms", "matchExpressions");
    const json_t *pref =
        darr(c, na, "preferredDuringSchedulingIgnoredDuringExecution");
    size_t n = pref ? json_array_size(pref) : 0;
    nw__weighted_term *w = nw__arena_alloc(c->a, (n ? n : 1) * sizeof(*w));
    for (size_t i = 0; i < n && !c->failed; i++) {
      const json_t *e = json_array_get(pref, i);
      w[i].weight = (int32_t)dint(c, e, "weight", 1);
      w[i].term = dreqs(c, json_object_get(dobj(c, e, "preference"),
                                           "matchExpressions"),
                        "preference", 1, 0);
    }
    p->n_preferred_node_affinity = n;
    p->preferred_node_affinity = w;
  }
  const char *rk = "requiredDuringSchedulingIgnoredDuringExecution";
  const char *pk = "preferredDuringSchedulingIgnoredDuringExecution";
  const json_t *pa = dobj(c, aff, "podAffinity");
  p->affinity = daffinity_terms(c, pa, rk, 0);
  p->preferred_affinity = daffinity_terms(c, pa, pk, 1);
  const json_t *paa = dobj(c, aff, "podAntiAffinity");
  p->anti_affinity = daffinity_terms(c, paa, rk, 0);
  p->preferred_anti_affinity = daffinity_terms(c, paa, pk, 1);
}

static void dtolerations(dctx *c, const json_t *spec, nw__pod *p) {
  const json_t *arr = darr(c, spec, "tolerations");
  size_t n = arr ? json_array_size(arr) : 0;
  nw__toleration *t = nw__arena_alloc(c->a, (n ? n : 1) * sizeof(*t));
  for (size_t i = 0; i < n && !c->failed; i++) {
    const json_t *e = json_array_get(arr, i);
    t[i].key = dstr(c, e, "key", "");
    const char *op = dstr(c, e, "operator", "Equal");
    t[i].value = dstr(c, e, "value", "");
    const char *eff = dstr(c, e, "effect", "");
    t[i].toleration_s = dint(c, e, "tolerationSeconds", -1);
    if (c->failed)
      break;
    if (strcmp(op, "Exists") == 0)
      t[i].op = NW__TOL_EXISTS;
    else if (strcmp(op, "Equal") == 0)
      t[i].op = NW__TOL_EQUAL;
    else
      derr(c, "tolerations", "unknown operator \"%s\"", op);
    t[i].effect = *eff ? nw__taint_effect_parse(eff) : -1;
    if (*eff && t[i].effect < 0)
      derr(c, "tolerations", "unknown effect \"%s\"", eff);
    if (!*t[i].key && t[i].op != NW__TOL_EXISTS)
      derr(c, "tolerations", "an empty key needs operator Exists");
  }
  p->n_tolerations = n;
  p->tolerations = t;
}

static void dspreads(dctx *c, const json_t *spec, nw__pod *p) {
  const json_t *arr = darr(c, spec, "topologySpreadConstraints");
  size_t n = arr ? json_array_size(arr) : 0;
  nw__spread *s = nw__arena_alloc(c->a, (n ? n : 1) * sizeof(*s));
  for (size_t i = 0; i < n && !c->failed; i++) {
    const json_t *e = json_array_get(arr, i);
    s[i].max_skew = (int32_t)dint(c, e, "maxSkew", 1);
    s[i].topology_key = dstr(c, e, "topologyKey", NULL);
    const char *wu = dstr(c, e, "whenUnsatisfiable", "DoNotSchedule");
    s[i].selector = dselector(c, e, "labelSelector");
    s[i].min_domains = (int32_t)dint(c, e, "minDomains", 0);
    s[i].match_label_keys = dstrings(c, e, "matchLabelKeys",
                                     &s[i].n_match_label_keys);
    const char *nap = dstr(c, e, "nodeAffinityPolicy", "Honor");
    const char *ntp = dstr(c, e, "nodeTaintsPolicy", "Ignore");
    if (c->failed)
      break;
    if (!s[i].topology_key || !*s[i].topology_key)
      derr(c, "topologySpreadConstraints", "constraint %zu without topologyKey",
           i);
    if (s[i].max_skew < 1)
      derr(c, "topologySpreadConstraints", "maxSkew must be at least 1");
    if (strcmp(wu, "ScheduleAnyway") == 0)
      s[i].schedule_anyway = 1;
    else if (strcmp(wu, "DoNotSchedule") != 0)
      derr(c, "topologySpreadConstraints",
           "unknown whenUnsatisfiable \"%s\"", wu);
    s[i].node_affinity_policy =
        strcmp(nap, "Ignore") == 0 ? NW__POLICY_IGNORE : NW__POLICY_HONOR;
    s[i].node_taints_policy =
        strcmp(ntp, "Honor") == 0 ? NW__POLICY_HONOR : NW__POLICY_IGNORE;
  }
  p->n_spreads = n;
  p->spreads = s;
}

/* Running totals for kube's PodRequests. */
typedef struct racc {
  size_t n;
  nw_resource r[32];
} racc;

static int64_t *racc_slot(racc *a, const char *name) {
  for (size_t i = 0; i < a->n; i++)
    if (strcmp(a->r[i].name, name) == 0)
      return &a->r[i].value;
  if (a->n == 32)
    return NULL;
  a->r[a->n].name = name;
  a->r[a->n].value = 0;
  return &a->r[a->n++].value;
}

static void racc_add(racc *a, const nw_resource_list *l) {
  for (size_t i = 0; i < l->len; i++) {
    int64_t *s = racc_slot(a, l->items[i].name);
    if (s)
      *s += l->items[i].value;
  }
}

static void racc_max(racc *a, const racc *b) {
  for (size_t i = 0; i < b->n; i++) {
    int64_t *s = racc_slot(a, b->r[i].name);
    if (s && *s < b->r[i].value)
      *s = b->r[i].value;
  }
}

/* A container's requests; limits stand in where requests are missing, as
 * the API server defaults them. */
static void container_requests(dctx *c, const json_t *ctr, racc *out) {
  const json_t *res = dobj(c, ctr, "resources");
  nw_resource_list req = dres(c, res, "requests");
  nw_resource_list lim = dres(c, res, "limits");
  out->n = 0;
  racc_add(out, &req);
  for (size_t i = 0; i < lim.len; i++) {
    int found = 0;
    for (size_t j = 0; j < req.len && !found; j++)
      found = strcmp(req.items[j].name, lim.items[i].name) == 0;
    if (!found) {
      nw_resource_list one = {1, &lim.items[i]};
      racc_add(out, &one);
    }
  }
}

static void dhost_ports(dctx *c, const json_t *ctr, nw__host_port *ports,
                        size_t *n, size_t cap) {
  const json_t *arr = darr(c, ctr, "ports");
  for (size_t i = 0; arr && i < json_array_size(arr); i++) {
    const json_t *e = json_array_get(arr, i);
    int64_t hp = dint(c, e, "hostPort", 0);
    if (hp <= 0 || *n >= cap)
      continue;
    ports[*n].port = (int32_t)hp;
    ports[*n].protocol = dstr(c, e, "protocol", "TCP");
    ports[*n].host_ip = dstr(c, e, "hostIP", "0.0.0.0");
    (*n)++;
  }
}

static void dpod_requests(dctx *c, const json_t *spec, nw__pod *p) {
  racc sum = {0}, init_max = {0}, sidecars = {0}, one;
  nw__host_port ports[64];
  size_t nports = 0;
  const json_t *ctrs = darr(c, spec, "containers");
  for (size_t i = 0; ctrs && i < json_array_size(ctrs); i++) {
    const json_t *ctr = json_array_get(ctrs, i);
    container_requests(c, ctr, &one);
    for (size_t k = 0; k < one.n; k++) {
      int64_t *s = racc_slot(&sum, one.r[k].name);
      if (s)
        *s += one.r[k].value;
    }
    dhost_ports(c, ctr, ports, &nports, 64);
  }
  const json_t *inits = darr(c, spec, "initContainers");
  for (size_t i = 0; inits && i < json_array_size(inits); i++) {
    const json_t *ctr = json_array_get(inits, i);
    container_requests(c, ctr, &one);
    const char *rp = dstr(c, ctr, "restartPolicy", "");
    dhost_ports(c, ctr, ports, &nports, 64);
    if (rp && strcmp(rp, "Always") == 0) {
      /* A sidecar runs beside every later init container and the app. */
      for (size_t k = 0; k < one.n; k++) {
        int64_t *s = racc_slot(&sidecars, one.r[k].name);
        if (s)
          *s += one.r[k].value;
      }
      racc_max(&init_max, &sidecars);
    } else {
      for (size_t k = 0; k < sidecars.n; k++) {
        int64_t *s = racc_slot(&one, sidecars.r[k].name);
        if (s)
          *s += sidecars.r[k].value;
      }
      racc_max(&init_max, &one);
    }
  }
  for (size_t k = 0; k < sidecars.n; k++) {
    int64_t *s = racc_slot(&sum, sidecars.r[k].name);
    if (s)
      *s += sidecars.r[k].value;
  }
  racc_max(&sum, &init_max);
  nw_resource_list ov = dres(c, spec, "overhead");
  racc_add(&sum, &ov);
  int64_t *pods = racc_slot(&sum, "pods");
  if (pods)
    *pods = 1;
  nw_resource *items = nw__arena_alloc(c->a, (sum.n ? sum.n : 1) *
                                                 sizeof(*items));
  for (size_t i = 0; i < sum.n; i++) {
    items[i].name = nw__arena_strdup(c->a, sum.r[i].name);
    items[i].value = sum.r[i].value;
  }
  p->requests.len = sum.n;
  p->requests.items = items;
  nw__host_port *hp = nw__arena_alloc(c->a, (nports ? nports : 1) *
                                                sizeof(*hp));
  memcpy(hp, ports, nports * sizeof(*hp));
  p->n_host_ports = nports;
  p->host_ports = hp;
}

static void dpod_volumes(dctx *c, const json_t *spec, nw__pod *p) {
  const json_t *vols = darr(c, spec, "volumes");
  size_t n = vols ? json_array_size(vols) : 0;
  const char **names = nw__arena_alloc(c->a, (n ? n : 1) * sizeof(*names));
  size_t k = 0;
  for (size_t i = 0; i < n; i++) {
    const json_t *v = json_array_get(vols, i);
    const json_t *pvc = json_object_get(v, "persistentVolumeClaim");
    if (pvc) {
      names[k] = dstr(c, pvc, "claimName", NULL);
      if (names[k])
        k++;
    } else if (json_object_get(v, "ephemeral")) {
      /* Generic ephemeral volumes create "<pod>-<volume>" claims. */
      const char *vn = dstr(c, v, "name", "");
      names[k++] = nw__arena_printf(c->a, "%s-%s", p->name, vn);
    }
  }
  p->n_pvcs = k;
  p->pvcs = names;
}

static int dpod_body(dctx *c, const json_t *obj, nw__pod *p) {
  dmeta(c, obj, &p->name, &p->namespace_);
  const json_t *md = dobj(c, obj, "metadata");
  if (c->failed)
    return -1;
  p->uid = dstr(c, md, "uid", "");
  p->labels = dlabels(c, md, "labels");
  p->annotations = dlabels(c, md, "annotations");
  p->terminating = json_object_get(md, "deletionTimestamp") != NULL &&
                   !json_is_null(json_object_get(md, "deletionTimestamp"));
  p->creation_ms = dtime(dstr(c, md, "creationTimestamp", NULL));
  const json_t *owners = darr(c, md, "ownerReferences");
  for (size_t i = 0; owners && i < json_array_size(owners); i++) {
    const json_t *o = json_array_get(owners, i);
    if (json_is_true(json_object_get(o, "controller")) || !p->owner_kind) {
      p->owner_kind = dstr(c, o, "kind", NULL);
      p->owner_name = dstr(c, o, "name", NULL);
    }
  }
  const json_t *spec = dobj(c, obj, "spec");
  if (!spec) {
    derr(c, "spec", "missing");
    return -1;
  }
  p->node_name = dstr(c, spec, "nodeName", NULL);
  if (p->node_name && !*p->node_name)
    p->node_name = NULL;
  p->priority = (int32_t)dint(c, spec, "priority", 0);
  p->priority_class = dstr(c, spec, "priorityClassName", NULL);
  p->node_selector = dlabels(c, spec, "nodeSelector");
  p->has_scheduling_gates = json_array_size(json_object_get(spec,
                                                            "schedulingGates"))
                            > 0;
  dpod_affinity(c, spec, p);
  dtolerations(c, spec, p);
  dspreads(c, spec, p);
  dpod_requests(c, spec, p);
  dpod_volumes(c, spec, p);
  p->phase = dstr(c, dobj(c, obj, "status"), "phase", "");
  if (!p->phase)
    p->phase = "";
  nw__pod_derive(p);
  return c->failed ? -1 : 0;
}

static nw__pod_phase phase_of(const char *phase) {
  static const struct {
    const char *name;
    nw__pod_phase id;
  } phases[] = {{"Pending", NW__POD_PHASE_PENDING},
                {"Running", NW__POD_PHASE_RUNNING},
                {"Succeeded", NW__POD_PHASE_SUCCEEDED},
                {"Failed", NW__POD_PHASE_FAILED}};

  for (size_t i = 0; phase != NULL && i < sizeof(phases) / sizeof(phases[0]); i++) {
    if (strcmp(phase, phases[i].name) == 0)
      return phases[i].id;
  }
  return NW__POD_PHASE_UNKNOWN;
}

static nw__pod_owner owner_of(const char *kind) {
  if (kind == NULL)
    return NW__POD_OWNER_OTHER;
  if (strcmp(kind, "DaemonSet") == 0)
    return NW__POD_OWNER_DAEMONSET;
  if (strcmp(kind, "Node") == 0)
    return NW__POD_OWNER_NODE;
  return NW__POD_OWNER_OTHER;
}

const char *const nw__wk_resources[NW__N_WK] = {"cpu", "memory", "pods",
                                                "ephemeral-storage"};

/* Sums p's requests into wk_requests; requests_wk is cleared if one of
 * them is not a well-known resource. */
static void derive_wk_requests(nw__pod *p) {
  memset(p->wk_requests, 0, sizeof(p->wk_requests));
  p->requests_wk = 1;
  for (size_t i = 0; i < p->requests.len; i++) {
    int k = 0;
    while (k < NW__N_WK && strcmp(nw__wk_resources[k], p->requests.items[i].name) != 0)
      k++;
    if (k == NW__N_WK) {
      p->requests_wk = 0;
      continue;
    }
    p->wk_requests[k] += p->requests.items[i].value;
  }
}

void nw__pod_derive(nw__pod *p) {
  derive_wk_requests(p);
  p->phase_id = phase_of(p->phase);
  p->owner = owner_of(p->owner_kind);
  p->mirror = nw__labels_get(&p->annotations, NW__ANN_MIRROR) != NULL;
  p->do_not_disrupt = nw__labels_get(&p->annotations, NW__ANN_DO_NOT_DISRUPT);
  p->deletion_cost = nw__labels_get(&p->annotations, NW__ANN_POD_DELETION_COST);
}

/* ---- pruning -------------------------------------------------------- */

/* The members of a container that dpod_requests and dhost_ports read. */
static void prune_containers(json_t *ctrs) {
  static const char *const keep[] = {"name", "resources", "ports", "restartPolicy", NULL};
  size_t i;
  json_t *ctr;
  json_array_foreach(ctrs, i, ctr) {
    json_t *kept = json_object();
    for (size_t k = 0; kept && keep[k]; k++) {
      json_t *v = json_object_get(ctr, keep[k]);
      if (v)
        json_object_set(kept, keep[k], v);
    }
    if (kept && json_object_clear(ctr) == 0)
      json_object_update(ctr, kept);
    json_decref(kept);
  }
}

/* Volumes other than claims (the service-account token, config maps,
 * secrets, emptyDir) say nothing about where a pod can run. */
static void prune_volumes(json_t *spec) {
  json_t *vols = json_object_get(spec, "volumes");
  json_t *kept = json_array();
  size_t i;
  json_t *v;
  json_array_foreach(vols, i, v) {
    if (json_object_get(v, "persistentVolumeClaim") || json_object_get(v, "ephemeral"))
      json_array_append(kept, v);
  }
  if (vols && kept)
    json_object_set(spec, "volumes", kept);
  json_decref(kept);
}

json_t *nw__pod_prune(json_t *pod) {
  json_t *md = json_object_get(pod, "metadata");
  json_object_del(md, "managedFields");
  json_object_del(json_object_get(md, "annotations"),
                  "kubectl.kubernetes.io/last-applied-configuration");
  json_t *spec = json_object_get(pod, "spec");
  prune_containers(json_object_get(spec, "containers"));
  prune_containers(json_object_get(spec, "initContainers"));
  /* Ephemeral (debug) containers request nothing a scheduler counts. */
  json_object_del(spec, "ephemeralContainers");
  prune_volumes(spec);
  json_t *st = json_object_get(pod, "status");
  json_object_del(st, "containerStatuses");
  json_object_del(st, "initContainerStatuses");
  json_object_del(st, "ephemeralContainerStatuses");
  return pod;
}

nw__pod *nw__pod_decode(const json_t *obj, nw_arena *arena, nw_error *err) {
  dctx c = {arena, err, "Pod", NULL, NULL, 0};
  nw__pod *p = nw__arena_alloc(arena, sizeof(*p));
  if (!json_is_object(obj)) {
    derr(&c, "object", "must be a JSON object");
    return NULL;
  }
  return dpod_body(&c, obj, p) == 0 ? p : NULL;
}

/* ---- nodes --------------------------------------------------------- */

nw__node *nw__node_decode(const json_t *obj, nw_arena *arena, nw_error *err) {
  dctx c = {arena, err, "Node", NULL, NULL, 0};
  nw__node *n = nw__arena_alloc(arena, sizeof(*n));
  if (!json_is_object(obj)) {
    derr(&c, "object", "must be a JSON object");
    return NULL;
  }
  dmeta(&c, obj, &n->name, NULL);
  const json_t *md = dobj(&c, obj, "metadata");
  n->labels = dlabels(&c, md, "labels");
  n->annotations = dlabels(&c, md, "annotations");
  n->terminating = md && json_object_get(md, "deletionTimestamp") &&
                   !json_is_null(json_object_get(md, "deletionTimestamp"));
  n->creation_ms = dtime(dstr(&c, md, "creationTimestamp", NULL));
  const json_t *spec = dobj(&c, obj, "spec");
  n->provider_id = dstr(&c, spec, "providerID", "");
  n->unschedulable = json_is_true(json_object_get(spec, "unschedulable"));
  n->taints = dtaints(&c, spec, "taints");
  const json_t *st = dobj(&c, obj, "status");
  n->capacity = dres(&c, st, "capacity");
  n->allocatable = dres(&c, st, "allocatable");
  if (n->allocatable.len == 0)
    n->allocatable = n->capacity;
  const json_t *conds = darr(&c, st, "conditions");
  for (size_t i = 0; conds && i < json_array_size(conds); i++) {
    const json_t *cd = json_array_get(conds, i);
    const char *t = json_string_value(json_object_get(cd, "type"));
    const char *s = json_string_value(json_object_get(cd, "status"));
    if (t && s && strcmp(t, "Ready") == 0)
      n->ready = strcmp(s, "True") == 0;
  }
  nw__node_derive(n);
  return c.failed ? NULL : n;
}

void nw__node_derive(nw__node *n) {
  n->instance_type = nw__labels_get(&n->labels, "node.kubernetes.io/instance-type");
  n->zone = nw__labels_get(&n->labels, "topology.kubernetes.io/zone");
  n->capacity_type = nw__labels_get(&n->labels, "karpenter.sh/capacity-type");
  n->nodepool = nw__labels_get(&n->labels, "karpenter.sh/nodepool");
  n->do_not_disrupt = nw__labels_get(&n->annotations, NW__ANN_DO_NOT_DISRUPT);
  n->derived = 1;
}

/* ---- NodePools ----------------------------------------------------- */

static void dbudgets(dctx *c, const json_t *dis, nw__nodepool *np) {
  const json_t *arr = darr(c, dis, "budgets");
  if (!arr) {
    /* Karpenter's default: one budget of 10%. */
    nw__budget *b = nw__arena_alloc(c->a, sizeof(*b));
    b->nodes = "10%";
    np->n_budgets = 1;
    np->budgets = b;
    return;
  }
  size_t n = json_array_size(arr);
  nw__budget *b = nw__arena_alloc(c->a, (n ? n : 1) * sizeof(*b));
  for (size_t i = 0; i < n && !c->failed; i++) {
    const json_t *e = json_array_get(arr, i);
    b[i].nodes = dstr(c, e, "nodes", "10%");
    b[i].schedule = dstr(c, e, "schedule", NULL);
    const char *d = dstr(c, e, "duration", NULL);
    if (d && nw__duration_parse(d, &b[i].duration_s) != 0)
      derr(c, "disruption.budgets", "invalid duration \"%s\"", d);
    b[i].reasons = dstrings(c, e, "reasons", &b[i].n_reasons);
    if (!!b[i].schedule != !!d)
      derr(c, "disruption.budgets",
           "schedule and duration must be set together");
  }
  np->n_budgets = n;
  np->budgets = b;
}

static int64_t dduration(dctx *c, const json_t *o, const char *key,
                         int64_t dflt) {
  const char *s = dstr(c, o, key, NULL);
  int64_t v = dflt;
  if (s && nw__duration_parse(s, &v) != 0)
    derr(c, key, "invalid duration \"%s\"", s);
  return v;
}

nw__nodepool *nw__nodepool_decode(const json_t *obj, nw_arena *arena,
                                  nw_error *err) {
  dctx c = {arena, err, "NodePool", NULL, NULL, 0};
  nw__nodepool *np = nw__arena_alloc(arena, sizeof(*np));
  if (!json_is_object(obj)) {
    derr(&c, "object", "must be a JSON object");
    return NULL;
  }
  dmeta(&c, obj, &np->name, NULL);
  const json_t *spec = dobj(&c, obj, "spec");
  if (!spec && !c.failed)
    derr(&c, "spec", "missing");
  np->weight = (int32_t)dint(&c, spec, "weight", 0);
  if (np->weight < 0 || np->weight > 100)
    derr(&c, "spec.weight", "must be between 0 and 100");
  const json_t *tmpl = dobj(&c, spec, "template");
  const json_t *tmd = dobj(&c, tmpl, "metadata");
  np->labels = dlabels(&c, tmd, "labels");
  np->annotations = dlabels(&c, tmd, "annotations");
  const json_t *ts = dobj(&c, tmpl, "spec");
  np->requirements = dreqs(&c, json_object_get(ts, "requirements"),
                           "spec.template.spec.requirements", 1, 1);
  np->taints = dtaints(&c, ts, "taints");
  np->startup_taints = dtaints(&c, ts, "startupTaints");
  const json_t *ref = dobj(&c, ts, "nodeClassRef");
  np->node_class.group = dstr(&c, ref, "group", "");
  np->node_class.kind = dstr(&c, ref, "kind", "");
  np->node_class.name = dstr(&c, ref, "name", "");
  np->expire_after_s = dduration(&c, ts, "expireAfter", 720 * 3600);
  if (np->expire_after_s < 0)
    np->expire_after_s = 0;
  np->termination_grace_s = dduration(&c, ts, "terminationGracePeriod", -1);
  np->limits = dres(&c, spec, "limits");
  const json_t *dis = dobj(&c, spec, "disruption");
  np->consolidation_policy = dstr(&c, dis, "consolidationPolicy",
                                  "WhenEmptyOrUnderutilized");
  np->consolidate_after_s = dduration(&c, dis, "consolidateAfter", 0);
  dbudgets(&c, dis, np);
  return c.failed ? NULL : np;
}

/* ---- the rest ------------------------------------------------------ */

nw__daemonset *nw__daemonset_decode(const json_t *obj, nw_arena *arena,
                                    nw_error *err) {
  dctx c = {arena, err, "DaemonSet", NULL, NULL, 0};
  nw__daemonset *ds = nw__arena_alloc(arena, sizeof(*ds));
  if (!json_is_object(obj)) {
    derr(&c, "object", "must be a JSON object");
    return NULL;
  }
  dmeta(&c, obj, &ds->name, &ds->namespace_);
  const json_t *tmpl = dobj(&c, dobj(&c, obj, "spec"), "template");
  if (!tmpl) {
    derr(&c, "spec.template", "missing");
    return NULL;
  }
  /* The template has no name of its own; give it the daemonset's. */
  json_t *copy = json_deep_copy(tmpl);
  json_t *md = json_object_get(copy, "metadata");
  if (!json_is_object(md)) {
    md = json_object();
    json_object_set_new(copy, "metadata", md);
  }
  json_object_set_new(md, "name", json_string(ds->name));
  json_object_set_new(md, "namespace", json_string(ds->namespace_));
  int rc = dpod_body(&c, copy, &ds->pod);
  json_decref(copy);
  ds->pod.owner_kind = "DaemonSet";
  ds->pod.owner_name = ds->name;
  nw__pod_derive(&ds->pod);
  return rc == 0 ? ds : NULL;
}

nw__pv *nw__pv_decode(const json_t *obj, nw_arena *arena, nw_error *err) {
  dctx c = {arena, err, "PersistentVolume", NULL, NULL, 0};
  nw__pv *pv = nw__arena_alloc(arena, sizeof(*pv));
  dmeta(&c, obj, &pv->name, NULL);
  const json_t *spec = dobj(&c, obj, "spec");
  pv->storage_class = dstr(&c, spec, "storageClassName", NULL);
  const json_t *na = dobj(&c, spec, "nodeAffinity");
  const json_t *req = dobj(&c, na, "required");
  if (req)
    pv->node_affinity = dterms(&c, json_object_get(req, "nodeSelectorTerms"),
                               "spec.nodeAffinity", "matchExpressions");
  const json_t *cr = dobj(&c, spec, "claimRef");
  pv->claim_namespace = dstr(&c, cr, "namespace", NULL);
  pv->claim_name = dstr(&c, cr, "name", NULL);
  return c.failed ? NULL : pv;
}

nw__pvc *nw__pvc_decode(const json_t *obj, nw_arena *arena, nw_error *err) {
  dctx c = {arena, err, "PersistentVolumeClaim", NULL, NULL, 0};
  nw__pvc *pvc = nw__arena_alloc(arena, sizeof(*pvc));
  dmeta(&c, obj, &pvc->name, &pvc->namespace_);
  const json_t *spec = dobj(&c, obj, "spec");
  pvc->volume_name = dstr(&c, spec, "volumeName", NULL);
  if (pvc->volume_name && !*pvc->volume_name)
    pvc->volume_name = NULL;
  pvc->storage_class = dstr(&c, spec, "storageClassName", NULL);
  return c.failed ? NULL : pvc;
}

nw__storage_class *nw__storage_class_decode(const json_t *obj,
                                            nw_arena *arena, nw_error *err) {
  dctx c = {arena, err, "StorageClass", NULL, NULL, 0};
  nw__storage_class *sc = nw__arena_alloc(arena, sizeof(*sc));
  dmeta(&c, obj, &sc->name, NULL);
  sc->provisioner = dstr(&c, obj, "provisioner", "");
  const char *mode = dstr(&c, obj, "volumeBindingMode", "Immediate");
  sc->wait_for_first_consumer = mode && strcmp(mode, "WaitForFirstConsumer")
                                            == 0;
  sc->allowed_topologies = dterms(&c, json_object_get(obj, "allowedTopologies"),
                                  "allowedTopologies", "matchLabelExpressions");
  nw_labels ann = dlabels(&c, dobj(&c, obj, "metadata"), "annotations");
  const char *d = nw__labels_get(&ann, "storageclass.kubernetes.io/is-default-class");
  sc->is_default = d && strcmp(d, "true") == 0;
  return c.failed ? NULL : sc;
}

nw__namespace *nw__namespace_decode(const json_t *obj, nw_arena *arena,
                                    nw_error *err) {
  dctx c = {arena, err, "Namespace", NULL, NULL, 0};
  nw__namespace *ns = nw__arena_alloc(arena, sizeof(*ns));
  dmeta(&c, obj, &ns->name, NULL);
  ns->labels = dlabels(&c, dobj(&c, obj, "metadata"), "labels");
  return c.failed ? NULL : ns;
}
