/*
 * The pure parts of the AWS provider: no host, no network.  Catalog
 * parsing, capacity as Karpenter's AWS provider computes it, labels and
 * requirement matching, EC2NodeClass parsing and EventBridge messages.
 */
#include "aws.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ------------------------------------------------------------ catalog */

static char *lower_dup(const char *s) {
  char *d = strdup(s ? s : "");
  for (char *p = d; p && *p; p++)
    *p = (char)tolower((unsigned char)*p);
  return d;
}

static int has_item(xmlNodePtr set, const char *value) {
  for (xmlNodePtr it = nw_aws_xml_child(set, "item"); it;
       it = nw_aws_xml_next(it, "item")) {
    char *v = nw_aws_xml_text(it, NULL);
    int eq = v && strcmp(v, value) == 0;
    free(v);
    if (eq)
      return 1;
  }
  return 0;
}

static void itype_free(aws_itype *t) {
  free(t->name);
  free(t->arch);
  free(t->manufacturer);
  free(t->hypervisor);
  free(t->gpu_name);
  free(t->gpu_manufacturer);
  for (size_t i = 0; i < t->n_zones; i++)
    free(t->zones[i]);
  free(t->zones);
  memset(t, 0, sizeof(*t));
}

static int parse_itype(xmlNodePtr it, aws_itype *t, nw_error *err) {
  memset(t, 0, sizeof(*t));
  t->name = nw_aws_xml_text(it, "instanceType");
  if (!t->name || !*t->name) {
    nw_aws_error(err, NW_ERR_INVALID,
                 "DescribeInstanceTypes: an item has no instanceType");
    return -1;
  }
  xmlNodePtr archs = nw_aws_xml_path(it, "processorInfo/supportedArchitectures");
  if (has_item(archs, "x86_64"))
    t->arch = strdup("amd64");
  else if (has_item(archs, "arm64"))
    t->arch = strdup("arm64");
  if (!t->arch || !has_item(nw_aws_xml_child(it, "supportedVirtualizationTypes"),
                            "hvm"))
    return 0; /* not launchable by a Kubernetes node: skipped, not an error */
  char *m = nw_aws_xml_text(it, "processorInfo/manufacturer");
  t->manufacturer = lower_dup(m);
  free(m);
  char *h = nw_aws_xml_text(it, "hypervisor");
  t->hypervisor = lower_dup(h);
  free(h);
  t->vcpus = nw_aws_xml_int(it, "vCpuInfo/defaultVCpus", -1);
  t->memory_mib = nw_aws_xml_int(it, "memoryInfo/sizeInMiB", -1);
  t->max_enis = nw_aws_xml_int(it, "networkInfo/maximumNetworkInterfaces", -1);
  t->ipv4_per_eni = nw_aws_xml_int(it, "networkInfo/ipv4AddressesPerInterface", -1);
  if (t->vcpus <= 0 || t->memory_mib <= 0 || t->max_enis <= 0 ||
      t->ipv4_per_eni <= 0) {
    nw_aws_error(err, NW_ERR_INVALID,
                 "DescribeInstanceTypes: %s lacks vCpuInfo, memoryInfo or "
                 "networkInfo numbers",
                 t->name);
    return -1;
  }
  char *bm = nw_aws_xml_text(it, "bareMetal");
  t->bare_metal = bm && strcmp(bm, "true") == 0;
  free(bm);
  char *eit = nw_aws_xml_text(it, "networkInfo/encryptionInTransitSupported");
  t->encryption_in_transit = eit && strcmp(eit, "true") == 0;
  free(eit);
  xmlNodePtr usage = nw_aws_xml_child(it, "supportedUsageClasses");
  t->spot = has_item(usage, "spot");
  t->on_demand = has_item(usage, "on-demand");
  xmlNodePtr gpu = nw_aws_xml_path(it, "gpuInfo/gpus/item");
  if (gpu) {
    t->gpu_count = nw_aws_xml_int(gpu, "count", 0);
    t->gpu_memory_mib = nw_aws_xml_int(gpu, "memoryInfo/sizeInMiB", 0);
    char *gn = nw_aws_xml_text(gpu, "name");
    char *gm = nw_aws_xml_text(gpu, "manufacturer");
    t->gpu_name = lower_dup(gn);
    t->gpu_manufacturer = lower_dup(gm);
    free(gn);
    free(gm);
  }
  t->local_nvme_gb = nw_aws_xml_int(it, "instanceStorageInfo/totalSizeInGB", 0);
  t->ebs_bandwidth_mbps =
      nw_aws_xml_int(it, "ebsInfo/ebsOptimizedInfo/baselineBandwidthInMbps", 0);
  return 1;
}

