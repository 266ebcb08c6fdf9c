/* Kubernetes quantities and object decoding (core/model). */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "model/objects.h"
#include "model/quantity.h"
#include "nwtest.h"
#include "util/arena.h"

typedef struct qcase {
  const char *in;
  int milli;
  int ok;
  int64_t want;
} qcase;

static const qcase qcases[] = {
    {"1", 1, 1, 1000},
    {"100m", 1, 1, 100},
    {"1.5", 1, 1, 1500},
    {"0.0001", 1, 1, 1},     /* rounded up */
    {"250u", 1, 1, 1},
    {"1500n", 0, 1, 1},
    {"2k", 0, 1, 2000},
    {"1M", 0, 1, 1000000},
    {"3G", 0, 1, 3000000000LL},
    {"1T", 0, 1, 1000000000000LL},
    {"2P", 0, 1, 2000000000000000LL},
    {"1E", 0, 1, 1000000000000000000LL},
    {"1Ki", 0, 1, 1024},
    {"1.5Mi", 0, 1, 1572864},
    {"4Gi", 0, 1, 4294967296LL},
    {"1Ti", 0, 1, 1099511627776LL},
    {"1Pi", 0, 1, 1125899906842624LL},
    {"1Ei", 0, 1, 1152921504606846976LL},
    {"1e3", 0, 1, 1000},
    {"1.5E2", 0, 1, 150},
    {"5e-3", 1, 1, 5},
    {"+12", 0, 1, 12},
    {".5", 1, 1, 500},
    {"128974848", 0, 1, 128974848},
    {"0", 0, 1, 0},
    {"", 0, 0, 0},
    {"Mi", 0, 0, 0},
    {"1Qi", 0, 0, 0},
    {"1.2.3", 0, 0, 0},
    {"10E", 0, 0, 0},        /* overflows int64 */
    {"1e", 0, 0, 0},
};

static void test_quantities(void) {
  for (size_t i = 0; i < sizeof(qcases) / sizeof(qcases[0]); i++) {
    int64_t v = -1;
    char err[256] = "";
    int rc = nw__quantity_parse(qcases[i].in, qcases[i].milli, &v, err,
                                sizeof(err));
    if ((rc == 0) != qcases[i].ok || (rc == 0 && v != qcases[i].want))
      fprintf(stderr, "quantity \"%s\": rc %d value %lld (%s)\n", qcases[i].in,
              rc, (long long)v, err);
    CU_ASSERT_EQUAL(rc == 0, qcases[i].ok);
    if (rc == 0) {
      CU_ASSERT_EQUAL(v, qcases[i].want);
    } else {
      CU_ASSERT_PTR_NOT_NULL(strstr(err, "invalid quantity"));
    }
  }
}

static void test_quantity_format(void) {
  char b[32];
  CU_ASSERT_STRING_EQUAL(nw__quantity_format("cpu", 1500, b, sizeof(b)),
                         "1500m");
  CU_ASSERT_STRING_EQUAL(nw__quantity_format("cpu", 2000, b, sizeof(b)), "2");
  CU_ASSERT_STRING_EQUAL(nw__quantity_format("memory", 3LL << 30, b, sizeof(b)),
                         "3Gi");
  CU_ASSERT_STRING_EQUAL(nw__quantity_format("memory", 1000, b, sizeof(b)),
                         "1000");
  CU_ASSERT_STRING_EQUAL(nw__quantity_format("pods", 110, b, sizeof(b)), "110");
}

static json_t *load(const char *name) {
  char rel[256];
  snprintf(rel, sizeof(rel), "tests/fixtures/model/%s", name);
  json_error_t je;
  json_t *j = json_load_file(nw_test_src_path(rel), 0, &je);
  CU_ASSERT_PTR_NOT_NULL_FATAL(j);
  return j;
}

