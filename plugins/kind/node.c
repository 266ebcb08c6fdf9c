/*
 * What a new node says about itself: the Node object the virtual runtime
 * registers in place of a kubelet, and the kubeadm commands the kubeadm
 * runtime runs in a real kind cluster (as kind and Cluster API's Docker
 * provider do).  Pure functions, unit-tested on their own.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kind.h"

static const char *effect_name(nw_taint_effect e) {
  switch (e) {
  case NW_TAINT_PREFER_NO_SCHEDULE:
    return "PreferNoSchedule";
  case NW_TAINT_NO_EXECUTE:
    return "NoExecute";
  default:
    return "NoSchedule";
  }
}

static void set_int_label(json_t *labels, const char *key, long long v) {
  char buf[32];
  snprintf(buf, sizeof(buf), "%lld", v);
  json_object_set_new(labels, key, json_string(buf));
}

json_t *nw__kind_node_labels(const nw__kind_config *cfg,
                             const nw__kind_node_spec *spec) {
  json_t *l = json_object();
  const nw_node_claim *c = spec->claim;
  for (size_t i = 0; c && i < c->labels.len; i++) {
    if (c->labels.items[i].key && c->labels.items[i].value)
      json_object_set_new(l, c->labels.items[i].key,
                          json_string(c->labels.items[i].value));
  }
  if (c && c->nodepool)
    json_object_set_new(l, "karpenter.sh/nodepool", json_string(c->nodepool));
  json_object_set_new(l, "kubernetes.io/hostname", json_string(spec->name));
  json_object_set_new(l, "kubernetes.io/arch", json_string(cfg->arch));
  json_object_set_new(l, "kubernetes.io/os", json_string(cfg->os));
  json_object_set_new(l, "node.kubernetes.io/instance-type",
                      json_string(spec->type->name));
  json_object_set_new(l, "topology.kubernetes.io/zone", json_string(spec->zone));
  json_object_set_new(l, "karpenter.sh/capacity-type",
                      json_string(spec->capacity_type));
  json_object_set_new(l, NW_KIND_LABEL_FAMILY, json_string(spec->type->family));
  set_int_label(l, NW_KIND_LABEL_CPU, spec->type->cpus);
  set_int_label(l, NW_KIND_LABEL_MEMORY, (long long)spec->type->memory_mib);
  return l;
}

static void add_taints(json_t *arr, const nw_taints *t) {
  for (size_t i = 0; i < t->len; i++) {
    json_t *o = json_pack("{s:s,s:s}", "key", t->items[i].key ? t->items[i].key : "",
                          "effect", effect_name(t->items[i].effect));
    if (t->items[i].value && t->items[i].value[0])
      json_object_set_new(o, "value", json_string(t->items[i].value));
    json_array_append_new(arr, o);
  }
}

static json_t *quantities(int64_t cpu_m, int64_t mem_mib, int64_t pods) {
  char cpu[32], mem[32], p[32];
  snprintf(cpu, sizeof(cpu), "%lldm", (long long)cpu_m);
  snprintf(mem, sizeof(mem), "%lldMi", (long long)mem_mib);
  snprintf(p, sizeof(p), "%lld", (long long)pods);
  return json_pack("{s:s,s:s,s:s}", "cpu", cpu, "memory", mem, "pods", p);
}

char *nw__kind_node_json(const nw__kind_config *cfg,
                         const nw__kind_node_spec *spec) {
  const nw__kind_type *t = spec->type;
  char akey[256];
  const char *eq = strchr(cfg->kwok_label, '=');
  size_t klen = (size_t)(eq - cfg->kwok_label);
  snprintf(akey, sizeof(akey), "%.*s", (int)(klen < sizeof(akey) ? klen : 0),
           cfg->kwok_label);
  /* kwok selects the nodes it fakes by label (our test cluster) or by
   * annotation (kwok's default); carry both. */
  json_t *ann = json_object();
  json_object_set_new(ann, akey, json_string(eq + 1));
  json_t *labels = nw__kind_node_labels(cfg, spec);
  json_object_set_new(labels, akey, json_string(eq + 1));
  json_t *taints = json_array();
  if (spec->claim) {
    add_taints(taints, &spec->claim->taints);
    add_taints(taints, &spec->claim->startup_taints);
  }
  /* Karpenter's nodes register with this taint (its user data puts it in
   * the kubelet's flags); the engine removes it once it has synced. */
  json_array_append_new(taints, json_pack("{s:s,s:s}", "key",
                                          "karpenter.sh/unregistered",
                                          "effect", "NoExecute"));
  int64_t alloc_cpu = (int64_t)t->cpus * 1000 - cfg->kube_reserved_cpu_m -
                      cfg->system_reserved_cpu_m;
  int64_t alloc_mem = t->memory_mib - cfg->kube_reserved_mem_mib -
                      cfg->system_reserved_mem_mib - cfg->eviction_mem_mib;
  json_t *node = json_pack(
      "{s:s,s:s,s:{s:s,s:o,s:o},s:{s:s,s:o},s:{s:o,s:o,s:{s:s,s:s}}}",
      "apiVersion", "v1", "kind", "Node",
      "metadata", "name", spec->name, "labels", labels,
      "annotations", ann,
      "spec", "providerID", spec->provider_id, "taints", taints,
      "status", "capacity", quantities((int64_t)t->cpus * 1000, t->memory_mib, cfg->pods),
      "allocatable", quantities(alloc_cpu > 0 ? alloc_cpu : 0,
                                alloc_mem > 0 ? alloc_mem : 0, cfg->pods),
      "nodeInfo", "architecture", cfg->arch, "operatingSystem", cfg->os);
  char *s = node ? json_dumps(node, JSON_COMPACT) : NULL;
  json_decref(node);
  return s;
}

