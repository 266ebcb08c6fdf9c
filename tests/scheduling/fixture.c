#include "fixture.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nwtest.h"
#include "util/arena.h"

#define PUSH(arr, n, v)                                                        \
  do {                                                                         \
    (arr) = realloc((void *)(arr), ((n) + 1) * sizeof(*(arr)));               \
    (arr)[(n)++] = (v);                                                        \
  } while (0)

int fixture_load(fixture *f, const char *name, const char *catalog) {
  memset(f, 0, sizeof(*f));
  char path[512];
  snprintf(path, sizeof(path), "tests/fixtures/scheduling/%s.json", name);
  json_error_t je;
  json_t *root = json_load_file(nw_test_src_path(path), 0, &je);
  if (!root) {
    fprintf(stderr, "%s: %s\n", path, je.text);
    return -1;
  }
  f->a = nw__arena_new();
  nw_error err = {0};
  if (strcmp(catalog, "aws") == 0)
    f->catalog = nw__catalog_load_default_aws(&err);
  else
    f->catalog = nw__catalog_karpenter_diverse(
        (size_t)strtoul(catalog + strlen("diverse:"), NULL, 10));
  const nw__nodepool **pools = NULL;
  const nw__node **nodes = NULL;
  const nw__pod **pods = NULL;
  size_t np = 0, nn = 0, npo = 0;
  const nw__daemonset **ds = NULL;
  const nw__pv **pvs = NULL;
  const nw__pvc **pvcs = NULL;
  const nw__storage_class **scs = NULL;
  const nw__namespace **nss = NULL;
  size_t nds = 0, npv = 0, npvc = 0, nsc = 0, nns = 0;
  json_t *items = json_object_get(root, "items");
  for (size_t i = 0; i < json_array_size(items); i++) {
    json_t *o = json_array_get(items, i);
    const char *kind = json_string_value(json_object_get(o, "kind"));
    void *x = NULL;
    if (strcmp(kind, "NodePool") == 0 &&
        (x = nw__nodepool_decode(o, f->a, &err)))
      PUSH(pools, np, (const nw__nodepool *)x);
    else if (strcmp(kind, "Node") == 0 && (x = nw__node_decode(o, f->a, &err)))
      PUSH(nodes, nn, (const nw__node *)x);
    else if (strcmp(kind, "Pod") == 0 && (x = nw__pod_decode(o, f->a, &err)))
      PUSH(pods, npo, (const nw__pod *)x);
    else if (strcmp(kind, "DaemonSet") == 0 &&
             (x = nw__daemonset_decode(o, f->a, &err)))
      PUSH(ds, nds, (const nw__daemonset *)x);
    else if (strcmp(kind, "PersistentVolume") == 0 &&
             (x = nw__pv_decode(o, f->a, &err)))
      PUSH(pvs, npv, (const nw__pv *)x);
    else if (strcmp(kind, "PersistentVolumeClaim") == 0 &&
             (x = nw__pvc_decode(o, f->a, &err)))
      PUSH(pvcs, npvc, (const nw__pvc *)x);
    else if (strcmp(kind, "StorageClass") == 0 &&
             (x = nw__storage_class_decode(o, f->a, &err)))
      PUSH(scs, nsc, (const nw__storage_class *)x);
    else if (strcmp(kind, "Namespace") == 0 &&
             (x = nw__namespace_decode(o, f->a, &err)))
      PUSH(nss, nns, (const nw__namespace *)x);
    if (!x) {
      fprintf(stderr, "%s: item %zu: %s\n", path, i, err.message);
      json_decref(root);
      return -1;
    }
  }
  json_decref(root);
  /* Copy the pointer arrays into the arena so one free releases them. */
  nw__sched_pool *sp = nw__arena_alloc(f->a, (np + 1) * sizeof(*sp));
  for (size_t i = 0; i < np; i++)
    sp[i] = (nw__sched_pool){.pool = pools[i], .types = f->catalog->types};
  nw__sched_node *sn = nw__arena_alloc(f->a, (nn + 1) * sizeof(*sn));
  f->pending = nw__arena_alloc(f->a, (npo + 1) * sizeof(*f->pending));
  for (size_t i = 0; i < nn; i++) {
    const nw__pod **bound = nw__arena_alloc(f->a, (npo + 1) * sizeof(*bound));
    size_t k = 0;
    for (size_t j = 0; j < npo; j++)
      if (pods[j]->node_name && strcmp(pods[j]->node_name, nodes[i]->name) == 0)
        bound[k++] = pods[j];
    /* A node Karpenter has not registered yet carries its taint. */
    int in_flight = 0;
    for (size_t t = 0; t < nodes[i]->taints.len; t++)
      in_flight |= strcmp(nodes[i]->taints.items[t].key,
                          "karpenter.sh/unregistered") == 0;
    sn[i] = (nw__sched_node){.node = nodes[i], .n_pods = k, .pods = bound,
                             .in_flight = in_flight};
  }
  for (size_t j = 0; j < npo; j++)
    if (!pods[j]->node_name)
      f->pending[f->n_pending++] = pods[j];
#define KEEP(T, arr, n)                                                        \
  T *arr##_k = nw__arena_alloc(f->a, ((n) + 1) * sizeof(*arr##_k));            \
  if (n)                                                                       \
    memcpy((void *)arr##_k, arr, (n) * sizeof(*arr##_k));                      \
  free((void *)arr)
  KEEP(const nw__daemonset *, ds, nds);
  KEEP(const nw__pv *, pvs, npv);
  KEEP(const nw__pvc *, pvcs, npvc);
  KEEP(const nw__storage_class *, scs, nsc);
  KEEP(const nw__namespace *, nss, nns);
  free((void *)pools);
  free((void *)nodes);
  free((void *)pods);
  f->in = (nw__sched_input){.n_pools = np, .pools = sp, .n_nodes = nn,
                            .nodes = sn, .n_daemonsets = nds,
                            .daemonsets = ds_k, .n_pvs = npv, .pvs = pvs_k,
                            .n_pvcs = npvc, .pvcs = pvcs_k,
                            .n_storage_classes = nsc,
                            .storage_classes = scs_k, .n_namespaces = nns,
                            .namespaces = nss_k};
  return 0;
}

void fixture_free(fixture *f) {
  nw__catalog_free(f->catalog);
  nw__arena_free(f->a);
}

size_t fixture_pod(const fixture *f, const char *name) {
  for (size_t i = 0; i < f->n_pending; i++)
    if (strcmp(f->pending[i]->name, name) == 0)
      return i;
  return (size_t)-1;
}

const char *claim_single(const nw__sched_claim *c, const char *key) {
  for (size_t i = 0; i < c->requirements.len; i++) {
    const nw_requirement *r = &c->requirements.items[i];
    if (strcmp(r->key, key) == 0 && r->op == NW_OP_IN && r->n_values == 1)
      return r->values[0];
  }
  return NULL;
}

const char *type_label(const nw_instance_type *it, const char *key) {
  for (size_t i = 0; i < it->requirements.len; i++) {
    const nw_requirement *r = &it->requirements.items[i];
    if (strcmp(r->key, key) == 0 && r->op == NW_OP_IN && r->n_values >= 1)
      return r->values[0];
  }
  return NULL;
}
