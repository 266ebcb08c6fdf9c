/*
 * The daemon's configuration file (YAML).  Loading validates everything —
 * unknown keys, wrong types, missing required keys — and reports the first
 * problem as "file:line:column: what", before the daemon has any side
 * effect.  See configs/nodewright.yaml for every key with comments.
 */
#ifndef NW_CONFIG_CONFIG_H
#define NW_CONFIG_CONFIG_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "util/log.h"

typedef struct nw__plugin_conf {
  char *name;      /* plugin file stem: <dir>/<name>.so */
  char *path;      /* explicit path, or NULL to search plugin dirs */
  json_t *config;  /* its `config:` subtree, an object (owned) */
  int line;        /* where the entry starts, for messages */
} nw__plugin_conf;

typedef struct nw__config {
  char *file;
  char **plugin_dirs;        /* absolute or relative to the config file */
  size_t n_plugin_dirs;
  nw__plugin_conf *plugins;
  size_t n_plugins;
  /* cluster */
  char *kubeconfig;          /* NULL = in-cluster or $KUBECONFIG */
  char *context;             /* NULL = current-context */
  int in_cluster;
  char *cluster_name;
  /* batching */
  int64_t batch_idle_ms;     /* default 1000 */
  int64_t batch_max_ms;      /* default 10000 */
  /* logging */
  nw_log_level log_level;
  nw__log_format log_format;
  /* metrics and health */
  char *metrics_listen;      /* "host:port"; NULL = disabled */
  /* leader election */
  int leader_election;       /* default on */
  char *lease_namespace;
  char *lease_name;
  /* disruption */
  char *strategy;            /* consolidation strategy plugin name */
  int spot_to_spot;          /* spot-to-spot consolidation, default off */
} nw__config;

/* Loads and validates `path`.  On success *out is owned by the caller
 * (nw__config_free).  On failure returns -1 with the message in err. */
int nw__config_load(const char *path, nw__config **out, char *err,
                    size_t errlen);
void nw__config_free(nw__config *c);

/* Resolves a plugin entry to a file: its path, else the first
 * <dir>/<name>.so that exists.  Writes into buf; returns 0 or -1. */
int nw__config_plugin_path(const nw__config *c, const nw__plugin_conf *p,
                           char *buf, size_t len);

/* Replaces pluginDirs with one directory, resolved against the current
 * directory (a command-line override).  Returns 0, or -1 on OOM. */
int nw__config_set_plugin_dir(nw__config *c, const char *dir);

#endif