/* ---- kubeadm -------------------------------------------------------------- */

const char *const *nw__kind_token_argv(void) {
  static const char *const argv[] = {"kubeadm", "token", "create",
                                     "--print-join-command", NULL};
  return argv;
}

static int only(const char *s, const char *set) {
  return *s && strspn(s, set) == strlen(s);
}

#define ALNUM "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

int nw__kind_parse_join(const char *text, char *endpoint, size_t elen,
                        char *token, size_t tlen, char *hash, size_t hlen) {
  char buf[2048], *save = NULL;
  int seen_join = 0;
  snprintf(buf, sizeof(buf), "%s", text ? text : "");
  endpoint[0] = token[0] = hash[0] = '\0';
  for (char *w = strtok_r(buf, " \t\r\n\\", &save); w;
       w = strtok_r(NULL, " \t\r\n\\", &save)) {
    if (!seen_join) {
      seen_join = strcmp(w, "join") == 0;
    } else if (strcmp(w, "--token") == 0) {
      char *v = strtok_r(NULL, " \t\r\n\\", &save);
      snprintf(token, tlen, "%s", v ? v : "");
    } else if (strcmp(w, "--discovery-token-ca-cert-hash") == 0) {
      char *v = strtok_r(NULL, " \t\r\n\\", &save);
      snprintf(hash, hlen, "%s", v ? v : "");
    } else if (w[0] != '-' && !endpoint[0]) {
      snprintf(endpoint, elen, "%s", w);
    }
  }
  /* The values become arguments of a command in the new node: accept
   * only the shapes kubeadm prints. */
  if (!only(endpoint, ALNUM ".:-[]") || !only(token, "abcdefghijklmnopqrstuvwxyz0123456789.") ||
      strncmp(hash, "sha256:", 7) != 0 || !only(hash + 7, "0123456789abcdef"))
    return -1;
  return 0;
}

static char **argv_new(size_t n) { return calloc(n + 1, sizeof(char *)); }

void nw__kind_argv_free(char **argv) {
  for (size_t i = 0; argv && argv[i]; i++)
    free(argv[i]);
  free(argv);
}

/* May the kubelet set this label itself?  The NodeRestriction admission
 * plugin refuses kubernetes.io and k8s.io labels outside a short list, and
 * the kubelet then refuses to start; the engine syncs those labels later. */
static int kubelet_may_set(const char *key) {
  static const char *const allowed[] = {
      "kubernetes.io/hostname", "kubernetes.io/arch", "kubernetes.io/os",
      "node.kubernetes.io/instance-type", "topology.kubernetes.io/region",
      "topology.kubernetes.io/zone", NULL};
  const char *slash = strchr(key, '/');
  if (!slash)
    return 1;
  size_t n = (size_t)(slash - key);
  for (size_t i = 0; allowed[i]; i++) {
    if (strcmp(allowed[i], key) == 0)
      return 1;
  }
  if ((n == 20 && strncmp(key, "kubelet.kubernetes.io", 20) == 0) ||
      (n == 18 && strncmp(key, "node.kubernetes.io", 18) == 0))
    return 1;
  int k8s = (n >= 13 && strncmp(slash - 13, "kubernetes.io", 13) == 0) ||
            (n >= 6 && strncmp(slash - 6, "k8s.io", 6) == 0);
  return !k8s;
}

