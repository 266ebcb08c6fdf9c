/*
 * The snapshot cache (core/provisioning/snapshot.h): decoded pods and
 * Nodes are reused while the store holds the same object and decoded
 * again when it changes; each pool's usable instance types are reused
 * while the pool's template and the types' names, requirements and
 * offerings are the same, and worked out again after a catalog refresh,
 * a NodePool change or an offering becoming unavailable -- but not after
 * a price change, whose new prices still reach the scheduler.
 *
 * The provider is a builtin test plugin over a synthetic catalog the test
 * edits in place, the way a cloud provider's offerings change under it.
 */
#include <stdio.h>
#include <string.h>

#include "catalog/catalog.h"
#include "cluster/objutil.h"
#include "cluster/store.h"
#include "nwtest.h"
#include "plugin/loader.h"
#include "provisioning/snapshot.h"
#include "scheduling/scheduler.h"
#include "sim/venv.h"
#include "util/arena.h"

static const int64_t T0 = 1767225600000LL; /* 2026-01-01T00:00:00Z */

enum { N_TYPES = 8, MAX_OFFS = 8 };

/* The catalog the test provider serves: a mutable copy of the first
 * N_TYPES types of the Karpenter benchmark catalog, of which the first
 * `served` are offered. */
static struct {
  nw__catalog *src;
  nw_instance_type types[N_TYPES];
  nw_offering offs[N_TYPES][MAX_OFFS];
  size_t served;
  /* What instance_types_version answers (0: "unknown"); with
   * `version_moves` every call answers a new one, as if the list changed
   * during each instance_types call. */
  uint64_t version;
  int version_moves;
} cat;

static void catalog_setup(void) {
  cat.src = nw__catalog_karpenter_diverse(N_TYPES);
  CU_ASSERT_PTR_NOT_NULL_FATAL(cat.src);
  for (size_t i = 0; i < N_TYPES; i++) {
    cat.types[i] = cat.src->types.items[i];
    CU_ASSERT_FATAL(cat.types[i].n_offerings <= MAX_OFFS);
    memcpy(cat.offs[i], cat.types[i].offerings,
           cat.types[i].n_offerings * sizeof(nw_offering));
    cat.types[i].offerings = cat.offs[i];
  }
  cat.served = 6;
  cat.version = 0;
  cat.version_moves = 0;
}

static nw_status tp_init(const nw_host_api *host, nw_plugin_handle *h,
                         void **state, nw_error *err) {
  (void)host;
  (void)h;
  (void)err;
  *state = &cat;
  return NW_OK;
}

static void tp_fini(void *state) { (void)state; }

static nw_status tp_types(void *state, const char *nodepool,
                          const char *node_class_json, nw_arena *arena,
                          nw_instance_types *out, nw_error *err) {
  (void)state;
  (void)nodepool;
  (void)node_class_json;
  (void)err;
  /* A fresh copy per call, as a provider builds its answer in the arena. */
  nw_instance_type *t = nw__arena_alloc(arena, N_TYPES * sizeof(*t));
  memcpy(t, cat.types, cat.served * sizeof(*t));
  *out = (nw_instance_types){cat.served, t};
  return NW_OK;
}

static uint64_t tp_version(void *state, const char *nodepool,
                           const char *node_class_json) {
  (void)state;
  (void)nodepool;
  (void)node_class_json;
  return cat.version_moves ? ++cat.version : cat.version;
}

static const nw_node_class_ref tp_kinds[] = {
    {"test.nodewright.dev", "TestNodeClass", NULL}};

static const nw_provider_vtable tp_vtable = {
    .size = sizeof(nw_provider_vtable),
    .n_node_class_kinds = 1,
    .node_class_kinds = tp_kinds,
    .instance_types = tp_types,
    .instance_types_version = tp_version,
};

static const nw_plugin_descriptor tp_descriptor = {
    NW_DESCRIPTOR_HEAD(NW_PLUGIN_PROVIDER),
    .name = "test-provider",
    .version = "0.0.1",
    .description = "a catalog the test edits",
    .init = tp_init,
    .fini = tp_fini,
    .vtable = &tp_vtable,
};

typedef struct fx {
  nw__store *store;
  nw__plugin_set *plugins;
  nw__venv *venv;
  nw__env *env;
  nw__snap_cache *cache;
} fx;

static void fx_init(fx *f) {
  memset(f, 0, sizeof(*f));
  catalog_setup();
  f->store = nw__store_new();
  f->plugins = nw__plugins_new(NULL);
  char err[512] = "";
  CU_ASSERT_PTR_NOT_NULL_FATAL(
      nw__plugins_add_builtin(f->plugins, &tp_descriptor, NULL, err, sizeof(err)));
  f->venv = nw__venv_new(f->store, f->plugins, T0, 1);
  f->env = nw__venv_env(f->venv);
  f->cache = nw__snap_cache_new(f->env);
  CU_ASSERT_PTR_NOT_NULL_FATAL(f->cache);
}