int aws_catalog_add_page(aws_catalog *cat, xmlNodePtr root, nw_error *err) {
  xmlNodePtr set = nw_aws_xml_child(root, "instanceTypeSet");
  if (!set) {
    nw_aws_error(err, NW_ERR_INVALID,
                 "DescribeInstanceTypes: answer has no instanceTypeSet");
    return -1;
  }
  int seen = 0;
  for (xmlNodePtr it = nw_aws_xml_child(set, "item"); it;
       it = nw_aws_xml_next(it, "item")) {
    seen++;
    aws_itype t;
    int rc = parse_itype(it, &t, err);
    if (rc < 0) {
      itype_free(&t);
      return -1;
    }
    if (rc == 0 || aws_catalog_find(cat, t.name)) {
      itype_free(&t);
      continue;
    }
    aws_itype *n = realloc(cat->items, (cat->len + 1) * sizeof(*n));
    if (!n) {
      itype_free(&t);
      nw_aws_error(err, NW_ERR, "catalog: out of memory");
      return -1;
    }
    cat->items = n;
    cat->items[cat->len++] = t;
  }
  return seen;
}

static int cmp_itype(const void *a, const void *b) {
  return strcmp(((const aws_itype *)a)->name, ((const aws_itype *)b)->name);
}

void aws_catalog_sort(aws_catalog *cat) {
  if (cat->len)
    qsort(cat->items, cat->len, sizeof(*cat->items), cmp_itype);
}

const aws_itype *aws_catalog_find(const aws_catalog *cat, const char *name) {
  /* Linear while building (unsorted), binary search would need sorting
   * after every page; the catalog is at most ~1,400 entries. */
  for (size_t i = 0; i < cat->len; i++)
    if (strcmp(cat->items[i].name, name) == 0)
      return &cat->items[i];
  return NULL;
}

int aws_catalog_add_offerings(aws_catalog *cat, xmlNodePtr root,
                              nw_error *err) {
  xmlNodePtr set = nw_aws_xml_child(root, "instanceTypeOfferingSet");
  if (!set) {
    nw_aws_error(err, NW_ERR_INVALID,
                 "DescribeInstanceTypeOfferings: answer has no "
                 "instanceTypeOfferingSet");
    return -1;
  }
  int seen = 0;
  for (xmlNodePtr it = nw_aws_xml_child(set, "item"); it;
       it = nw_aws_xml_next(it, "item")) {
    seen++;
    char *type = nw_aws_xml_text(it, "instanceType");
    char *zone = nw_aws_xml_text(it, "location");
    aws_itype *t = type ? (aws_itype *)aws_catalog_find(cat, type) : NULL;
    int dup = 0;
    for (size_t i = 0; t && zone && i < t->n_zones; i++)
      dup |= strcmp(t->zones[i], zone) == 0;
    if (t && zone && *zone && !dup) {
      char **z = realloc(t->zones, (t->n_zones + 1) * sizeof(*z));
      if (z) {
        t->zones = z;
        t->zones[t->n_zones++] = zone;
        zone = NULL;
      }
    }
    free(type);
    free(zone);
  }
  return seen;
}

void aws_catalog_free(aws_catalog *cat) {
  for (size_t i = 0; i < cat->len; i++)
    itype_free(&cat->items[i]);
  free(cat->items);
  memset(cat, 0, sizeof(*cat));
}

void aws_itype_parts(const char *name, char category[32], char family[32],
                     char generation[32], char size[32]) {
  category[0] = family[0] = generation[0] = size[0] = '\0';
  const char *dot = strchr(name, '.');
  size_t flen = dot ? (size_t)(dot - name) : strlen(name);
  if (flen > 31)
    flen = 31;
  memcpy(family, name, flen);
  family[flen] = '\0';
  snprintf(size, 32, "%s", dot ? dot + 1 : "");
  size_t i = 0;
  while (i < flen && !isdigit((unsigned char)family[i]))
    i++;
  memcpy(category, family, i);
  category[i] = '\0';
  size_t j = i;
  while (j < flen && isdigit((unsigned char)family[j]))
    j++;
  memcpy(generation, family + i, j - i);
  generation[j - i] = '\0';
}

/* ----------------------------------------------------------- capacity */

void aws_kubelet_defaults(aws_kubelet *k) {
  memset(k, 0, sizeof(*k));
  k->kube_reserved_cpu_m = k->kube_reserved_mem = k->kube_reserved_eph = -1;
  k->system_reserved_cpu_m = k->system_reserved_mem = -1;
  k->system_reserved_eph = -1;
  k->eviction_mem = -1;
}

int64_t aws_eni_max_pods(int64_t enis, int64_t ipv4_per_eni) {
  return enis * (ipv4_per_eni - 1) + 2;
}

