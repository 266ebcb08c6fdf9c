/*
 * nodewright-bench informer: initial sync time and memory of informer
 * caches over a real kube-apiserver.
 *
 *   nodewright-bench informer --kubeconfig PATH --generate [--nodes 5000]
 *                             [--pods 100000] [--concurrency 64]
 *     creates the nodes and pods (namespace nw-bench) with parallel
 *     requests over the loop-mode client; existing objects are kept.
 *   nodewright-bench informer --kubeconfig PATH [--compact] [--page-size N]
 *                             [--json]
 *     syncs a node informer and a pod informer (indexed by spec.nodeName)
 *     and reports seconds to sync and RSS.
 *
 * Use a private cluster without kube-controller-manager (scripts/test-cluster
 * up --dir ...): there is no kubelet, and its node lifecycle controller
 * would start evicting the pods of the fake nodes.
 */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "bench.h"
#include "kube/informer.h"
#include "kube/kutil.h"
#include "kube/ops.h"


#define BENCH_NS "nw-bench"

typedef struct gen {
  nw__kube_client *c;
  int nodes;
  int pods;
  int next;       /* next object index to create (nodes first, then pods) */
  int in_flight;
  int done;
  int failed;
  int concurrency;
} gen;

static json_t *make_node(int i) {
  char name[64];
  snprintf(name, sizeof(name), "bench-node-%05d", i);
  return json_pack(
      "{s:s, s:s, s:{s:s, s:{s:s, s:s, s:s}}, s:{s:{s:s, s:s, s:s}}}",
      "apiVersion", "v1", "kind", "Node", "metadata", "name", name, "labels",
      "kubernetes.io/hostname", name, "node.kubernetes.io/instance-type",
      i % 2 ? "m5.xlarge" : "c6i.2xlarge", "topology.kubernetes.io/zone",
      i % 3 == 0 ? "us-east-1a" : (i % 3 == 1 ? "us-east-1b" : "us-east-1c"),
      "status", "capacity", "cpu", "8", "memory", "32Gi", "pods", "110");
}

static json_t *make_pod(int i, int nodes) {
  char name[64];
  char node[64];
  char app[32];
  snprintf(name, sizeof(name), "bench-pod-%06d", i);
  snprintf(node, sizeof(node), "bench-node-%05d", i % nodes);
  snprintf(app, sizeof(app), "app-%d", i % 500);
  return json_pack(
      "{s:s, s:s, s:{s:s, s:s, s:{s:s}}, s:{s:s, s:[{s:s, s:s, s:{s:{s:s, s:s}}}]}}",
      "apiVersion", "v1", "kind", "Pod", "metadata", "name", name, "namespace",
      BENCH_NS, "labels", "app", app, "spec", "nodeName", node, "containers",
      "name", "app", "image", "registry.k8s.io/pause:3.9", "resources", "requests",
      "cpu", "100m", "memory", "128Mi");
}

static void gen_pump(gen *g);

static void on_created(void *user, nw__kube_response *resp) {
  gen *g = user;
  g->in_flight--;
  g->done++;
  if (resp->status != NW_OK && resp->http_status != 409) {
    if (g->failed++ < 5)
      fprintf(stderr, "create: %s\n", resp->err.message);
  }
  if (g->done % 10000 == 0)
    fprintf(stderr, "created %d/%d\n", g->done, g->nodes + g->pods);
  gen_pump(g);
}

/* Keeps `concurrency` creates in flight; nodes before pods. */
static void gen_pump(gen *g) {
  while (g->in_flight < g->concurrency && g->next < g->nodes + g->pods) {
    int i = g->next++;
    int is_node = i < g->nodes;
    json_t *obj = is_node ? make_node(i) : make_pod(i - g->nodes, g->nodes);
    g->in_flight++;
    nw__kube_create(g->c, is_node ? &NW__KUBE_NODES : &NW__KUBE_PODS,
                    is_node ? NULL : BENCH_NS, obj, on_created, g);
    json_decref(obj);
  }
}

static void ensure_namespace(nw__kube_config *cfg) {
  nw_error err = {0};
  nw__kube_client *c = nw__kube_client_new(cfg, NULL, NULL, &err);
  json_t *ns = json_pack("{s:s, s:s, s:{s:s}}", "apiVersion", "v1", "kind",
                         "Namespace", "metadata", "name", BENCH_NS);
  nw__kube_call(c, "POST", "/api/v1/namespaces", NULL, ns, NULL, NULL, NULL);
  json_decref(ns);
  json_t *sa = json_pack("{s:s, s:s, s:{s:s}}", "apiVersion", "v1", "kind",
                         "ServiceAccount", "metadata", "name", "default");
  nw__kube_call(c, "POST", "/api/v1/namespaces/" BENCH_NS "/serviceaccounts", NULL,
                sa, NULL, NULL, NULL);
  json_decref(sa);
  nw__kube_client_free(c);
}

static int generate(nw__kube_config *cfg, int nodes, int pods, int conc) {
  uv_loop_t loop;
  nw_error err = {0};
  ensure_namespace(cfg);
  uv_loop_init(&loop);
  nw__kube_client_options o = {.qps = 1e6, .burst = 1000000};
  gen g = {0};
  g.c = nw__kube_client_new(cfg, &loop, &o, &err);
  g.nodes = nodes;
  g.pods = pods;
  g.concurrency = conc;
  double t0 = nw_bench_now();
  gen_pump(&g);
  uv_run(&loop, UV_RUN_DEFAULT);
  double secs = nw_bench_now() - t0;
  nw__kube_client_free(g.c);
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);
  printf("generated %d nodes + %d pods in %.1f s (%.0f objects/s), %d failures\n",
         nodes, pods, secs, (nodes + pods) / secs, g.failed);
  return g.failed ? 1 : 0;
}

