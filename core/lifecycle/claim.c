#include "lifecycle/claim.h"

#include <stdio.h>
#include <string.h>

#include "model/objects.h"
#include "model/quantity.h"
#include "util/arena.h"

static int fail(nw_error *err, const char *name, const char *field,
                const char *what) {
  if (err) {
    snprintf(err->message, sizeof(err->message), "NodeClaim %s: %s: %s",
             name ? name : "?", field, what);
    err->status = NW_ERR_INVALID;
  }
  return -1;
}

static int decode_requirement(const json_t *r, nw_requirement *out,
                              nw_arena *a, const char *name, nw_error *err) {
  const char *key = json_string_value(json_object_get(r, "key"));
  const char *op = json_string_value(json_object_get(r, "operator"));
  int parsed = op ? nw__operator_parse(op) : -1;
  if (!key || parsed < 0)
    return fail(err, name, "spec.requirements", "needs a key and a known operator");
  out->key = nw__arena_strdup(a, key);
  out->op = (nw_operator)parsed;
  const json_t *vals = json_object_get(r, "values");
  out->n_values = json_array_size(vals);
  const char **v = nw__arena_alloc(a, (out->n_values + 1) * sizeof(char *));
  for (size_t i = 0; v && i < out->n_values; i++)
    v[i] = nw__arena_strdup(a, json_string_value(json_array_get(vals, i)));
  out->values = v;
  out->min_values = (int32_t)json_integer_value(json_object_get(r, "minValues"));
  return 0;
}

static int decode_taints(const json_t *arr, nw_taints *out, nw_arena *a,
                         const char *name, nw_error *err) {
  size_t n = json_array_size(arr);
  nw_taint *t = nw__arena_alloc(a, (n + 1) * sizeof(*t));
  for (size_t i = 0; t && i < n; i++) {
    const json_t *j = json_array_get(arr, i);
    const char *eff = json_string_value(json_object_get(j, "effect"));
    int e = eff ? nw__taint_effect_parse(eff) : -1;
    const char *key = json_string_value(json_object_get(j, "key"));
    if (!key || e < 0)
      return fail(err, name, "spec.taints", "needs a key and a known effect");
    t[i].key = nw__arena_strdup(a, key);
    t[i].value = nw__arena_strdup(a, json_string_value(json_object_get(j, "value")));
    t[i].effect = (nw_taint_effect)e;
  }
  out->items = t;
  out->len = n;
  return 0;
}

static void decode_labels(const json_t *obj, nw_labels *out, nw_arena *a) {
  size_t n = json_object_size(obj), i = 0;
  nw_kv *kv = nw__arena_alloc(a, (n + 1) * sizeof(*kv));
  const char *k;
  const json_t *v;
  json_object_foreach((json_t *)obj, k, v) {
    if (!kv || !json_is_string(v))
      continue;
    kv[i].key = nw__arena_strdup(a, k);
    kv[i].value = nw__arena_strdup(a, json_string_value(v));
    i++;
  }
  out->items = kv;
  out->len = i;
}

nw_node_claim *nw__claim_decode(const json_t *claim, const json_t *nodeclass,
                                nw_arena *a, nw_error *err) {
  const json_t *meta = json_object_get(claim, "metadata");
  const json_t *spec = json_object_get(claim, "spec");
  const char *name = json_string_value(json_object_get(meta, "name"));
  nw_node_claim *c = nw__arena_alloc(a, sizeof(*c));
  if (!c || !name) {
    fail(err, name, "metadata.name", "missing");
    return NULL;
  }
  c->name = nw__arena_strdup(a, name);
  c->nodepool = nw__arena_strdup(
      a, json_string_value(json_object_get(json_object_get(meta, "labels"),
                                           "karpenter.sh/nodepool")));
  const json_t *ref = json_object_get(spec, "nodeClassRef");
  c->node_class.group = nw__arena_strdup(a, json_string_value(json_object_get(ref, "group")));
  c->node_class.kind = nw__arena_strdup(a, json_string_value(json_object_get(ref, "kind")));
  c->node_class.name = nw__arena_strdup(a, json_string_value(json_object_get(ref, "name")));
  if (nodeclass) {
    char *text = json_dumps(nodeclass, JSON_COMPACT);
    c->node_class_json = nw__arena_strdup(a, text);
    free(text);
  }
  const json_t *reqs = json_object_get(spec, "requirements");
  size_t n = json_array_size(reqs);
  nw_requirement *r = nw__arena_alloc(a, (n + 1) * sizeof(*r));
  for (size_t i = 0; r && i < n; i++) {
    if (decode_requirement(json_array_get(reqs, i), &r[i], a, name, err) != 0)
      return NULL;
  }
  c->requirements = (nw_requirements){n, r};
  const json_t *requests = json_object_get(json_object_get(spec, "resources"), "requests");
  if (requests && nw__resources_decode(requests, "spec.resources.requests",
                                       &c->requests, a, err) != 0)
    return NULL;
  decode_labels(json_object_get(meta, "labels"), &c->labels, a);
  if (decode_taints(json_object_get(spec, "taints"), &c->taints, a, name, err) != 0 ||
      decode_taints(json_object_get(spec, "startupTaints"), &c->startup_taints,
                    a, name, err) != 0)
    return NULL;
  return c;
}

json_t *nw__resources_to_json(const nw_resource_list *l) {
  json_t *o = json_object();
  char buf[64];
  for (size_t i = 0; i < l->len; i++) {
    const nw_resource *r = &l->items[i];
    json_object_set_new(o, r->name,
                        json_string(nw__quantity_format(r->name, r->value, buf,
                                                        sizeof(buf))));
  }
  return o;
}

json_t *nw__claim_status_from_instance(const nw_node_instance *inst) {
  json_t *s = json_object();
  json_object_set_new(s, "providerID", json_string(inst->provider_id ? inst->provider_id : ""));
  if (inst->image_id)
    json_object_set_new(s, "imageID", json_string(inst->image_id));
  json_object_set_new(s, "capacity", nw__resources_to_json(&inst->capacity));
  json_object_set_new(s, "allocatable",
                      nw__resources_to_json(inst->allocatable.len
                                                ? &inst->allocatable
                                                : &inst->capacity));
  return s;
}

json_t *nw__claim_labels_from_instance(const nw_node_instance *inst) {
  json_t *l = json_object();
  for (size_t i = 0; i < inst->labels.len; i++)
    json_object_set_new(l, inst->labels.items[i].key,
                        json_string(inst->labels.items[i].value));
  if (inst->instance_type)
    json_object_set_new(l, "node.kubernetes.io/instance-type",
                        json_string(inst->instance_type));
  if (inst->zone)
    json_object_set_new(l, "topology.kubernetes.io/zone", json_string(inst->zone));
  if (inst->capacity_type)
    json_object_set_new(l, "karpenter.sh/capacity-type",
                        json_string(inst->capacity_type));
  return l;
}

json_t *nw__requirements_to_json(const nw_requirements *r) {
  json_t *arr = json_array();
  for (size_t i = 0; i < r->len; i++) {
    const nw_requirement *q = &r->items[i];
    json_t *vals = json_array();
    for (size_t v = 0; v < q->n_values; v++)
      json_array_append_new(vals, json_string(q->values[v]));
    json_t *o = json_pack("{s:s, s:s, s:o}", "key", q->key, "operator",
                          nw__operator_name(q->op), "values", vals);
    if (q->min_values > 0)
      json_object_set_new(o, "minValues", json_integer(q->min_values));
    json_array_append_new(arr, o);
  }
  return arr;
}