int64_t aws_kube_reserved_cpu_m(int64_t vcpus) {
  /* Steps in millicores of reserved CPU per core, times 100 to keep the
   * quarter-percent step integral: 6%, 1%, 0.5%, 0.5%, then 0.25%. */
  int64_t r100 = 0;
  for (int64_t core = 0; core < vcpus; core++) {
    if (core == 0)
      r100 += 6000;
    else if (core == 1)
      r100 += 1000;
    else if (core < 4)
      r100 += 500;
    else
      r100 += 250;
  }
  return r100 / 100;
}

static const int64_t MI = 1024 * 1024;
static const int64_t GI = 1024 * 1024 * 1024;

void aws_capacity_compute(const aws_itype *t, const aws_kubelet *k,
                          double overhead, int64_t root_volume,
                          aws_capacity *out) {
  memset(out, 0, sizeof(*out));
  out->cpu_m = t->vcpus * 1000;
  int64_t overhead_mib = (int64_t)ceil((double)t->memory_mib * overhead);
  out->memory = (t->memory_mib - overhead_mib) * MI;
  int64_t pods = k->max_pods > 0 ? k->max_pods
                                 : aws_eni_max_pods(t->max_enis, t->ipv4_per_eni);
  if (k->pods_per_core > 0 && k->pods_per_core * t->vcpus < pods)
    pods = k->pods_per_core * t->vcpus;
  out->pods = pods;
  out->ephemeral = root_volume > 0 ? root_volume : 20 * GI;
  out->gpus = t->gpu_count;
  out->kr_cpu_m = k->kube_reserved_cpu_m >= 0 ? k->kube_reserved_cpu_m
                                              : aws_kube_reserved_cpu_m(t->vcpus);
  out->kr_memory = k->kube_reserved_mem >= 0 ? k->kube_reserved_mem
                                             : (11 * pods + 255) * MI;
  out->kr_ephemeral = k->kube_reserved_eph >= 0 ? k->kube_reserved_eph : GI;
  out->sr_cpu_m = k->system_reserved_cpu_m > 0 ? k->system_reserved_cpu_m : 0;
  out->sr_memory = k->system_reserved_mem > 0 ? k->system_reserved_mem : 0;
  out->sr_ephemeral = k->system_reserved_eph > 0 ? k->system_reserved_eph : 0;
  out->ev_memory = k->eviction_mem >= 0 ? k->eviction_mem : 100 * MI;
  /* nodefs.available 10%, Karpenter's default hard eviction threshold. */
  out->ev_ephemeral = out->ephemeral / 10;
}

int64_t aws_quantity(const char *s, int milli) {
  if (!s || !*s)
    return -1;
  errno = 0;
  char *end = NULL;
  double v = strtod(s, &end);
  if (errno || end == s || v < 0 || !isfinite(v))
    return -1;
  static const struct {
    const char *suffix;
    double mult;
  } units[] = {{"Ki", 1024.0},        {"Mi", 1048576.0},
               {"Gi", 1073741824.0},  {"Ti", 1099511627776.0},
               {"Pi", 1125899906842624.0}, {"k", 1e3}, {"M", 1e6},
               {"G", 1e9},            {"T", 1e12}, {"P", 1e15},
               {"m", 1e-3},           {"", 1.0}};
  for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
    if (strcmp(end, units[i].suffix) != 0)
      continue;
    double r = v * units[i].mult * (milli ? 1000.0 : 1.0);
    if (r > 9.2e18)
      return -1;
    return (int64_t)ceil(r - 1e-9);
  }
  return -1;
}

/* ------------------------------------------------------- requirements */

const char *const aws_label_keys[] = {
    "node.kubernetes.io/instance-type",
    "kubernetes.io/arch",
    "kubernetes.io/os",
    "karpenter.k8s.aws/instance-category",
    "karpenter.k8s.aws/instance-family",
    "karpenter.k8s.aws/instance-generation",
    "karpenter.k8s.aws/instance-size",
    "karpenter.k8s.aws/instance-cpu",
    "karpenter.k8s.aws/instance-cpu-manufacturer",
    "karpenter.k8s.aws/instance-memory",
    "karpenter.k8s.aws/instance-hypervisor",
    "karpenter.k8s.aws/instance-encryption-in-transit-supported",
    "karpenter.k8s.aws/instance-ebs-bandwidth",
    "karpenter.k8s.aws/instance-gpu-name",
    "karpenter.k8s.aws/instance-gpu-manufacturer",
    "karpenter.k8s.aws/instance-gpu-count",
    "karpenter.k8s.aws/instance-gpu-memory",
    "karpenter.k8s.aws/instance-local-nvme",
    NULL};

static int is_known_label(const char *key) {
  for (size_t i = 0; aws_label_keys[i]; i++)
    if (strcmp(aws_label_keys[i], key) == 0)
      return 1;
  return 0;
}