static double rss_mib(void) {
  char *s = nw__kube_read_file("/proc/self/status", NULL);
  const char *p = s ? strstr(s, "VmRSS:") : NULL;
  double kb = p ? atof(p + 6) : 0;
  free(s);
  return kb / 1024.0;
}

typedef struct syncs {
  int pending;
  uv_loop_t *loop;
} syncs;

/* Stops the loop once both informers are synced (no polling: an idle
 * handle would spin a core that the apiserver needs). */
static void on_synced(void *user) {
  syncs *s = user;
  if (--s->pending == 0)
    uv_stop(s->loop);
}

static int measure(nw__kube_config *cfg, int compact, int page, int json) {
  uv_loop_t loop;
  nw_error err = {0};
  syncs s = {2, &loop};
  uv_loop_init(&loop);
  double rss0 = rss_mib();
  nw__kube_client *c = nw__kube_client_new(cfg, &loop, NULL, &err);
  nw__informer_options o = {.compact = compact, .page_size = page};
  nw__informer *nodes = nw__informer_new(c, &NW__KUBE_NODES, &o);
  nw__informer *pods = nw__informer_new(c, &NW__KUBE_PODS, &o);
  nw__informer_add_index_field(pods, "node", "spec.nodeName");
  nw__informer_handlers h = {.on_synced = on_synced, .user = &s};
  nw__informer_add_handlers(nodes, &h);
  nw__informer_add_handlers(pods, &h);
  double t0 = nw_bench_now();
  nw__informer_start(nodes);
  nw__informer_start(pods);
  uv_run(&loop, UV_RUN_DEFAULT);
  double secs = nw_bench_now() - t0;
  double rss = rss_mib();
  /* What the cache really holds, and the RSS once glibc has returned the
   * freed list buffers to the system: the difference is heap left
   * fragmented by the paged LIST. */
  double live = (double)mallinfo2().uordblks / (1024.0 * 1024.0);
  malloc_trim(0);
  double rss_trim = rss_mib();
  size_t n_nodes = nw__informer_size(nodes);
  size_t n_pods = nw__informer_size(pods);
  size_t on_first = nw__informer_index_count(pods, "node", "bench-node-00000");
  /* One lookup pass over every node's pods, as a scheduler pass would. */
  double t1 = nw_bench_now();
  size_t seen = 0;
  for (size_t i = 0; i < n_nodes; i++) {
    char node[64];
    snprintf(node, sizeof(node), "bench-node-%05zu", i);
    seen += nw__informer_index_count(pods, "node", node);
  }
  double lookup = nw_bench_now() - t1;
  if (json)
    printf("{\"benchmark\":\"informer\",\"store\":\"%s\",\"nodes\":%zu,\"pods\":%zu,"
           "\"sync_seconds\":%.2f,\"rss_mib\":%.1f,\"rss_trimmed_mib\":%.1f,"
           "\"heap_live_mib\":%.1f,\"rss_baseline_mib\":%.1f,"
           "\"peak_rss_mib\":%.1f,\"index_pass_ms\":%.2f}\n",
           compact ? "compact" : "json", n_nodes, n_pods, secs, rss, rss_trim, live,
           rss0, nw_bench_peak_rss_mib(), lookup * 1000);
  else
    printf("store=%s nodes=%zu pods=%zu sync=%.2f s rss=%.1f MiB (after malloc_trim "
           "%.1f, live heap %.1f, baseline %.1f, peak %.1f) pods-on-node-0=%zu index "
           "pass over all nodes=%.2f ms (%zu pods)\n",
           compact ? "compact" : "json", n_nodes, n_pods, secs, rss, rss_trim, live,
           rss0, nw_bench_peak_rss_mib(), on_first, lookup * 1000, seen);
  nw__informer_free(nodes);
  nw__informer_free(pods);
  nw__kube_client_free(c);
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);
  return n_pods > 0 ? 0 : 1;
}

int nw_bench_informer(int argc, char **argv) {
  const char *kubeconfig = NULL;
  int nodes = 5000;
  int pods = 100000;
  int conc = 64;
  int gen_mode = 0;
  int compact = 0;
  int page = 0;
  int json = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "--kubeconfig") && v) {
      kubeconfig = v;
      i++;
    } else if (!strcmp(a, "--nodes") && v) {
      nodes = atoi(v);
      i++;
    } else if (!strcmp(a, "--pods") && v) {
      pods = atoi(v);
      i++;
    } else if (!strcmp(a, "--concurrency") && v) {
      conc = atoi(v);
      i++;
    } else if (!strcmp(a, "--page-size") && v) {
      page = atoi(v);
      i++;
    } else if (!strcmp(a, "--generate")) {
      gen_mode = 1;
    } else if (!strcmp(a, "--compact")) {
      compact = 1;
    } else if (!strcmp(a, "--json")) {
      json = 1;
    } else {
      fprintf(stderr, "informer: unknown or incomplete option %s\n", a);
      return 2;
    }
  }
  nw_error err = {0};
  nw__kube_config *cfg = nw__kube_config_load(kubeconfig, NULL, &err);
  if (!cfg) {
    fprintf(stderr, "informer: %s\n", err.message);
    return 1;
  }
  int rc = gen_mode ? generate(cfg, nodes > 0 ? nodes : 1, pods, conc > 0 ? conc : 1)
                    : measure(cfg, compact, page, json);
  nw__kube_config_free(cfg);
  return rc;
}
