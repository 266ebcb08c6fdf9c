/*
 * example-provider: a complete cloud provider whose machines are records in
 * memory.  Everything a real provider does is here in small: a catalog of
 * instance types with offerings, idempotent create keyed by claim name,
 * delete with a distinct "already gone", get/list, drift, repair policies
 * and an (empty) event stream.
 *
 * Threading: the host calls these from worker threads concurrently, so the
 * node table is guarded by a mutex.  Outputs are allocated in the arena the
 * host passes; the plugin frees only its own state.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <nodewright/nodewright.h>

enum { MAX_NODES = 256, MAX_ZONES = 8 };

typedef struct node {
  char claim[128];
  char provider_id[192];
  char type[32];
  char zone[32];
  char capacity_type[16];
  int64_t created_ms;
} node;

typedef struct provider {
  pthread_mutex_t lock;
  node nodes[MAX_NODES];
  size_t n_nodes;
  char zones[MAX_ZONES][32];
  size_t n_zones;
  int64_t next_id;
} provider;

static const struct {
  const char *name;
  int64_t cpu_m;
  int64_t mem_gib;
  double usd;
} catalog[] = {
    {"ex.small", 2000, 4, 0.05}, {"ex.medium", 4000, 8, 0.10},
    {"ex.large", 8000, 16, 0.20}};
enum { N_TYPES = sizeof(catalog) / sizeof(catalog[0]) };

static const nw_host_api *host;
static nw_plugin_handle *self;

/* Builds an arena string list of one value: requirement "key In [value]". */
static nw_requirement one_value(nw_arena *a, const char *key,
                                const char *value) {
  const char **vals = host->arena_alloc(a, sizeof(char *));
  vals[0] = host->arena_strdup(a, value);
  nw_requirement r = {.key = key, .op = NW_OP_IN, .n_values = 1,
                      .values = vals};
  return r;
}

static nw_resource_list resources(nw_arena *a, int64_t cpu_m, int64_t mem,
                                  int64_t pods) {
  nw_resource *r = host->arena_alloc(a, 3 * sizeof(*r));
  r[0] = (nw_resource){"cpu", cpu_m};
  r[1] = (nw_resource){"memory", mem};
  r[2] = (nw_resource){"pods", pods};
  nw_resource_list l = {3, r};
  return l;
}

static nw_status fill_type(provider *p, nw_arena *a, size_t i,
                           nw_instance_type *t) {
  t->name = catalog[i].name;
  nw_requirement *req = host->arena_alloc(a, 3 * sizeof(*req));
  if (!req)
    return NW_ERR;
  req[0] = one_value(a, "node.kubernetes.io/instance-type", catalog[i].name);
  req[1] = one_value(a, "kubernetes.io/arch", "amd64");
  req[2] = one_value(a, "kubernetes.io/os", "linux");
  t->requirements = (nw_requirements){3, req};
  nw_offering *off = host->arena_alloc(a, 2 * p->n_zones * sizeof(*off));
  if (!off)
    return NW_ERR;
  for (size_t z = 0; z < p->n_zones; z++) {
    off[2 * z] = (nw_offering){p->zones[z], NW_CAPACITY_ON_DEMAND,
                               catalog[i].usd, 1};
    off[2 * z + 1] = (nw_offering){p->zones[z], NW_CAPACITY_SPOT,
                                   catalog[i].usd * 0.4, 1};
  }
  t->offerings = off;
  t->n_offerings = 2 * p->n_zones;
  t->capacity = resources(a, catalog[i].cpu_m, catalog[i].mem_gib << 30, 110);
  t->kube_reserved = resources(a, 100, 256 << 20, 0);
  return NW_OK;
}

static nw_status instance_types(void *state, const char *nodepool,
                                const char *node_class_json, nw_arena *arena,
                                nw_instance_types *out, nw_error *err) {
  provider *p = state;
  (void)nodepool;
  (void)node_class_json;
  (void)err;
  nw_instance_type *types = host->arena_alloc(arena, N_TYPES * sizeof(*types));
  if (!types)
    return NW_ERR;
  for (size_t i = 0; i < N_TYPES; i++) {
    if (fill_type(p, arena, i, &types[i]) != NW_OK)
      return NW_ERR;
  }
  out->items = types;
  out->len = N_TYPES;
  return NW_OK;
}

