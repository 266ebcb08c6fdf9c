/*
 * Unit tests of the kind provider's pure parts, compiled from the plugin's
 * sources: config and KindNodeClass parsing, the synthetic catalog and the
 * offering choice, API version negotiation, the exec stream demultiplexer,
 * Docker event parsing, the virtual Node object and the kubeadm commands.
 */
#include "nwtest.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "kind.h"
#include "plugin/loader.h"
#include "util/arena.h"

static nw__kind_config parse_ok(const char *json) {
  nw__kind_config cfg;
  nw_error err = {0};
  nw_status st = nw__kind_config_parse(json, &cfg, &err);
  CU_ASSERT_EQUAL_FATAL(st, NW_OK);
  if (st != NW_OK)
    fprintf(stderr, "unexpected config error: %s\n", err.message);
  return cfg;
}

/* Parses a config that must fail and checks the message names `needle`. */
static void parse_bad(const char *json, const char *needle) {
  nw__kind_config cfg;
  nw_error err = {0};
  nw_status st = nw__kind_config_parse(json, &cfg, &err);
  CU_ASSERT_EQUAL(st, NW_ERR_INVALID);
  CU_ASSERT_EQUAL(err.status, NW_ERR_INVALID);
  if (!strstr(err.message, needle))
    fprintf(stderr, "config %s: message \"%s\" lacks \"%s\"\n", json,
            err.message, needle);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, needle));
}

static void test_config_defaults(void) {
  nw__kind_config cfg = parse_ok("{}");
  CU_ASSERT_STRING_EQUAL(cfg.socket, "/var/run/docker.sock");
  CU_ASSERT_STRING_EQUAL(cfg.cluster, "kind");
  CU_ASSERT_STRING_EQUAL(cfg.network, "none");
  CU_ASSERT_EQUAL(cfg.runtime, NW_KIND_RUNTIME_VIRTUAL);
  /* 6 sizes (1..32 vCPU) times 3 memory ratios (2, 4, 8 GiB per vCPU). */
  CU_ASSERT_EQUAL(cfg.n_types, 18);
  CU_ASSERT_EQUAL(cfg.n_zones, 3);
  CU_ASSERT_TRUE(cfg.spot && cfg.on_demand);
  const nw__kind_type *m2 = nw__kind_type_find(&cfg, "m-2");
  CU_ASSERT_PTR_NOT_NULL_FATAL(m2);
  CU_ASSERT_EQUAL(m2->cpus, 2);
  CU_ASSERT_EQUAL(m2->memory_mib, 8192);
  CU_ASSERT_STRING_EQUAL(m2->family, "m");
  CU_ASSERT_DOUBLE_EQUAL(m2->price_on_demand, 2 * 0.031 + 8 * 0.0042, 1e-9);
  CU_ASSERT_DOUBLE_EQUAL(m2->price_spot, m2->price_on_demand * 0.35, 1e-9);
  const nw__kind_type *r32 = nw__kind_type_find(&cfg, "r-32");
  CU_ASSERT_PTR_NOT_NULL_FATAL(r32);
  CU_ASSERT_EQUAL(r32->memory_mib, 32 * 8 * 1024);
  CU_ASSERT_PTR_NULL(nw__kind_type_find(&cfg, "m-3"));
  nw__kind_config_free(&cfg);
}