static void test_pod_requests(void) {
  nw_arena *a = nw__arena_new();
  json_t *j = load("pod-full.json");
  nw_error err = {0};
  nw__pod *p = nw__pod_decode(j, a, &err);
  CU_ASSERT_PTR_NOT_NULL_FATAL(p);
  /* containers: 600m / 576Mi; sidecar 250m / 128Mi runs beside them;
   * init max: migrate 2 cpu, warm 1 cpu + sidecar = 1250m / 3Gi+128Mi.
   * cpu = max(850m, 2000m) + 50m overhead; memory = max(704Mi, 3200Mi)
   * + 16Mi.  The gpu comes from limits (requests default to limits). */
  CU_ASSERT_EQUAL(nw__resources_get(&p->requests, "cpu"), 2050);
  CU_ASSERT_EQUAL(nw__resources_get(&p->requests, "memory"),
                  (3200LL + 16) << 20);
  CU_ASSERT_EQUAL(nw__resources_get(&p->requests, "nvidia.com/gpu"), 1);
  CU_ASSERT_EQUAL(nw__resources_get(&p->requests, "ephemeral-storage"),
                  1LL << 30);
  CU_ASSERT_EQUAL(nw__resources_get(&p->requests, "pods"), 1);
  /* The well-known sums match the list; the gpu is not one of them, so
   * the scheduler must read the list. */
  for (int k = 0; k < NW__N_WK; k++)
    CU_ASSERT_EQUAL(p->wk_requests[k],
                    nw__resources_get(&p->requests, nw__wk_resources[k]));
  CU_ASSERT_FALSE(p->requests_wk);
  json_decref(j);
  /* Only well-known resources: the sums are all of it. */
  j = json_loads("{\"metadata\":{\"name\":\"p\",\"namespace\":\"d\"},"
                 "\"spec\":{\"containers\":[{\"name\":\"c\",\"resources\":"
                 "{\"requests\":{\"cpu\":\"250m\",\"memory\":\"1Gi\"}}}]}}",
                 0, NULL);
  p = nw__pod_decode(j, a, &err);
  CU_ASSERT_PTR_NOT_NULL_FATAL(p);
  CU_ASSERT_TRUE(p->requests_wk);
  CU_ASSERT_EQUAL(p->wk_requests[NW__WK_CPU], 250);
  CU_ASSERT_EQUAL(p->wk_requests[NW__WK_MEMORY], 1LL << 30);
  CU_ASSERT_EQUAL(p->wk_requests[NW__WK_PODS], 1);
  CU_ASSERT_EQUAL(p->wk_requests[NW__WK_EPHEMERAL], 0);
  json_decref(j);
  nw__arena_free(a);
}

static void test_pod_fields(void) {
  nw_arena *a = nw__arena_new();
  json_t *j = load("pod-full.json");
  nw__pod *p = nw__pod_decode(j, a, NULL);
  json_decref(j); /* Decoded objects do not point into the JSON. */
  CU_ASSERT_PTR_NOT_NULL_FATAL(p);
  CU_ASSERT_STRING_EQUAL(p->namespace_, "shop");
  CU_ASSERT_STRING_EQUAL(p->owner_kind, "ReplicaSet");
  CU_ASSERT_EQUAL(p->priority, 100);
  CU_ASSERT_STRING_EQUAL(nw__labels_get(&p->annotations,
                                        "karpenter.sh/do-not-disrupt"),
                         "true");
  CU_ASSERT_EQUAL(p->required_node_affinity.len, 1);
  CU_ASSERT_EQUAL(p->required_node_affinity.items[0].items[0].op, NW_OP_GT);
  CU_ASSERT_EQUAL(p->n_preferred_node_affinity, 1);
  CU_ASSERT_EQUAL(p->preferred_node_affinity[0].weight, 20);
  CU_ASSERT_EQUAL(p->n_tolerations, 2);
  CU_ASSERT_EQUAL(p->tolerations[1].op, NW__TOL_EXISTS);
  CU_ASSERT_EQUAL(p->tolerations[1].effect, -1);
  CU_ASSERT_EQUAL(p->preferred_anti_affinity.len, 1);
  CU_ASSERT_TRUE(p->preferred_anti_affinity.items[0].namespace_selector.present);
  CU_ASSERT_EQUAL(p->n_spreads, 1);
  CU_ASSERT_EQUAL(p->spreads[0].max_skew, 2);
  CU_ASSERT_EQUAL(p->spreads[0].min_domains, 3);
  CU_ASSERT_TRUE(p->spreads[0].schedule_anyway);
  CU_ASSERT_EQUAL(p->spreads[0].node_taints_policy, NW__POLICY_HONOR);
  CU_ASSERT_EQUAL(p->spreads[0].node_affinity_policy, NW__POLICY_HONOR);
  CU_ASSERT_EQUAL(p->n_host_ports, 1);
  CU_ASSERT_EQUAL(p->host_ports[0].port, 8080);
  CU_ASSERT_EQUAL(p->n_pvcs, 2);
  CU_ASSERT_STRING_EQUAL(p->pvcs[0], "data-web-0");
  CU_ASSERT_STRING_EQUAL(p->pvcs[1], "web-0-cache");
  nw_taint t = {"dedicated", "web", NW_TAINT_NO_SCHEDULE};
  CU_ASSERT_TRUE(nw__tolerates(p->tolerations, 1, &t));
  t.value = "db";
  CU_ASSERT_FALSE(nw__tolerates(p->tolerations, 1, &t));
  nw__arena_free(a);
}

