#include "config/config.h"

#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/yaml.h"
#include "util/duration.h"

typedef struct ctx {
  const char *file;
  char *err;
  size_t errlen;
} ctx;

static int bad(ctx *c, const nw__ynode *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int bad(ctx *c, const nw__ynode *n, const char *fmt, ...) {
  char msg[600];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  return nw__yerr(c->err, c->errlen, c->file, n, "%s", msg);
}

static int only_keys(ctx *c, const nw__ynode *map, const char *where,
                     const char *const *allowed) {
  return nw__ycheck_keys(c->err, c->errlen, c->file, map, where, allowed);
}

static int want_map(ctx *c, const nw__ynode *n, const char *where) {
  if (n->kind != NW__Y_MAP)
    return bad(c, n, "%s must be a map, found a %s", where,
               nw__ynode_kind_name(n));
  return 0;
}

static int get_string(ctx *c, const nw__ynode *n, const char *where,
                      char **out) {
  if (n->kind != NW__Y_SCALAR || nw__yscalar_is_null(n))
    return bad(c, n, "%s must be a string, found a %s", where,
               nw__yscalar_is_null(n) ? "null" : nw__ynode_kind_name(n));
  free(*out);
  *out = strdup(n->value);
  return 0;
}

static int get_bool(ctx *c, const nw__ynode *n, const char *where, int *out) {
  if (nw__yscalar_bool(n, out) != 0)
    return bad(c, n, "%s must be true or false, found \"%s\"", where,
               n->kind == NW__Y_SCALAR ? n->value : nw__ynode_kind_name(n));
  return 0;
}

static int get_duration(ctx *c, const nw__ynode *n, const char *where,
                        int64_t *out) {
  if (n->kind != NW__Y_SCALAR || nw__duration_ms(n->value, out) != 0 ||
      *out < 0)
    return bad(c, n, "%s must be a duration such as \"1s\" or \"500ms\", "
               "found \"%s\"", where,
               n->kind == NW__Y_SCALAR ? n->value : nw__ynode_kind_name(n));
  return 0;
}

static int parse_plugin_dirs(ctx *c, nw__config *cfg, const nw__ynode *n) {
  if (n->kind != NW__Y_SEQ)
    return bad(c, n, "pluginDirs must be a list of directories, found a %s",
               nw__ynode_kind_name(n));
  cfg->plugin_dirs = calloc(n->len ? n->len : 1, sizeof(char *));
  for (size_t i = 0; i < n->len; i++) {
    if (get_string(c, n->items[i], "each entry of pluginDirs",
                   &cfg->plugin_dirs[i]) != 0)
      return -1;
    cfg->n_plugin_dirs++;
  }
  return 0;
}

static int parse_plugin(ctx *c, nw__plugin_conf *p, const nw__ynode *n) {
  static const char *const keys[] = {"name", "path", "config", NULL};
  if (want_map(c, n, "each entry of plugins") != 0 ||
      only_keys(c, n, "a plugins entry", keys) != 0)
    return -1;
  p->line = n->line;
  const nw__ynode *name = nw__ymap_get(n, "name");
  if (!name)
    return bad(c, n, "plugins entry is missing the required key \"name\"");
  if (get_string(c, name, "plugins[].name", &p->name) != 0)
    return -1;
  const nw__ynode *path = nw__ymap_get(n, "path");
  if (path && get_string(c, path, "plugins[].path", &p->path) != 0)
    return -1;
  const nw__ynode *conf = nw__ymap_get(n, "config");
  if (conf && !nw__yscalar_is_null(conf) &&
      want_map(c, conf, "plugins[].config") != 0)
    return -1;
  p->config = conf && conf->kind == NW__Y_MAP ? nw__ynode_to_json(conf)
                                              : json_object();
  return 0;
}

static int parse_plugins(ctx *c, nw__config *cfg, const nw__ynode *n) {
  if (n->kind != NW__Y_SEQ)
    return bad(c, n, "plugins must be a list, found a %s",
               nw__ynode_kind_name(n));
  cfg->plugins = calloc(n->len ? n->len : 1, sizeof(nw__plugin_conf));
  for (size_t i = 0; i < n->len; i++) {
    cfg->n_plugins++;
    if (parse_plugin(c, &cfg->plugins[i], n->items[i]) != 0)
      return -1;
    for (size_t j = 0; j < i; j++) {
      if (strcmp(cfg->plugins[j].name, cfg->plugins[i].name) == 0)
        return bad(c, n->items[i], "plugin \"%s\" is listed twice (first at "
                   "line %d)", cfg->plugins[i].name, cfg->plugins[j].line);
    }
  }
  return 0;
}

static int parse_cluster(ctx *c, nw__config *cfg, const nw__ynode *n) {
  static const char *const keys[] = {"kubeconfig", "context", "inCluster",
                                     "name", NULL};
  if (want_map(c, n, "cluster") != 0 || only_keys(c, n, "cluster", keys) != 0)
    return -1;
  const nw__ynode *v;
  if ((v = nw__ymap_get(n, "kubeconfig")) &&
      get_string(c, v, "cluster.kubeconfig", &cfg->kubeconfig) != 0)
    return -1;
  if ((v = nw__ymap_get(n, "context")) &&
      get_string(c, v, "cluster.context", &cfg->context) != 0)
    return -1;
  if ((v = nw__ymap_get(n, "inCluster")) &&
      get_bool(c, v, "cluster.inCluster", &cfg->in_cluster) != 0)
    return -1;
  if ((v = nw__ymap_get(n, "name")) &&
      get_string(c, v, "cluster.name", &cfg->cluster_name) != 0)
    return -1;
  if (cfg->in_cluster && cfg->kubeconfig)
    return bad(c, n, "cluster: set either kubeconfig or inCluster, not both");
  return 0;
}

static int parse_batch(ctx *c, nw__config *cfg, const nw__ynode *n) {
  static const char *const keys[] = {"idle", "max", NULL};
  if (want_map(c, n, "batch") != 0 || only_keys(c, n, "batch", keys) != 0)
    return -1;
  const nw__ynode *v;
  if ((v = nw__ymap_get(n, "idle")) &&
      get_duration(c, v, "batch.idle", &cfg->batch_idle_ms) != 0)
    return -1;
  if ((v = nw__ymap_get(n, "max")) &&
      get_duration(c, v, "batch.max", &cfg->batch_max_ms) != 0)
    return -1;
  if (cfg->batch_idle_ms <= 0 || cfg->batch_max_ms < cfg->batch_idle_ms)
    return bad(c, n, "batch: need 0 < idle <= max, found idle %lldms, max "
               "%lldms", (long long)cfg->batch_idle_ms,
               (long long)cfg->batch_max_ms);
  return 0;
}

static int parse_logging(ctx *c, nw__config *cfg, const nw__ynode *n) {
  static const char *const keys[] = {"level", "format", NULL};
  if (want_map(c, n, "logging") != 0 || only_keys(c, n, "logging", keys) != 0)
    return -1;
  const nw__ynode *v = nw__ymap_get(n, "level");
  if (v) {
    int lvl = v->kind == NW__Y_SCALAR ? nw__log_level_parse(v->value) : -1;
    if (lvl < 0)
      return bad(c, v, "logging.level must be debug, info, warn or error");
    cfg->log_level = (nw_log_level)lvl;
  }
  v = nw__ymap_get(n, "format");
  if (v) {
    if (v->kind == NW__Y_SCALAR && strcmp(v->value, "text") == 0)
      cfg->log_format = NW__LOG_TEXT;
    else if (v->kind == NW__Y_SCALAR && strcmp(v->value, "json") == 0)
      cfg->log_format = NW__LOG_JSON;
    else
      return bad(c, v, "logging.format must be text or json");
  }
  return 0;
}

static int parse_metrics(ctx *c, nw__config *cfg, const nw__ynode *n) {
  static const char *const keys[] = {"listen", NULL};
  if (want_map(c, n, "metrics") != 0 || only_keys(c, n, "metrics", keys) != 0)
    return -1;
  const nw__ynode *v = nw__ymap_get(n, "listen");
  if (v && get_string(c, v, "metrics.listen", &cfg->metrics_listen) != 0)
    return -1;
  if (cfg->metrics_listen && !strrchr(cfg->metrics_listen, ':'))
    return bad(c, v, "metrics.listen must be host:port, found \"%s\"",
               cfg->metrics_listen);
  return 0;
}

static int parse_leader(ctx *c, nw__config *cfg, const nw__ynode *n) {
  static const char *const keys[] = {"enabled", "namespace", "name", NULL};
  if (want_map(c, n, "leaderElection") != 0 ||
      only_keys(c, n, "leaderElection", keys) != 0)
    return -1;
  const nw__ynode *v;
  if ((v = nw__ymap_get(n, "enabled")) &&
      get_bool(c, v, "leaderElection.enabled", &cfg->leader_election) != 0)
    return -1;
  if ((v = nw__ymap_get(n, "namespace")) &&
      get_string(c, v, "leaderElection.namespace", &cfg->lease_namespace) != 0)
    return -1;
  if ((v = nw__ymap_get(n, "name")) &&
      get_string(c, v, "leaderElection.name", &cfg->lease_name) != 0)
    return -1;
  return 0;
}

static int parse_disruption(ctx *c, nw__config *cfg, const nw__ynode *n) {
  static const char *const keys[] = {"strategy", "spotToSpot", NULL};
  if (want_map(c, n, "disruption") != 0 ||
      only_keys(c, n, "disruption", keys) != 0)
    return -1;
  const nw__ynode *v = nw__ymap_get(n, "spotToSpot");
  if (v && get_bool(c, v, "disruption.spotToSpot", &cfg->spot_to_spot) != 0)
    return -1;
  v = nw__ymap_get(n, "strategy");
  return v ? get_string(c, v, "disruption.strategy", &cfg->strategy) : 0;
}

typedef int (*section_fn)(ctx *, nw__config *, const nw__ynode *);

static const struct {
  const char *key;
  section_fn parse;
} sections[] = {
    {"pluginDirs", parse_plugin_dirs}, {"plugins", parse_plugins},
    {"cluster", parse_cluster},        {"batch", parse_batch},
    {"logging", parse_logging},        {"metrics", parse_metrics},
    {"leaderElection", parse_leader},  {"disruption", parse_disruption},
};

static int parse_root(ctx *c, nw__config *cfg, const nw__ynode *root) {
  if (!root)
    return bad(c, NULL, "the file is empty; expected a map with at least "
               "\"plugins\"");
  if (want_map(c, root, "the top level") != 0)
    return -1;
  size_t n_sections = sizeof(sections) / sizeof(sections[0]);
  for (size_t i = 0; i < root->len; i++) {
    size_t s = 0;
    while (s < n_sections && strcmp(sections[s].key, root->keys[i]->value) != 0)
      s++;
    if (s == n_sections)
      return bad(c, root->keys[i], "unknown key \"%s\" at the top level "
                 "(expected pluginDirs, plugins, cluster, batch, logging, "
                 "metrics, leaderElection or disruption)",
                 root->keys[i]->value);
    if (sections[s].parse(c, cfg, root->items[i]) != 0)
      return -1;
  }
  if (!nw__ymap_get(root, "plugins"))
    return bad(c, root, "missing the required key \"plugins\"");
  return 0;
}

static void set_defaults(nw__config *cfg) {
  cfg->batch_idle_ms = 1000;
  cfg->batch_max_ms = 10000;
  cfg->log_level = NW_LOG_INFO;
  cfg->log_format = NW__LOG_TEXT;
  cfg->leader_election = 1;
}

int nw__config_load(const char *path, nw__config **out, char *err,
                    size_t errlen) {
  *out = NULL;
  nw__ydoc *doc = nw__yaml_load(path, err, errlen);
  if (!doc)
    return -1;
  nw__config *cfg = calloc(1, sizeof(*cfg));
  if (!cfg) {
    nw__ydoc_free(doc);
    snprintf(err, errlen, "%s: out of memory", path);
    return -1;
  }
  set_defaults(cfg);
  cfg->file = strdup(path);
  ctx c = {path, err, errlen};
  int rc = parse_root(&c, cfg, doc->root);
  nw__ydoc_free(doc);
  if (rc != 0) {
    nw__config_free(cfg);
    return -1;
  }
  if (!cfg->lease_namespace)
    cfg->lease_namespace = strdup("kube-system");
  if (!cfg->lease_name)
    cfg->lease_name = strdup("nodewright-leader");
  if (!cfg->cluster_name)
    cfg->cluster_name = strdup("nodewright");
  *out = cfg;
  return 0;
}

void nw__config_free(nw__config *c) {
  if (!c)
    return;
  for (size_t i = 0; i < c->n_plugin_dirs; i++)
    free(c->plugin_dirs[i]);
  free(c->plugin_dirs);
  for (size_t i = 0; i < c->n_plugins; i++) {
    free(c->plugins[i].name);
    free(c->plugins[i].path);
    json_decref(c->plugins[i].config);
  }
  free(c->plugins);
  free(c->kubeconfig);
  free(c->context);
  free(c->cluster_name);
  free(c->metrics_listen);
  free(c->lease_namespace);
  free(c->lease_name);
  free(c->strategy);
  free(c->file);
  free(c);
}

/* Relative paths in the file are relative to the file's own directory, so
 * a config works wherever the daemon is started from. */
static void resolve(const nw__config *c, const char *p, char *buf,
                    size_t len) {
  if (p[0] == '/') {
    snprintf(buf, len, "%s", p);
    return;
  }
  char *copy = strdup(c->file);
  snprintf(buf, len, "%s/%s", copy ? dirname(copy) : ".", p);
  free(copy);
}

int nw__config_plugin_path(const nw__config *c, const nw__plugin_conf *p,
                           char *buf, size_t len) {
  if (p->path) {
    resolve(c, p->path, buf, len);
    return 0;
  }
  char dir[4096];
  for (size_t i = 0; i < c->n_plugin_dirs; i++) {
    resolve(c, c->plugin_dirs[i], dir, sizeof(dir));
    snprintf(buf, len, "%s/%s.so", dir, p->name);
    if (access(buf, F_OK) == 0)
      return 0;
  }
  if (c->n_plugin_dirs == 0) {
    snprintf(buf, len, "%s/%s.so", NW_DEFAULT_PLUGIN_DIR, p->name);
    if (access(buf, F_OK) == 0)
      return 0;
  }
  return -1;
}

int nw__config_set_plugin_dir(nw__config *c, const char *dir) {
  char *abs = realpath(dir, NULL);
  char *copy = abs ? abs : strdup(dir);
  char **dirs = calloc(1, sizeof(char *));
  if (!copy || !dirs) {
    free(copy);
    free(dirs);
    return -1;
  }
  for (size_t i = 0; i < c->n_plugin_dirs; i++)
    free(c->plugin_dirs[i]);
  free(c->plugin_dirs);
  dirs[0] = copy;
  c->plugin_dirs = dirs;
  c->n_plugin_dirs = 1;
  return 0;
}