static void test_config_custom(void) {
  nw__kind_config cfg = parse_ok(
      "{\"socket\":\"/run/d.sock\",\"clusterName\":\"dev\",\"runtime\":\"kubeadm\","
      "\"catalog\":{\"cpus\":[2,4],\"memoryPerCpuGiB\":[4,16],"
      "\"families\":{\"16\":\"x\"},\"zones\":[\"z1\"],"
      "\"capacityTypes\":[\"on-demand\"],\"pods\":50,"
      "\"pricing\":{\"perCpu\":0.1,\"perGiB\":0.01},"
      "\"prices\":{\"m-2\":{\"on-demand\":0.5}},"
      "\"overhead\":{\"kubeReservedCpuMillis\":50,\"evictionMemoryMiB\":0}},"
      "\"limits\":{\"cpuScale\":0.5}}");
  CU_ASSERT_STRING_EQUAL(cfg.cluster, "dev");
  CU_ASSERT_EQUAL(cfg.runtime, NW_KIND_RUNTIME_KUBEADM);
  CU_ASSERT_EQUAL(cfg.n_types, 4);
  CU_ASSERT_TRUE(cfg.on_demand && !cfg.spot);
  CU_ASSERT_EQUAL(cfg.pods, 50);
  CU_ASSERT_EQUAL(cfg.kube_reserved_cpu_m, 50);
  CU_ASSERT_EQUAL(cfg.eviction_mem_mib, 0);
  CU_ASSERT_DOUBLE_EQUAL(cfg.cpu_scale, 0.5, 1e-12);
  const nw__kind_type *m2 = nw__kind_type_find(&cfg, "m-2");
  const nw__kind_type *x4 = nw__kind_type_find(&cfg, "x-4");
  CU_ASSERT_PTR_NOT_NULL_FATAL(m2);
  CU_ASSERT_PTR_NOT_NULL_FATAL(x4);
  CU_ASSERT_DOUBLE_EQUAL(m2->price_on_demand, 0.5, 1e-12);
  CU_ASSERT_EQUAL(x4->memory_mib, 64 * 1024);
  CU_ASSERT_DOUBLE_EQUAL(x4->price_on_demand, 4 * 0.1 + 64 * 0.01, 1e-9);
  nw__kind_config_free(&cfg);
}

static void test_config_errors(void) {
  parse_bad("not json", "not JSON");
  parse_bad("[]", "must be an object");
  parse_bad("{\"sokcet\":\"/x\"}", "unknown key \"sokcet\"");
  parse_bad("{\"socket\":\"docker.sock\"}", "\"socket\" must be an absolute path");
  parse_bad("{\"socket\":5}", "\"socket\" must be a string");
  parse_bad("{\"runtime\":\"vm\"}", "runtime \"vm\"");
  parse_bad("{\"timeoutMs\":5}", "\"timeoutMs\" is 5");
  parse_bad("{\"catalog\":{\"cpus\":[0]}}", "catalog.cpus[0]");
  parse_bad("{\"catalog\":{\"cpus\":[]}}", "catalog.cpus");
  parse_bad("{\"catalog\":{\"cpus\":[2,2]}}", "defined twice");
  parse_bad("{\"catalog\":{\"zones\":[]}}", "catalog.zones");
  parse_bad("{\"catalog\":{\"zones\":[\"a\",3]}}", "catalog.zones[1]");
  parse_bad("{\"catalog\":{\"capacityTypes\":[\"reserved\"]}}", "catalog.capacityTypes[0]");
  parse_bad("{\"catalog\":{\"pricing\":{\"perCpu\":-1}}}", "catalog.pricing.perCpu");
  parse_bad("{\"catalog\":{\"prices\":{\"q-9\":{\"spot\":1}}}}", "catalog.prices.q-9");
  parse_bad("{\"catalog\":{\"prices\":{\"m-2\":{\"spot\":\"cheap\"}}}}", "catalog.prices.m-2.spot");
  parse_bad("{\"catalog\":{\"families\":{\"4\":\"Big Family\"}}}", "catalog.families.4");
  parse_bad("{\"catalog\":{\"overhead\":{\"cpu\":1}}}", "catalog.overhead.cpu");
  parse_bad("{\"limits\":{\"cpuScale\":0}}", "limits.cpuScale");
  parse_bad("{\"kwokLabel\":\"fake\"}", "kwokLabel");
}

