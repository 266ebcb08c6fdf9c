/* Built cluster states for the disruption tests; see fixture.h. */
#include "fixture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kube/kutil.h"
#include "nwtest.h"
#include "util/arena.h"

/* ---- catalog ------------------------------------------------------- */

static const ctype types_src[] = {{"c4", 4, 0.40}, {"c8", 8, 0.80},
                                  {"c16", 16, 1.60}};
#define N_TYPES (sizeof(types_src) / sizeof(types_src[0]))

static nw_instance_type g_types[N_TYPES];
static nw_requirement g_type_req[N_TYPES];
static const char *g_type_val[N_TYPES][1];
static nw_resource g_type_cap[N_TYPES][3];
static nw_offering g_type_off[N_TYPES][1];

static void build_catalog(void) {
  for (size_t i = 0; i < N_TYPES; i++) {
    g_type_val[i][0] = types_src[i].name;
    g_type_req[i] = (nw_requirement){"node.kubernetes.io/instance-type",
                                     NW_OP_IN, 1, g_type_val[i], 0};
    g_type_cap[i][0] = (nw_resource){"cpu", types_src[i].cpu * 1000};
    g_type_cap[i][1] = (nw_resource){"memory", (int64_t)types_src[i].cpu << 32};
    g_type_cap[i][2] = (nw_resource){"pods", 110};
    g_type_off[i][0] = (nw_offering){"z1", NW_CAPACITY_ON_DEMAND,
                                     types_src[i].price, 1};
    g_types[i] = (nw_instance_type){
        .name = types_src[i].name,
        .requirements = {1, &g_type_req[i]},
        .n_offerings = 1,
        .offerings = g_type_off[i],
        .capacity = {3, g_type_cap[i]}};
  }
}

/* ---- cluster builder ---------------------------------------------- */

json_t *keep(cluster *c, const char *text) {
  json_error_t e;
  json_t *j = json_loads(text, 0, &e);
  if (j == NULL)
    fprintf(stderr, "\n  bad test JSON (%s): %s\n", e.text, text);
  CU_ASSERT_PTR_NOT_NULL_FATAL(j);
  json_array_append_new(c->objs, j);
  return j;
}

static const ctype *type_of(const char *name) {
  for (size_t i = 0; i < N_TYPES; i++) {
    if (strcmp(types_src[i].name, name) == 0)
      return &types_src[i];
  }
  return NULL;
}

