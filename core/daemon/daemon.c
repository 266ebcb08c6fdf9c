#include "daemon/daemon.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "metrics/metrics.h"
#include "metrics/server.h"
#include "util/log.h"

typedef struct daemon_state {
  uv_loop_t *loop;
  char *config_path;
  nw__config *cfg;
  nw__plugin_set *plugins;
  nw__metrics_server *metrics;
  uv_signal_t sigterm;
  uv_signal_t sigint;
  uv_signal_t sighup;
} daemon_state;

int nw__daemon_load_plugins(const nw__config *cfg, nw__plugin_set *set) {
  int failures = 0;
  for (size_t i = 0; i < cfg->n_plugins; i++) {
    const nw__plugin_conf *pc = &cfg->plugins[i];
    char path[4096], err[1024] = "";
    if (nw__config_plugin_path(cfg, pc, path, sizeof(path)) != 0) {
      NW_ERROR("plugin", "%s:%d: plugin \"%s\": no %s.so in the plugin "
               "directories", cfg->file, pc->line, pc->name, pc->name);
      failures++;
      continue;
    }
    char *conf = json_dumps(pc->config, JSON_COMPACT);
    nw__plugin *p = nw__plugins_load(set, path, conf, 1, err, sizeof(err));
    free(conf);
    if (!p) {
      NW_ERROR("plugin", "%s", err);
      failures++;
    }
  }
  return failures;
}

static void apply_logging(const nw__config *cfg) {
  nw__log_setup(cfg->log_level, cfg->log_format);
}

static void on_stop(uv_signal_t *h, int signum) {
  daemon_state *d = h->data;
  NW_INFO("daemon", "received %s, shutting down",
          signum == SIGTERM ? "SIGTERM" : "SIGINT");
  uv_stop(d->loop);
}

/* SIGHUP: a new config replaces the old only when it validates, so a typo
 * never takes a running daemon down. */
static void on_reload(uv_signal_t *h, int signum) {
  (void)signum;
  daemon_state *d = h->data;
  nw__config *fresh = NULL;
  char err[1024];
  if (nw__config_load(d->config_path, &fresh, err, sizeof(err)) != 0) {
    NW_ERROR("daemon", "reload refused, keeping the running config: %s", err);
    return;
  }
  nw__config_free(d->cfg);
  d->cfg = fresh;
  apply_logging(fresh);
  NW_INFO("daemon", "configuration reloaded from %s", d->config_path);
}

static int run_loop(daemon_state *d) {
  d->loop = uv_default_loop();
  uv_signal_init(d->loop, &d->sigterm);
  uv_signal_init(d->loop, &d->sigint);
  uv_signal_init(d->loop, &d->sighup);
  d->sigterm.data = d->sigint.data = d->sighup.data = d;
  uv_signal_start(&d->sigterm, on_stop, SIGTERM);
  uv_signal_start(&d->sigint, on_stop, SIGINT);
  uv_signal_start(&d->sighup, on_reload, SIGHUP);
  if (d->metrics)
    nw__metrics_server_set_ready(d->metrics, 1);
  NW_INFO("daemon", "running");
  uv_run(d->loop, UV_RUN_DEFAULT);
  uv_close((uv_handle_t *)&d->sigterm, NULL);
  uv_close((uv_handle_t *)&d->sigint, NULL);
  uv_close((uv_handle_t *)&d->sighup, NULL);
  uv_run(d->loop, UV_RUN_DEFAULT);
  uv_loop_close(d->loop);
  return 0;
}

int nw__daemon_main(const char *config_path, const char *plugin_dir,
                    int check_only) {
  daemon_state d = {0};
  char err[1024];
  if (nw__config_load(config_path, &d.cfg, err, sizeof(err)) != 0) {
    fprintf(stderr, "nodewright: %s\n", err);
    return 1;
  }
  if (plugin_dir && nw__config_set_plugin_dir(d.cfg, plugin_dir) != 0) {
    fprintf(stderr, "nodewright: out of memory\n");
    nw__config_free(d.cfg);
    return 1;
  }
  apply_logging(d.cfg);
  d.config_path = strdup(config_path);
  d.plugins = nw__plugins_new(NULL);
  int failures = nw__daemon_load_plugins(d.cfg, d.plugins);
  int rc = 0;
  if (check_only) {
    printf("%s: configuration valid; %zu of %zu plugins loaded\n", config_path,
           nw__plugins_count(d.plugins), d.cfg->n_plugins);
    for (size_t i = 0; i < nw__plugins_count(d.plugins); i++) {
      const nw_plugin_descriptor *desc =
          nw__plugin_descriptor(nw__plugins_at(d.plugins, i));
      printf("  %-12s %-9s %s\n", desc->name, nw__plugin_kind_name(desc->kind),
             desc->version ? desc->version : "");
    }
    rc = failures ? 1 : 0;
  } else {
    if (d.cfg->metrics_listen) {
      d.metrics = nw__metrics_server_start(d.cfg->metrics_listen, err,
                                           sizeof(err));
      if (!d.metrics)
        NW_ERROR("daemon", "%s", err);
    }
    rc = run_loop(&d);
  }
  nw__metrics_server_stop(d.metrics);
  nw__plugins_free(d.plugins);
  nw__config_free(d.cfg);
  free(d.config_path);
  return rc;
}