static void test_class_parse(void) {
  nw__kind_config cfg = parse_ok("{\"image\":\"img:1\",\"clusterName\":\"c1\"}");
  nw__kind_class cls;
  nw_error err = {0};
  CU_ASSERT_EQUAL(nw__kind_class_parse(&cfg, NULL, &cls, &err), NW_OK);
  CU_ASSERT_STRING_EQUAL(cls.image, "img:1");
  CU_ASSERT_STRING_EQUAL(cls.cluster, "c1");
  CU_ASSERT_STRING_EQUAL(cls.network, "none");
  CU_ASSERT_EQUAL(cls.runtime, NW_KIND_RUNTIME_VIRTUAL);
  CU_ASSERT_EQUAL(nw__kind_class_parse(&cfg,
      "{\"apiVersion\":\"nodewright.dev/v1alpha1\",\"kind\":\"KindNodeClass\","
      "\"metadata\":{\"name\":\"x\"},\"spec\":{\"image\":\"kindest/node:v1.31.0\","
      "\"network\":\"kind\",\"clusterName\":\"c1\",\"runtime\":\"kubeadm\"}}",
      &cls, &err), NW_OK);
  CU_ASSERT_STRING_EQUAL(cls.image, "kindest/node:v1.31.0");
  CU_ASSERT_STRING_EQUAL(cls.network, "kind");
  CU_ASSERT_EQUAL(cls.runtime, NW_KIND_RUNTIME_KUBEADM);
  CU_ASSERT_EQUAL(nw__kind_class_parse(&cfg, "{\"spec\":{\"runtime\":\"vm\"}}", &cls, &err),
                  NW_ERR_INVALID);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "runtime \"vm\""));
  CU_ASSERT_EQUAL(nw__kind_class_parse(&cfg, "{\"spec\":{\"clusterName\":\"other\"}}",
                                       &cls, &err), NW_ERR_INVALID);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "\"other\""));
  CU_ASSERT_EQUAL(nw__kind_class_parse(&cfg, "{\"spec\":{\"image\":7}}", &cls, &err),
                  NW_ERR_INVALID);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "spec.image"));
  CU_ASSERT_EQUAL(nw__kind_class_parse(&cfg, "{oops", &cls, &err), NW_ERR_INVALID);
  nw__kind_config_free(&cfg);
  cfg = parse_ok("{}");
  CU_ASSERT_EQUAL(nw__kind_class_parse(&cfg, "{\"spec\":{}}", &cls, &err), NW_ERR_INVALID);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "no image"));
  nw__kind_config_free(&cfg);
}

static const nw_requirement *find_req(const nw_instance_type *it, const char *key) {
  for (size_t i = 0; i < it->requirements.len; i++) {
    if (strcmp(it->requirements.items[i].key, key) == 0)
      return &it->requirements.items[i];
  }
  return NULL;
}

static int64_t res(const nw_resource_list *l, const char *name) {
  for (size_t i = 0; i < l->len; i++) {
    if (strcmp(l->items[i].name, name) == 0)
      return l->items[i].value;
  }
  return -1;
}

static void test_catalog_export(void) {
  nw__kind_config cfg = parse_ok("{}");
  nw_arena *a = nw__arena_new();
  nw_instance_types its = {0};
  nw_error err = {0};
  CU_ASSERT_EQUAL_FATAL(nw__kind_catalog(nw__host_api(), &cfg, 2, a, &its, &err), NW_OK);
  CU_ASSERT_EQUAL_FATAL(its.len, 18);
  const nw_instance_type *c2 = NULL, *c4 = NULL;
  for (size_t i = 0; i < its.len; i++) {
    if (strcmp(its.items[i].name, "c-2") == 0)
      c2 = &its.items[i];
    if (strcmp(its.items[i].name, "c-4") == 0)
      c4 = &its.items[i];
  }
  CU_ASSERT_PTR_NOT_NULL_FATAL(c2);
  CU_ASSERT_PTR_NOT_NULL_FATAL(c4);
  const nw_requirement *r = find_req(c2, "node.kubernetes.io/instance-type");
  CU_ASSERT_PTR_NOT_NULL_FATAL(r);
  CU_ASSERT_EQUAL(r->op, NW_OP_IN);
  CU_ASSERT_STRING_EQUAL(r->values[0], "c-2");
  r = find_req(c2, "topology.kubernetes.io/zone");
  CU_ASSERT_PTR_NOT_NULL_FATAL(r);
  CU_ASSERT_EQUAL(r->n_values, 3);
  r = find_req(c2, NW_KIND_LABEL_MEMORY);
  CU_ASSERT_PTR_NOT_NULL_FATAL(r);
  CU_ASSERT_STRING_EQUAL(r->values[0], "4096");
  CU_ASSERT_PTR_NOT_NULL(find_req(c2, "kubernetes.io/arch"));
  CU_ASSERT_PTR_NOT_NULL(find_req(c2, "karpenter.sh/capacity-type"));
  CU_ASSERT_PTR_NOT_NULL(find_req(c2, NW_KIND_LABEL_FAMILY));
  CU_ASSERT_EQUAL(res(&c2->capacity, "cpu"), 2000);
  CU_ASSERT_EQUAL(res(&c2->capacity, "memory"), INT64_C(4096) * 1024 * 1024);
  CU_ASSERT_EQUAL(res(&c2->capacity, "pods"), 110);
  CU_ASSERT_EQUAL(res(&c2->kube_reserved, "cpu"), 100);
  CU_ASSERT_EQUAL(res(&c2->eviction_threshold, "memory"), INT64_C(100) * 1024 * 1024);
  /* 3 zones x 2 capacity types; a 4-vCPU type does not fit a 2-CPU host. */
  CU_ASSERT_EQUAL_FATAL(c2->n_offerings, 6);
  for (size_t i = 0; i < 6; i++) {
    CU_ASSERT_TRUE(c2->offerings[i].available);
    CU_ASSERT_FALSE(c4->offerings[i].available);
    const nw__kind_type *t = nw__kind_type_find(&cfg, "c-2");
    double want = strcmp(c2->offerings[i].capacity_type, "spot") == 0
                      ? t->price_spot : t->price_on_demand;
    CU_ASSERT_DOUBLE_EQUAL(c2->offerings[i].price, want, 1e-12);
  }
  nw__arena_free(a);
  nw__kind_config_free(&cfg);
}