static void to_instance(const node *n, nw_arena *a, nw_node_instance *out) {
  memset(out, 0, sizeof(*out));
  out->provider_id = host->arena_strdup(a, n->provider_id);
  out->claim_name = host->arena_strdup(a, n->claim);
  out->instance_type = host->arena_strdup(a, n->type);
  out->zone = host->arena_strdup(a, n->zone);
  out->capacity_type = host->arena_strdup(a, n->capacity_type);
  out->state = NW_INSTANCE_RUNNING;
  out->created_at_ms = n->created_ms;
  for (size_t i = 0; i < N_TYPES; i++) {
    if (strcmp(catalog[i].name, n->type) == 0)
      out->capacity = resources(a, catalog[i].cpu_m, catalog[i].mem_gib << 30,
                                110);
  }
}

/* Returns the values of requirement `key` with operator In, or NULL. */
static const nw_requirement *find_req(const nw_node_claim *c, const char *key) {
  for (size_t i = 0; i < c->requirements.len; i++) {
    const nw_requirement *r = &c->requirements.items[i];
    if (strcmp(r->key, key) == 0 && r->op == NW_OP_IN)
      return r;
  }
  return NULL;
}

static int allowed(const nw_requirement *r, const char *v) {
  if (!r)
    return 1;
  for (size_t i = 0; i < r->n_values; i++) {
    if (strcmp(r->values[i], v) == 0)
      return 1;
  }
  return 0;
}

static nw_status create(void *state, const nw_node_claim *claim,
                        nw_arena *arena, nw_node_instance *out,
                        nw_error *err) {
  provider *p = state;
  const nw_requirement *types = find_req(claim, "node.kubernetes.io/instance-type");
  const nw_requirement *zones = find_req(claim, "topology.kubernetes.io/zone");
  const nw_requirement *cts = find_req(claim, "karpenter.sh/capacity-type");
  pthread_mutex_lock(&p->lock);
  for (size_t i = 0; i < p->n_nodes; i++) {
    if (strcmp(p->nodes[i].claim, claim->name) == 0) {
      /* Idempotent: the claim already has its machine. */
      to_instance(&p->nodes[i], arena, out);
      pthread_mutex_unlock(&p->lock);
      return NW_OK;
    }
  }
  /* Cheapest offering allowed by the claim: catalog order is by price and
   * spot is cheaper than on-demand in this catalog. */
  const char *ct_order[] = {NW_CAPACITY_SPOT, NW_CAPACITY_ON_DEMAND};
  for (size_t t = 0; t < N_TYPES; t++) {
    for (size_t c = 0; c < 2; c++) {
      for (size_t z = 0; z < p->n_zones; z++) {
        if (!allowed(types, catalog[t].name) || !allowed(cts, ct_order[c]) ||
            !allowed(zones, p->zones[z]) || p->n_nodes == MAX_NODES)
          continue;
        node *n = &p->nodes[p->n_nodes++];
        snprintf(n->claim, sizeof(n->claim), "%s", claim->name);
        snprintf(n->type, sizeof(n->type), "%s", catalog[t].name);
        snprintf(n->zone, sizeof(n->zone), "%s", p->zones[z]);
        snprintf(n->capacity_type, sizeof(n->capacity_type), "%s", ct_order[c]);
        snprintf(n->provider_id, sizeof(n->provider_id), "example:///%s/n-%lld",
                 p->zones[z], (long long)p->next_id++);
        n->created_ms = host->now_ms(self);
        to_instance(n, arena, out);
        pthread_mutex_unlock(&p->lock);
        host->log(self, NW_LOG_INFO, "created %s (%s) for %s", n->provider_id,
                  n->type, claim->name);
        return NW_OK;
      }
    }
  }
  pthread_mutex_unlock(&p->lock);
  snprintf(err->message, sizeof(err->message),
           "no offering satisfies the requirements of %s", claim->name);
  return NW_ERR_INSUFFICIENT_CAPACITY;
}

static nw_status delete_instance(void *state, const char *provider_id,
                                 nw_error *err) {
  provider *p = state;
  (void)err;
  pthread_mutex_lock(&p->lock);
  for (size_t i = 0; i < p->n_nodes; i++) {
    if (strcmp(p->nodes[i].provider_id, provider_id) == 0) {
      p->nodes[i] = p->nodes[--p->n_nodes];
      pthread_mutex_unlock(&p->lock);
      return NW_OK;
    }
  }
  pthread_mutex_unlock(&p->lock);
  return NW_ERR_NOT_FOUND;
}

