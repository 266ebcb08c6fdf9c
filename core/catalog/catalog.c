#include "catalog/catalog.h"

#include <ctype.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/arena.h"

enum { MIB = 1024 * 1024 };
static const int64_t GIB = 1024LL * 1024 * 1024;

int64_t nw__aws_max_pods(int64_t max_enis, int64_t ipv4_per_eni) {
  if (max_enis <= 0 || ipv4_per_eni <= 1)
    return 110;
  return max_enis * (ipv4_per_eni - 1) + 2;
}

int64_t nw__aws_memory_bytes(int64_t memory_mib) {
  int64_t overhead_mib = (int64_t)ceil((double)memory_mib * 0.075);
  return (memory_mib - overhead_mib) * MIB;
}

int64_t nw__aws_kube_reserved_cpu_m(int64_t vcpu) {
  /* Ranges in millicores and the share reserved within each. */
  static const struct {
    int64_t start, end;
    double pct;
  } steps[] = {{0, 1000, 0.06},
               {1000, 2000, 0.01},
               {2000, 4000, 0.005},
               {4000, INT64_MAX, 0.0025}};
  int64_t cpu = vcpu * 1000;
  double r = 0;
  for (size_t i = 0; i < 4; i++) {
    if (cpu <= steps[i].start)
      break;
    int64_t hi = cpu < steps[i].end ? cpu : steps[i].end;
    r += (double)(hi - steps[i].start) * steps[i].pct;
  }
  return (int64_t)r;
}

int64_t nw__aws_kube_reserved_memory(int64_t max_pods) {
  return (11 * max_pods + 255) * (int64_t)MIB;
}

static uint32_t fnv1a(const char *s) {
  uint32_t h = 2166136261u;
  for (; *s; s++)
    h = (h ^ (unsigned char)*s) * 16777619u;
  return h;
}

double nw__aws_spot_price(const char *family, const char *zone, double od) {
  double frac = 0.30 + (double)(fnv1a(family) % 1000) / 1000.0 * 0.15;
  char key[128];
  snprintf(key, sizeof(key), "%s/%s", family, zone);
  double zone_adj = 1.0 + ((double)(fnv1a(key) % 1201) - 600.0) / 10000.0;
  return od * frac * zone_adj;
}

/* ---- building instance types --------------------------------------- */

typedef struct builder {
  nw_arena *a;
  nw_requirement reqs[32];
  size_t n_reqs;
  nw_resource res[4][8];
  size_t n_res[4];
} builder;

static void b_req(builder *b, const char *key, size_t n, const char **vals) {
  if (b->n_reqs == 32 || n == 0)
    return;
  const char **v = nw__arena_alloc(b->a, n * sizeof(*v));
  for (size_t i = 0; i < n; i++)
    v[i] = nw__arena_strdup(b->a, vals[i]);
  /* Keys are string literals: one address per key across the catalog. */
  b->reqs[b->n_reqs++] = (nw_requirement){key, NW_OP_IN, n, v, 0};
}

static void b_req1(builder *b, const char *key, const char *val) {
  b_req(b, key, 1, &val);
}

static void b_reqi(builder *b, const char *key, long long v) {
  char buf[32];
  snprintf(buf, sizeof(buf), "%lld", v);
  b_req1(b, key, buf);
}

/* Resource lists: 0 capacity, 1 kube-reserved, 2 system, 3 eviction. */
static void b_res(builder *b, int list, const char *name, int64_t v) {
  if (b->n_res[list] < 8)
    b->res[list][b->n_res[list]++] = (nw_resource){name, v};
}

static nw_resource_list b_list(builder *b, int list) {
  nw_resource *items = nw__arena_alloc(b->a, (b->n_res[list] + 1) *
                                                 sizeof(*items));
  memcpy(items, b->res[list], b->n_res[list] * sizeof(*items));
  return (nw_resource_list){b->n_res[list], items};
}

static void b_finish(builder *b, nw_instance_type *it, const char *name,
                     nw_offering *offs, size_t n_offs) {
  it->name = nw__arena_strdup(b->a, name);
  nw_requirement *r = nw__arena_alloc(b->a, (b->n_reqs + 1) * sizeof(*r));
  memcpy(r, b->reqs, b->n_reqs * sizeof(*r));
  it->requirements = (nw_requirements){b->n_reqs, r};
  it->offerings = offs;
  it->n_offerings = n_offs;
  it->capacity = b_list(b, 0);
  it->kube_reserved = b_list(b, 1);
  it->system_reserved = b_list(b, 2);
  it->eviction_threshold = b_list(b, 3);
  b->n_reqs = 0;
  memset(b->n_res, 0, sizeof(b->n_res));
}