static void test_pick(void) {
  nw__kind_config cfg = parse_ok("{}");
  const nw__kind_type *t = NULL;
  const char *zone = NULL, *cap = NULL;
  nw_requirements none = {0, NULL};
  CU_ASSERT_EQUAL(nw__kind_pick(&cfg, &none, NULL, 0, &t, &zone, &cap), 0);
  CU_ASSERT_STRING_EQUAL(t->name, "c-1");
  CU_ASSERT_STRING_EQUAL(cap, "spot");
  CU_ASSERT_STRING_EQUAL(zone, "kind-a");

  const char *types[] = {"m-4", "r-4"};
  const char *od[] = {"on-demand"};
  const char *zb[] = {"kind-b"};
  const char *kong[] = {"kong"};
  nw_requirement rs[] = {
      {"node.kubernetes.io/instance-type", NW_OP_IN, 2, types, 0},
      {"karpenter.sh/capacity-type", NW_OP_IN, 1, od, 0},
      {"topology.kubernetes.io/zone", NW_OP_IN, 1, zb, 0},
      /* The pool's own label: the node carries it, the type need not. */
      {"nodegroupname", NW_OP_IN, 1, kong, 0},
  };
  nw_requirements reqs = {4, rs};
  CU_ASSERT_EQUAL(nw__kind_pick(&cfg, &reqs, NULL, 0, &t, &zone, &cap), 0);
  CU_ASSERT_STRING_EQUAL(t->name, "m-4");
  CU_ASSERT_STRING_EQUAL(cap, "on-demand");
  CU_ASSERT_STRING_EQUAL(zone, "kind-b");
  /* Too big for a 2-CPU Docker host. */
  CU_ASSERT_EQUAL(nw__kind_pick(&cfg, &reqs, NULL, 2, &t, &zone, &cap), -1);

  const char *four[] = {"4"};
  nw_requirement gte[] = {{NW_KIND_LABEL_CPU, NW_OP_GTE, 1, four, 0}};
  nw_requirements rg = {1, gte};
  CU_ASSERT_EQUAL(nw__kind_pick(&cfg, &rg, NULL, 0, &t, &zone, &cap), 0);
  CU_ASSERT_STRING_EQUAL(t->name, "c-4");
  nw_requirement gt[] = {{NW_KIND_LABEL_CPU, NW_OP_GT, 1, four, 0}};
  nw_requirements rgt = {1, gt};
  CU_ASSERT_EQUAL(nw__kind_pick(&cfg, &rgt, NULL, 0, &t, &zone, &cap), 0);
  CU_ASSERT_STRING_EQUAL(t->name, "c-8");
  /* 1500m and 3Gi fit c-2 (1900m, 3740Mi allocatable), not c-1. */
  nw_resource rq[] = {{"cpu", 1500}, {"memory", INT64_C(3) << 30}, {"pods", 1}};
  nw_resource_list requests = {3, rq};
  CU_ASSERT_EQUAL(nw__kind_pick(&cfg, &none, &requests, 0, &t, &zone, &cap), 0);
  CU_ASSERT_STRING_EQUAL(t->name, "c-2");
  nw_resource gpu[] = {{"nvidia.com/gpu", 1}};
  nw_resource_list rgpu = {1, gpu};
  CU_ASSERT_EQUAL(nw__kind_pick(&cfg, &none, &rgpu, 0, &t, &zone, &cap), -1);
  nw__kind_config_free(&cfg);
}

