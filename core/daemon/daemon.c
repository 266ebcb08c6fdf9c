#include "daemon/daemon.h"

#include <signal.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "daemon/kube_env.h"
#include "http/http.h"
#include "util/arena.h"
#include "disruption/controller.h"
#include "kube/client.h"
#include "kube/config.h"
#include "kube/leader.h"
#include "lifecycle/lifecycle.h"
#include "metrics/metrics.h"
#include "metrics/server.h"
#include "provisioning/provisioner.h"
#include "termination/termination.h"
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
  /* cluster */
  nw__kube_config *kcfg;
  nw__kube_client *client;     /* loop mode: informers and writes */
  nw__kube_client *blocking;   /* for plugins' kube_request on workers */
  nw__kube_env *kenv;
  nw__kube_leader *leader;
  int synced;
  int leading;
  int stopping;
  /* controllers, running while synced and leading */
  nw__provisioner *provisioner;
  nw__lifecycle *lifecycle;
  nw__termination *termination;
  nw__disruption *disruption;
  uv_timer_t refresh_timer;
  int refreshing;
  size_t stuck_jobs;    /* plugin calls still running at exit */
} daemon_state;

enum { PRICE_REFRESH_CHECK_MS = 60000, DRAIN_MS = 30000 };

/* Pricing plugins decide themselves when a refresh is due (12 h by
 * default); the daemon only offers them a worker every minute, so a
 * blocking fetch never runs on the loop. */
typedef struct refresh_job {
  uv_work_t req;
  daemon_state *d;
} refresh_job;

static void refresh_work(uv_work_t *req) {
  refresh_job *j = req->data;
  nw__plugin_set *set = j->d->plugins;
  for (size_t i = 0; i < nw__plugins_count(set); i++) {
    nw__plugin *p = nw__plugins_at(set, i);
    const nw_pricing_vtable *vt = nw__plugin_pricing(p);
    nw_error err = {0};
    if (vt && vt->refresh && vt->refresh(nw__plugin_state(p), &err) != NW_OK)
      NW_WARN("pricing", "%s: refresh failed, keeping the prices in use: %s",
              nw__plugin_descriptor(p)->name, err.message);
  }
}

static void refresh_done(uv_work_t *req, int status) {
  refresh_job *j = req->data;
  (void)status;
  j->d->refreshing = 0;
  free(j);
}

static void refresh_tick(uv_timer_t *t) {
  daemon_state *d = t->data;
  if (d->refreshing || d->stopping)
    return;
  refresh_job *j = calloc(1, sizeof(*j));
  j->d = d;
  j->req.data = j;
  d->refreshing = 1;
  uv_queue_work(d->loop, &j->req, refresh_work, refresh_done);
}

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

/* ---- controllers ------------------------------------------------------- */

static void controllers_start(daemon_state *d) {
  if (d->provisioner || !d->synced || !d->leading || d->stopping)
    return;
  nw__env *env = nw__kube_env_env(d->kenv);
  env->batch_idle_ms = d->cfg->batch_idle_ms;
  env->batch_max_ms = d->cfg->batch_max_ms;
  d->lifecycle = nw__lifecycle_new(env);
  d->termination = nw__termination_new(env);
  d->provisioner = nw__provisioner_new(env);
  d->disruption = nw__disruption_new(env, d->cfg->strategy);
  nw__disruption_set_spot_to_spot(d->disruption, d->cfg->spot_to_spot);
  nw__provisioner_trigger(d->provisioner);
  NW_INFO("daemon", "controllers started");
}

static void controllers_stop(daemon_state *d) {
  if (!d->provisioner)
    return;
  nw__provisioner_free(d->provisioner);
  nw__disruption_free(d->disruption);
  nw__termination_free(d->termination);
  nw__lifecycle_free(d->lifecycle);
  d->provisioner = NULL;
  d->disruption = NULL;
  d->termination = NULL;
  d->lifecycle = NULL;
  NW_INFO("daemon", "controllers stopped");
}

static void on_synced(void *user) {
  daemon_state *d = user;
  d->synced = 1;
  NW_INFO("daemon", "caches synced");
  if (d->metrics)
    nw__metrics_server_set_ready(d->metrics, 1);
  controllers_start(d);
}