static nw__catalog *catalog_new(const char *name) {
  nw__catalog *c = calloc(1, sizeof(*c));
  if (!c)
    return NULL;
  c->arena = nw__arena_new();
  if (!c->arena) {
    free(c);
    return NULL;
  }
  c->name = nw__arena_strdup(c->arena, name);
  return c;
}

void nw__catalog_free(nw__catalog *c) {
  if (!c)
    return;
  nw__arena_free(c->arena);
  free(c);
}

nw__catalog *nw__catalog_karpenter_diverse(size_t n) {
  nw__catalog *c = catalog_new("karpenter-diverse");
  if (!c)
    return NULL;
  nw_instance_type *types = nw__arena_alloc(c->arena, (n + 1) * sizeof(*types));
  builder b = {.a = c->arena};
  static const char *zones[] = {"test-zone-1", "test-zone-2", "test-zone-3"};
  static const char *cts[] = {NW_CAPACITY_SPOT, NW_CAPACITY_ON_DEMAND};
  for (size_t i = 0; i < n; i++) {
    char name[32];
    snprintf(name, sizeof(name), "fake-it-%zu", i);
    int64_t cpu = (int64_t)i + 1, gib = 2 * ((int64_t)i + 1);
    double price = 0.1 * (double)cpu + 0.1 * (double)gib;
    nw_offering *offs = nw__arena_alloc(c->arena, 5 * sizeof(*offs));
    size_t k = 0;
    for (int z = 0; z < 3; z++)
      for (int t = 0; t < 2; t++)
        if (!(t == 0 && z == 2))
          offs[k++] = (nw_offering){zones[z], cts[t], price, 1};
    b_req1(&b, "node.kubernetes.io/instance-type", name);
    b_req1(&b, "kubernetes.io/arch", "amd64");
    b_req1(&b, "kubernetes.io/os", "linux");
    b_req(&b, "topology.kubernetes.io/zone", 3, zones);
    b_req(&b, "karpenter.sh/capacity-type", 2, cts);
    b_res(&b, 0, "cpu", cpu * 1000);
    b_res(&b, 0, "memory", gib * GIB);
    b_res(&b, 0, "pods", 10 * cpu);
    b_res(&b, 1, "cpu", 100);
    b_res(&b, 1, "memory", 10 * (int64_t)MIB);
    b_finish(&b, &types[i], name, offs, k);
  }
  c->types = (nw_instance_types){n, types};
  return c;
}

/* ---- the AWS catalog ------------------------------------------------ */

static void lower_kebab(const char *in, char *out, size_t len) {
  size_t k = 0;
  for (; *in && k + 1 < len; in++)
    out[k++] = *in == ' ' ? '-' : (char)tolower((unsigned char)*in);
  out[k] = 0;
}

/* Karpenter's ^([a-z]+)(-[0-9]+tb)?([0-9]+) on the family. */
static void family_parts(const char *family, char *cat, size_t clen,
                         long long *gen) {
  size_t k = 0;
  const char *p = family;
  while (islower((unsigned char)*p) && k + 1 < clen)
    cat[k++] = *p++;
  cat[k] = 0;
  if (*p == '-') {
    const char *q = p + 1;
    while (isdigit((unsigned char)*q))
      q++;
    if (strncmp(q, "tb", 2) == 0)
      p = q + 2;
  }
  *gen = isdigit((unsigned char)*p) ? strtoll(p, NULL, 10) : -1;
}

static const char *jstr(const json_t *o, const char *k) {
  const char *s = json_string_value(json_object_get(o, k));
  return s ? s : "";
}

static long long jint(const json_t *o, const char *k) {
  const json_t *v = json_object_get(o, k);
  return json_is_number(v) ? (long long)json_number_value(v) : 0;
}