static void test_requirement_holds(void) {
  const char *ab[] = {"a", "b"};
  const char *ten[] = {"10"};
  const char *junk[] = {"x10"};
  nw_requirement in = {"k", NW_OP_IN, 2, ab, 0};
  nw_requirement notin = {"k", NW_OP_NOT_IN, 2, ab, 0};
  nw_requirement ex = {"k", NW_OP_EXISTS, 0, NULL, 0};
  nw_requirement dne = {"k", NW_OP_DOES_NOT_EXIST, 0, NULL, 0};
  nw_requirement lt = {"k", NW_OP_LT, 1, ten, 0};
  nw_requirement lte = {"k", NW_OP_LTE, 1, ten, 0};
  nw_requirement bad = {"k", NW_OP_GT, 1, junk, 0};
  CU_ASSERT_TRUE(nw__kind_requirement_holds(&in, "b"));
  CU_ASSERT_FALSE(nw__kind_requirement_holds(&in, "c"));
  CU_ASSERT_FALSE(nw__kind_requirement_holds(&in, NULL));
  CU_ASSERT_TRUE(nw__kind_requirement_holds(&notin, "c"));
  CU_ASSERT_TRUE(nw__kind_requirement_holds(&notin, NULL));
  CU_ASSERT_FALSE(nw__kind_requirement_holds(&notin, "a"));
  CU_ASSERT_TRUE(nw__kind_requirement_holds(&ex, "x"));
  CU_ASSERT_FALSE(nw__kind_requirement_holds(&ex, NULL));
  CU_ASSERT_TRUE(nw__kind_requirement_holds(&dne, NULL));
  CU_ASSERT_TRUE(nw__kind_requirement_holds(&lt, "9"));
  CU_ASSERT_FALSE(nw__kind_requirement_holds(&lt, "10"));
  CU_ASSERT_TRUE(nw__kind_requirement_holds(&lte, "10"));
  CU_ASSERT_FALSE(nw__kind_requirement_holds(&lte, "abc"));
  CU_ASSERT_FALSE(nw__kind_requirement_holds(&bad, "20"));
}

static void test_pick_version(void) {
  char v[16];
  CU_ASSERT_EQUAL(nw__kind_pick_version("1.41", "1.12", v, sizeof(v)), 0);
  CU_ASSERT_STRING_EQUAL(v, "/v1.41");
  CU_ASSERT_EQUAL(nw__kind_pick_version("1.50", "1.24", v, sizeof(v)), 0);
  CU_ASSERT_STRING_EQUAL(v, "/v1.41");
  CU_ASSERT_EQUAL(nw__kind_pick_version("1.30", NULL, v, sizeof(v)), 0);
  CU_ASSERT_STRING_EQUAL(v, "/v1.30");
  CU_ASSERT_EQUAL(nw__kind_pick_version("1.24", "1.12", v, sizeof(v)), -1);
  CU_ASSERT_EQUAL(nw__kind_pick_version("1.50", "1.44", v, sizeof(v)), -1);
  CU_ASSERT_EQUAL(nw__kind_pick_version("2.0", NULL, v, sizeof(v)), -1);
  CU_ASSERT_EQUAL(nw__kind_pick_version("1.x", NULL, v, sizeof(v)), -1);
  CU_ASSERT_EQUAL(nw__kind_pick_version(NULL, NULL, v, sizeof(v)), -1);
}

static size_t frame(char *p, int stream, const char *s) {
  size_t n = strlen(s);
  p[0] = (char)stream;
  p[1] = p[2] = p[3] = 0;
  p[4] = (char)((n >> 24) & 255);
  p[5] = (char)((n >> 16) & 255);
  p[6] = (char)((n >> 8) & 255);
  p[7] = (char)(n & 255);
  memcpy(p + 8, s, n);
  return 8 + n;
}

