/*
 * The synthetic instance-type catalog: export to the host's data model,
 * requirement matching, and the choice of the cheapest offering.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kind.h"

#define L_ARCH "kubernetes.io/arch"
#define L_OS "kubernetes.io/os"
#define L_TYPE "node.kubernetes.io/instance-type"
#define L_ZONE "topology.kubernetes.io/zone"
#define L_CAPACITY "karpenter.sh/capacity-type"

/* Is the type larger than Docker lets a container be on this host? */
static int too_big(const nw__kind_config *cfg, const nw__kind_type *t,
                   int host_cpus) {
  return host_cpus > 0 && t->cpus * cfg->cpu_scale > host_cpus + 1e-9;
}

/* The value a node of (t, zone, capacity) has for a label key, written to
 * buf; NULL when such nodes do not carry the label. */
static const char *label_value(const nw__kind_config *cfg,
                               const nw__kind_type *t, const char *zone,
                               const char *capacity, const char *key,
                               char *buf, size_t len) {
  if (strcmp(key, L_ARCH) == 0)
    return cfg->arch;
  if (strcmp(key, L_OS) == 0)
    return cfg->os;
  if (strcmp(key, L_TYPE) == 0)
    return t->name;
  if (strcmp(key, L_ZONE) == 0)
    return zone;
  if (strcmp(key, L_CAPACITY) == 0)
    return capacity;
  if (strcmp(key, NW_KIND_LABEL_FAMILY) == 0)
    return t->family;
  if (strcmp(key, NW_KIND_LABEL_CPU) == 0) {
    snprintf(buf, len, "%d", t->cpus);
    return buf;
  }
  if (strcmp(key, NW_KIND_LABEL_MEMORY) == 0) {
    snprintf(buf, len, "%lld", (long long)t->memory_mib);
    return buf;
  }
  return NULL;
}

static int is_catalog_key(const char *key) {
  static const char *const keys[] = {L_ARCH, L_OS, L_TYPE, L_ZONE, L_CAPACITY,
                                     NW_KIND_LABEL_FAMILY, NW_KIND_LABEL_CPU,
                                     NW_KIND_LABEL_MEMORY, NULL};
  for (size_t i = 0; keys[i]; i++) {
    if (strcmp(keys[i], key) == 0)
      return 1;
  }
  return 0;
}

static int parse_num(const char *s, long long *out) {
  char *end;
  errno = 0;
  *out = strtoll(s, &end, 10);
  return errno == 0 && end != s && *end == '\0';
}

int nw__kind_requirement_holds(const nw_requirement *r, const char *value) {
  int in = 0;
  long long a, b;
  for (size_t i = 0; value && i < r->n_values; i++) {
    if (r->values[i] && strcmp(r->values[i], value) == 0)
      in = 1;
  }
  switch (r->op) {
  case NW_OP_IN:
    return in;
  case NW_OP_NOT_IN:
    return !in;
  case NW_OP_EXISTS:
    return value != NULL;
  case NW_OP_DOES_NOT_EXIST:
    return value == NULL;
  default:
    break;
  }
  if (!value || r->n_values < 1 || !r->values[0] || !parse_num(value, &a) ||
      !parse_num(r->values[0], &b))
    return 0;
  switch (r->op) {
  case NW_OP_GT:
    return a > b;
  case NW_OP_LT:
    return a < b;
  case NW_OP_GTE:
    return a >= b;
  case NW_OP_LTE:
    return a <= b;
  default:
    return 0;
  }
}

/* Do all requirements on catalog labels hold for (t, zone, capacity)?
 * Requirements on other labels (the pool's own labels) are the node's to
 * carry, not the instance type's, so they do not restrict the choice. */
static int matches(const nw__kind_config *cfg, const nw_requirements *reqs,
                   const nw__kind_type *t, const char *zone,
                   const char *capacity) {
  for (size_t i = 0; reqs && i < reqs->len; i++) {
    const nw_requirement *r = &reqs->items[i];
    char buf[32];
    if (!r->key || !is_catalog_key(r->key))
      continue;
    if (!nw__kind_requirement_holds(r, label_value(cfg, t, zone, capacity,
                                                   r->key, buf, sizeof(buf))))
      return 0;
  }
  return 1;
}

