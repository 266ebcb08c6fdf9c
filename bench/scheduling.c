/*
 * nodewright-bench scheduling: the scheduling core on Karpenter's diverse
 * benchmark or on the real AWS us-east-1 catalog.  Pods are built in
 * memory (decoding is not what is measured); the timed part is
 * nw__scheduler_new + nw__scheduler_solve.
 */
#include <float.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "catalog/catalog.h"
#include "model/objects.h"
#include "scheduling/scheduler.h"
#include "util/arena.h"

typedef struct wl {
  nw_arena *a;
  nw_bench_rng rng;
  const nw__pod **pods;
  size_t n;
  int generic_only;
} wl;

static const char *const label_values[] = {"a", "b", "c", "d", "e", "f", "g"};

static nw_labels one_label(nw_arena *a, const char *k, const char *v) {
  nw_kv *kv = nw__arena_alloc(a, sizeof(*kv));
  kv->key = k;
  kv->value = v;
  return (nw_labels){1, kv};
}

static nw__selector select_one(nw_arena *a, const char *k, const char *v) {
  nw_requirement *r = nw__arena_alloc(a, sizeof(*r));
  const char **vals = nw__arena_alloc(a, sizeof(*vals));
  vals[0] = v;
  *r = (nw_requirement){k, NW_OP_IN, 1, vals, 0};
  return (nw__selector){1, {1, r}};
}

static nw__pod *base_pod(wl *w, size_t i, int64_t cpu_m, int64_t mem) {
  nw__pod *p = nw__arena_alloc(w->a, sizeof(*p));
  p->name = nw__arena_printf(w->a, "pod-%06zu", i);
  p->namespace_ = "default";
  p->uid = p->name;
  p->phase = "Pending";
  nw_resource *r = nw__arena_alloc(w->a, 3 * sizeof(*r));
  r[0] = (nw_resource){"cpu", cpu_m};
  r[1] = (nw_resource){"memory", mem};
  r[2] = (nw_resource){"pods", 1};
  p->requests = (nw_resource_list){3, r};
  /* The derived facts the decoder would set (phase, owner, request sums). */
  nw__pod_derive(p);
  return p;
}

static nw__pod *random_pod(wl *w, size_t i) {
  static const int64_t cpus[] = {100, 250, 500, 1000, 1500};
  static const int64_t mems[] = {100, 256, 512, 1024, 2048, 4096};
  int64_t cpu = cpus[nw_bench_randn(&w->rng, 5)];
  int64_t mem = mems[nw_bench_randn(&w->rng, 6)] * 1024 * 1024;
  return base_pod(w, i, cpu, mem);
}

static const char *rand_value(wl *w) {
  return label_values[nw_bench_randn(&w->rng, 7)];
}

static void add_spread(wl *w, nw__pod *p, const char *key,
                       const char *sel_key, const char *sel_value) {
  nw__spread *s = nw__arena_alloc(w->a, sizeof(*s));
  s->max_skew = 1;
  s->topology_key = key;
  s->selector = select_one(w->a, sel_key, sel_value);
  s->node_affinity_policy = NW__POLICY_HONOR;
  s->node_taints_policy = NW__POLICY_IGNORE;
  p->spreads = s;
  p->n_spreads = 1;
}

static void add_term(wl *w, nw__pod_affinity_terms *t, const char *key,
                     nw__selector sel) {
  nw__pod_affinity_term *x = nw__arena_alloc(w->a, sizeof(*x));
  x->topology_key = key;
  x->selector = sel;
  *t = (nw__pod_affinity_terms){1, x};
}

/* Karpenter's makeDiversePods, as the issue states it: n/5 each of
 * generic, zone spread, hostname spread, zone self-affinity and hostname
 * anti-affinity; the remainder generic. */