static void test_demux(void) {
  char buf[256];
  size_t n = frame(buf, 1, "hello\n");
  n += frame(buf + n, 2, "oops");
  n += frame(buf + n, 1, "world");
  char *o = NULL, *e = NULL;
  CU_ASSERT_EQUAL(nw__kind_demux(buf, n, &o, &e), 0);
  CU_ASSERT_STRING_EQUAL(o, "hello\nworld");
  CU_ASSERT_STRING_EQUAL(e, "oops");
  free(o);
  free(e);
  /* A truncated last frame: what came before is kept. */
  CU_ASSERT_EQUAL(nw__kind_demux(buf, n - 2, &o, &e), -1);
  CU_ASSERT_STRING_EQUAL(o, "hello\n");
  CU_ASSERT_STRING_EQUAL(e, "oops");
  free(o);
  free(e);
  CU_ASSERT_EQUAL(nw__kind_demux("", 0, &o, &e), 0);
  CU_ASSERT_STRING_EQUAL(o, "");
  free(o);
  free(e);
}

static void test_event_parse(void) {
  const char *kill =
      "{\"status\":\"kill\",\"Type\":\"container\",\"Action\":\"kill\",\"Actor\":"
      "{\"ID\":\"abc\",\"Attributes\":{\"io.x-k8s.kind.cluster\":\"c1\","
      "\"nodewright.dev/nodeclaim\":\"cl\",\"name\":\"c1-cl\",\"signal\":\"9\"}},"
      "\"time\":1795825653,\"timeNano\":1795825653474852498}";
  const char *die =
      "{\"Type\":\"container\",\"Action\":\"die\",\"Actor\":{\"Attributes\":"
      "{\"io.x-k8s.kind.cluster\":\"c1\",\"nodewright.dev/nodeclaim\":\"cl\","
      "\"name\":\"c1-cl\",\"exitCode\":\"137\"}},\"timeNano\":1795825653518876818}";
  const char *not_ours =
      "{\"Type\":\"container\",\"Action\":\"die\",\"Actor\":{\"Attributes\":"
      "{\"io.x-k8s.kind.cluster\":\"c1\",\"name\":\"c1-control-plane\"}},"
      "\"timeNano\":1}";
  const char *start =
      "{\"Type\":\"container\",\"Action\":\"start\",\"Actor\":{\"Attributes\":"
      "{\"io.x-k8s.kind.cluster\":\"c1\",\"nodewright.dev/nodeclaim\":\"cl\","
      "\"name\":\"c1-cl\"}},\"timeNano\":2}";
  nw__kind_event ev;
  int64_t ns = 0;
  CU_ASSERT_EQUAL(nw__kind_event_parse(kill, strlen(kill), "c1", &ev, &ns), 1);
  CU_ASSERT_STRING_EQUAL(ev.provider_id, "kind://docker/c1/c1-cl");
  CU_ASSERT_STRING_EQUAL(ev.state, "stopping");
  CU_ASSERT_PTR_NOT_NULL(strstr(ev.detail, "signal 9"));
  CU_ASSERT_EQUAL(ns, INT64_C(1795825653474852498));
  CU_ASSERT_EQUAL(ev.time_ms, INT64_C(1795825653474));
  CU_ASSERT_EQUAL(nw__kind_event_parse(die, strlen(die), "c1", &ev, &ns), 1);
  CU_ASSERT_STRING_EQUAL(ev.state, "terminated");
  CU_ASSERT_PTR_NOT_NULL(strstr(ev.detail, "exit code 137"));
  CU_ASSERT_EQUAL(nw__kind_event_parse(die, strlen(die), "c2", &ev, &ns), 0);
  CU_ASSERT_EQUAL(nw__kind_event_parse(not_ours, strlen(not_ours), "c1", &ev, &ns), 0);
  CU_ASSERT_EQUAL(nw__kind_event_parse(start, strlen(start), "c1", &ev, &ns), 0);
  CU_ASSERT_EQUAL(nw__kind_event_parse("{trunc", 6, "c1", &ev, &ns), 0);
}

/* A claim with a pool label, a taint and a startup taint. */
static const nw_kv claim_labels[] = {{"nodegroupname", "kong"},
                                     {"example.kubernetes.io/restricted", "x"},
                                     {"team", "a b"}};
static const nw_taint claim_taints[] = {{"dedicated", "gpu", NW_TAINT_NO_SCHEDULE}};
static const nw_taint claim_startup[] = {{"init", NULL, NW_TAINT_NO_EXECUTE}};

