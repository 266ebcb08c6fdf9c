/*
 * nodewright-bench consolidation: one disruption pass (multi-node, then
 * single-node consolidation) on a large cluster state built to leave room
 * for consolidation, decided by a strategy plugin loaded through the
 * plugin loader and simulated by the scheduling core.
 *
 * The cluster is built in memory (decoding is not what is measured): N
 * nodes of 16 vCPU, 20 pods each on average (10 to 30) of 100m-500m cpu
 * (about a third full on average),
 * one NodePool, a catalog of 2-32 vCPU types at 0.05 $/vCPU/h in three
 * zones.  --full is the worst case instead: every node exactly full, so
 * no move exists and single-node simulates every candidate.  The timed
 * part is what a pass does: compile the scheduler
 * snapshot, build the candidates of each method, and let the strategy
 * search with the simulate callback.
 */
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "disruption/consolidation.h"
#include "kube/kutil.h"
#include "model/objects.h"
#include "plugin/loader.h"
#include "scheduling/scheduler.h"
#include "util/arena.h"

#define CPU_PER_VCPU_PRICE 0.05
#define NODE_VCPU 16

static const int type_vcpus[] = {2, 4, 8, 16, 32};
#define N_TYPES (sizeof(type_vcpus) / sizeof(type_vcpus[0]))
static const char *const zones[] = {"z1", "z2", "z3"};

typedef struct opts {
  size_t nodes;
  size_t pods_per_node;
  int full;                    /* worst case: every node full, no move */
  int json;
  const char *strategy;
  const char *plugin_dir;
} opts;

static nw_instance_type *catalog(nw_arena *a) {
  nw_instance_type *types = nw__arena_alloc(a, N_TYPES * sizeof(*types));

  for (size_t i = 0; i < N_TYPES; i++) {
    int v = type_vcpus[i];
    nw_requirement *req = nw__arena_alloc(a, sizeof(*req));
    const char **val = nw__arena_alloc(a, sizeof(*val));
    nw_resource *cap = nw__arena_alloc(a, 3 * sizeof(*cap));
    nw_offering *off = nw__arena_alloc(a, 3 * sizeof(*off));
    val[0] = nw__arena_printf(a, "c%d", v);
    *req = (nw_requirement){"node.kubernetes.io/instance-type", NW_OP_IN, 1,
                            val, 0};
    cap[0] = (nw_resource){"cpu", v * 1000};
    cap[1] = (nw_resource){"memory", (int64_t)v * 4 << 30};
    cap[2] = (nw_resource){"pods", 110};
    for (int z = 0; z < 3; z++)
      off[z] = (nw_offering){zones[z], NW_CAPACITY_ON_DEMAND,
                             v * CPU_PER_VCPU_PRICE, 1};
    types[i] = (nw_instance_type){.name = val[0], .requirements = {1, req},
                                  .n_offerings = 3, .offerings = off,
                                  .capacity = {3, cap}};
  }
  return types;
}

static nw__node *make_node(nw_arena *a, size_t i) {
  nw__node *n = nw__arena_alloc(a, sizeof(*n));
  nw_kv *kv = nw__arena_alloc(a, 5 * sizeof(*kv));
  nw_resource *alloc = nw__arena_alloc(a, 3 * sizeof(*alloc));

  n->name = nw__arena_printf(a, "node-%05zu", i);
  n->provider_id = nw__arena_printf(a, "bench:///%s", n->name);
  kv[0] = (nw_kv){"karpenter.sh/nodepool", "default"};
  kv[1] = (nw_kv){"node.kubernetes.io/instance-type", "c16"};
  kv[2] = (nw_kv){"topology.kubernetes.io/zone", zones[i % 3]};
  kv[3] = (nw_kv){"karpenter.sh/capacity-type", NW_CAPACITY_ON_DEMAND};
  kv[4] = (nw_kv){"kubernetes.io/hostname", n->name};
  n->labels = (nw_labels){5, kv};
  alloc[0] = (nw_resource){"cpu", NODE_VCPU * 1000};
  alloc[1] = (nw_resource){"memory", (int64_t)NODE_VCPU * 4 << 30};
  alloc[2] = (nw_resource){"pods", 110};
  n->allocatable = (nw_resource_list){3, alloc};
  n->capacity = n->allocatable;
  n->ready = 1;
  return n;
}