static void fx_free(fx *f) {
  nw__snap_cache_free(f->cache);
  nw__venv_free(f->venv);
  nw__plugins_free(f->plugins);
  nw__store_free(f->store);
  nw__catalog_free(cat.src);
}

/* A NodePool allowing the named instance types. */
static void put_pool(fx *f, const char *const *types, size_t n) {
  json_t *vals = json_array();
  for (size_t i = 0; i < n; i++)
    json_array_append_new(vals, json_string(types[i]));
  nw__store_put(f->store, NW__K_NODEPOOL,
                json_pack("{s:s, s:s, s:{s:s, s:s}, s:{s:{s:{s:[{s:s, s:s, s:o}], "
                          "s:{s:s, s:s, s:s}}}}}",
                          "apiVersion", "karpenter.sh/v1", "kind", "NodePool",
                          "metadata", "name", "general", "uid", "np-1", "spec",
                          "template", "spec", "requirements", "key",
                          "node.kubernetes.io/instance-type", "operator", "In",
                          "values", vals, "nodeClassRef", "group",
                          "test.nodewright.dev", "kind", "TestNodeClass",
                          "name", "default"));
}

static json_t *pod(const char *name, const char *node, const char *cpu) {
  json_t *p = json_pack(
      "{s:s, s:s, s:{s:s, s:s, s:s}, s:{s:[{s:s, s:s, s:{s:{s:s, s:s}}}]}, "
      "s:{s:s}}",
      "apiVersion", "v1", "kind", "Pod", "metadata", "name", name, "namespace",
      "default", "creationTimestamp", "2026-01-01T00:00:00Z", "spec",
      "containers", "name", "c", "image", "x", "resources", "requests", "cpu",
      cpu, "memory", "1Gi", "status", "phase", node ? "Running" : "Pending");
  if (node) {
    json_object_set_new(json_object_get(p, "spec"), "nodeName", json_string(node));
  } else {
    json_object_set_new(json_object_get(p, "status"), "conditions",
                        json_pack("[{s:s, s:s, s:s}]", "type", "PodScheduled",
                                  "status", "False", "reason", "Unschedulable"));
  }
  return p;
}

static void put_node(fx *f, const char *name) {
  nw__store_put(f->store, NW__K_NODE,
                json_pack("{s:s, s:s, s:{s:s, s:{s:s}}, s:{s:s}, "
                          "s:{s:[{s:s, s:s}], s:{s:s, s:s, s:s}}}",
                          "apiVersion", "v1", "kind", "Node", "metadata",
                          "name", name, "labels", "kubernetes.io/hostname",
                          name, "spec", "providerID", "test:///1", "status",
                          "conditions", "type", "Ready", "status", "True",
                          "allocatable", "cpu", "8", "memory", "16Gi", "pods",
                          "110"));
}

static const nw__pod *pod_on(const nw__snapshot *s, const char *name) {
  for (size_t i = 0; i < s->n_nodes; i++)
    for (size_t k = 0; k < s->nodes[i].n_pods; k++)
      if (strcmp(s->nodes[i].pods[k]->name, name) == 0)
        return s->nodes[i].pods[k];
  return NULL;
}

static int64_t cpu_of(const nw__pod *p) {
  for (size_t i = 0; i < p->requests.len; i++)
    if (strcmp(p->requests.items[i].name, "cpu") == 0)
      return p->requests.items[i].value;
  return -1;
}