/* Do the requests fit the type's allocatable?  The catalog has no extended
 * resources, so any positive request for one does not fit. */
static int fits(const nw__kind_config *cfg, const nw__kind_type *t,
                const nw_resource_list *requests) {
  int64_t cpu = (int64_t)t->cpus * 1000 - cfg->kube_reserved_cpu_m -
                cfg->system_reserved_cpu_m;
  int64_t mem = (t->memory_mib - cfg->kube_reserved_mem_mib -
                 cfg->system_reserved_mem_mib - cfg->eviction_mem_mib) *
                INT64_C(1048576);
  for (size_t i = 0; requests && i < requests->len; i++) {
    const nw_resource *r = &requests->items[i];
    int64_t have = 0;
    if (!r->name || r->value <= 0)
      continue;
    if (strcmp(r->name, "cpu") == 0)
      have = cpu;
    else if (strcmp(r->name, "memory") == 0)
      have = mem;
    else if (strcmp(r->name, "pods") == 0)
      have = cfg->pods;
    if (r->value > have)
      return 0;
  }
  return 1;
}

int nw__kind_pick(const nw__kind_config *cfg, const nw_requirements *reqs,
                  const nw_resource_list *requests, int host_cpus,
                  const nw__kind_type **type, const char **zone,
                  const char **capacity_type) {
  static const char *const caps[] = {NW_CAPACITY_ON_DEMAND, NW_CAPACITY_SPOT};
  double best = -1;
  for (size_t i = 0; i < cfg->n_types; i++) {
    const nw__kind_type *t = &cfg->types[i];
    if (too_big(cfg, t, host_cpus) || !fits(cfg, t, requests))
      continue;
    for (size_t c = 0; c < 2; c++) {
      if ((c == 0 && !cfg->on_demand) || (c == 1 && !cfg->spot))
        continue;
      double price = c == 0 ? t->price_on_demand : t->price_spot;
      for (size_t z = 0; z < cfg->n_zones; z++) {
        if (best >= 0 && price >= best)
          continue;
        if (!matches(cfg, reqs, t, cfg->zones[z], caps[c]))
          continue;
        best = price;
        *type = t;
        *zone = cfg->zones[z];
        *capacity_type = caps[c];
      }
    }
  }
  return best >= 0 ? 0 : -1;
}

/* ---- export ----------------------------------------------------------- */

typedef struct exporter {
  const nw_host_api *host;
  nw_arena *arena;
  int oom;
} exporter;

static void *ealloc(exporter *e, size_t n) {
  void *p = e->host->arena_alloc(e->arena, n ? n : 1);
  if (!p)
    e->oom = 1;
  return p;
}

static const char *estr(exporter *e, const char *s) {
  char *p = e->host->arena_strdup(e->arena, s);
  if (!p)
    e->oom = 1;
  return p;
}

/* Sets *r to `key In values`. */
static void req_in(exporter *e, nw_requirement *r, const char *key,
                   const char *const *values, size_t n) {
  const char **v = ealloc(e, n * sizeof(char *));
  r->key = key;
  r->op = NW_OP_IN;
  if (!v)
    return;
  for (size_t i = 0; i < n; i++)
    v[i] = estr(e, values[i]);
  r->values = v;
  r->n_values = n;
}