static int aws_type(builder *b, const json_t *t, const char *region,
                    nw_instance_type *it) {
  const char *name = jstr(t, "name");
  const json_t *archs = json_object_get(t, "arch");
  const char *arch = NULL;
  for (size_t i = 0; i < json_array_size(archs); i++) {
    const char *a = json_string_value(json_array_get(archs, i));
    if (a && strcmp(a, "x86_64") == 0)
      arch = "amd64";
    else if (a && strcmp(a, "arm64") == 0)
      arch = "arm64";
  }
  const char *dot = strchr(name, '.');
  if (!arch || !dot || dot == name)
    return 0; /* Mac and unknown architectures are not offered. */
  char family[64], size[64], cat[32], buf[128];
  snprintf(family, sizeof(family), "%.*s", (int)(dot - name), name);
  snprintf(size, sizeof(size), "%s", dot + 1);
  long long gen;
  family_parts(family, cat, sizeof(cat), &gen);
  long long vcpu = jint(t, "vcpu"), mib = jint(t, "memory_mib");
  int64_t pods = nw__aws_max_pods(jint(t, "max_enis"), jint(t, "ipv4_per_eni"));

  b_req1(b, "node.kubernetes.io/instance-type", name);
  b_req1(b, "kubernetes.io/arch", arch);
  b_req1(b, "kubernetes.io/os", "linux");
  b_req1(b, "topology.kubernetes.io/region", region);
  b_req1(b, "karpenter.k8s.aws/instance-family", family);
  b_req1(b, "karpenter.k8s.aws/instance-category", cat);
  if (gen >= 0)
    b_reqi(b, "karpenter.k8s.aws/instance-generation", gen);
  b_req1(b, "karpenter.k8s.aws/instance-size", size);
  b_reqi(b, "karpenter.k8s.aws/instance-cpu", vcpu);
  b_reqi(b, "karpenter.k8s.aws/instance-memory", mib);
  lower_kebab(jstr(t, "manufacturer"), buf, sizeof(buf));
  if (*buf)
    b_req1(b, "karpenter.k8s.aws/instance-cpu-manufacturer", buf);
  if (*jstr(t, "hypervisor"))
    b_req1(b, "karpenter.k8s.aws/instance-hypervisor", jstr(t, "hypervisor"));
  long long nvme = jint(t, "instance_storage_gb");
  if (nvme > 0)
    b_reqi(b, "karpenter.k8s.aws/instance-local-nvme", nvme);

  b_res(b, 0, "cpu", vcpu * 1000);
  b_res(b, 0, "memory", nw__aws_memory_bytes(mib));
  b_res(b, 0, "pods", pods);
  b_res(b, 0, "ephemeral-storage", 20 * GIB);
  const json_t *gpus = json_object_get(t, "gpus");
  if (json_array_size(gpus) > 0) {
    const json_t *g = json_array_get(gpus, 0);
    long long count = 0;
    for (size_t i = 0; i < json_array_size(gpus); i++)
      count += jint(json_array_get(gpus, i), "count");
    lower_kebab(jstr(g, "name"), buf, sizeof(buf));
    b_req1(b, "karpenter.k8s.aws/instance-gpu-name", buf);
    lower_kebab(jstr(g, "manufacturer"), buf, sizeof(buf));
    b_req1(b, "karpenter.k8s.aws/instance-gpu-manufacturer", buf);
    b_reqi(b, "karpenter.k8s.aws/instance-gpu-count", count);
    b_reqi(b, "karpenter.k8s.aws/instance-gpu-memory", jint(g, "memory_mib"));
    if (strcmp(buf, "nvidia") == 0)
      b_res(b, 0, "nvidia.com/gpu", count);
    else if (strcmp(buf, "amd") == 0)
      b_res(b, 0, "amd.com/gpu", count);
  }
  b_res(b, 1, "cpu", nw__aws_kube_reserved_cpu_m(vcpu));
  b_res(b, 1, "memory", nw__aws_kube_reserved_memory(pods));
  b_res(b, 1, "ephemeral-storage", GIB);
  b_res(b, 3, "memory", 100 * (int64_t)MIB);
  b_res(b, 3, "ephemeral-storage", 2 * GIB);

  /* Offerings: every zone x every purchasable capacity type. */
  const json_t *zones = json_object_get(t, "zones");
  const json_t *classes = json_object_get(t, "usage_classes");
  const json_t *odj = json_object_get(t, "ondemand_usd_per_hour");
  double od = json_is_number(odj) ? json_number_value(odj) : -1;
  size_t nz = json_array_size(zones), nc = json_array_size(classes);
  nw_offering *offs = nw__arena_alloc(b->a, (nz * 2 + 1) * sizeof(*offs));
  const char *zv[16], *cv[2];
  size_t k = 0, ncv = 0;
  for (size_t ci = 0; ci < nc; ci++) {
    const char *cls = json_string_value(json_array_get(classes, ci));
    const char *ct = NULL;
    if (cls && strcmp(cls, "on-demand") == 0)
      ct = NW_CAPACITY_ON_DEMAND;
    else if (cls && strcmp(cls, "spot") == 0)
      ct = NW_CAPACITY_SPOT;
    if (!ct)
      continue;
    cv[ncv++] = ct;
    for (size_t zi = 0; zi < nz; zi++) {
      const char *z = nw__arena_strdup(b->a,
                                       json_string_value(json_array_get(zones, zi)));
      double price = od;
      if (od >= 0 && strcmp(ct, NW_CAPACITY_SPOT) == 0)
        price = nw__aws_spot_price(family, z, od);
      offs[k++] = (nw_offering){z, ct, price, od >= 0};
      if (ncv == 1)
        zv[zi < 16 ? zi : 15] = z;
    }
  }
  b_req(b, "topology.kubernetes.io/zone", nz < 16 ? nz : 16, zv);
  b_req(b, "karpenter.sh/capacity-type", ncv, cv);
  b_finish(b, it, name, offs, k);
  return 1;
}