void build(cluster *c, const char *budgets, const tnode *nodes,
                  size_t n, const char *pdbs) {
  char buf[4096];
  nw_error err = {0, ""};

  memset(c, 0, sizeof(*c));
  c->a = nw__arena_new();
  c->objs = json_array();
  snprintf(buf, sizeof(buf),
           "{\"metadata\":{\"name\":\"default\"},\"spec\":{\"template\":{\"spec\":{"
           "\"nodeClassRef\":{\"group\":\"g\",\"kind\":\"K\",\"name\":\"n\"},"
           "\"requirements\":[]}},\"disruption\":{\"consolidationPolicy\":"
           "\"WhenEmptyOrUnderutilized\",\"consolidateAfter\":\"30s\"%s%s}}}",
           budgets ? ",\"budgets\":" : "", budgets ? budgets : "");
  c->pool.pool = nw__nodepool_decode(keep(c, buf), c->a, &err);
  CU_ASSERT_PTR_NOT_NULL_FATAL(c->pool.pool);
  c->pool.types = (nw_instance_types){N_TYPES, g_types};
  for (size_t i = 0; i < n; i++) {
    const ctype *t = type_of(nodes[i].type);
    snprintf(buf, sizeof(buf),
             "{\"metadata\":{\"name\":\"%s\",\"creationTimestamp\":\"" HOUR_AGO "\","
             "\"labels\":{\"karpenter.sh/nodepool\":\"default\","
             "\"node.kubernetes.io/instance-type\":\"%s\","
             "\"topology.kubernetes.io/zone\":\"z1\",\"karpenter.sh/capacity-type\":"
             "\"on-demand\",\"kubernetes.io/hostname\":\"%s\"}%s%s},"
             "\"spec\":{\"providerID\":\"test:///%s\"},"
             "\"status\":{\"allocatable\":{\"cpu\":\"%d\",\"memory\":\"%dGi\","
             "\"pods\":\"110\"},\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\"}]}}",
             nodes[i].name, t->name, nodes[i].name,
             nodes[i].node_ann ? ",\"annotations\":" : "",
             nodes[i].node_ann ? nodes[i].node_ann : "", nodes[i].name, t->cpu,
             t->cpu * 4);
    nw__node *node = nw__node_decode(keep(c, buf), c->a, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(node);
    const nw__pod **pods = nw__arena_alloc(c->a, 8 * sizeof(*pods));
    for (int p = 0; p < nodes[i].n_pods; p++) {
      snprintf(buf, sizeof(buf),
               "{\"metadata\":{\"namespace\":\"app\",\"name\":\"%s-p%d\","
               "\"creationTimestamp\":\"" HOUR_AGO "\",\"labels\":{\"app\":\"web\"},"
               "\"ownerReferences\":[{\"kind\":\"ReplicaSet\",\"name\":\"web\","
               "\"controller\":true}]%s},"
               "\"spec\":{\"nodeName\":\"%s\",\"containers\":[{\"name\":\"c\","
               "\"resources\":{\"requests\":{\"cpu\":\"2\"}}}]},"
               "\"status\":{\"phase\":\"Running\"}}",
               nodes[i].name, p,
               nodes[i].pod_json[p] ? nodes[i].pod_json[p] : "", nodes[i].name);
      pods[p] = nw__pod_decode(keep(c, buf), c->a, &err);
      CU_ASSERT_PTR_NOT_NULL_FATAL(pods[p]);
    }
    snprintf(buf, sizeof(buf),
             "{\"metadata\":{\"name\":\"%s\",\"creationTimestamp\":\"" HOUR_AGO "\"},"
             "\"status\":{\"providerID\":\"test:///%s\",\"conditions\":["
             "{\"type\":\"Initialized\",\"status\":\"True\","
             "\"lastTransitionTime\":\"" HOUR_AGO "\"}]%s}}",
             nodes[i].name, nodes[i].name,
             nodes[i].claim_extra ? nodes[i].claim_extra : "");
    c->claims[i] = keep(c, buf);
    c->nodes[i] = (nw__sched_node){.node = node, .n_pods = (size_t)nodes[i].n_pods,
                                   .pods = pods, .nodepool = "default",
                                   .price = t->price};
  }
  c->in = (nw__sched_input){.n_pools = 1, .pools = &c->pool, .n_nodes = n,
                            .nodes = c->nodes};
  c->st = (nw__consolidation_state){.sched = &c->in, .claims = c->claims,
                                    .pdbs = pdbs ? keep(c, pdbs) : NULL,
                                    .now_ms = nw__kube_parse_time(NOW)};
}

void teardown_cluster(cluster *c) {
  json_decref(c->objs);
  nw__arena_free(c->a);
}

/* ---- plugins ------------------------------------------------------- */

nw__plugin_set *g_set;
nw__plugin *g_default, *g_balanced;

int setup(void) {
  char path[4096], err[1024] = "";
  build_catalog();
  g_set = nw__plugins_new(NULL);
  snprintf(path, sizeof(path), "%s/strategy-default.so", NW_TEST_PLUGIN_DIR);
  g_default = nw__plugins_load(g_set, path, "{}", 0, err, sizeof(err));
  snprintf(path, sizeof(path), "%s/strategy-balanced.so", NW_TEST_PLUGIN_DIR);
  g_balanced = nw__plugins_load(g_set, path, "{}", 0, err, sizeof(err));
  if (g_default == NULL || g_balanced == NULL)
    fprintf(stderr, "\n  %s\n", err);
  return g_default && g_balanced ? 0 : -1;
}

int teardown(void) {
  nw__plugins_free(g_set);
  return 0;
}