const char *aws_label_value(const aws_itype *t, const char *key, char buf[64]) {
  char cat[32], fam[32], gen[32], size[32];
  const char *k = key;
  if (strcmp(k, "node.kubernetes.io/instance-type") == 0)
    return t->name;
  if (strcmp(k, "kubernetes.io/arch") == 0)
    return t->arch;
  if (strcmp(k, "kubernetes.io/os") == 0)
    return "linux";
  if (strncmp(k, "karpenter.k8s.aws/instance-", 27) != 0)
    return NULL;
  k += 27;
  aws_itype_parts(t->name, cat, fam, gen, size);
  const char *s = NULL;
  int64_t n = -1;
  if (strcmp(k, "category") == 0)
    s = cat;
  else if (strcmp(k, "family") == 0)
    s = fam;
  else if (strcmp(k, "generation") == 0)
    s = gen[0] ? gen : NULL;
  else if (strcmp(k, "size") == 0)
    s = size;
  else if (strcmp(k, "cpu") == 0)
    n = t->vcpus;
  else if (strcmp(k, "cpu-manufacturer") == 0)
    return t->manufacturer && *t->manufacturer ? t->manufacturer : NULL;
  else if (strcmp(k, "memory") == 0)
    n = t->memory_mib;
  else if (strcmp(k, "hypervisor") == 0)
    return t->hypervisor && *t->hypervisor ? t->hypervisor : NULL;
  else if (strcmp(k, "encryption-in-transit-supported") == 0)
    return t->encryption_in_transit ? "true" : "false";
  else if (strcmp(k, "ebs-bandwidth") == 0)
    n = t->ebs_bandwidth_mbps > 0 ? t->ebs_bandwidth_mbps : -1;
  else if (strcmp(k, "gpu-name") == 0)
    return t->gpu_count > 0 ? t->gpu_name : NULL;
  else if (strcmp(k, "gpu-manufacturer") == 0)
    return t->gpu_count > 0 ? t->gpu_manufacturer : NULL;
  else if (strcmp(k, "gpu-count") == 0)
    n = t->gpu_count > 0 ? t->gpu_count : -1;
  else if (strcmp(k, "gpu-memory") == 0)
    n = t->gpu_count > 0 ? t->gpu_memory_mib : -1;
  else if (strcmp(k, "local-nvme") == 0)
    n = t->local_nvme_gb > 0 ? t->local_nvme_gb : -1;
  if (s) {
    snprintf(buf, 64, "%s", s);
    return buf;
  }
  if (n >= 0) {
    snprintf(buf, 64, "%lld", (long long)n);
    return buf;
  }
  return NULL;
}

static int numeric_cmp_ok(nw_operator op, const char *value,
                          const nw_requirement *r) {
  if (!value || r->n_values != 1)
    return 0;
  char *e1 = NULL, *e2 = NULL;
  long long v = strtoll(value, &e1, 10);
  long long bound = strtoll(r->values[0], &e2, 10);
  if (*e1 || *e2)
    return 0;
  switch (op) {
  case NW_OP_GT:
    return v > bound;
  case NW_OP_LT:
    return v < bound;
  case NW_OP_GTE:
    return v >= bound;
  case NW_OP_LTE:
    return v <= bound;
  default:
    return 0;
  }
}

static int requirement_ok(const nw_requirement *r, const char *value) {
  int in = 0;
  for (size_t i = 0; value && i < r->n_values; i++)
    in |= strcmp(r->values[i], value) == 0;
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
    return numeric_cmp_ok(r->op, value, r);
  }
}

int aws_type_matches(const aws_itype *t, const nw_requirements *reqs) {
  for (size_t i = 0; reqs && i < reqs->len; i++) {
    const nw_requirement *r = &reqs->items[i];
    /* Labels the type does not define (the NodePool's own, zone and
     * capacity type) are not the type's to satisfy. */
    if (!is_known_label(r->key))
      continue;
    char buf[64];
    if (!requirement_ok(r, aws_label_value(t, r->key, buf)))
      return 0;
  }
  return 1;
}

int aws_value_allowed(const nw_requirements *reqs, const char *key,
                      const char *value) {
  for (size_t i = 0; reqs && i < reqs->len; i++)
    if (strcmp(reqs->items[i].key, key) == 0 &&
        !requirement_ok(&reqs->items[i], value))
      return 0;
  return 1;
}

/* --------------------------------------------------------- node class */

static char *jstr(json_t *o, const char *key) {
  const char *s = json_string_value(json_object_get(o, key));
  return s ? strdup(s) : NULL;
}