static void test_decoded_objects_follow_the_store(void) {
  fx f;
  fx_init(&f);
  put_node(&f, "n1");
  nw__store_put(f.store, NW__K_POD, pod("a", "n1", "1"));
  nw__store_put(f.store, NW__K_POD, pod("b", "n1", "2"));
  nw__store_put(f.store, NW__K_POD, pod("p", NULL, "3"));
  size_t reused, decoded;

  nw__snapshot *s1 = nw__snapshot_take_cached(f.env, f.cache);
  CU_ASSERT_EQUAL_FATAL(s1->n_nodes, 1);
  CU_ASSERT_EQUAL(s1->nodes[0].n_pods, 2);
  CU_ASSERT_EQUAL(s1->n_pending, 1);
  nw__snap_cache_stats(f.cache, &reused, &decoded);
  CU_ASSERT_EQUAL(reused, 0);
  CU_ASSERT_EQUAL(decoded, 4); /* the node and three pods */

  /* Nothing changed: nothing is decoded again. */
  nw__snapshot *s2 = nw__snapshot_take_cached(f.env, f.cache);
  nw__snap_cache_stats(f.cache, &reused, &decoded);
  CU_ASSERT_EQUAL(reused, 4);
  CU_ASSERT_EQUAL(decoded, 4);
  CU_ASSERT_PTR_EQUAL(pod_on(s2, "a"), pod_on(s1, "a"));

  /* A pod changes: only it is decoded again, with its new requests; one
   * goes away; the pending one binds. */
  nw__store_put(f.store, NW__K_POD, pod("a", "n1", "1500m"));
  nw__store_remove(f.store, NW__K_POD, "default", "b");
  nw__store_put(f.store, NW__K_POD, pod("p", "n1", "3"));
  nw__snapshot *s3 = nw__snapshot_take_cached(f.env, f.cache);
  nw__snap_cache_stats(f.cache, &reused, &decoded);
  CU_ASSERT_EQUAL(decoded, 6);
  CU_ASSERT_EQUAL(reused, 5); /* the node */
  CU_ASSERT_EQUAL(s3->n_pending, 0);
  CU_ASSERT_EQUAL(s3->nodes[0].n_pods, 2);
  CU_ASSERT_PTR_NULL(pod_on(s3, "b"));
  CU_ASSERT_PTR_NOT_NULL_FATAL(pod_on(s3, "a"));
  CU_ASSERT_EQUAL(cpu_of(pod_on(s3, "a")), 1500);
  CU_ASSERT_PTR_NOT_NULL(pod_on(s3, "p"));

  /* Older snapshots keep what they saw, also once the cache is gone. */
  nw__snap_cache_free(f.cache);
  f.cache = NULL;
  CU_ASSERT_EQUAL(cpu_of(pod_on(s1, "a")), 1000);
  CU_ASSERT_PTR_NOT_NULL(pod_on(s2, "b"));
  CU_ASSERT_EQUAL(s2->n_pending, 1);
  nw__snapshot_free(s1);
  nw__snapshot_free(s2);
  nw__snapshot_free(s3);
  fx_free(&f);
}

/* Many small changes: the cache starts over now and then (bounding the
 * memory a few long-lived objects can pin) and stays right throughout. */
static void test_many_takes_stay_right(void) {
  fx f;
  fx_init(&f);
  put_node(&f, "n1");
  nw__store_put(f.store, NW__K_POD, pod("steady", "n1", "1"));
  for (int i = 0; i < 80; i++) {
    char cpu[16];
    snprintf(cpu, sizeof(cpu), "%dm", 100 + i);
    nw__store_put(f.store, NW__K_POD, pod("moving", "n1", cpu));
    nw__snapshot *s = nw__snapshot_take_cached(f.env, f.cache);
    CU_ASSERT_EQUAL(s->nodes[0].n_pods, 2);
    CU_ASSERT_PTR_NOT_NULL_FATAL(pod_on(s, "moving"));
    CU_ASSERT_EQUAL(cpu_of(pod_on(s, "moving")), 100 + i);
    CU_ASSERT_EQUAL(cpu_of(pod_on(s, "steady")), 1000);
    nw__snapshot_free(s);
  }
  size_t reused, decoded;
  nw__snap_cache_stats(f.cache, &reused, &decoded);
  /* Each take decoded the moving pod; a restart also the rest. */
  CU_ASSERT(decoded >= 80 + 2);
  CU_ASSERT(decoded < 2 * 80);
  fx_free(&f);
}

/* Names of the usable types the last prepare handed the scheduler. */
static void usable_names(const nw__snapshot *s, char *buf, size_t len) {
  buf[0] = '\0';
  CU_ASSERT_EQUAL_FATAL(s->input.n_pools, 1);
  const nw_instance_types *u = &s->input.pools[0].usable;
  CU_ASSERT_PTR_NOT_NULL_FATAL(u->items);
  for (size_t i = 0; i < u->len; i++) {
    size_t used = strlen(buf);
    snprintf(buf + used, len - used, "%s%s", i ? "," : "", u->items[i].name);
  }
}

/* One prepare through the cache; returns the usable names. */
static void prepare(fx *f, char *buf, size_t len, size_t *reused,
                    size_t *computed) {
  nw__snapshot *s = nw__snapshot_take_cached(f->env, f->cache);
  CU_ASSERT_EQUAL(nw__snapshot_prepare_cached(s, f->plugins, f->cache), 1);
  usable_names(s, buf, len);
  nw__snap_cache_type_stats(f->cache, reused, computed);
  nw__snapshot_free(s);
}

/* Where the catalog has `type`. */
static size_t type_at(const char *type) {
  size_t i = 0;
  while (i < N_TYPES && strcmp(cat.types[i].name, type) != 0)
    i++;
  CU_ASSERT_FATAL(i < N_TYPES);
  return i;
}

static void set_price(const char *type, double price) {
  for (size_t i = 0; i < N_TYPES; i++)
    if (strcmp(cat.types[i].name, type) == 0)
      for (size_t o = 0; o < cat.types[i].n_offerings; o++)
        cat.offs[i][o].price = price;
}