static void on_started_leading(void *user) {
  daemon_state *d = user;
  d->leading = 1;
  NW_INFO("daemon", "became the leader");
  controllers_start(d);
}

static void on_stopped_leading(void *user) {
  daemon_state *d = user;
  d->leading = 0;
  NW_INFO("daemon", "stopped leading");
  controllers_stop(d);
}

static void on_new_leader(void *user, const char *identity) {
  (void)user;
  NW_INFO("daemon", "the leader is %s", identity);
}

/* Plugins reach the API server through a blocking client on their own
 * worker threads, never through the loop's. */
static nw_status kube_request_hook(void *user, const char *method,
                                   const char *path, const char *body,
                                   nw_http_response *resp, nw_arena *arena,
                                   nw_error *err) {
  daemon_state *d = user;
  json_t *in = NULL;
  if (body) {
    json_error_t jerr;
    in = json_loads(body, 0, &jerr);
    if (!in)
      return nw__error_set(err, NW_ERR_INVALID, "kube_request: body is not JSON: %s", jerr.text);
  }
  json_t *out = NULL;
  long http = 0;
  const char *ctype = strcmp(method, "PATCH") == 0 ? "application/merge-patch+json" : NULL;
  nw_status st = nw__kube_call(d->blocking, method, path, ctype, in, &out, &http, err);
  json_decref(in);
  memset(resp, 0, sizeof(*resp));
  resp->size = sizeof(*resp);
  resp->status = http;
  char *text = out ? json_dumps(out, JSON_COMPACT) : NULL;
  resp->body = nw__arena_strdup(arena, text ? text : "");
  resp->body_len = text ? strlen(text) : 0;
  free(text);
  json_decref(out);
  /* Non-2xx answers are data for the plugin, not transport failures. */
  return http ? NW_OK : st;
}

static void leader_released(void *user) {
  daemon_state *d = user;
  d->leader = NULL;
  uv_stop(d->loop);
}

static void on_stop(uv_signal_t *h, int signum) {
  daemon_state *d = h->data;
  NW_INFO("daemon", "received %s, shutting down",
          signum == SIGTERM ? "SIGTERM" : "SIGINT");
  if (d->stopping)
    return;
  d->stopping = 1;
  controllers_stop(d);
  if (d->leader)
    nw__kube_leader_stop(d->leader, leader_released, d);
  else
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
  /* Logging and batching apply at once; plugins, cluster, metrics address
   * and leader election need a restart. */
  if (d->kenv) {
    nw__env *env = nw__kube_env_env(d->kenv);
    env->batch_idle_ms = fresh->batch_idle_ms;
    env->batch_max_ms = fresh->batch_max_ms;
  }
  NW_INFO("daemon", "configuration reloaded from %s", d->config_path);
}

static char *identity(void) {
  char host[256] = "nodewright";
  gethostname(host, sizeof(host) - 1);
  char *id = malloc(strlen(host) + 32);
  sprintf(id, "%s_%d", host, (int)getpid());
  return id;
}

static int connect_cluster(daemon_state *d) {
  nw_error err = {0};
  if (d->cfg->in_cluster)
    d->kcfg = nw__kube_config_in_cluster(NULL, &err);
  else if (d->cfg->kubeconfig)
    d->kcfg = nw__kube_config_load(d->cfg->kubeconfig, d->cfg->context, &err);
  else
    d->kcfg = nw__kube_config_auto(&err);
  if (!d->kcfg) {
    NW_ERROR("daemon", "cluster: %s", err.message);
    return -1;
  }
  d->client = nw__kube_client_new(d->kcfg, d->loop, NULL, &err);
  d->blocking = d->client ? nw__kube_client_new(d->kcfg, NULL, NULL, &err) : NULL;
  if (!d->blocking) {
    NW_ERROR("daemon", "cluster: %s", err.message);
    return -1;
  }
  NW_INFO("daemon", "cluster %s (%s)", nw__kube_config_server(d->kcfg),
          nw__kube_config_origin(d->kcfg));
  return 0;
}