static void term_free(aws_selector_term *t) {
  free(t->id);
  free(t->name);
  free(t->owner);
  free(t->alias);
  for (size_t i = 0; i < t->n_tags; i++) {
    free(t->tag_keys[i]);
    free(t->tag_values[i]);
  }
  free(t->tag_keys);
  free(t->tag_values);
}

static int parse_tags(json_t *obj, size_t *n, char ***keys, char ***values,
                      const char *where, nw_error *err) {
  *n = 0;
  *keys = *values = NULL;
  if (!obj)
    return 0;
  if (!json_is_object(obj)) {
    nw_aws_error(err, NW_ERR_INVALID, "%s: must be a map of strings", where);
    return -1;
  }
  size_t sz = json_object_size(obj);
  *keys = calloc(sz + 1, sizeof(char *));
  *values = calloc(sz + 1, sizeof(char *));
  const char *k;
  json_t *v;
  json_object_foreach(obj, k, v) {
    if (!json_is_string(v)) {
      nw_aws_error(err, NW_ERR_INVALID, "%s.%s: must be a string", where, k);
      return -1;
    }
    (*keys)[*n] = strdup(k);
    (*values)[(*n)++] = strdup(json_string_value(v));
  }
  return 0;
}

static int parse_terms(json_t *spec, const char *field, int ami,
                       aws_selector_term **out, size_t *n, nw_error *err) {
  json_t *arr = json_object_get(spec, field);
  *out = NULL;
  *n = 0;
  if (!arr)
    return 0;
  if (!json_is_array(arr)) {
    nw_aws_error(err, NW_ERR_INVALID, "spec.%s: must be a list", field);
    return -1;
  }
  *out = calloc(json_array_size(arr) + 1, sizeof(**out));
  size_t i;
  json_t *t;
  json_array_foreach(arr, i, t) {
    char where[96];
    snprintf(where, sizeof(where), "spec.%s[%zu]", field, i);
    if (!json_is_object(t)) {
      nw_aws_error(err, NW_ERR_INVALID, "%s: must be an object", where);
      return -1;
    }
    aws_selector_term *term = &(*out)[(*n)++];
    term->id = jstr(t, "id");
    term->name = jstr(t, "name");
    term->owner = jstr(t, "owner");
    term->alias = ami ? jstr(t, "alias") : NULL;
    char tw[112];
    snprintf(tw, sizeof(tw), "%s.tags", where);
    if (parse_tags(json_object_get(t, "tags"), &term->n_tags, &term->tag_keys,
                   &term->tag_values, tw, err) != 0)
      return -1;
    if (!term->id && !term->name && !term->alias && term->n_tags == 0) {
      nw_aws_error(err, NW_ERR_INVALID,
                   "%s: needs one of id, name%s or tags", where,
                   ami ? ", alias" : "");
      return -1;
    }
    if (term->alias && !strchr(term->alias, '@')) {
      nw_aws_error(err, NW_ERR_INVALID,
                   "%s.alias: expected family@version (al2023@latest), got %s",
                   where, term->alias);
      return -1;
    }
  }
  return 0;
}

static int64_t quantity_field(json_t *o, const char *key, int milli,
                              const char *where, int *bad, nw_error *err) {
  json_t *v = json_object_get(o, key);
  if (!v)
    return -1;
  if (json_is_integer(v))
    return json_integer_value(v) * (milli ? 1000 : 1);
  int64_t q = aws_quantity(json_string_value(v), milli);
  if (q < 0) {
    nw_aws_error(err, NW_ERR_INVALID, "%s.%s: not a quantity", where, key);
    *bad = 1;
  }
  return q;
}

static int parse_kubelet(json_t *k, aws_kubelet *out, nw_error *err) {
  aws_kubelet_defaults(out);
  if (!k)
    return 0;
  if (!json_is_object(k)) {
    nw_aws_error(err, NW_ERR_INVALID, "spec.kubelet: must be an object");
    return -1;
  }
  json_t *mp = json_object_get(k, "maxPods");
  if (mp && (!json_is_integer(mp) || json_integer_value(mp) <= 0)) {
    nw_aws_error(err, NW_ERR_INVALID, "spec.kubelet.maxPods: must be a positive integer");
    return -1;
  }
  out->max_pods = mp ? json_integer_value(mp) : 0;
  json_t *ppc = json_object_get(k, "podsPerCore");
  out->pods_per_core = json_is_integer(ppc) ? json_integer_value(ppc) : 0;
  int bad = 0;
  json_t *kr = json_object_get(k, "kubeReserved");
  json_t *sr = json_object_get(k, "systemReserved");
  json_t *ev = json_object_get(k, "evictionHard");
  out->kube_reserved_cpu_m = quantity_field(kr, "cpu", 1, "spec.kubelet.kubeReserved", &bad, err);
  out->kube_reserved_mem = quantity_field(kr, "memory", 0, "spec.kubelet.kubeReserved", &bad, err);
  out->kube_reserved_eph = quantity_field(kr, "ephemeral-storage", 0, "spec.kubelet.kubeReserved", &bad, err);
  out->system_reserved_cpu_m = quantity_field(sr, "cpu", 1, "spec.kubelet.systemReserved", &bad, err);
  out->system_reserved_mem = quantity_field(sr, "memory", 0, "spec.kubelet.systemReserved", &bad, err);
  out->system_reserved_eph = quantity_field(sr, "ephemeral-storage", 0, "spec.kubelet.systemReserved", &bad, err);
  out->eviction_mem = quantity_field(ev, "memory.available", 0, "spec.kubelet.evictionHard", &bad, err);
  return bad ? -1 : 0;
}

