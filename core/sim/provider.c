#include "sim/provider.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/objects.h"
#include "scheduling/scheduler.h"
#include "util/arena.h"

typedef struct instance {
  char *provider_id;
  char *claim;
  char *nodepool;
  const nw_instance_type *type;   /* borrowed from the world's catalog */
  char *zone;
  char *capacity_type;
  nw_instance_state state;
  int64_t created_ms;
  json_t *labels;
} instance;

typedef struct sim_provider {
  nw__world *world;
  nw__env *env;
  int64_t launch_ms;
  int64_t notice_ms;
  instance *items;
  size_t len, cap;
  nw_provider_event *events;      /* queued for poll_events */
  char **event_ids;               /* owned provider ids of the events */
  size_t n_events, cap_events;
  uint64_t seq;
  nw_arena *arena;                /* timer contexts, the priced catalog */
  nw_instance_types priced;
  /* Parallel to priced: each type's node labels except zone and capacity
   * type (which come from the offering), computed once. */
  nw_labels *type_labels;
  json_t *type_index;             /* type name -> catalog position */
  json_t *by_claim;               /* claim name -> items position */
  json_t *by_id;                  /* provider id -> items position */
} sim_provider;

static const nw_node_class_ref kinds[] = {
    {"karpenter.k8s.aws", "EC2NodeClass", NULL},
    {"karpenter.kwok.sh", "KWOKNodeClass", NULL},
    {"nodewright.io", "SimNodeClass", NULL}};

static nw_status init(const nw_host_api *host, nw_plugin_handle *h,
                      void **state, nw_error *err) {
  (void)host;
  (void)h;
  sim_provider *p = calloc(1, sizeof(*p));
  if (!p) {
    snprintf(err->message, sizeof(err->message), "out of memory");
    return NW_ERR;
  }
  p->arena = nw__arena_new();
  p->by_claim = json_object();
  p->by_id = json_object();
  p->type_index = json_object();
  *state = p;
  return NW_OK;
}

static void fini(void *state) {
  sim_provider *p = state;
  for (size_t i = 0; i < p->len; i++) {
    free(p->items[i].provider_id);
    free(p->items[i].claim);
    free(p->items[i].nodepool);
    free(p->items[i].zone);
    free(p->items[i].capacity_type);
    json_decref(p->items[i].labels);
  }
  for (size_t i = 0; i < p->n_events; i++)
    free(p->event_ids[i]);
  free(p->events);
  free(p->event_ids);
  free(p->items);
  json_decref(p->by_claim);
  json_decref(p->by_id);
  json_decref(p->type_index);
  nw__arena_free(p->arena);
  free(p);
}

static void type_labels(const nw_instance_type *t, nw_arena *a, nw_labels *out);

/*
 * The catalog with every offering priced once, through the pricing plugins
 * when one is loaded (as a cloud provider consults them), else at the
 * catalog's prices.  Prices do not move during a run, so the engine gets
 * priced offerings and does not price 10,000 of them on every pass.
 */
static const nw_instance_types *priced(sim_provider *p) {
  if (p->priced.items)
    return &p->priced;
  const nw_instance_types *cat = nw__world_types(p->world);
  nw_instance_type *types = nw__arena_alloc(p->arena,
                                            (cat->len + 1) * sizeof(*types));
  for (size_t i = 0; i < cat->len; i++) {
    types[i] = cat->items[i];
    nw_offering *offs = nw__arena_alloc(
        p->arena, (types[i].n_offerings + 1) * sizeof(*offs));
    for (size_t o = 0; o < types[i].n_offerings; o++) {
      offs[o] = cat->items[i].offerings[o];
      offs[o].price = nw__world_price(p->world, types[i].name, offs[o].zone,
                                      offs[o].capacity_type);
      if (offs[o].price < 0)
        offs[o].available = 0;
    }
    types[i].offerings = offs;
  }
  p->type_labels = nw__arena_alloc(p->arena, (cat->len + 1) * sizeof(nw_labels));
  for (size_t i = 0; i < cat->len; i++) {
    type_labels(&types[i], p->arena, &p->type_labels[i]);
    if (!json_object_get(p->type_index, types[i].name))
      json_object_set_new(p->type_index, types[i].name, json_integer((json_int_t)i));
  }
  p->priced.len = cat->len;
  p->priced.items = types;
  return &p->priced;
}