static void diverse(wl *w, size_t n) {
  w->pods = nw__arena_alloc(w->a, (n + 1) * sizeof(*w->pods));
  size_t k = n / 5, i = 0;
  for (size_t c = 0; c < 5; c++)
    for (size_t j = 0; j < k; j++, i++) {
      nw__pod *p = random_pod(w, i);
      p->labels = one_label(w->a, "my-label", rand_value(w));
      if (c == 1)
        add_spread(w, p, "topology.kubernetes.io/zone", "my-label",
                   rand_value(w));
      else if (c == 2)
        add_spread(w, p, "kubernetes.io/hostname", "my-label", rand_value(w));
      else if (c == 3) {
        const char *v = rand_value(w);
        p->labels = one_label(w->a, "my-affinity", v);
        add_term(w, &p->affinity, "topology.kubernetes.io/zone",
                 select_one(w->a, "my-affinity", v));
      } else if (c == 4) {
        p->labels = one_label(w->a, "app", "nginx");
        add_term(w, &p->anti_affinity, "kubernetes.io/hostname",
                 select_one(w->a, "app", "nginx"));
      }
      w->pods[i] = p;
    }
  for (; i < n; i++) {
    nw__pod *p = random_pod(w, i);
    p->labels = one_label(w->a, "my-label", rand_value(w));
    w->pods[i] = p;
  }
  w->n = n;
  w->generic_only = 0;
}

static nw_requirements one_req(nw_arena *a, const char *key, nw_operator op,
                               size_t n, const char **vals) {
  nw_requirement *r = nw__arena_alloc(a, sizeof(*r));
  const char **v = nw__arena_alloc(a, (n + 1) * sizeof(*v));
  memcpy(v, vals, n * sizeof(*v));
  *r = (nw_requirement){key, op, n, v, 0};
  return (nw_requirements){1, r};
}

/* The real catalog: generic pods, or a constrained mix. */
static void aws_pods(wl *w, size_t n, int constrained) {
  w->pods = nw__arena_alloc(w->a, (n + 1) * sizeof(*w->pods));
  static const char *od[] = {"on-demand"};
  static const char *fam[] = {"c7g", "m7g"};
  for (size_t i = 0; i < n; i++) {
    nw__pod *p = random_pod(w, i);
    char *app = nw__arena_printf(w->a, "app-%zu", i % 50);
    p->labels = one_label(w->a, "app", app);
    size_t kind = constrained ? i % 10 : 9;
    if (kind == 0 || kind == 1) {
      add_spread(w, p, "topology.kubernetes.io/zone", "app", app);
    } else if (kind == 2 || kind == 3) {
      p->node_selector = one_label(w->a, "kubernetes.io/arch", "arm64");
    } else if (kind == 4 || kind == 5) {
      nw_requirements *t = nw__arena_alloc(w->a, sizeof(*t));
      *t = one_req(w->a, "karpenter.sh/capacity-type", NW_OP_IN, 1, od);
      p->required_node_affinity = (nw__terms){1, t};
    } else if (kind == 6) {
      nw__weighted_term *t = nw__arena_alloc(w->a, sizeof(*t));
      t->weight = 50;
      t->term = one_req(w->a, "karpenter.k8s.aws/instance-family", NW_OP_IN,
                        2, fam);
      p->preferred_node_affinity = t;
      p->n_preferred_node_affinity = 1;
    } else if (kind == 7 && i % 100 == 7) {
      char *solo = nw__arena_printf(w->a, "solo-%zu", i % 20);
      p->labels = one_label(w->a, "solo", solo);
      add_term(w, &p->anti_affinity, "kubernetes.io/hostname",
               select_one(w->a, "solo", solo));
    }
    w->pods[i] = p;
  }
  w->n = n;
  w->generic_only = !constrained;
}

/*
 * A lower bound on the cost of any packing of generic pods: the LP
 * relaxation min sum(price_t x_t) s.t. sum(alloc_t x_t) >= demand, x >= 0.
 * By weak duality every y >= 0 with alloc_t . y <= price_t for all t gives
 * demand . y <= LP optimum; we search y's direction on a grid (then refine)
 * and scale it to feasibility, so the figure is a valid bound.
 */
/* Whether an instance type can satisfy the pool's requirements (every
 * pool requirement accepts one of the type's values for that key). */
static int type_in_pool(const nw_instance_type *it, const nw__nodepool *np) {
  for (size_t i = 0; i < np->requirements.len; i++) {
    const nw_requirement *pr = &np->requirements.items[i];
    const nw_requirement *tr = NULL;
    for (size_t j = 0; j < it->requirements.len && !tr; j++)
      if (strcmp(it->requirements.items[j].key, pr->key) == 0)
        tr = &it->requirements.items[j];
    if (!tr)
      return 0;
    int ok = 0;
    for (size_t v = 0; v < tr->n_values && !ok; v++) {
      nw_kv kv = {tr->key, tr->values[v]};
      nw_labels l = {1, &kv};
      nw_requirements one = {1, pr};
      ok = nw__requirements_match_labels(&one, &l);
    }
    if (!ok)
      return 0;
  }
  return 1;
}