static int parse_block_devices(json_t *arr, aws_node_class *nc,
                               nw_error *err) {
  if (!arr)
    return 0;
  if (!json_is_array(arr)) {
    nw_aws_error(err, NW_ERR_INVALID, "spec.blockDeviceMappings: must be a list");
    return -1;
  }
  nc->block_devices = calloc(json_array_size(arr) + 1, sizeof(aws_block_device));
  size_t i;
  json_t *b;
  json_array_foreach(arr, i, b) {
    aws_block_device *d = &nc->block_devices[nc->n_block_devices++];
    d->encrypted = d->delete_on_termination = -1;
    d->device_name = jstr(b, "deviceName");
    if (!d->device_name) {
      nw_aws_error(err, NW_ERR_INVALID,
                   "spec.blockDeviceMappings[%zu].deviceName: required", i);
      return -1;
    }
    d->root = json_is_true(json_object_get(b, "rootVolume"));
    json_t *ebs = json_object_get(b, "ebs");
    if (!ebs)
      continue;
    char where[80];
    snprintf(where, sizeof(where), "spec.blockDeviceMappings[%zu].ebs", i);
    int bad = 0;
    int64_t sz = quantity_field(ebs, "volumeSize", 0, where, &bad, err);
    if (bad)
      return -1;
    d->volume_size = sz > 0 ? sz : 0;
    d->volume_type = jstr(ebs, "volumeType");
    d->kms_key_id = jstr(ebs, "kmsKeyID");
    json_t *v = json_object_get(ebs, "iops");
    d->iops = json_is_integer(v) ? json_integer_value(v) : 0;
    v = json_object_get(ebs, "throughput");
    d->throughput = json_is_integer(v) ? json_integer_value(v) : 0;
    v = json_object_get(ebs, "encrypted");
    d->encrypted = json_is_boolean(v) ? json_is_true(v) : -1;
    v = json_object_get(ebs, "deleteOnTermination");
    d->delete_on_termination = json_is_boolean(v) ? json_is_true(v) : -1;
  }
  return 0;
}

static char *family_from_alias(const aws_node_class *nc) {
  for (size_t i = 0; i < nc->n_ami_terms; i++) {
    const char *a = nc->ami_terms[i].alias;
    if (!a)
      continue;
    if (strncasecmp(a, "al2023@", 7) == 0)
      return strdup("AL2023");
    if (strncasecmp(a, "bottlerocket@", 13) == 0)
      return strdup("Bottlerocket");
    if (strncasecmp(a, "al2@", 4) == 0)
      return strdup("AL2");
  }
  return NULL;
}