static int start_cluster_work(daemon_state *d) {
  uv_timer_init(d->loop, &d->refresh_timer);
  d->refresh_timer.data = d;
  uv_timer_start(&d->refresh_timer, refresh_tick, 0, PRICE_REFRESH_CHECK_MS);
  d->kenv = nw__kube_env_new(d->loop, d->client, d->plugins,
                             d->cfg->cluster_name, on_synced, d);
  if (!d->cfg->leader_election) {
    d->leading = 1;
    return 0;
  }
  char *id = identity();
  nw__kube_leader_options lo = {
      .ns = d->cfg->lease_namespace, .name = d->cfg->lease_name,
      .identity = id, .on_started = on_started_leading,
      .on_stopped = on_stopped_leading, .on_new_leader = on_new_leader,
      .user = d};
  nw_error err = {0};
  d->leader = nw__kube_leader_start(d->client, &lo, &err);
  free(id);
  if (!d->leader) {
    NW_ERROR("daemon", "leader election: %s", err.message);
    return -1;
  }
  return 0;
}

/* SIGTERM drains in-flight work: a provider call running on a worker
 * (a launch, a delete) finishes and its result is handled before the
 * plugins are unloaded under it.  Bounded, so a hung provider cannot hold
 * the shutdown past what a pod's grace period would allow anyway. */
static size_t jobs_running(const daemon_state *d) {
  return nw__kube_env_jobs(d->kenv) + (size_t)d->refreshing;
}

static void drain_jobs(daemon_state *d) {
  size_t n = jobs_running(d);
  if (n == 0)
    return;
  NW_INFO("daemon", "waiting for %zu in-flight plugin call(s)", n);
  uint64_t deadline = uv_now(d->loop) + DRAIN_MS;
  while (jobs_running(d) > 0 && uv_now(d->loop) < deadline)
    uv_run(d->loop, UV_RUN_ONCE);
  n = jobs_running(d);
  d->stuck_jobs = n;
  if (n > 0)
    NW_WARN("daemon", "%zu plugin call(s) still running after %d s; exiting "
            "without unloading plugins", n, DRAIN_MS / 1000);
  else
    NW_INFO("daemon", "in-flight work drained");
}

static int run_loop(daemon_state *d) {
  uv_signal_init(d->loop, &d->sigterm);
  uv_signal_init(d->loop, &d->sigint);
  uv_signal_init(d->loop, &d->sighup);
  d->sigterm.data = d->sigint.data = d->sighup.data = d;
  uv_signal_start(&d->sigterm, on_stop, SIGTERM);
  uv_signal_start(&d->sigint, on_stop, SIGINT);
  uv_signal_start(&d->sighup, on_reload, SIGHUP);
  NW_INFO("daemon", "running");
  if (start_cluster_work(d) == 0)
    uv_run(d->loop, UV_RUN_DEFAULT);
  controllers_stop(d);
  drain_jobs(d);
  nw__kube_env_free(d->kenv);
  d->kenv = NULL;
  uv_timer_stop(&d->refresh_timer);
  uv_close((uv_handle_t *)&d->refresh_timer, NULL);
  uv_run(d->loop, UV_RUN_NOWAIT);
  uv_close((uv_handle_t *)&d->sigterm, NULL);
  uv_close((uv_handle_t *)&d->sigint, NULL);
  uv_close((uv_handle_t *)&d->sighup, NULL);
  uv_run(d->loop, UV_RUN_NOWAIT);
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
  if (!check_only) {
    d.loop = uv_default_loop();
    if (connect_cluster(&d) != 0) {
      nw__config_free(d.cfg);
      free(d.config_path);
      return 1;
    }
  }
  nw__host_hooks hooks = {.kube_request = kube_request_hook, .kube_user = &d};
  d.plugins = nw__plugins_new(check_only ? NULL : &hooks);
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
  if (d.client)
    nw__kube_client_free(d.client);
  if (d.blocking)
    nw__kube_client_free(d.blocking);
  if (d.loop) {
    uv_run(d.loop, UV_RUN_NOWAIT);
    uv_loop_close(d.loop);
  }
  nw__kube_config_free(d.kcfg);
  /* A plugin call still running on a worker would jump into unmapped
   * code: then the process exits with the plugins still loaded. */
  if (!d.stuck_jobs)
    nw__plugins_free(d.plugins);
  nw__config_free(d.cfg);
  free(d.config_path);
  return rc;
}