static void test_nodepool(void) {
  nw_arena *a = nw__arena_new();
  json_t *j = load("nodepool-kong.json");
  nw__nodepool *np = nw__nodepool_decode(j, a, NULL);
  json_decref(j);
  CU_ASSERT_PTR_NOT_NULL_FATAL(np);
  CU_ASSERT_EQUAL(np->weight, 30);
  CU_ASSERT_STRING_EQUAL(nw__labels_get(&np->labels, "nodegroupname"), "kong");
  CU_ASSERT_EQUAL(np->requirements.len, 2);
  CU_ASSERT_EQUAL(np->requirements.items[0].min_values, 2);
  CU_ASSERT_EQUAL(np->requirements.items[1].op, NW_OP_GTE);
  CU_ASSERT_EQUAL(np->taints.len, 1);
  CU_ASSERT_EQUAL(np->startup_taints.items[0].effect, NW_TAINT_NO_EXECUTE);
  CU_ASSERT_EQUAL(np->expire_after_s, 0);
  CU_ASSERT_EQUAL(nw__resources_get(&np->limits, "cpu"), 1000000);
  CU_ASSERT_EQUAL(nw__resources_get(&np->limits, "nodes"), 20);
  CU_ASSERT_STRING_EQUAL(np->consolidation_policy, "WhenEmpty");
  CU_ASSERT_EQUAL(np->consolidate_after_s, 30);
  CU_ASSERT_EQUAL(np->n_budgets, 2);
  CU_ASSERT_EQUAL(np->budgets[1].duration_s, 8 * 3600);
  CU_ASSERT_EQUAL(np->budgets[0].n_reasons, 2);
  nw__arena_free(a);
}

typedef struct bad_case {
  const char *json;
  const char *decoder;
  const char *message;
} bad_case;