static double lp_bound(const nw__sched_pool *pool, const wl *w) {
  double demand[3] = {0, 0, 0};
  static const char *const names[3] = {"cpu", "memory", "pods"};
  for (size_t i = 0; i < w->n; i++)
    for (int r = 0; r < 3; r++)
      demand[r] += (double)nw__resources_get(&w->pods[i]->requests, names[r]);
  size_t nt = pool->types.len;
  double (*alloc)[3] = calloc(nt + 1, sizeof(*alloc));
  double *price = calloc(nt + 1, sizeof(*price));
  for (size_t t = 0; t < nt; t++) {
    const nw_instance_type *it = &pool->types.items[t];
    price[t] = -1;
    if (!type_in_pool(it, pool->pool))
      continue;
    for (size_t o = 0; o < it->n_offerings; o++)
      if (it->offerings[o].available && it->offerings[o].price >= 0 &&
          (price[t] < 0 || it->offerings[o].price < price[t]))
        price[t] = it->offerings[o].price;
    for (int r = 0; r < 3; r++)
      alloc[t][r] = (double)nw__instance_type_allocatable(it, names[r]);
  }
  double best = 0, bu[3] = {1.0 / 3, 1.0 / 3, 1.0 / 3};
  double step = 1.0 / 64, lo[2] = {0, 0}, hi[2] = {1, 1};
  for (int round = 0; round < 6; round++) {
    for (double a = lo[0]; a <= hi[0] + 1e-12; a += step)
      for (double b = lo[1]; b <= hi[1] + 1e-12; b += step) {
        if (a < 0 || b < 0 || a + b > 1)
          continue;
        double u[3] = {a / demand[0], b / demand[1],
                       (1 - a - b) / (demand[2] > 0 ? demand[2] : 1)};
        double scale = DBL_MAX;
        for (size_t t = 0; t < nt; t++) {
          if (price[t] < 0)
            continue;
          double au = alloc[t][0] * u[0] + alloc[t][1] * u[1] +
                      alloc[t][2] * u[2];
          if (au > 0 && price[t] / au < scale)
            scale = price[t] / au;
        }
        double val = scale * (demand[0] * u[0] + demand[1] * u[1] +
                              demand[2] * u[2]);
        if (scale < DBL_MAX && val > best) {
          best = val;
          bu[0] = a;
          bu[1] = b;
        }
      }
    lo[0] = bu[0] - step;
    hi[0] = bu[0] + step;
    lo[1] = bu[1] - step;
    hi[1] = bu[1] + step;
    step /= 8;
  }
  free(alloc);
  free(price);
  return best;
}