static nw_status instance_types(void *state, const char *nodepool,
                                const char *node_class_json, nw_arena *arena,
                                nw_instance_types *out, nw_error *err) {
  (void)nodepool;
  (void)node_class_json;
  (void)arena;
  (void)err;
  /* Borrowed from the provider's arena, which outlives every call. */
  *out = *priced(state);
  return NW_OK;
}

/* The priced catalog is built once and never changes during a run, and
 * every node pool and class gets all of it: one version for the run. */
static uint64_t instance_types_version(void *state, const char *nodepool,
                                       const char *node_class_json) {
  (void)state;
  (void)nodepool;
  (void)node_class_json;
  return 1;
}

/* An instance by a key of one of the provider's indexes; NULL if none. */
static instance *find_in(sim_provider *p, const json_t *index, const char *key) {
  const json_t *pos = key ? json_object_get(index, key) : NULL;
  return pos ? &p->items[json_integer_value(pos)] : NULL;
}

static instance *find_claim(sim_provider *p, const char *claim) {
  return find_in(p, p->by_claim, claim);
}

static instance *find_id(sim_provider *p, const char *id) {
  return find_in(p, p->by_id, id);
}

static int offering_key(const char *key) {
  return strcmp(key, "topology.kubernetes.io/zone") == 0 ||
         strcmp(key, "karpenter.sh/capacity-type") == 0;
}

/* The labels a node of this type carries apart from its offering's zone
 * and capacity type, with two spare slots for those (what a claim's
 * requirements are checked against).  Into the arena. */
static void type_labels(const nw_instance_type *t, nw_arena *a, nw_labels *out) {
  nw_kv *kv = nw__arena_alloc(a, (t->requirements.len + 3) * sizeof(*kv));
  size_t n = 0;
  for (size_t i = 0; i < t->requirements.len; i++) {
    const nw_requirement *r = &t->requirements.items[i];
    if (r->op != NW_OP_IN || r->n_values != 1 || offering_key(r->key))
      continue;
    kv[n++] = (nw_kv){r->key, r->values[0]};
  }
  kv[n++] = (nw_kv){"node.kubernetes.io/instance-type", t->name};
  *out = (nw_labels){n, kv};
}

/* The claim's requirements on keys the labels carry: requirements on other
 * keys (the pool's own labels) do not choose an offering.  `offering`
 * selects the requirements on zone and capacity type (checked per
 * offering), else the others (checked once per type). */
static int reqs_fit(const nw_node_claim *c, const nw_labels *ls, int offering) {
  for (size_t i = 0; i < c->requirements.len; i++) {
    const nw_requirement *r = &c->requirements.items[i];
    if (offering_key(r->key) != offering)
      continue;
    if (!offering && !nw__labels_get(ls, r->key))
      continue;
    nw_requirements rs = {1, r};
    if (!nw__requirements_match_labels(&rs, ls))
      return 0;
  }
  return 1;
}

static int cmp_size(const void *a, const void *b) {
  size_t x = *(const size_t *)a, y = *(const size_t *)b;
  return (x > y) - (x < y);
}

/* Catalog positions worth checking for the claim, ascending: the types an
 * instance-type In requirement names (every claim the engine makes has
 * one), else all.  Returns the count; *out is in the arena. */
static size_t candidate_types(sim_provider *p, const nw_node_claim *c,
                              nw_arena *a, size_t **out) {
  const nw_instance_types *cat = &p->priced;
  const nw_requirement *it = NULL;
  for (size_t i = 0; i < c->requirements.len && !it; i++) {
    const nw_requirement *r = &c->requirements.items[i];
    if (r->op == NW_OP_IN &&
        strcmp(r->key, "node.kubernetes.io/instance-type") == 0)
      it = r;
  }
  size_t n = 0;
  size_t *pos = nw__arena_alloc(a, ((it ? it->n_values : cat->len) + 1) * sizeof(*pos));
  if (!it) {
    for (size_t i = 0; i < cat->len; i++)
      pos[n++] = i;
  } else {
    for (size_t v = 0; v < it->n_values; v++) {
      const json_t *at = json_object_get(p->type_index, it->values[v]);
      if (at)
        pos[n++] = (size_t)json_integer_value(at);
    }
    qsort(pos, n, sizeof(*pos), cmp_size);
  }
  *out = pos;
  return n;
}