nw__catalog *nw__catalog_load_aws(const char *path, nw_error *err) {
  json_error_t je;
  json_t *root = json_load_file(path, 0, &je);
  if (!root) {
    if (err) {
      err->status = NW_ERR_INVALID;
      snprintf(err->message, sizeof(err->message), "%s:%d:%d: %s", path,
               je.line, je.column, je.text);
    }
    return NULL;
  }
  const json_t *arr = json_object_get(root, "instance_types");
  const char *region = json_string_value(json_object_get(root, "region"));
  if (!json_is_array(arr) || !region) {
    if (err) {
      err->status = NW_ERR_INVALID;
      snprintf(err->message, sizeof(err->message),
               "%s: needs \"region\" and an \"instance_types\" array", path);
    }
    json_decref(root);
    return NULL;
  }
  nw__catalog *c = catalog_new(region);
  size_t n = json_array_size(arr), k = 0;
  nw_instance_type *types = nw__arena_alloc(c->arena, (n + 1) * sizeof(*types));
  builder b = {.a = c->arena};
  const char *reg = nw__arena_strdup(c->arena, region);
  for (size_t i = 0; i < n; i++) {
    const json_t *t = json_array_get(arr, i);
    if (!json_is_object(t) || !json_is_string(json_object_get(t, "name"))) {
      if (err) {
        err->status = NW_ERR_INVALID;
        snprintf(err->message, sizeof(err->message),
                 "%s: instance_types[%zu] needs a name", path, i);
      }
      json_decref(root);
      nw__catalog_free(c);
      return NULL;
    }
    k += (size_t)aws_type(&b, t, reg, &types[k]);
  }
  c->types = (nw_instance_types){k, types};
  json_decref(root);
  return c;
}

const char *nw__catalog_default_aws_path(void) {
  static char path[4096];
  const char *env = getenv("NW_AWS_CATALOG");
  if (env && *env)
    return env;
  snprintf(path, sizeof(path), "%s/configs/catalogs/aws-us-east-1.json",
           NW_SOURCE_DIR);
  if (access(path, R_OK) == 0)
    return path;
  snprintf(path, sizeof(path), "%s/../../share/nodewright/catalogs/"
           "aws-us-east-1.json", NW_DEFAULT_PLUGIN_DIR);
  return path;
}

nw__catalog *nw__catalog_load_default_aws(nw_error *err) {
  return nw__catalog_load_aws(nw__catalog_default_aws_path(), err);
}

nw__catalog *nw__catalog_load(const char *spec, nw_error *err) {
  if (!spec || strcmp(spec, "aws") == 0 || strcmp(spec, "aws-us-east-1") == 0)
    return nw__catalog_load_default_aws(err);
  const char *kd = "karpenter-diverse";
  size_t kl = strlen(kd);
  if (strncmp(spec, kd, kl) == 0 && (spec[kl] == 0 || spec[kl] == ':')) {
    char *end = NULL;
    unsigned long n = spec[kl] ? strtoul(spec + kl + 1, &end, 10) : 400;
    if ((spec[kl] && (!end || *end || end == spec + kl + 1)) || n == 0 ||
        n > 100000) {
      if (err) {
        err->status = NW_ERR_INVALID;
        snprintf(err->message, sizeof(err->message),
                 "catalog \"%s\": expected karpenter-diverse:<1..100000>",
                 spec);
      }
      return NULL;
    }
    return nw__catalog_karpenter_diverse((size_t)n);
  }
  return nw__catalog_load_aws(spec, err);
}