static void set_available(const char *type, int on) {
  for (size_t i = 0; i < N_TYPES; i++)
    if (strcmp(cat.types[i].name, type) == 0)
      for (size_t o = 0; o < cat.types[i].n_offerings; o++)
        cat.offs[i][o].available = on;
}

/* Puts a NodePool allowing fake-it-1, -2 and -7 (of which the first six
 * types served hold the first two) and prepares twice: the usable types
 * are worked out once, then reused. */
static void pool_prepared_twice(fx *f, char *names, size_t len) {
  static const char *const allowed[] = {"fake-it-1", "fake-it-2", "fake-it-7"};
  put_pool(f, allowed, 3);
  size_t reused, computed;
  prepare(f, names, len, &reused, &computed);
  CU_ASSERT_STRING_EQUAL(names, "fake-it-1,fake-it-2");
  CU_ASSERT_EQUAL(computed, 1);
  prepare(f, names, len, &reused, &computed);
  CU_ASSERT_STRING_EQUAL(names, "fake-it-1,fake-it-2");
  CU_ASSERT_EQUAL(computed, 1);
  CU_ASSERT_EQUAL(reused, 1);
}

static void test_usable_types_are_invalidated(void) {
  fx f;
  fx_init(&f);
  char names[256];
  size_t reused, computed;
  pool_prepared_twice(&f, names, sizeof(names));

  /* A price refresh: same list, the new prices. */
  set_price("fake-it-1", 9.99);
  nw__snapshot *s = nw__snapshot_take_cached(f.env, f.cache);
  nw__snapshot_prepare_cached(s, f.plugins, f.cache);
  nw__snap_cache_type_stats(f.cache, &reused, &computed);
  CU_ASSERT_EQUAL(computed, 1);
  CU_ASSERT_EQUAL(reused, 2);
  CU_ASSERT_STRING_EQUAL(s->input.pools[0].usable.items[0].name, "fake-it-1");
  CU_ASSERT_DOUBLE_EQUAL(s->input.pools[0].usable.items[0].offerings[0].price,
                         9.99, 1e-9);
  nw__snapshot_free(s);

  /* Insufficient capacity: fake-it-2 has no available offering left. */
  set_available("fake-it-2", 0);
  prepare(&f, names, sizeof(names), &reused, &computed);
  CU_ASSERT_STRING_EQUAL(names, "fake-it-1");
  CU_ASSERT_EQUAL(computed, 2);
  set_available("fake-it-2", 1);

  /* A catalog refresh that adds fake-it-7. */
  cat.served = N_TYPES;
  prepare(&f, names, sizeof(names), &reused, &computed);
  CU_ASSERT_STRING_EQUAL(names, "fake-it-1,fake-it-2,fake-it-7");
  CU_ASSERT_EQUAL(computed, 3);

  /* The NodePool changes. */
  static const char *const other[] = {"fake-it-3"};
  put_pool(&f, other, 1);
  prepare(&f, names, sizeof(names), &reused, &computed);
  CU_ASSERT_STRING_EQUAL(names, "fake-it-3");
  CU_ASSERT_EQUAL(computed, 4);
  fx_free(&f);
}

/*
 * A provider that versions its list (ABI 1.3): the version stands for the
 * type text, the offerings' availability is still read from each answer,
 * and a version that moves during the call is not trusted.
 */
static void test_versioned_types(void) {
  fx f;
  fx_init(&f);
  cat.version = 1;
  char names[256];
  size_t reused, computed;
  pool_prepared_twice(&f, names, sizeof(names));

  /* Same version, fake-it-2 out of capacity: seen. */
  set_available("fake-it-2", 0);
  prepare(&f, names, sizeof(names), &reused, &computed);
  CU_ASSERT_STRING_EQUAL(names, "fake-it-1");
  CU_ASSERT_EQUAL(computed, 2);
  set_available("fake-it-2", 1);
  prepare(&f, names, sizeof(names), &reused, &computed);
  CU_ASSERT_EQUAL(computed, 3);

  /* The text changes (fake-it-3 where fake-it-2 was, the same length)
   * under the same version: the version is believed, as the contract
   * says, so nothing is worked out again. */
  size_t two = type_at("fake-it-2"), three = type_at("fake-it-3");
  nw_instance_type was = cat.types[two];
  cat.types[two] = cat.types[three];
  prepare(&f, names, sizeof(names), &reused, &computed);
  CU_ASSERT_EQUAL(computed, 3);
  /* A new version: worked out again, and fake-it-3 is not allowed. */
  cat.version = 2;
  prepare(&f, names, sizeof(names), &reused, &computed);
  CU_ASSERT_STRING_EQUAL(names, "fake-it-1");
  CU_ASSERT_EQUAL(computed, 4);

  /* A version that moves during every call stands for nothing: the text
   * is compared, so an unchanged list is reused and a changed one is
   * seen. */
  cat.version_moves = 1;
  prepare(&f, names, sizeof(names), &reused, &computed);
  CU_ASSERT_STRING_EQUAL(names, "fake-it-1");
  CU_ASSERT_EQUAL(computed, 5); /* text fingerprint, not the version's */
  prepare(&f, names, sizeof(names), &reused, &computed);
  CU_ASSERT_EQUAL(computed, 5);
  cat.types[two] = was;
  prepare(&f, names, sizeof(names), &reused, &computed);
  CU_ASSERT_STRING_EQUAL(names, "fake-it-1,fake-it-2");
  CU_ASSERT_EQUAL(computed, 6);
  fx_free(&f);
}