static const bad_case bad[] = {
    {"{\"metadata\":{\"name\":\"p\"},\"spec\":{\"containers\":[{\"resources\":"
     "{\"requests\":{\"cpu\":\"lots\"}}}]}}",
     "pod", "Pod default/p: resources: requests.cpu: invalid quantity"},
    {"{\"metadata\":{\"name\":\"p\"},\"spec\":{\"tolerations\":[{\"operator\":"
     "\"Maybe\"}]}}",
     "pod", "unknown operator \"Maybe\""},
    {"{\"metadata\":{\"name\":\"p\"},\"spec\":{\"affinity\":{\"nodeAffinity\":"
     "{\"requiredDuringSchedulingIgnoredDuringExecution\":{\"nodeSelectorTerms"
     "\":[{\"matchExpressions\":[{\"key\":\"k\",\"operator\":\"In\"}]}]}}}}}",
     "pod", "operator In needs values"},
    {"{\"metadata\":{\"name\":\"p\"}}", "pod", "spec: missing"},
    {"{\"metadata\":{\"name\":\"np\"},\"spec\":{\"template\":{\"spec\":{"
     "\"requirements\":[{\"key\":\"k\",\"operator\":\"Gt\",\"values\":[\"x\"]}"
     "]}}}}",
     "nodepool", "needs an integer"},
    {"{\"metadata\":{\"name\":\"np\"},\"spec\":{\"weight\":101}}", "nodepool",
     "spec.weight"},
    {"{\"metadata\":{\"name\":\"n\"},\"spec\":{\"taints\":[{\"key\":\"a\","
     "\"effect\":\"Sometimes\"}]}}",
     "node", "taint 0 needs a key and an effect"},
};

static void test_bad_input(void) {
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    nw_arena *a = nw__arena_new();
    json_t *j = json_loads(bad[i].json, 0, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(j);
    nw_error err = {0};
    void *out;
    if (strcmp(bad[i].decoder, "pod") == 0)
      out = nw__pod_decode(j, a, &err);
    else if (strcmp(bad[i].decoder, "node") == 0)
      out = nw__node_decode(j, a, &err);
    else
      out = nw__nodepool_decode(j, a, &err);
    CU_ASSERT_PTR_NULL(out);
    if (!strstr(err.message, bad[i].message))
      fprintf(stderr, "case %zu: \"%s\" lacks \"%s\"\n", i, err.message,
              bad[i].message);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, bad[i].message));
    json_decref(j);
    nw__arena_free(a);
  }
}

static void test_durations(void) {
  int64_t v;
  CU_ASSERT_EQUAL(nw__duration_parse("1h30m", &v), 0);
  CU_ASSERT_EQUAL(v, 5400);
  CU_ASSERT_EQUAL(nw__duration_parse("720h", &v), 0);
  CU_ASSERT_EQUAL(v, 720 * 3600);
  CU_ASSERT_EQUAL(nw__duration_parse("Never", &v), 0);
  CU_ASSERT_EQUAL(v, -1);
  CU_ASSERT_EQUAL(nw__duration_parse("10 minutes", &v), -1);
  CU_ASSERT_EQUAL(nw__duration_parse("", &v), -1);
}

static void test_label_matching(void) {
  nw_kv kv[] = {{"gen", "6"}, {"zone", "a"}};
  nw_labels l = {2, kv};
  const char *six[] = {"5"}, *zb[] = {"b"};
  nw_requirement r1[] = {{"gen", NW_OP_GT, 1, six, 0}};
  nw_requirement r2[] = {{"zone", NW_OP_NOT_IN, 1, zb, 0},
                         {"missing", NW_OP_DOES_NOT_EXIST, 0, NULL, 0}};
  nw_requirement r3[] = {{"gen", NW_OP_LT, 1, six, 0}};
  CU_ASSERT_TRUE(nw__requirements_match_labels(&(nw_requirements){1, r1}, &l));
  CU_ASSERT_TRUE(nw__requirements_match_labels(&(nw_requirements){2, r2}, &l));
  CU_ASSERT_FALSE(nw__requirements_match_labels(&(nw_requirements){1, r3}, &l));
}