static void fill_out(const instance *in, nw_arena *arena,
                     nw_node_instance *out) {
  memset(out, 0, sizeof(*out));
  out->provider_id = nw__arena_strdup(arena, in->provider_id);
  out->claim_name = nw__arena_strdup(arena, in->claim);
  out->nodepool = nw__arena_strdup(arena, in->nodepool);
  out->instance_type = nw__arena_strdup(arena, in->type->name);
  out->zone = nw__arena_strdup(arena, in->zone);
  out->capacity_type = nw__arena_strdup(arena, in->capacity_type);
  out->image_id = "ami-simulated";
  out->state = in->state;
  out->created_at_ms = in->created_ms;
  out->capacity = in->type->capacity;
  nw_resource *alloc = nw__arena_alloc(
      arena, (in->type->capacity.len + 1) * sizeof(*alloc));
  for (size_t i = 0; i < in->type->capacity.len; i++) {
    alloc[i].name = in->type->capacity.items[i].name;
    alloc[i].value = nw__instance_type_allocatable(in->type, alloc[i].name);
  }
  out->allocatable = (nw_resource_list){in->type->capacity.len, alloc};
}

static nw_status create(void *state, const nw_node_claim *c, nw_arena *arena,
                        nw_node_instance *out, nw_error *err) {
  sim_provider *p = state;
  nw__env_set_latency(p->env, p->launch_ms);
  instance *have = find_claim(p, c->name);
  if (have) {
    fill_out(have, arena, out);
    return NW_OK;
  }
  const nw_instance_types *cat = priced(p);
  const nw_instance_type *best_t = NULL;
  const nw_offering *best_o = NULL;
  double best = 0;
  size_t *pos = NULL;
  size_t n_pos = candidate_types(p, c, arena, &pos);
  for (size_t k = 0; k < n_pos; k++) {
    if (k > 0 && pos[k] == pos[k - 1])
      continue;
    const nw_instance_type *t = &cat->items[pos[k]];
    const nw_labels *tl = &p->type_labels[pos[k]];
    if (!reqs_fit(c, tl, 0))
      continue;
    nw_kv kv[tl->len + 2];
    memcpy(kv, tl->items, tl->len * sizeof(*kv));
    nw_labels ls = {tl->len + 2, kv};
    for (size_t o = 0; o < t->n_offerings; o++) {
      const nw_offering *of = &t->offerings[o];
      if (!of->available)
        continue;
      kv[tl->len] = (nw_kv){"topology.kubernetes.io/zone", of->zone};
      kv[tl->len + 1] = (nw_kv){"karpenter.sh/capacity-type", of->capacity_type};
      if (!reqs_fit(c, &ls, 1))
        continue;
      double price = of->price;
      if (price < 0 || (best_t && price >= best))
        continue;
      best_t = t;
      best_o = of;
      best = price;
    }
  }
  if (!best_t) {
    snprintf(err->message, sizeof(err->message),
             "no available offering satisfies claim %s", c->name);
    return NW_ERR_INSUFFICIENT_CAPACITY;
  }
  if (p->len == p->cap) {
    size_t cap = p->cap ? p->cap * 2 : 64;
    instance *g = realloc(p->items, cap * sizeof(*g));
    if (!g)
      return NW_ERR;
    p->items = g;
    p->cap = cap;
  }
  instance *in = &p->items[p->len++];
  memset(in, 0, sizeof(*in));
  char id[128];
  snprintf(id, sizeof(id), "aws:///%s/i-%017llx", best_o->zone,
           (unsigned long long)(0x0a000000000000ull + ++p->seq));
  in->provider_id = strdup(id);
  in->claim = strdup(c->name);
  json_object_set_new(p->by_claim, in->claim, json_integer((json_int_t)(p->len - 1)));
  json_object_set_new(p->by_id, in->provider_id, json_integer((json_int_t)(p->len - 1)));
  in->nodepool = strdup(c->nodepool ? c->nodepool : "");
  in->type = best_t;
  in->zone = strdup(best_o->zone);
  in->capacity_type = strdup(best_o->capacity_type);
  in->state = NW_INSTANCE_RUNNING;
  in->created_ms = p->env->ops->now_ms(p->env);
  /* The kubelet registers with the claim's labels and taints, plus the
   * unregistered taint Karpenter's bootstrap adds. */
  json_t *labels = json_object();
  for (size_t i = 0; i < c->labels.len; i++)
    json_object_set_new(labels, c->labels.items[i].key,
                        json_string(c->labels.items[i].value));
  json_t *taints = json_array();
  const nw_taints *lists[] = {&c->taints, &c->startup_taints};
  for (int l = 0; l < 2; l++) {
    for (size_t i = 0; i < lists[l]->len; i++) {
      const nw_taint *t = &lists[l]->items[i];
      json_t *o = json_pack("{s:s, s:s}", "key", t->key, "effect",
                            nw__taint_effect_name(t->effect));
      if (t->value && *t->value)
        json_object_set_new(o, "value", json_string(t->value));
      json_array_append_new(taints, o);
    }
  }
  json_array_append_new(taints, json_pack("{s:s, s:s}", "key",
                                          "karpenter.sh/unregistered",
                                          "effect", "NoExecute"));
  in->labels = labels;
  nw__world_instance_launched(p->world, in->provider_id, best_t->name,
                              in->zone, in->capacity_type, labels, taints);
  json_decref(taints);
  fill_out(in, arena, out);
  return NW_OK;
}