static nw_node_claim test_claim(void) {
  nw_node_claim c;
  memset(&c, 0, sizeof(c));
  c.name = "default-abcde";
  c.nodepool = "default";
  c.labels.items = claim_labels;
  c.labels.len = 3;
  c.taints.items = claim_taints;
  c.taints.len = 1;
  c.startup_taints.items = claim_startup;
  c.startup_taints.len = 1;
  return c;
}

static int has_taint(json_t *taints, const char *key, const char *value,
                     const char *effect) {
  size_t i;
  json_t *t;
  json_array_foreach(taints, i, t) {
    const char *v = json_string_value(json_object_get(t, "value"));
    if (strcmp(json_string_value(json_object_get(t, "key")), key) == 0 &&
        strcmp(json_string_value(json_object_get(t, "effect")), effect) == 0 &&
        ((!value && !v) || (value && v && strcmp(v, value) == 0)))
      return 1;
  }
  return 0;
}

static void test_node_json(void) {
  nw__kind_config cfg = parse_ok("{}");
  nw_node_claim claim = test_claim();
  nw__kind_node_spec spec = {"kind-default-abcde", "kind://docker/kind/kind-default-abcde",
                             nw__kind_type_find(&cfg, "m-2"), "kind-b", "spot", &claim};
  char *s = nw__kind_node_json(&cfg, &spec);
  CU_ASSERT_PTR_NOT_NULL_FATAL(s);
  json_t *n = json_loads(s, 0, NULL);
  free(s);
  CU_ASSERT_PTR_NOT_NULL_FATAL(n);
  json_t *md = json_object_get(n, "metadata");
  json_t *labels = json_object_get(md, "labels");
  CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(n, "kind")), "Node");
  CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(md, "name")), "kind-default-abcde");
  CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(labels, "kwok.x-k8s.io/node")), "fake");
  CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(json_object_get(md, "annotations"),
                                                           "kwok.x-k8s.io/node")), "fake");
  CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(labels, "nodegroupname")), "kong");
  CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(labels, "node.kubernetes.io/instance-type")), "m-2");
  CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(labels, "topology.kubernetes.io/zone")), "kind-b");
  CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(labels, "karpenter.sh/capacity-type")), "spot");
  CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(labels, "karpenter.sh/nodepool")), "default");
  CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(labels, NW_KIND_LABEL_MEMORY)), "8192");
  json_t *sp = json_object_get(n, "spec");
  CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(sp, "providerID")),
                         "kind://docker/kind/kind-default-abcde");
  json_t *taints = json_object_get(sp, "taints");
  CU_ASSERT_TRUE(has_taint(taints, "dedicated", "gpu", "NoSchedule"));
  CU_ASSERT_TRUE(has_taint(taints, "init", NULL, "NoExecute"));
  CU_ASSERT_TRUE(has_taint(taints, "karpenter.sh/unregistered", NULL, "NoExecute"));
  json_t *st = json_object_get(n, "status");
  json_t *cap = json_object_get(st, "capacity");
  json_t *alloc = json_object_get(st, "allocatable");
  CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(cap, "cpu")), "2000m");
  CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(cap, "memory")), "8192Mi");
  CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(cap, "pods")), "110");
  /* Minus 100m kube-reserved; minus 256 Mi reserved and 100 Mi eviction. */
  CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(alloc, "cpu")), "1900m");
  CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(alloc, "memory")), "7836Mi");
  json_decref(n);
  nw__kind_config_free(&cfg);
}