/* The scheduler decides the same with the usable types as with all. */
static void test_scheduling_is_unchanged(void) {
  fx f;
  fx_init(&f);
  cat.served = N_TYPES;
  static const char *const allowed[] = {"fake-it-1", "fake-it-3", "fake-it-5",
                                        "fake-it-7"};
  put_pool(&f, allowed, 4);
  nw__store_put(f.store, NW__K_POD, pod("p1", NULL, "3"));
  nw__store_put(f.store, NW__K_POD, pod("p2", NULL, "2"));
  nw__snapshot *a = nw__snapshot_take(f.env);
  nw__snapshot *b = nw__snapshot_take_cached(f.env, f.cache);
  nw__snapshot_prepare(a, f.plugins);
  nw__snapshot_prepare_cached(b, f.plugins, f.cache);
  CU_ASSERT_PTR_NULL(a->input.pools[0].usable.items);
  CU_ASSERT_PTR_NOT_NULL(b->input.pools[0].usable.items);
  nw_error err = {0};
  nw__scheduler *sa = nw__scheduler_new(&a->input, &err);
  nw__scheduler *sb = nw__scheduler_new(&b->input, &err);
  CU_ASSERT_PTR_NOT_NULL_FATAL(sa);
  CU_ASSERT_PTR_NOT_NULL_FATAL(sb);
  nw__sched_result *ra = nw__scheduler_solve(sa, a->pending, a->n_pending, NULL, a->arena, &err);
  nw__sched_result *rb = nw__scheduler_solve(sb, b->pending, b->n_pending, NULL, b->arena, &err);
  CU_ASSERT_PTR_NOT_NULL_FATAL(ra);
  CU_ASSERT_PTR_NOT_NULL_FATAL(rb);
  CU_ASSERT_EQUAL(ra->n_scheduled, 2);
  CU_ASSERT_EQUAL_FATAL(ra->n_claims, rb->n_claims);
  for (size_t i = 0; i < ra->n_claims; i++) {
    CU_ASSERT_STRING_EQUAL(ra->claims[i].instance_type->name,
                           rb->claims[i].instance_type->name);
    CU_ASSERT_EQUAL_FATAL(ra->claims[i].n_options, rb->claims[i].n_options);
    for (size_t k = 0; k < ra->claims[i].n_options; k++)
      CU_ASSERT_STRING_EQUAL(ra->claims[i].options[k]->name,
                             rb->claims[i].options[k]->name);
    CU_ASSERT_DOUBLE_EQUAL(ra->claims[i].price, rb->claims[i].price, 1e-12);
  }
  nw__scheduler_free(sa);
  nw__scheduler_free(sb);
  nw__snapshot_free(a);
  nw__snapshot_free(b);
  fx_free(&f);
}

/* ---- the maintained snapshot equals a walk of the store ----------------- */