static const nw__pod *make_pod(nw_arena *a, nw_bench_rng *rng,
                               const char *node, size_t k) {
  static const int64_t cpus[] = {100, 250, 500};
  static const int64_t mems[] = {256, 512, 1024};
  nw__pod *p = nw__arena_alloc(a, sizeof(*p));
  nw_resource *r = nw__arena_alloc(a, 3 * sizeof(*r));

  p->name = nw__arena_printf(a, "%s-p%02zu", node, k);
  p->namespace_ = "default";
  p->uid = p->name;
  p->phase = "Running";
  p->node_name = node;
  p->owner_kind = "ReplicaSet";
  p->owner_name = "web";
  r[0] = (nw_resource){"cpu", cpus[nw_bench_randn(rng, 3)]};
  r[1] = (nw_resource){"memory", mems[nw_bench_randn(rng, 3)] << 20};
  r[2] = (nw_resource){"pods", 1};
  p->requests = (nw_resource_list){3, r};
  /* The derived facts the decoder would set (phase, owner, request sums). */
  nw__pod_derive(p);
  return p;
}

/* One vCPU and 4 GiB: sixteen of them fill a node exactly. */
static const nw__pod *full_pod(nw_arena *a, const char *node, size_t k) {
  nw__pod *p = nw__arena_alloc(a, sizeof(*p));
  nw_resource *r = nw__arena_alloc(a, 3 * sizeof(*r));

  p->name = nw__arena_printf(a, "%s-p%02zu", node, k);
  p->namespace_ = "default";
  p->uid = p->name;
  p->phase = "Running";
  p->node_name = node;
  p->owner_kind = "ReplicaSet";
  p->owner_name = "web";
  r[0] = (nw_resource){"cpu", 1000};
  r[1] = (nw_resource){"memory", (int64_t)4 << 30};
  r[2] = (nw_resource){"pods", 1};
  p->requests = (nw_resource_list){3, r};
  /* The derived facts the decoder would set (phase, owner, request sums). */
  nw__pod_derive(p);
  return p;
}

static json_t *make_claim(const char *name) {
  return json_pack("{s:{s:s, s:s}, s:{s:[{s:s, s:s, s:s}]}}", "metadata",
                   "name", name, "creationTimestamp", "2026-11-27T00:00:00Z",
                   "status", "conditions", "type", "Initialized", "status",
                   "True", "lastTransitionTime", "2026-11-27T00:00:00Z");
}

static int parse_args(int argc, char **argv, opts *o) {
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--nodes") == 0 && i + 1 < argc) {
      o->nodes = (size_t)strtoul(argv[++i], NULL, 10);
    } else if (strcmp(argv[i], "--pods-per-node") == 0 && i + 1 < argc) {
      o->pods_per_node = (size_t)strtoul(argv[++i], NULL, 10);
    } else if (strcmp(argv[i], "--strategy") == 0 && i + 1 < argc) {
      o->strategy = argv[++i];
    } else if (strcmp(argv[i], "--plugin-dir") == 0 && i + 1 < argc) {
      o->plugin_dir = argv[++i];
    } else if (strcmp(argv[i], "--full") == 0) {
      o->full = 1;
    } else if (strcmp(argv[i], "--json") == 0) {
      o->json = 1;
    } else {
      fprintf(stderr, "consolidation: unknown or incomplete option \"%s\"\n",
              argv[i]);
      return -1;
    }
  }
  if (o->nodes == 0 || o->pods_per_node == 0 || o->pods_per_node > 100) {
    fprintf(stderr, "consolidation: --nodes must be > 0 and --pods-per-node "
            "in 1..100\n");
    return -1;
  }
  return 0;
}