static void export_requirements(exporter *e, const nw__kind_config *cfg,
                                 const nw__kind_type *t, nw_instance_type *it) {
  nw_requirement *r = ealloc(e, 8 * sizeof(*r));
  const char *caps[2];
  size_t n_caps = 0;
  char cpu[16], mem[24];
  const char *one[1];
  if (!r)
    return;
  if (cfg->on_demand)
    caps[n_caps++] = NW_CAPACITY_ON_DEMAND;
  if (cfg->spot)
    caps[n_caps++] = NW_CAPACITY_SPOT;
  snprintf(cpu, sizeof(cpu), "%d", t->cpus);
  snprintf(mem, sizeof(mem), "%lld", (long long)t->memory_mib);
  one[0] = cfg->arch;
  req_in(e, &r[0], L_ARCH, one, 1);
  one[0] = cfg->os;
  req_in(e, &r[1], L_OS, one, 1);
  one[0] = t->name;
  req_in(e, &r[2], L_TYPE, one, 1);
  req_in(e, &r[3], L_ZONE, (const char *const *)cfg->zones, cfg->n_zones);
  req_in(e, &r[4], L_CAPACITY, caps, n_caps);
  one[0] = cpu;
  req_in(e, &r[5], NW_KIND_LABEL_CPU, one, 1);
  one[0] = mem;
  req_in(e, &r[6], NW_KIND_LABEL_MEMORY, one, 1);
  one[0] = t->family;
  req_in(e, &r[7], NW_KIND_LABEL_FAMILY, one, 1);
  it->requirements.items = r;
  it->requirements.len = 8;
}

static nw_resource_list resources(exporter *e, int64_t cpu_m, int64_t mem_b,
                                  int64_t pods) {
  nw_resource_list l = {0};
  nw_resource *r = ealloc(e, 3 * sizeof(*r));
  if (!r)
    return l;
  r[l.len].name = "cpu";
  r[l.len++].value = cpu_m;
  r[l.len].name = "memory";
  r[l.len++].value = mem_b;
  if (pods > 0) {
    r[l.len].name = "pods";
    r[l.len++].value = pods;
  }
  l.items = r;
  return l;
}

static void export_offerings(exporter *e, const nw__kind_config *cfg,
                             const nw__kind_type *t, int available,
                             nw_instance_type *it) {
  size_t n = cfg->n_zones * (size_t)(cfg->on_demand + cfg->spot);
  nw_offering *o = ealloc(e, n * sizeof(*o));
  if (!o)
    return;
  size_t k = 0;
  for (size_t z = 0; z < cfg->n_zones; z++) {
    if (cfg->on_demand) {
      o[k].zone = cfg->zones[z];
      o[k].capacity_type = NW_CAPACITY_ON_DEMAND;
      o[k].price = t->price_on_demand;
      o[k++].available = available;
    }
    if (cfg->spot) {
      o[k].zone = cfg->zones[z];
      o[k].capacity_type = NW_CAPACITY_SPOT;
      o[k].price = t->price_spot;
      o[k++].available = available;
    }
  }
  for (size_t i = 0; i < k; i++)
    o[i].zone = estr(e, o[i].zone);
  it->offerings = o;
  it->n_offerings = k;
}

nw_status nw__kind_catalog(const nw_host_api *host, const nw__kind_config *cfg,
                           int host_cpus, nw_arena *arena,
                           nw_instance_types *out, nw_error *err) {
  exporter e = {host, arena, 0};
  const int64_t mib = 1024 * 1024;
  nw_instance_type *items = ealloc(&e, cfg->n_types * sizeof(*items));
  for (size_t i = 0; items && i < cfg->n_types; i++) {
    const nw__kind_type *t = &cfg->types[i];
    nw_instance_type *it = &items[i];
    it->name = estr(&e, t->name);
    export_requirements(&e, cfg, t, it);
    export_offerings(&e, cfg, t, !too_big(cfg, t, host_cpus), it);
    it->capacity = resources(&e, (int64_t)t->cpus * 1000, t->memory_mib * mib,
                             cfg->pods);
    it->kube_reserved = resources(&e, cfg->kube_reserved_cpu_m,
                                  cfg->kube_reserved_mem_mib * mib, 0);
    it->system_reserved = resources(&e, cfg->system_reserved_cpu_m,
                                    cfg->system_reserved_mem_mib * mib, 0);
    it->eviction_threshold = resources(&e, 0, cfg->eviction_mem_mib * mib, 0);
  }
  if (e.oom)
    return nw__kind_err(err, NW_ERR, "kind: out of memory building the catalog");
  out->items = items;
  out->len = cfg->n_types;
  return NW_OK;
}