static int str_same(const char *a, const char *b) {
  return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* a (a walk of the store) and b (from a cache) list the same objects in
 * the same order. */
static void same_snapshot(const nw__snapshot *a, const nw__snapshot *b) {
  CU_ASSERT_EQUAL_FATAL(a->n_nodes, b->n_nodes);
  for (size_t i = 0; i < a->n_nodes; i++) {
    const nw__sched_node *x = &a->nodes[i], *y = &b->nodes[i];
    CU_ASSERT_STRING_EQUAL(x->node->name, y->node->name);
    CU_ASSERT_STRING_EQUAL(x->node->provider_id, y->node->provider_id);
    CU_ASSERT_EQUAL(x->in_flight, y->in_flight);
    CU_ASSERT(str_same(x->nodepool, y->nodepool));
    CU_ASSERT_EQUAL(x->node->allocatable.len, y->node->allocatable.len);
    CU_ASSERT_EQUAL_FATAL(x->n_pods, y->n_pods);
    for (size_t k = 0; k < x->n_pods; k++) {
      CU_ASSERT_STRING_EQUAL(x->pods[k]->name, y->pods[k]->name);
      CU_ASSERT_EQUAL(cpu_of(x->pods[k]), cpu_of(y->pods[k]));
    }
    CU_ASSERT_EQUAL_FATAL(!a->claims[i], !b->claims[i]);
    if (a->claims[i])
      CU_ASSERT(json_equal(a->claims[i], b->claims[i]));
    CU_ASSERT_EQUAL_FATAL(!a->claim_facts[i], !b->claim_facts[i]);
    if (a->claim_facts[i]) {
      const nw__claim_facts *f = a->claim_facts[i], *g = b->claim_facts[i];
      CU_ASSERT_EQUAL(f->created_ms, g->created_ms);
      CU_ASSERT_EQUAL(f->initialized, g->initialized);
      CU_ASSERT_EQUAL(f->deleting, g->deleting);
    }
  }
  CU_ASSERT_EQUAL_FATAL(a->n_pending, b->n_pending);
  for (size_t i = 0; i < a->n_pending; i++) {
    CU_ASSERT_STRING_EQUAL(a->pending[i]->name, b->pending[i]->name);
    CU_ASSERT_EQUAL(cpu_of(a->pending[i]), cpu_of(b->pending[i]));
  }
}

static void check_same(fx *f, nw__snap_cache *c) {
  nw__snapshot *a = nw__snapshot_take(f->env);
  nw__snapshot *b = nw__snapshot_take_cached(f->env, c);
  CU_ASSERT_PTR_NOT_NULL_FATAL(a);
  CU_ASSERT_PTR_NOT_NULL_FATAL(b);
  same_snapshot(a, b);
  nw__snapshot_free(a);
  nw__snapshot_free(b);
}

/* A Node: pid NULL for none; bad: its allocatable does not decode. */
static void put_node_full(fx *f, const char *name, const char *pid,
                          const char *pool, int bad) {
  json_t *n = json_pack("{s:s, s:s, s:{s:s, s:{s:s, s:s}}, s:{}, "
                        "s:{s:[{s:s, s:s}], s:{s:s, s:s, s:s}}}",
                        "apiVersion", "v1", "kind", "Node", "metadata",
                        "name", name, "labels", "kubernetes.io/hostname",
                        name, "karpenter.sh/nodepool", pool, "spec", "status",
                        "conditions", "type", "Ready", "status", "True",
                        "allocatable", "cpu", bad ? "x!" : "8", "memory",
                        "16Gi", "pods", "110");
  if (pid)
    json_object_set_new(json_object_get(n, "spec"), "providerID", json_string(pid));
  nw__store_put(f->store, NW__K_NODE, n);
}

/* A NodeClaim: pid NULL for none; bad: a requirement does not decode. */
static void put_claim(fx *f, const char *name, const char *pid, int initialized,
                      int deleting, int bad) {
  json_t *c = json_pack(
      "{s:s, s:s, s:{s:s, s:s, s:{s:s}}, s:{s:[{s:s, s:s, s:[s]}], "
      "s:{s:{s:s, s:s}}}, s:{s:[{s:s, s:s}]}}",
      "apiVersion", "karpenter.sh/v1", "kind", "NodeClaim", "metadata", "name",
      name, "creationTimestamp", "2026-01-01T00:00:00Z", "labels",
      "karpenter.sh/nodepool", "general", "spec", "requirements", "key",
      "node.kubernetes.io/instance-type", "operator", bad ? "Sideways" : "In",
      "values", "fake-it-1", "resources", "requests", "cpu", "2", "memory",
      "4Gi", "status", "conditions", "type", "Initialized", "status",
      initialized ? "True" : "False");
  if (pid)
    json_object_set_new(json_object_get(c, "status"), "providerID", json_string(pid));
  if (deleting)
    json_object_set_new(json_object_get(c, "metadata"), "deletionTimestamp",
                        json_string("2026-01-01T00:01:00Z"));
  nw__store_put(f->store, NW__K_NODECLAIM, c);
}

/* Adds, updates, removes and rebinds in a fixed order: a cache made
 * before, and one made once the store holds objects, agree with a walk
 * of the store after every change. */
static void test_maintained_equals_walk(void) {
  fx f;
  fx_init(&f);
  nw__snap_cache *late = NULL;
  uint64_t x = 88172645463325252ull;
  char name[32], other[32], pid[32], cpu[16];
  for (int step = 0; step < 1500; step++) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    unsigned op = (unsigned)(x % 100), a = (unsigned)(x >> 8), b = (unsigned)(x >> 24);
    const char *pidp = pid;
    snprintf(pid, sizeof(pid), "test:///p%u", b % 6);
    if (b % 7 == 0)
      pidp = NULL;
    if (op < 8) {
      snprintf(name, sizeof(name), "n%u", a % 8);
      put_node_full(&f, name, pidp, b % 2 ? "general" : "other", b % 13 == 0);
    } else if (op < 11) {
      snprintf(name, sizeof(name), "n%u", a % 8);
      nw__store_remove(f.store, NW__K_NODE, NULL, name);
    } else if (op < 22) {
      snprintf(name, sizeof(name), "c%u", a % 8);
      put_claim(&f, name, pidp, b % 3 == 0, b % 11 == 0, b % 17 == 0);
    } else if (op < 26) {
      snprintf(name, sizeof(name), "c%u", a % 8);
      nw__store_remove(f.store, NW__K_NODECLAIM, NULL, name);
    } else if (op < 85) {
      /* Bound (to a Node or to a name no Node has), pending, neither, or
       * not decodable. */
      snprintf(name, sizeof(name), "p%u", a % 40);
      snprintf(other, sizeof(other), "n%u", b % 10);
      snprintf(cpu, sizeof(cpu), "%um", 100 + b % 50);
      unsigned how = b % 10;
      json_t *p = pod(name, how < 6 ? other : NULL, how == 9 ? "x!" : cpu);
      if (how == 8)
        json_object_del(json_object_get(p, "status"), "conditions");
      nw__store_put(f.store, NW__K_POD, p);
    } else {
      snprintf(name, sizeof(name), "p%u", a % 40);
      nw__store_remove(f.store, NW__K_POD, "default", name);
    }
    if (step == 700)
      late = nw__snap_cache_new(f.env);
    if (step % 3 == 0)
      check_same(&f, f.cache);
    if (late && step % 5 == 0)
      check_same(&f, late);
  }
  size_t reused, decoded;
  nw__snap_cache_stats(f.cache, &reused, &decoded);
  CU_ASSERT(reused > decoded);
  nw__snap_cache_free(late);
  fx_free(&f);
}