int nw_bench_scheduling(int argc, char **argv) {
  const char *workload = "karpenter-diverse";
  size_t n = 20000;
  int json = 0, constrained = 0;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--workload") == 0 && i + 1 < argc)
      workload = argv[++i];
    else if (strcmp(argv[i], "--pods") == 0 && i + 1 < argc)
      n = (size_t)strtoull(argv[++i], NULL, 10);
    else if (strcmp(argv[i], "--json") == 0)
      json = 1;
    else if (strcmp(argv[i], "--constrained") == 0)
      constrained = 1;
    else {
      fprintf(stderr, "scheduling: unknown option \"%s\"\n", argv[i]);
      return 2;
    }
  }
  wl w = {nw__arena_new(), {42}, NULL, 0, 0};
  nw__catalog *cat;
  nw__nodepool np = {.name = "default"};
  nw_error err = {0};
  if (strcmp(workload, "karpenter-diverse") == 0) {
    cat = nw__catalog_karpenter_diverse(400);
    diverse(&w, n);
  } else if (strcmp(workload, "aws-catalog") == 0) {
    cat = nw__catalog_load_default_aws(&err);
    if (!cat) {
      fprintf(stderr, "scheduling: %s\n", err.message);
      return 1;
    }
    static const char *cats[] = {"c", "m", "r"};
    static const char *gen[] = {"2"};
    static const char *arch[] = {"amd64", "arm64"};
    static const char *ct[] = {"spot", "on-demand"};
    nw_requirement *r = nw__arena_alloc(w.a, 4 * sizeof(*r));
    r[0] = (nw_requirement){"karpenter.k8s.aws/instance-category", NW_OP_IN, 3,
                            cats, 0};
    r[1] = (nw_requirement){"karpenter.k8s.aws/instance-generation",
                            NW_OP_GT, 1, gen, 0};
    r[2] = (nw_requirement){"kubernetes.io/arch", NW_OP_IN, 2, arch, 0};
    r[3] = (nw_requirement){"karpenter.sh/capacity-type", NW_OP_IN, 2, ct, 0};
    np.requirements = (nw_requirements){4, r};
    aws_pods(&w, n, constrained);
  } else {
    fprintf(stderr, "scheduling: unknown workload \"%s\"\n", workload);
    return 2;
  }
  nw__sched_pool pool = {.pool = &np, .types = cat->types};
  nw__sched_input in = {.n_pools = 1, .pools = &pool};
  nw_arena *out = nw__arena_new();
  double c0 = nw_bench_cpu_now();
  double t0 = nw_bench_now();
  nw__scheduler *s = nw__scheduler_new(&in, &err);
  if (!s) {
    fprintf(stderr, "scheduling: %s\n", err.message);
    return 1;
  }
  double t1 = nw_bench_now();
  nw__sched_result *r = nw__scheduler_solve(s, w.pods, w.n, NULL, out, &err);
  double t2 = nw_bench_now();
  double cpu = nw_bench_cpu_now() - c0;
  double secs = t2 - t0;
  if (getenv("NW_BENCH_CLAIMS"))
    for (size_t i = 0; i < r->n_claims; i++) {
      const nw__sched_claim *c = &r->claims[i];
      fprintf(stderr, "claim %zu %s %s %s $%.4f pods %zu cpu %lld mem %lldMi "
              "options %zu\n", i,
              c->instance_type ? c->instance_type->name : "-",
              c->offering ? c->offering->capacity_type : "-",
              c->offering ? c->offering->zone : "-", c->price, c->n_pods,
              (long long)nw__resources_get(&c->requests, "cpu"),
              (long long)(nw__resources_get(&c->requests, "memory") >> 20),
              c->n_options);
    }
  double rss = nw_bench_peak_rss_mib();
  double lp = w.generic_only ? lp_bound(&pool, &w) : -1;
  double gap = lp > 0 ? (r->new_claims_price - lp) / lp * 100.0 : -1;
  if (json) {
    printf("{\"workload\":\"%s\",\"constrained\":%s,\"pods\":%zu,"
           "\"scheduled\":%zu,\"nodes\":%zu,\"cost_per_hour\":%.4f,"
           "\"seconds\":%.4f,\"build_seconds\":%.4f,\"solve_seconds\":%.4f,"
           "\"cpu_seconds\":%.4f,\"pods_per_second\":%.0f,"
           "\"peak_rss_mib\":%.1f",
           workload, constrained ? "true" : "false", w.n, r->n_scheduled,
           r->n_claims, r->new_claims_price, secs, t1 - t0, t2 - t1, cpu,
           (double)w.n / secs, rss);
    if (lp > 0)
      printf(",\"lp_lower_bound\":%.4f,\"lp_gap_percent\":%.2f", lp, gap);
    printf("}\n");
  } else {
    printf("workload        %s%s\n", workload, constrained ? " (constrained)" : "");
    printf("pods            %zu\nscheduled       %zu\nnodes           %zu\n",
           w.n, r->n_scheduled, r->n_claims);
    printf("cost_per_hour   %.4f\nseconds         %.4f (build %.4f, solve "
           "%.4f; cpu %.4f)\npods_per_second %.0f\npeak_rss_mib    %.1f\n",
           r->new_claims_price, secs, t1 - t0, t2 - t1, cpu,
           (double)w.n / secs, rss);
    if (lp > 0)
      printf("lp_lower_bound  %.4f\nlp_gap_percent  %.2f\n", lp, gap);
  }
  nw__scheduler_free(s);
  nw__arena_free(out);
  nw__catalog_free(cat);
  nw__arena_free(w.a);
  return 0;
}