static nw_status delete_instance(void *state, const char *id, nw_error *err) {
  sim_provider *p = state;
  instance *in = find_id(p, id);
  if (!in || in->state == NW_INSTANCE_TERMINATED) {
    snprintf(err->message, sizeof(err->message), "%s: not found", id);
    return NW_ERR_NOT_FOUND;
  }
  in->state = NW_INSTANCE_TERMINATED;
  nw__world_instance_gone(p->world, id);
  return NW_OK;
}

static nw_status get(void *state, const char *id, nw_arena *arena,
                     nw_node_instance *out, nw_error *err) {
  sim_provider *p = state;
  instance *in = find_id(p, id);
  if (!in || in->state == NW_INSTANCE_TERMINATED) {
    snprintf(err->message, sizeof(err->message), "%s: not found", id);
    return NW_ERR_NOT_FOUND;
  }
  fill_out(in, arena, out);
  return NW_OK;
}

static nw_status list(void *state, nw_arena *arena, nw_node_instances *out,
                      nw_error *err) {
  sim_provider *p = state;
  (void)err;
  nw_node_instance *items = nw__arena_alloc(arena, (p->len + 1) * sizeof(*items));
  size_t n = 0;
  for (size_t i = 0; i < p->len; i++)
    if (p->items[i].state != NW_INSTANCE_TERMINATED)
      fill_out(&p->items[i], arena, &items[n++]);
  out->len = n;
  out->items = items;
  return NW_OK;
}

static nw_status is_drifted(void *state, const nw_node_instance *in,
                            const char *node_class_json, nw_arena *arena,
                            const char **reason, nw_error *err) {
  (void)state;
  (void)in;
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
  nw_repair_policy *r = nw__arena_alloc(arena, 2 * sizeof(*r));
  r[0] = (nw_repair_policy){"Ready", "False", 600};
  r[1] = (nw_repair_policy){"Ready", "Unknown", 600};
  *out = (nw_repair_policies){2, r};
  return NW_OK;
}