/* A fixture holding one Node, n1, and its claim c1 (not Initialized). */
static void fx_one_claimed_node(fx *f) {
  fx_init(f);
  put_node_full(f, "n1", "test:///p1", "general", 0);
  put_claim(f, "c1", "test:///p1", 0, 0, 0);
}

/* A snapshot's claims are private copies of apiVersion, kind and
 * metadata; what is read of status comes through claim_facts.  A later
 * change of the store's claim reaches the next take, not this one. */
static void test_claim_copy_is_private(void) {
  fx f;
  fx_one_claimed_node(&f);
  nw__snapshot *s = nw__snapshot_take_cached(f.env, f.cache);
  CU_ASSERT_EQUAL_FATAL(s->n_nodes, 1);
  json_t *c = s->claims[0];
  CU_ASSERT_PTR_NOT_NULL_FATAL(c);
  CU_ASSERT_PTR_NOT_EQUAL(c, nw__store_get(f.store, NW__K_NODECLAIM, NULL, "c1"));
  CU_ASSERT_STRING_EQUAL(nw__obj_name(c), "c1");
  CU_ASSERT_STRING_EQUAL(nw__label(c, "karpenter.sh/nodepool"), "general");
  CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(c, "kind")), "NodeClaim");
  CU_ASSERT_PTR_NULL(json_object_get(c, "status"));
  CU_ASSERT_PTR_NULL(json_object_get(c, "spec"));
  CU_ASSERT_FALSE(s->claim_facts[0]->initialized);
  /* The claim initializes and its labels change in the store. */
  put_claim(&f, "c1", "test:///p1", 1, 0, 0);
  json_t *live = nw__store_get(f.store, NW__K_NODECLAIM, NULL, "c1");
  json_object_set_new(json_object_get(json_object_get(live, "metadata"), "labels"),
                      "karpenter.sh/nodepool", json_string("other"));
  CU_ASSERT_STRING_EQUAL(nw__label(c, "karpenter.sh/nodepool"), "general");
  CU_ASSERT_FALSE(s->claim_facts[0]->initialized);
  nw__snapshot_free(s);
  s = nw__snapshot_take_cached(f.env, f.cache);
  CU_ASSERT_EQUAL_FATAL(s->n_nodes, 1);
  CU_ASSERT_TRUE(s->claim_facts[0]->initialized);
  nw__snapshot_free(s);
  fx_free(&f);
}

/* A snapshot borrows its claim copies from the cache's chunks: they stay
 * readable while the claim changes many times (its old copies given up,
 * chunks evacuated and retired) and after the cache is gone.  Under ASan
 * a copy freed too early fails here. */