/* What a real pod carries besides the fixture's scheduling fields. */
static void add_noise(json_t *pod) {
  json_t *md = json_object_get(pod, "metadata");
  json_object_set_new(md, "managedFields", json_pack("[{s:s}]", "manager", "kubectl"));
  json_object_set_new(json_object_get(md, "annotations"),
                      "kubectl.kubernetes.io/last-applied-configuration",
                      json_string("{\"apiVersion\":\"v1\"}"));
  json_t *spec = json_object_get(pod, "spec");
  const char *lists[] = {"containers", "initContainers"};
  for (size_t l = 0; l < 2; l++) {
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(spec, lists[l]), i, c) {
      json_object_set_new(c, "env", json_pack("[{s:s,s:s}]", "name", "A", "value", "b"));
      json_object_set_new(c, "command", json_pack("[s]", "/app"));
      json_object_set_new(c, "volumeMounts", json_pack("[{s:s,s:s}]", "name", "token",
                                                       "mountPath", "/var/run"));
      json_object_set_new(c, "livenessProbe", json_pack("{s:{s:i}}", "tcpSocket", "port", 80));
    }
  }
  json_object_set_new(spec, "ephemeralContainers",
                      json_pack("[{s:s,s:s}]", "name", "debug", "image", "busybox"));
  json_array_append_new(json_object_get(spec, "volumes"),
                        json_pack("{s:s,s:{s:[]}}", "name", "token", "projected", "sources"));
  json_t *st = json_object_get(pod, "status");
  if (!st) {
    st = json_object();
    json_object_set_new(pod, "status", st);
  }
  json_object_set_new(st, "phase", json_string("Running"));
  json_object_set_new(st, "containerStatuses", json_pack("[{s:s,s:b}]", "name", "app",
                                                         "ready", 1));
}

static int same_resources(const nw_resource_list *a, const nw_resource_list *b) {
  if (a->len != b->len)
    return 0;
  for (size_t i = 0; i < a->len; i++) {
    if (nw__resources_get(b, a->items[i].name) != a->items[i].value)
      return 0;
  }
  return 1;
}

/* The daemon caches pruned pods: what the engine decodes from them must
 * be what it decodes from the whole pod. */
static void test_pod_prune(void) {
  nw_arena *a = nw__arena_new();
  json_t *whole = load("pod-full.json");
  add_noise(whole);
  json_t *pruned = nw__pod_prune(json_deep_copy(whole));
  nw__pod *p = nw__pod_decode(whole, a, NULL);
  nw__pod *q = nw__pod_decode(pruned, a, NULL);
  CU_ASSERT_PTR_NOT_NULL_FATAL(p);
  CU_ASSERT_PTR_NOT_NULL_FATAL(q);
  CU_ASSERT_TRUE(same_resources(&p->requests, &q->requests));
  CU_ASSERT_EQUAL(nw__resources_get(&q->requests, "cpu"), 2050);
  CU_ASSERT_EQUAL_FATAL(q->n_host_ports, p->n_host_ports);
  CU_ASSERT_TRUE(q->n_host_ports > 0);
  CU_ASSERT_EQUAL(q->host_ports[0].port, p->host_ports[0].port);
  CU_ASSERT_EQUAL_FATAL(q->n_pvcs, 2);
  CU_ASSERT_EQUAL_FATAL(p->n_pvcs, 2);
  for (size_t i = 0; i < q->n_pvcs; i++)
    CU_ASSERT_STRING_EQUAL(q->pvcs[i], p->pvcs[i]);
  CU_ASSERT_STRING_EQUAL(q->phase, "Running");
  CU_ASSERT_STRING_EQUAL(q->owner_kind, p->owner_kind);
  CU_ASSERT_EQUAL(q->priority, p->priority);
  CU_ASSERT_EQUAL(q->node_selector.len, p->node_selector.len);
  CU_ASSERT_EQUAL(q->required_node_affinity.len, p->required_node_affinity.len);
  CU_ASSERT_EQUAL(q->n_tolerations, p->n_tolerations);
  CU_ASSERT_EQUAL(q->n_spreads, p->n_spreads);
  CU_ASSERT_EQUAL(q->anti_affinity.len, p->anti_affinity.len);
  CU_ASSERT_EQUAL(q->preferred_affinity.len, p->preferred_affinity.len);
  CU_ASSERT_STRING_EQUAL(nw__labels_get(&q->annotations, "karpenter.sh/do-not-disrupt"),
                         "true");
  CU_ASSERT_PTR_NULL(nw__labels_get(&q->annotations,
                                    "kubectl.kubernetes.io/last-applied-configuration"));
  /* And what was dropped is gone. */
  json_t *c0 = json_array_get(json_object_get(json_object_get(pruned, "spec"), "containers"), 0);
  CU_ASSERT_PTR_NULL(json_object_get(c0, "env"));
  CU_ASSERT_PTR_NULL(json_object_get(c0, "image"));
  CU_ASSERT_PTR_NULL(json_object_get(c0, "livenessProbe"));
  CU_ASSERT_PTR_NOT_NULL(json_object_get(c0, "resources"));
  CU_ASSERT_EQUAL(json_array_size(json_object_get(json_object_get(pruned, "spec"), "volumes")), 2);
  CU_ASSERT_PTR_NULL(json_object_get(json_object_get(pruned, "status"), "containerStatuses"));
  CU_ASSERT_PTR_NULL(json_object_get(json_object_get(pruned, "metadata"), "managedFields"));
  json_decref(whole);
  json_decref(pruned);
  nw__arena_free(a);
}

