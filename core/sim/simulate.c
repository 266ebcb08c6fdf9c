#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "catalog/catalog.h"
#include "cluster/store.h"
#include "daemon/daemon.h"
#include "disruption/controller.h"
#include "lifecycle/lifecycle.h"
#include "plugin/loader.h"
#include "provisioning/provisioner.h"
#include "sim/provider.h"
#include "sim/report.h"
#include "sim/sim.h"
#include "sim/venv.h"
#include "sim/world.h"
#include "termination/termination.h"
#include "util/log.h"

/* ---- plugins ------------------------------------------------------------ */

typedef struct clock_ref {
  nw__venv *v;
} clock_ref;

/* Plugins read the virtual clock through the host API. */
static int64_t virtual_now(void *user) {
  clock_ref *c = user;
  return c->v ? nw__venv_now(c->v) : 0;
}

/* build/lib/nodewright next to build/bin/nodewright, else the installed
 * directory. */
static void default_plugin_dir(char *buf, size_t len) {
  char exe[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
  if (n > 0) {
    exe[n] = '\0';
    snprintf(buf, len, "%s/../lib/nodewright", dirname(exe));
    if (access(buf, R_OK) == 0)
      return;
  }
  snprintf(buf, len, "%s", NW_DEFAULT_PLUGIN_DIR);
}

/* A path with a '/' is a file; a bare name is <dir>/<name>.so. */
static void plugin_path(const char *dir, const char *p, char *buf, size_t len) {
  if (strchr(p, '/'))
    snprintf(buf, len, "%s", p);
  else
    snprintf(buf, len, "%s/%s%s", dir, p,
             strstr(p, ".so") ? "" : ".so");
}

static int load_plugins(const nw__scenario *sc, const char *dir,
                        nw__plugin_set *set, char *err, size_t errlen) {
  char path[PATH_MAX + 64], perr[1024];
  for (size_t i = 0; i < sc->n_plugins; i++) {
    plugin_path(dir, sc->plugins[i].path, path, sizeof(path));
    perr[0] = '\0';
    if (!nw__plugins_load(set, path, sc->plugins[i].config_json, 1, perr,
                          sizeof(perr))) {
      snprintf(err, errlen, "%s: plugins[%zu]: %s", sc->file, i, perr);
      return -1;
    }
  }
  /* The strategy the scenario names, from the plugin directory unless the
   * scenario loaded it already. */
  if (!nw__plugins_find(set, sc->strategy)) {
    char name[200];
    snprintf(name, sizeof(name), "strategy-%s", sc->strategy);
    plugin_path(dir, name, path, sizeof(path));
    perr[0] = '\0';
    if (!nw__plugins_load(set, path, NULL, 1, perr, sizeof(perr))) {
      snprintf(err, errlen, "%s: strategy %s: %s", sc->file, sc->strategy,
               perr);
      return -1;
    }
  }
  return 0;
}

static int has_provider(nw__plugin_set *set) {
  return nw__plugins_first(set, NW_PLUGIN_PROVIDER) != NULL;
}

/* ---- the cluster's initial objects ---------------------------------------- */

static void put_all(nw__store *st, nw__kind kind, const json_t *arr) {
  size_t i;
  json_t *o;
  json_array_foreach(arr, i, o) {
    json_t *copy = json_deep_copy(o);
    json_t *md = json_object_get(copy, "metadata");
    if (!json_object_get(md, "creationTimestamp"))
      json_object_set_new(md, "creationTimestamp",
                          json_string("2026-01-01T00:00:00Z"));
    json_object_set_new(md, "resourceVersion", json_string("1"));
    nw__store_put(st, kind, copy);
  }
}

/* ---- the run ---------------------------------------------------------------- */

typedef struct run {
  nw__catalog *catalog;
  nw__store *store;
  nw__plugin_set *plugins;
  clock_ref clock;
  nw__venv *venv;
  nw__world *world;
  nw__provisioner *prov;
  nw__lifecycle *life;
  nw__termination *term;
  nw__disruption *disr;
} run;

static void on_event(void *user, int64_t now_ms, const json_t *regarding,
                     const char *type, const char *reason, const char *note) {
  nw__world_note_event(user, now_ms, regarding, type, reason, note);
}

static void run_free(run *r) {
  nw__disruption_free(r->disr);
  nw__provisioner_free(r->prov);
  nw__termination_free(r->term);
  nw__lifecycle_free(r->life);
  nw__world_free(r->world);
  nw__venv_free(r->venv);
  nw__plugins_free(r->plugins);
  nw__store_free(r->store);
  nw__catalog_free(r->catalog);
}

static nw__catalog *load_catalog(const nw__scenario *sc, char *err,
                                 size_t errlen) {
  nw_error e = {0};
  nw__catalog *c = NULL;
  if (sc->catalog == NW__SIM_CATALOG_SYNTHETIC)
    c = nw__catalog_karpenter_diverse(sc->synthetic_types);
  else if (sc->catalog_path)
    c = nw__catalog_load_aws(sc->catalog_path, &e);
  else
    c = nw__catalog_load_default_aws(&e);
  if (!c)
    snprintf(err, errlen, "%s: catalog: %s", sc->file,
             e.message[0] ? e.message : "out of memory");
  return c;
}

static int run_setup(run *r, const nw__scenario *sc, const nw__sim_opts *o,
                     char *err, size_t errlen) {
  char dir[PATH_MAX];
  if (o && o->plugin_dir)
    snprintf(dir, sizeof(dir), "%s", o->plugin_dir);
  else
    default_plugin_dir(dir, sizeof(dir));
  r->catalog = load_catalog(sc, err, errlen);
  if (!r->catalog)
    return -1;
  nw__host_hooks hooks = {0};
  hooks.now_ms = virtual_now;
  hooks.monotonic_ms = virtual_now;
  hooks.clock_user = &r->clock;
  r->plugins = nw__plugins_new(&hooks);
  r->store = nw__store_new();
  r->venv = nw__venv_new(r->store, r->plugins, sc->start_ms, sc->seed);
  r->clock.v = r->venv;
  if (load_plugins(sc, dir, r->plugins, err, errlen) != 0)
    return -1;
  nw__env *env = nw__venv_env(r->venv);
  env->batch_idle_ms = sc->batch_idle_ms;
  env->batch_max_ms = sc->batch_max_ms;
  void *prov_state = NULL;
  if (!has_provider(r->plugins)) {
    char perr[512] = "";
    nw__plugin *p = nw__plugins_add_builtin(
        r->plugins, nw__sim_provider_descriptor(), NULL, perr, sizeof(perr));
    if (!p) {
      snprintf(err, errlen, "simulated provider: %s", perr);
      return -1;
    }
    prov_state = nw__plugin_state(p);
  }
  put_all(r->store, NW__K_NODECLASS, sc->nodeclasses);
  put_all(r->store, NW__K_NODEPOOL, sc->nodepools);
  put_all(r->store, NW__K_DAEMONSET, sc->daemonsets);
  r->world = nw__world_new(env, sc, &r->catalog->types);
  if (prov_state) {
    nw__world_set_provider(r->world, prov_state);
    nw__sim_provider_attach(prov_state, r->world, env, sc->launch_api_ms,
                            sc->interruption_notice_ms);
  }
  nw__venv_on_event(r->venv, on_event, r->world);
  if (nw__world_start(r->world, err, errlen) != 0)
    return -1;
  /* The daemon's controllers, as `nodewright run` starts them. */
  r->life = nw__lifecycle_new(env);
  r->term = nw__termination_new(env);
  r->prov = nw__provisioner_new(env);
  r->disr = nw__disruption_new(env, sc->strategy);
  if (!r->life || !r->term || !r->prov || !r->disr) {
    snprintf(err, errlen, "cannot start the controllers");
    return -1;
  }
  return 0;
}

static void progress(const nw__scenario *sc, int64_t t, size_t nodes,
                     size_t pods) {
  int width = 40;
  double f = (double)t / (double)sc->duration_ms;
  int fill = (int)(f * width);
  fprintf(stderr, "\r[%.*s%*s] %3.0f%%  %lldm/%lldm  nodes %zu  pods %zu ",
          fill, "########################################", width - fill, "",
          f * 100, (long long)(t / 60000),
          (long long)(sc->duration_ms / 60000), nodes, pods);
  fflush(stderr);
}

json_t *nw__sim_run(const nw__scenario *sc, const nw__sim_opts *o, char *err,
                    size_t errlen) {
  run r = {0};
  if (run_setup(&r, sc, o, err, errlen) != 0) {
    run_free(&r);
    return NULL;
  }
  int64_t end = sc->start_ms + sc->duration_ms;
  int64_t t = sc->start_ms;
  int64_t every = sc->duration_ms / 100 > 0 ? sc->duration_ms / 100 : 1;
  int64_t next_bar = t;
  nw__world_sample(r.world);
  while (t < end) {
    t = t + sc->sample_ms < end ? t + sc->sample_ms : end;
    nw__venv_run_until(r.venv, t);
    nw__world_sample(r.world);
    if (o && o->progress && t >= next_bar) {
      next_bar = t + every;
      progress(sc, t - sc->start_ms, nw__store_count(r.store, NW__K_NODE),
               nw__store_count(r.store, NW__K_POD));
    }
  }
  if (o && o->progress)
    fprintf(stderr, "\r%*s\r", 100, "");
  json_t *report = nw__world_report(r.world, end);
  run_free(&r);
  return report;
}

/* ---- the command ---------------------------------------------------------- */

static void usage(FILE *out) {
  fprintf(out, "usage: nodewright simulate --scenario FILE [--report "
               "out.html] [--json] [--plugin-dir DIR] [--verbose]\n");
}

static double wall_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int write_html(const char *path, const json_t *report) {
  FILE *f = fopen(path, "w");
  if (!f) {
    fprintf(stderr, "nodewright simulate: %s: %s\n", path, strerror(errno));
    return -1;
  }
  int rc = nw__sim_write_html(f, report);
  if (fclose(f) != 0 || rc != 0) {
    fprintf(stderr, "nodewright simulate: %s: write failed\n", path);
    return -1;
  }
  return 0;
}

int nw__simulate_main(int argc, char **argv) {
  static const struct option longopts[] = {
      {"scenario", required_argument, NULL, 's'},
      {"report", required_argument, NULL, 'r'},
      {"json", no_argument, NULL, 'j'},
      {"plugin-dir", required_argument, NULL, 'p'},
      {"verbose", no_argument, NULL, 'v'},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0}};
  const char *scenario = NULL, *html = NULL;
  int as_json = 0, verbose = 0;
  nw__sim_opts opts = {0};
  /* argv[0] is the first argument after "simulate": getopt skips it. */
  int c;
  optind = 0;
  char **args = argv - 1;
  while ((c = getopt_long(argc + 1, args, "", longopts, NULL)) != -1) {
    switch (c) {
    case 's': scenario = optarg; break;
    case 'r': html = optarg; break;
    case 'j': as_json = 1; break;
    case 'p': opts.plugin_dir = optarg; break;
    case 'v': verbose = 1; break;
    case 'h': usage(stdout); return 0;
    default: usage(stderr); return 2;
    }
  }
  if (!scenario || optind != argc + 1) {
    usage(stderr);
    return 2;
  }
  nw__log_setup(verbose ? NW_LOG_INFO : NW_LOG_WARN, NW__LOG_TEXT);
  char err[2048] = "";
  nw__scenario *sc = nw__scenario_load(scenario, err, sizeof(err));
  if (!sc) {
    fprintf(stderr, "nodewright simulate: %s\n", err);
    return 1;
  }
  opts.progress = !as_json && isatty(STDERR_FILENO);
  double t0 = wall_seconds();
  json_t *report = nw__sim_run(sc, &opts, err, sizeof(err));
  double wall = wall_seconds() - t0;
  nw__scenario_free(sc);
  if (!report) {
    fprintf(stderr, "nodewright simulate: %s\n", err);
    return 1;
  }
  int rc = 0;
  if (as_json) {
    json_object_set_new(report, "wall_seconds", json_real(wall));
    json_dumpf(report, stdout, JSON_INDENT(2));
    fputc('\n', stdout);
  } else {
    nw__sim_print_summary(stdout, report, wall);
  }
  if (html && write_html(html, report) != 0)
    rc = 1;
  else if (html && !as_json)
    printf("\nreport: %s\n", html);
  json_decref(report);
  return rc;
}