static void test_borrowed_claims_outlive_changes(void) {
  fx f;
  fx_one_claimed_node(&f);
  nw__snapshot *first = nw__snapshot_take_cached(f.env, f.cache);
  CU_ASSERT_EQUAL_FATAL(first->n_nodes, 1);
  for (int i = 0; i < 100; i++) {
    put_claim(&f, "c1", "test:///p1", i % 2, 0, 0);
    nw__snapshot *s = nw__snapshot_take_cached(f.env, f.cache);
    CU_ASSERT_EQUAL_FATAL(s->n_nodes, 1);
    CU_ASSERT_EQUAL(s->claim_facts[0]->initialized, i % 2);
    nw__snapshot_free(s);
  }
  nw__snapshot *last = nw__snapshot_take_cached(f.env, f.cache);
  nw__snap_cache_free(f.cache);
  f.cache = NULL;
  CU_ASSERT_STRING_EQUAL(nw__obj_name(first->claims[0]), "c1");
  CU_ASSERT_STRING_EQUAL(nw__label(first->claims[0], "karpenter.sh/nodepool"), "general");
  CU_ASSERT_STRING_EQUAL(nw__obj_name(last->claims[0]), "c1");
  nw__snapshot_free(first);
  nw__snapshot_free(last);
  fx_free(&f);
}

/* A pending pod binds to a Node listed before the Node's other pods: it
 * takes its place in the store's order among them, not the last one. */
static void test_rebind_keeps_store_order(void) {
  fx f;
  fx_init(&f);
  nw__store_put(f.store, NW__K_POD, pod("first", NULL, "1"));
  put_node(&f, "n1");
  put_node(&f, "n2");
  nw__store_put(f.store, NW__K_POD, pod("second", "n1", "1"));
  nw__snapshot *s = nw__snapshot_take_cached(f.env, f.cache);
  CU_ASSERT_EQUAL(s->n_pending, 1);
  nw__snapshot_free(s);
  nw__store_put(f.store, NW__K_POD, pod("first", "n1", "1"));
  s = nw__snapshot_take_cached(f.env, f.cache);
  CU_ASSERT_EQUAL_FATAL(s->nodes[0].n_pods, 2);
  CU_ASSERT_STRING_EQUAL(s->nodes[0].pods[0]->name, "first");
  CU_ASSERT_STRING_EQUAL(s->nodes[0].pods[1]->name, "second");
  CU_ASSERT_EQUAL(s->n_pending, 0);
  nw__snapshot_free(s);
  /* A Node removed and added again goes last, as in the store. */
  nw__store_remove(f.store, NW__K_NODE, NULL, "n1");
  put_node(&f, "n1");
  s = nw__snapshot_take_cached(f.env, f.cache);
  CU_ASSERT_EQUAL_FATAL(s->n_nodes, 2);
  CU_ASSERT_STRING_EQUAL(s->nodes[0].node->name, "n2");
  CU_ASSERT_STRING_EQUAL(s->nodes[1].node->name, "n1");
  CU_ASSERT_EQUAL(s->nodes[1].n_pods, 2);
  nw__snapshot_free(s);
  check_same(&f, f.cache);
  fx_free(&f);
}

/* Hundreds of pending pods binding, going and coming back in a shuffled
 * order: the lists stay right as removed places are left and reused. */
static void test_many_pending_bind(void) {
  fx f;
  fx_init(&f);
  put_node(&f, "n1");
  put_node(&f, "n2");
  char name[32];
  for (int i = 0; i < 300; i++) {
    snprintf(name, sizeof(name), "q%d", i);
    nw__store_put(f.store, NW__K_POD, pod(name, NULL, "1"));
  }
  check_same(&f, f.cache);
  uint64_t x = 0x2545f4914f6cdd1dull;
  for (int step = 0; step < 2000; step++) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    snprintf(name, sizeof(name), "q%u", (unsigned)(x % 300));
    unsigned how = (unsigned)(x >> 32) % 4;
    if (how == 0)
      nw__store_remove(f.store, NW__K_POD, "default", name);
    else
      nw__store_put(f.store, NW__K_POD,
                    pod(name, how == 1 ? "n1" : (how == 2 ? "n2" : NULL), "1"));
    if (step % 7 == 0)
      check_same(&f, f.cache);
  }
  check_same(&f, f.cache);
  fx_free(&f);
}

NW_TEST_CASES({"decoded_objects_follow_the_store",
               test_decoded_objects_follow_the_store},
              {"many_takes_stay_right", test_many_takes_stay_right},
              {"maintained_equals_walk", test_maintained_equals_walk},
              {"rebind_keeps_store_order", test_rebind_keeps_store_order},
              {"many_pending_bind", test_many_pending_bind},
              {"usable_types_are_invalidated", test_usable_types_are_invalidated},
              {"versioned_types", test_versioned_types},
              {"claim_copy_is_private", test_claim_copy_is_private},
              {"borrowed_claims_outlive_changes", test_borrowed_claims_outlive_changes},
              {"scheduling_is_unchanged", test_scheduling_is_unchanged});
NW_TEST_MAIN("snapshot_cache", NULL, NULL);