static nw_status get(void *state, const char *provider_id, nw_arena *arena,
                     nw_node_instance *out, nw_error *err) {
  provider *p = state;
  (void)err;
  nw_status st = NW_ERR_NOT_FOUND;
  pthread_mutex_lock(&p->lock);
  for (size_t i = 0; i < p->n_nodes && st != NW_OK; i++) {
    if (strcmp(p->nodes[i].provider_id, provider_id) == 0) {
      to_instance(&p->nodes[i], arena, out);
      st = NW_OK;
    }
  }
  pthread_mutex_unlock(&p->lock);
  return st;
}

static nw_status list(void *state, nw_arena *arena, nw_node_instances *out,
                      nw_error *err) {
  provider *p = state;
  (void)err;
  pthread_mutex_lock(&p->lock);
  nw_node_instance *items =
      host->arena_alloc(arena, (p->n_nodes + 1) * sizeof(*items));
  for (size_t i = 0; items && i < p->n_nodes; i++)
    to_instance(&p->nodes[i], arena, &items[i]);
  out->items = items;
  out->len = items ? p->n_nodes : 0;
  pthread_mutex_unlock(&p->lock);
  return items ? NW_OK : NW_ERR;
}

static nw_status is_drifted(void *state, const nw_node_instance *instance,
                            const char *node_class_json, nw_arena *arena,
                            const char **reason, nw_error *err) {
  /* In-memory machines never change under us. */
  (void)state;
  (void)instance;
  (void)node_class_json;
  (void)arena;
  (void)err;
  *reason = NULL;
  return NW_OK;
}

static nw_status repair_policies(void *state, nw_arena *arena,
                                 nw_repair_policies *out, nw_error *err) {
  (void)state;
  (void)err;
  nw_repair_policy *p = host->arena_alloc(arena, sizeof(*p));
  if (!p)
    return NW_ERR;
  *p = (nw_repair_policy){"Ready", "False", 600};
  out->items = p;
  out->len = 1;
  return NW_OK;
}

static nw_status poll_events(void *state, int64_t wait_ms, size_t max,
                             nw_arena *arena, nw_provider_event **out,
                             size_t *n_out, nw_error *err) {
  /* Memory does not get interrupted. */
  (void)state;
  (void)wait_ms;
  (void)max;
  (void)arena;
  (void)err;
  *out = NULL;
  *n_out = 0;
  return NW_OK;
}

static nw_status init(const nw_host_api *h, nw_plugin_handle *handle,
                      void **state, nw_error *err) {
  host = h;
  self = handle;
  provider *p = h->alloc(sizeof(*p));
  if (!p)
    return NW_ERR;
  memset(p, 0, sizeof(*p));
  pthread_mutex_init(&p->lock, NULL);
  /* zones: a list of names in config; default one zone. */
  const char *json = h->config_json(handle);
  const char *z = strstr(json, "\"zones\"");
  const char *s = z ? strchr(z, '[') : NULL;
  while (s && *s && *s != ']' && p->n_zones < MAX_ZONES) {
    const char *q1 = strchr(s, '"');
    const char *q2 = q1 ? strchr(q1 + 1, '"') : NULL;
    const char *end = strchr(s, ']');
    if (!q2 || (end && q1 > end))
      break;
    snprintf(p->zones[p->n_zones++], 32, "%.*s", (int)(q2 - q1 - 1), q1 + 1);
    s = q2 + 1;
  }
  if (p->n_zones == 0) {
    if (z) {
      snprintf(err->message, sizeof(err->message),
               "zones must be a non-empty list of strings");
      h->free(p);
      return NW_ERR_INVALID;
    }
    snprintf(p->zones[p->n_zones++], 32, "zone-a");
  }
  *state = p;
  return NW_OK;
}

static void fini(void *state) {
  provider *p = state;
  pthread_mutex_destroy(&p->lock);
  host->free(p);
}

static const nw_node_class_ref classes[] = {
    {"nodewright.dev", "ExampleNodeClass", NULL}};

static const nw_provider_vtable vtable = {
    .size = sizeof(nw_provider_vtable),
    .n_node_class_kinds = 1,
    .node_class_kinds = classes,
    .instance_types = instance_types,
    .create = create,
    .delete_instance = delete_instance,
    .get = get,
    .list = list,
    .is_drifted = is_drifted,
    .repair_policies = repair_policies,
    .poll_events = poll_events,
};

static const nw_plugin_descriptor descriptor = {
    NW_DESCRIPTOR_HEAD(NW_PLUGIN_PROVIDER),
    .name = "example-provider",
    .version = "1.0.0",
    .description = "in-memory machines from a static catalog (SDK example)",
    .init = init,
    .fini = fini,
    .vtable = &vtable,
};

NW_PLUGIN_DEFINE(descriptor)