static void test_kubeadm_commands(void) {
  char ep[128], tok[64], hash[128];
  const char *out =
      "kubeadm join kind-control-plane:6443 --token abcdef.0123456789abcdef "
      "--discovery-token-ca-cert-hash sha256:0a1b2c3d4e5f \n";
  CU_ASSERT_EQUAL(nw__kind_parse_join(out, ep, sizeof(ep), tok, sizeof(tok), hash,
                                      sizeof(hash)), 0);
  CU_ASSERT_STRING_EQUAL(ep, "kind-control-plane:6443");
  CU_ASSERT_STRING_EQUAL(tok, "abcdef.0123456789abcdef");
  CU_ASSERT_STRING_EQUAL(hash, "sha256:0a1b2c3d4e5f");
  CU_ASSERT_EQUAL(nw__kind_parse_join("kubeadm join a:1 --token x;rm "
                                      "--discovery-token-ca-cert-hash sha256:00",
                                      ep, sizeof(ep), tok, sizeof(tok), hash,
                                      sizeof(hash)), -1);
  CU_ASSERT_EQUAL(nw__kind_parse_join("error: no kubeconfig", ep, sizeof(ep), tok,
                                      sizeof(tok), hash, sizeof(hash)), -1);
  const char *const *t = nw__kind_token_argv();
  CU_ASSERT_STRING_EQUAL(t[0], "kubeadm");
  CU_ASSERT_STRING_EQUAL(t[3], "--print-join-command");
  CU_ASSERT_PTR_NULL(t[4]);

  char **j = nw__kind_join_argv("kind-control-plane:6443", "abcdef.0123456789abcdef",
                                "sha256:0a1b2c3d4e5f");
  const char *want[] = {"kubeadm", "join", "kind-control-plane:6443", "--token",
                        "abcdef.0123456789abcdef", "--discovery-token-ca-cert-hash",
                        "sha256:0a1b2c3d4e5f", "--skip-phases=preflight", NULL};
  for (size_t i = 0; want[i]; i++)
    CU_ASSERT_STRING_EQUAL(j[i], want[i]);
  CU_ASSERT_PTR_NULL(j[8]);
  nw__kind_argv_free(j);

  nw__kind_config cfg = parse_ok("{}");
  nw_node_claim claim = test_claim();
  nw__kind_node_spec spec = {"kind-default-abcde", "kind://docker/kind/kind-default-abcde",
                             nw__kind_type_find(&cfg, "m-2"), "kind-b", "spot", &claim};
  char **k = nw__kind_kubelet_args_argv(&cfg, &spec);
  CU_ASSERT_PTR_NOT_NULL_FATAL(k);
  CU_ASSERT_STRING_EQUAL(k[0], "sh");
  CU_ASSERT_STRING_EQUAL(k[1], "-c");
  CU_ASSERT_PTR_NOT_NULL(strstr(k[2], "/etc/default/kubelet"));
  const char *env = k[4];
  const char *head = "KUBELET_EXTRA_ARGS=--provider-id=kind://docker/kind/"
                     "kind-default-abcde --node-labels=";
  CU_ASSERT_EQUAL(strncmp(env, head, strlen(head)), 0);
  CU_ASSERT_PTR_NOT_NULL(strstr(env, "nodegroupname=kong"));
  CU_ASSERT_PTR_NOT_NULL(strstr(env, "node.kubernetes.io/instance-type=m-2"));
  CU_ASSERT_PTR_NOT_NULL(strstr(env, "topology.kubernetes.io/zone=kind-b"));
  CU_ASSERT_PTR_NOT_NULL(strstr(env, "kubernetes.io/hostname=kind-default-abcde"));
  /* NodeRestriction would refuse it, and a space would split the flags. */
  CU_ASSERT_PTR_NULL(strstr(env, "example.kubernetes.io/restricted"));
  CU_ASSERT_PTR_NULL(strstr(env, "team="));
  CU_ASSERT_PTR_NOT_NULL(strstr(env, " --register-with-taints=dedicated=gpu:NoSchedule,"
                                     "init:NoExecute,karpenter.sh/unregistered:NoExecute"));
  CU_ASSERT_PTR_NULL(k[5]);
  nw__kind_argv_free(k);
  nw__kind_config_free(&cfg);
}

static void test_url_encode(void) {
  char out[128];
  nw__kind_url_encode("{\"label\":[\"a=b\"]}", out, sizeof(out));
  CU_ASSERT_STRING_EQUAL(out, "%7B%22label%22%3A%5B%22a%3Db%22%5D%7D");
  nw__kind_url_encode("kindest/node:v1.31.0", out, sizeof(out));
  CU_ASSERT_STRING_EQUAL(out, "kindest%2Fnode%3Av1.31.0");
}

NW_TEST_CASES({"config_defaults", test_config_defaults},
              {"config_custom", test_config_custom},
              {"config_errors", test_config_errors},
              {"class_parse", test_class_parse},
              {"catalog_export", test_catalog_export},
              {"pick", test_pick},
              {"requirement_holds", test_requirement_holds},
              {"pick_version", test_pick_version},
              {"demux", test_demux},
              {"event_parse", test_event_parse},
              {"node_json", test_node_json},
              {"kubeadm_commands", test_kubeadm_commands},
              {"url_encode", test_url_encode});
NW_TEST_MAIN("kind_unit", NULL, NULL);