/* Label keys and values and taint parts end up in a systemd environment
 * file: keep to the characters Kubernetes allows in them anyway. */
static int safe(const char *s) {
  return !*s || only(s, ALNUM "-_./");
}

static int grow(char **buf, size_t *len, size_t *cap, const char *s) {
  size_t n = strlen(s);
  if (*len + n + 1 > *cap) {
    size_t c = (*len + n + 1) * 2;
    char *p = realloc(*buf, c);
    if (!p)
      return -1;
    *buf = p;
    *cap = c;
  }
  memcpy(*buf + *len, s, n + 1);
  *len += n;
  return 0;
}

static int add_taint_args(char **b, size_t *len, size_t *cap, const nw_taints *t,
                          int *first) {
  for (size_t i = 0; i < t->len; i++) {
    const char *k = t->items[i].key ? t->items[i].key : "";
    const char *v = t->items[i].value ? t->items[i].value : "";
    char one[600];
    if (!*k || !safe(k) || !safe(v))
      continue;
    snprintf(one, sizeof(one), "%s%s%s%s:%s", *first ? "" : ",", k, *v ? "=" : "",
             v, effect_name(t->items[i].effect));
    *first = 0;
    if (grow(b, len, cap, one) != 0)
      return -1;
  }
  return 0;
}

char **nw__kind_kubelet_args_argv(const nw__kind_config *cfg,
                                  const nw__kind_node_spec *spec) {
  char *b = NULL;
  size_t len = 0, cap = 0;
  int rc = grow(&b, &len, &cap, "KUBELET_EXTRA_ARGS=--provider-id=");
  rc |= grow(&b, &len, &cap, spec->provider_id);
  rc |= grow(&b, &len, &cap, " --node-labels=");
  json_t *labels = nw__kind_node_labels(cfg, spec);
  const char *key;
  json_t *v;
  int first = 1;
  json_object_foreach(labels, key, v) {
    const char *val = json_string_value(v);
    if (!val || !kubelet_may_set(key) || !safe(key) || !safe(val))
      continue;
    rc |= grow(&b, &len, &cap, first ? "" : ",");
    rc |= grow(&b, &len, &cap, key);
    rc |= grow(&b, &len, &cap, "=");
    rc |= grow(&b, &len, &cap, val);
    first = 0;
  }
  json_decref(labels);
  rc |= grow(&b, &len, &cap, " --register-with-taints=");
  first = 1;
  if (spec->claim) {
    rc |= add_taint_args(&b, &len, &cap, &spec->claim->taints, &first);
    rc |= add_taint_args(&b, &len, &cap, &spec->claim->startup_taints, &first);
  }
  rc |= grow(&b, &len, &cap, first ? "" : ",");
  rc |= grow(&b, &len, &cap, "karpenter.sh/unregistered:NoExecute");
  char **argv = argv_new(5);
  if (rc != 0 || !argv) {
    free(b);
    free(argv);
    return NULL;
  }
  /* The content travels as $1, so no quoting of it is involved. */
  argv[0] = strdup("sh");
  argv[1] = strdup("-c");
  argv[2] = strdup("printf '%s\\n' \"$1\" > /etc/default/kubelet");
  argv[3] = strdup("sh");
  argv[4] = b;
  for (size_t i = 0; i < 4; i++) {
    if (!argv[i]) {
      nw__kind_argv_free(argv);
      return NULL;
    }
  }
  return argv;
}

char **nw__kind_join_argv(const char *endpoint, const char *token,
                          const char *hash) {
  /* As kind joins its own workers: preflight checks fail inside a
   * container (swap, kernel modules) and are skipped. */
  const char *const parts[] = {"kubeadm", "join", endpoint, "--token", token,
                               "--discovery-token-ca-cert-hash", hash,
                               "--skip-phases=preflight", NULL};
  char **argv = argv_new(8);
  for (size_t i = 0; argv && parts[i]; i++) {
    argv[i] = strdup(parts[i]);
    if (!argv[i]) {
      nw__kind_argv_free(argv);
      return NULL;
    }
  }
  return argv;
}