static nw_status poll_events(void *state, int64_t wait_ms, size_t max,
                             nw_arena *arena, nw_provider_event **out,
                             size_t *n_out, nw_error *err) {
  sim_provider *p = state;
  (void)wait_ms;
  (void)err;
  size_t n = p->n_events < max ? p->n_events : max;
  nw_provider_event *ev = nw__arena_alloc(arena, (n + 1) * sizeof(*ev));
  for (size_t i = 0; i < n; i++) {
    ev[i] = p->events[i];
    ev[i].provider_id = nw__arena_strdup(arena, p->event_ids[i]);
    ev[i].detail = ev[i].kind == NW_EVENT_SPOT_INTERRUPTION
                       ? "simulated spot interruption warning"
                       : "simulated instance stop";
    free(p->event_ids[i]);
  }
  if (n > 0) {
    memmove(p->events, p->events + n,
            (p->n_events - n) * sizeof(*p->events));
    memmove(p->event_ids, p->event_ids + n,
            (p->n_events - n) * sizeof(*p->event_ids));
    p->n_events -= n;
  }
  *out = ev;
  *n_out = n;
  return NW_OK;
}

static const nw_provider_vtable vtable = {
    .size = sizeof(nw_provider_vtable),
    .n_node_class_kinds = sizeof(kinds) / sizeof(kinds[0]),
    .node_class_kinds = kinds,
    .instance_types = instance_types,
    .create = create,
    .delete_instance = delete_instance,
    .get = get,
    .list = list,
    .is_drifted = is_drifted,
    .repair_policies = repair_policies,
    .poll_events = poll_events,
    .instance_types_version = instance_types_version,
};

static const nw_plugin_descriptor descriptor = {
    NW_DESCRIPTOR_HEAD(NW_PLUGIN_PROVIDER),
    .name = "sim",
    .version = NW_VERSION,
    .description = "the simulator's in-process cloud over the scenario's "
                   "catalog",
    .init = init,
    .fini = fini,
    .vtable = &vtable,
};

const nw_plugin_descriptor *nw__sim_provider_descriptor(void) {
  return &descriptor;
}

void nw__sim_provider_attach(void *state, nw__world *w, nw__env *env,
                             int64_t launch_ms, int64_t notice_ms) {
  sim_provider *p = state;
  p->world = w;
  p->env = env;
  p->launch_ms = launch_ms;
  p->notice_ms = notice_ms;
}

int nw__sim_provider_alive(void *state, const char *id) {
  instance *in = find_id(state, id);
  return in && in->state != NW_INSTANCE_TERMINATED;
}

typedef struct notice {
  sim_provider *p;
  char *id;
} notice;

/* The notice ran out: the cloud takes the instance back. */
static void notice_over(void *arg) {
  notice *n = arg;
  instance *in = find_id(n->p, n->id);
  if (in && in->state != NW_INSTANCE_TERMINATED) {
    in->state = NW_INSTANCE_TERMINATED;
    nw__world_instance_gone(n->p->world, n->id);
  }
}

/* Queues an event for poll_events and ends the instance after `after_ms`. */
static int queue_event(sim_provider *p, const char *id, nw_event_kind kind,
                       const char *state, int64_t after_ms) {
  instance *in = find_id(p, id);
  if (!in || in->state == NW_INSTANCE_TERMINATED)
    return -1;
  if (p->n_events == p->cap_events) {
    size_t cap = p->cap_events ? p->cap_events * 2 : 16;
    p->events = realloc(p->events, cap * sizeof(*p->events));
    p->event_ids = realloc(p->event_ids, cap * sizeof(*p->event_ids));
    p->cap_events = cap;
  }
  int64_t t = p->env->ops->now_ms(p->env);
  p->events[p->n_events] = (nw_provider_event){kind, NULL, state, t, NULL};
  p->event_ids[p->n_events++] = strdup(id);
  /* In the arena: a notice still running when the run ends is no leak. */
  notice *n = nw__arena_alloc(p->arena, sizeof(*n));
  n->p = p;
  n->id = nw__arena_strdup(p->arena, id);
  p->env->ops->timer_start(p->env, after_ms, notice_over, n);
  return 0;
}

int nw__sim_provider_interrupt(void *state, const char *id) {
  sim_provider *p = state;
  return queue_event(p, id, NW_EVENT_SPOT_INTERRUPTION, NULL, p->notice_ms);
}

int nw__sim_provider_stop(void *state, const char *id) {
  return queue_event(state, id, NW_EVENT_STATE_CHANGE, "stopping", 1000);
}