nw_status aws_node_class_parse(const char *json, aws_node_class *nc,
                               nw_error *err) {
  memset(nc, 0, sizeof(*nc));
  aws_kubelet_defaults(&nc->kubelet);
  nc->associate_public_ip = -1;
  json_error_t jerr;
  json_t *root = json_loads(json ? json : "", 0, &jerr);
  if (!json_is_object(root)) {
    json_decref(root);
    return nw_aws_error(err, NW_ERR_INVALID,
                        "EC2NodeClass: malformed JSON at line %d: %s",
                        jerr.line, root ? "not an object" : jerr.text);
  }
  json_t *spec = json_object_get(root, "spec");
  json_t *meta = json_object_get(root, "metadata");
  nc->name = meta ? jstr(meta, "name") : NULL;
  if (!spec)
    spec = root;
  nw_status st = NW_ERR_INVALID;
  char *dump = json_dumps(spec, JSON_SORT_KEYS | JSON_COMPACT);
  char hash[65];
  nw_aws_sha256_hex(dump ? dump : "", dump ? strlen(dump) : 0, hash);
  free(dump);
  hash[16] = '\0';
  nc->hash = strdup(hash);
  if (parse_terms(spec, "subnetSelectorTerms", 0, &nc->subnet_terms,
                  &nc->n_subnet_terms, err) != 0 ||
      parse_terms(spec, "securityGroupSelectorTerms", 0, &nc->sg_terms,
                  &nc->n_sg_terms, err) != 0 ||
      parse_terms(spec, "amiSelectorTerms", 1, &nc->ami_terms,
                  &nc->n_ami_terms, err) != 0)
    goto out;
  if (nc->n_subnet_terms == 0 || nc->n_sg_terms == 0 || nc->n_ami_terms == 0) {
    nw_aws_error(err, NW_ERR_INVALID,
                 "EC2NodeClass %s: spec.%s is required and must not be empty",
                 nc->name ? nc->name : "(unnamed)",
                 nc->n_subnet_terms == 0 ? "subnetSelectorTerms"
                 : nc->n_sg_terms == 0   ? "securityGroupSelectorTerms"
                                         : "amiSelectorTerms");
    goto out;
  }
  nc->role = jstr(spec, "role");
  nc->instance_profile = jstr(spec, "instanceProfile");
  nc->user_data = jstr(spec, "userData");
  nc->ami_family = jstr(spec, "amiFamily");
  if (!nc->ami_family)
    nc->ami_family = family_from_alias(nc);
  if (!nc->ami_family)
    nc->ami_family = strdup("Custom");
  if (parse_tags(json_object_get(spec, "tags"), &nc->n_tags, &nc->tag_keys,
                 &nc->tag_values, "spec.tags", err) != 0 ||
      parse_block_devices(json_object_get(spec, "blockDeviceMappings"), nc,
                          err) != 0 ||
      parse_kubelet(json_object_get(spec, "kubelet"), &nc->kubelet, err) != 0)
    goto out;
  json_t *mo = json_object_get(spec, "metadataOptions");
  nc->http_endpoint = mo ? jstr(mo, "httpEndpoint") : NULL;
  nc->http_tokens = mo ? jstr(mo, "httpTokens") : NULL;
  nc->http_protocol_ipv6 = mo ? jstr(mo, "httpProtocolIPv6") : NULL;
  json_t *hop = mo ? json_object_get(mo, "httpPutResponseHopLimit") : NULL;
  nc->http_hop_limit = json_is_integer(hop) ? json_integer_value(hop) : 1;
  nc->detailed_monitoring = json_is_true(json_object_get(spec, "detailedMonitoring"));
  json_t *pip = json_object_get(spec, "associatePublicIPAddress");
  nc->associate_public_ip = json_is_boolean(pip) ? json_is_true(pip) : -1;
  st = NW_OK;
out:
  json_decref(root);
  if (st != NW_OK)
    aws_node_class_free(nc);
  return st;
}

void aws_node_class_free(aws_node_class *nc) {
  free(nc->name);
  free(nc->hash);
  for (size_t i = 0; i < nc->n_subnet_terms; i++)
    term_free(&nc->subnet_terms[i]);
  for (size_t i = 0; i < nc->n_sg_terms; i++)
    term_free(&nc->sg_terms[i]);
  for (size_t i = 0; i < nc->n_ami_terms; i++)
    term_free(&nc->ami_terms[i]);
  free(nc->subnet_terms);
  free(nc->sg_terms);
  free(nc->ami_terms);
  free(nc->role);
  free(nc->instance_profile);
  free(nc->user_data);
  free(nc->ami_family);
  for (size_t i = 0; i < nc->n_tags; i++) {
    free(nc->tag_keys[i]);
    free(nc->tag_values[i]);
  }
  free(nc->tag_keys);
  free(nc->tag_values);
  for (size_t i = 0; i < nc->n_block_devices; i++) {
    free(nc->block_devices[i].device_name);
    free(nc->block_devices[i].volume_type);
    free(nc->block_devices[i].kms_key_id);
  }
  free(nc->block_devices);
  free(nc->http_endpoint);
  free(nc->http_tokens);
  free(nc->http_protocol_ipv6);
  memset(nc, 0, sizeof(*nc));
}

/* ------------------------------------------------------- interruption */

static int add_instance(aws_event *ev, const char *id, nw_error *err) {
  if (!id || strncmp(id, "i-", 2) != 0 || strlen(id) >= sizeof(ev->instance_ids[0])) {
    nw_aws_error(err, NW_ERR_INVALID, "event: bad instance id");
    return -1;
  }
  if (ev->n_instances < sizeof(ev->instance_ids) / sizeof(ev->instance_ids[0]))
    snprintf(ev->instance_ids[ev->n_instances++], sizeof(ev->instance_ids[0]),
             "%s", id);
  return 0;
}