/* The strategy plugin: <dir of this executable>/../lib/nodewright unless
 * --plugin-dir says otherwise. */
static nw__plugin *load_strategy(nw__plugin_set *set, const opts *o) {
  char exe[PATH_MAX], path[PATH_MAX + 64], err[1024] = "";
  ssize_t len;
  nw__plugin *p;

  if (o->plugin_dir != NULL) {
    snprintf(path, sizeof(path), "%s/strategy-%s.so", o->plugin_dir,
             o->strategy);
  } else {
    len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (len < 0)
      return NULL;
    exe[len] = '\0';
    snprintf(path, sizeof(path), "%s/../lib/nodewright/strategy-%s.so",
             dirname(exe), o->strategy);
  }
  p = nw__plugins_load(set, path, "{}", 0, err, sizeof(err));
  if (p == NULL)
    fprintf(stderr, "consolidation: %s\n", err);
  return p;
}

/* CPU time of this thread: the pass runs on it alone, so under a loaded
 * machine this is the figure that does not depend on the neighbours. */
static double cpu_now(void) {
  struct timespec ts;

  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

typedef struct pass_result {
  size_t commands;
  size_t candidates;
  size_t moved_nodes;
  size_t solves;
  double savings;
} pass_result;

static int run_method(const nw__consolidation_state *st, nw__scheduler *s,
                      nw__plugin *p, nw_consolidation_method m, nw_arena *a,
                      pass_result *res) {
  nw__candidate_set cs;
  nw_error err = {0, ""};
  nw__consolidation_sim sim;
  nw_command *cmds = NULL;
  size_t n = 0;

  if (nw__consolidation_candidates(st, m, a, &cs, &err) != 0) {
    fprintf(stderr, "consolidation: %s\n", err.message);
    return -1;
  }
  sim = (nw__consolidation_sim){st, &cs, s, 0};
  nw_consolidation_input in = {
      .size = sizeof(in), .method = m, .n_candidates = cs.n,
      .candidates = cs.items, .simulate = nw__consolidation_simulate,
      .sim_ctx = &sim, .max_candidates = 100, .spot_to_spot = 0,
      .min_spot_types = 15};
  if (nw__plugin_strategy(p)->compute(nw__plugin_state(p), &in, a, &cmds, &n,
                                      &err) != NW_OK) {
    fprintf(stderr, "consolidation: strategy: %s\n", err.message);
    return -1;
  }
  res->candidates += cs.n;
  res->solves += sim.solves;
  res->commands += n;
  for (size_t i = 0; i < n; i++) {
    res->savings += cmds[i].savings_per_hour;
    res->moved_nodes += cmds[i].n_candidates;
  }
  return 0;
}

int nw_bench_consolidation(int argc, char **argv) {
  opts o = {.nodes = 2000, .pods_per_node = 20, .strategy = "default"};
  nw_arena *a;
  nw_bench_rng rng = {0x5eed};
  nw__plugin_set *set;
  nw__plugin *plugin;
  json_t *claims_json;
  int rc = 1;

  if (parse_args(argc, argv, &o) != 0)
    return 2;
  a = nw__arena_new();
  set = nw__plugins_new(NULL);
  claims_json = json_array();
  plugin = load_strategy(set, &o);
  if (plugin == NULL)
    goto out;

  nw__sched_pool pool = {.pool = NULL, .types = {N_TYPES, catalog(a)}};
  json_t *np_json = json_pack(
      "{s:{s:s}, s:{s:{s:{s:{s:s, s:s, s:s}, s:[]}}, s:{s:s, s:s}}}",
      "metadata", "name", "default", "spec", "template", "spec",
      "nodeClassRef", "group", "g", "kind", "K", "name", "n", "requirements",
      "disruption", "consolidationPolicy", "WhenEmptyOrUnderutilized",
      "consolidateAfter", "0s");
  nw_error err = {0, ""};
  pool.pool = nw__nodepool_decode(np_json, a, &err);
  json_decref(np_json);
  if (pool.pool == NULL) {
    fprintf(stderr, "consolidation: %s\n", err.message);
    goto out;
  }
  nw__sched_node *nodes = nw__arena_alloc(a, o.nodes * sizeof(*nodes));
  const json_t **claims = nw__arena_alloc(a, o.nodes * sizeof(*claims));
  size_t n_total_pods = 0;
  size_t swing = 0;
  for (size_t i = 0; i < o.nodes; i++) {
    nw__node *node = make_node(a, i);
    /* Pairs of nodes trade pods (one gets +d, the next -d) so fullness
     * varies from half to one and a half times the mean while the total
     * stays nodes * pods_per_node. */
    size_t n_pods = o.pods_per_node;
    if (o.full) {
      n_pods = NODE_VCPU;
    } else if (i % 2 == 0 && i + 1 < o.nodes) {
      swing = nw_bench_randn(&rng, o.pods_per_node / 2 + 1);
      n_pods += swing;
    } else if (i % 2 == 1) {
      n_pods -= swing;
    }
    const nw__pod **pods = nw__arena_alloc(a, (n_pods + 1) * sizeof(*pods));
    for (size_t k = 0; k < n_pods; k++)
      pods[k] = o.full ? full_pod(a, node->name, k)
                       : make_pod(a, &rng, node->name, k);
    n_total_pods += n_pods;
    nodes[i] = (nw__sched_node){.node = node, .n_pods = n_pods,
                                .pods = pods, .nodepool = "default",
                                .price = NODE_VCPU * CPU_PER_VCPU_PRICE};
    json_t *c = make_claim(node->name);
    json_array_append_new(claims_json, c);
    claims[i] = c;
  }
  nw__sched_input in = {.n_pools = 1, .pools = &pool, .n_nodes = o.nodes,
                        .nodes = nodes};
  nw__consolidation_state st = {.sched = &in, .claims = claims,
                                .now_ms = nw__kube_parse_time("2026-11-27T12:00:00Z")};

  double t0 = nw_bench_now();
  double c0 = cpu_now();
  nw__scheduler *s = nw__scheduler_new(&in, &err);
  if (s == NULL) {
    fprintf(stderr, "consolidation: scheduler: %s\n", err.message);
    goto out;
  }
  pass_result res = {0, 0, 0, 0, 0};
  if (run_method(&st, s, plugin, NW_METHOD_MULTI_NODE, a, &res) != 0 ||
      run_method(&st, s, plugin, NW_METHOD_SINGLE_NODE, a, &res) != 0) {
    nw__scheduler_free(s);
    goto out;
  }
  double secs = nw_bench_now() - t0;
  double cpu = cpu_now() - c0;
  nw__scheduler_free(s);

  if (o.json)
    printf("{\"benchmark\":\"consolidation\",\"strategy\":\"%s\",\"nodes\":%zu,"
           "\"pods\":%zu,\"seconds\":%.4f,\"cpu_seconds\":%.4f,\"commands\":%zu,"
           "\"nodes_moved\":%zu,\"candidates\":%zu,\"simulations\":%zu,"
           "\"savings_per_hour\":%.4f,\"peak_rss_mib\":%.1f}\n",
           o.strategy, o.nodes, n_total_pods, secs, cpu, res.commands,
           res.moved_nodes, res.candidates, res.solves, res.savings,
           nw_bench_peak_rss_mib());
  else
    printf("consolidation (%s): %zu nodes, %zu pods: %.3f s, %zu commands "
           "moving %zu nodes, %zu simulations, savings %.2f $/h\n",
           o.strategy, o.nodes, n_total_pods, secs, res.commands,
           res.moved_nodes, res.solves, res.savings);
  rc = 0;
out:
  json_decref(claims_json);
  nw__plugins_free(set);
  nw__arena_free(a);
  return rc;
}