/* The facts the decoder derives once per pod: phase, owner kind and the
 * annotations the disruption rules read. */
static void test_pod_derived(void) {
  static const struct {
    const char *extra; /* metadata members after the name */
    const char *status;
    nw__pod_phase phase;
    nw__pod_owner owner;
    int mirror;
    const char *dnd, *cost;
  } cases[] = {
    {"", "", NW__POD_PHASE_UNKNOWN, NW__POD_OWNER_OTHER, 0, NULL, NULL},
    {"", "\"Pending\"", NW__POD_PHASE_PENDING, NW__POD_OWNER_OTHER, 0, NULL, NULL},
    {"", "\"Running\"", NW__POD_PHASE_RUNNING, NW__POD_OWNER_OTHER, 0, NULL, NULL},
    {"", "\"Succeeded\"", NW__POD_PHASE_SUCCEEDED, NW__POD_OWNER_OTHER, 0, NULL, NULL},
    {"", "\"Failed\"", NW__POD_PHASE_FAILED, NW__POD_OWNER_OTHER, 0, NULL, NULL},
    {"", "\"Unknown\"", NW__POD_PHASE_UNKNOWN, NW__POD_OWNER_OTHER, 0, NULL, NULL},
    {"", "\"running\"", NW__POD_PHASE_UNKNOWN, NW__POD_OWNER_OTHER, 0, NULL, NULL},
    {",\"ownerReferences\":[{\"kind\":\"DaemonSet\",\"name\":\"d\",\"controller\":true}]",
     "\"Running\"", NW__POD_PHASE_RUNNING, NW__POD_OWNER_DAEMONSET, 0, NULL, NULL},
    {",\"ownerReferences\":[{\"kind\":\"Node\",\"name\":\"n\",\"controller\":true}],"
     "\"annotations\":{\"kubernetes.io/config.mirror\":\"x\"}",
     "\"Running\"", NW__POD_PHASE_RUNNING, NW__POD_OWNER_NODE, 1, NULL, NULL},
    {",\"ownerReferences\":[{\"kind\":\"ReplicaSet\",\"name\":\"r\"}],"
     "\"annotations\":{\"karpenter.sh/do-not-disrupt\":\"5m\","
     "\"controller.kubernetes.io/pod-deletion-cost\":\"7\"}",
     "\"Running\"", NW__POD_PHASE_RUNNING, NW__POD_OWNER_OTHER, 0, "5m", "7"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    nw_arena *a = nw__arena_new();
    char buf[1024];
    snprintf(buf, sizeof(buf),
             "{\"metadata\":{\"name\":\"p\",\"namespace\":\"d\"%s},"
             "\"spec\":{\"containers\":[{\"name\":\"c\"}]}%s%s%s}",
             cases[i].extra, cases[i].status[0] ? ",\"status\":{\"phase\":" : "",
             cases[i].status, cases[i].status[0] ? "}" : "");
    json_t *j = json_loads(buf, 0, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(j);
    nw__pod *p = nw__pod_decode(j, a, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    CU_ASSERT_EQUAL(p->phase_id, cases[i].phase);
    CU_ASSERT_EQUAL(nw__pod_finished(p), cases[i].phase == NW__POD_PHASE_SUCCEEDED ||
                                             cases[i].phase == NW__POD_PHASE_FAILED);
    CU_ASSERT_EQUAL(p->owner, cases[i].owner);
    CU_ASSERT_EQUAL(p->mirror, cases[i].mirror);
    if (cases[i].dnd == NULL) {
      CU_ASSERT_PTR_NULL(p->do_not_disrupt);
    } else {
      CU_ASSERT_STRING_EQUAL(p->do_not_disrupt, cases[i].dnd);
    }
    if (cases[i].cost == NULL) {
      CU_ASSERT_PTR_NULL(p->deletion_cost);
    } else {
      CU_ASSERT_STRING_EQUAL(p->deletion_cost, cases[i].cost);
    }
    json_decref(j);
    nw__arena_free(a);
  }
  /* A DaemonSet's template is a pod the DaemonSet owns. */
  nw_arena *a = nw__arena_new();
  json_t *ds = json_loads("{\"metadata\":{\"name\":\"d\",\"namespace\":\"k\"},"
                          "\"spec\":{\"template\":{\"spec\":{\"containers\":"
                          "[{\"name\":\"c\"}]}}}}", 0, NULL);
  nw__daemonset *d = nw__daemonset_decode(ds, a, NULL);
  CU_ASSERT_PTR_NOT_NULL_FATAL(d);
  CU_ASSERT_EQUAL(d->pod.owner, NW__POD_OWNER_DAEMONSET);
  json_decref(ds);
  nw__arena_free(a);
}

/* The labels the disruption rules read of every node, looked up once. */
static void test_node_derived(void) {
  nw_arena *a = nw__arena_new();
  json_t *j = json_loads(
      "{\"metadata\":{\"name\":\"n\",\"labels\":{"
      "\"node.kubernetes.io/instance-type\":\"c8\","
      "\"topology.kubernetes.io/zone\":\"zone-a\","
      "\"karpenter.sh/nodepool\":\"web\"},"
      "\"annotations\":{\"karpenter.sh/do-not-disrupt\":\"true\"}}}", 0, NULL);
  nw__node *n = nw__node_decode(j, a, NULL);
  CU_ASSERT_PTR_NOT_NULL_FATAL(n);
  CU_ASSERT_TRUE(n->derived);
  CU_ASSERT_STRING_EQUAL(n->instance_type, "c8");
  CU_ASSERT_STRING_EQUAL(n->zone, "zone-a");
  CU_ASSERT_PTR_NULL(n->capacity_type);
  CU_ASSERT_STRING_EQUAL(n->nodepool, "web");
  CU_ASSERT_STRING_EQUAL(n->do_not_disrupt, "true");
  CU_ASSERT_STRING_EQUAL(nw__node_label(n, n->zone, "topology.kubernetes.io/zone"), "zone-a");
  /* A node built by hand has no derived fields: the labels answer. */
  nw__node hand = {0};
  hand.labels = n->labels;
  CU_ASSERT_STRING_EQUAL(nw__node_label(&hand, hand.zone, "topology.kubernetes.io/zone"),
                         "zone-a");
  json_decref(j);
  nw__arena_free(a);
}

NW_TEST_CASES({"quantities", test_quantities},
              {"quantity_format", test_quantity_format},
              {"pod_requests_init_sidecar_overhead", test_pod_requests},
              {"pod_fields", test_pod_fields}, {"nodepool", test_nodepool},
              {"bad_input_named", test_bad_input},
              {"durations", test_durations},
              {"label_matching", test_label_matching},
              {"pod_prune", test_pod_prune},
              {"pod_derived", test_pod_derived},
              {"node_derived", test_node_derived});
NW_TEST_MAIN("model", NULL, NULL);