int aws_event_parse(const char *body, aws_event *ev, nw_error *err) {
  memset(ev, 0, sizeof(*ev));
  json_error_t jerr;
  json_t *j = json_loads(body ? body : "", 0, &jerr);
  if (!json_is_object(j)) {
    nw_aws_error(err, NW_ERR_INVALID, "event: malformed JSON: %s",
                 j ? "not an object" : jerr.text);
    json_decref(j);
    return -1;
  }
  const char *dtype = json_string_value(json_object_get(j, "detail-type"));
  const char *source = json_string_value(json_object_get(j, "source"));
  json_t *detail = json_object_get(j, "detail");
  const char *time = json_string_value(json_object_get(j, "time"));
  int rc = -1;
  if (!dtype || !source || !json_is_object(detail)) {
    nw_aws_error(err, NW_ERR_INVALID,
                 "event: not an EventBridge envelope (detail-type, source, "
                 "detail)");
    goto out;
  }
  ev->time_ms = time ? nw_aws_parse_iso8601(time) : 0;
  if (ev->time_ms < 0)
    ev->time_ms = 0;
  const char *iid = json_string_value(json_object_get(detail, "instance-id"));
  if (strcmp(source, "aws.ec2") == 0 &&
      strcmp(dtype, "EC2 Spot Instance Interruption Warning") == 0) {
    ev->kind = NW_EVENT_SPOT_INTERRUPTION;
    const char *action =
        json_string_value(json_object_get(detail, "instance-action"));
    snprintf(ev->detail, sizeof(ev->detail), "spot interruption (%s)",
             action ? action : "terminate");
    rc = add_instance(ev, iid, err) == 0 ? 1 : -1;
  } else if (strcmp(source, "aws.ec2") == 0 &&
             strcmp(dtype, "EC2 Instance Rebalance Recommendation") == 0) {
    ev->kind = NW_EVENT_REBALANCE_RECOMMENDATION;
    snprintf(ev->detail, sizeof(ev->detail), "rebalance recommendation");
    rc = add_instance(ev, iid, err) == 0 ? 1 : -1;
  } else if (strcmp(source, "aws.ec2") == 0 &&
             strcmp(dtype, "EC2 Instance State-change Notification") == 0) {
    ev->kind = NW_EVENT_STATE_CHANGE;
    const char *state = json_string_value(json_object_get(detail, "state"));
    if (!state) {
      nw_aws_error(err, NW_ERR_INVALID, "event: state-change without state");
      goto out;
    }
    snprintf(ev->state, sizeof(ev->state), "%s", state);
    snprintf(ev->detail, sizeof(ev->detail), "instance %s", state);
    rc = add_instance(ev, iid, err) == 0 ? 1 : -1;
  } else if (strcmp(source, "aws.ec2") == 0 &&
             strcmp(dtype, "EC2 Capacity Reservation Instance Interruption "
                           "Warning") == 0) {
    ev->kind = NW_EVENT_CAPACITY_RESERVATION_INTERRUPTION;
    snprintf(ev->detail, sizeof(ev->detail),
             "capacity reservation interruption");
    rc = add_instance(ev, iid, err) == 0 ? 1 : -1;
  } else if (strcmp(source, "aws.health") == 0 &&
             strcmp(dtype, "AWS Health Event") == 0) {
    const char *svc = json_string_value(json_object_get(detail, "service"));
    const char *cat =
        json_string_value(json_object_get(detail, "eventTypeCategory"));
    if (!svc || !cat || strcmp(svc, "EC2") != 0 ||
        strcmp(cat, "scheduledChange") != 0) {
      rc = 0;
      goto out;
    }
    ev->kind = NW_EVENT_SCHEDULED_MAINTENANCE;
    const char *etc = json_string_value(json_object_get(detail, "eventTypeCode"));
    snprintf(ev->detail, sizeof(ev->detail), "scheduled change %s",
             etc ? etc : "");
    json_t *ents = json_object_get(detail, "affectedEntities");
    size_t i;
    json_t *e;
    rc = 1;
    if (!json_is_array(ents) || json_array_size(ents) == 0) {
      nw_aws_error(err, NW_ERR_INVALID, "event: health event without affectedEntities");
      rc = -1;
    }
    json_array_foreach(ents, i, e) {
      if (rc == 1 &&
          add_instance(ev, json_string_value(json_object_get(e, "entityValue")),
                       err) != 0)
        rc = -1;
    }
  } else {
    rc = 0;
  }
out:
  json_decref(j);
  return rc;
}

const char *aws_instance_id(const char *provider_id, char buf[32]) {
  if (!provider_id || strncmp(provider_id, "aws://", 6) != 0)
    return NULL;
  const char *slash = strrchr(provider_id, '/');
  if (!slash || strncmp(slash + 1, "i-", 2) != 0 || strlen(slash + 1) >= 32)
    return NULL;
  snprintf(buf, 32, "%s", slash + 1);
  return buf;
}
