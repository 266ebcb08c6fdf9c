/*
 * Helpers shared by the kind provider's fixture tests: loading kind.so
 * through the real plugin loader, building claims, and asking the docker
 * CLI (not the plugin) what the Docker Engine holds.
 */
#ifndef NW_TESTS_KIND_UTIL_H
#define NW_TESTS_KIND_UTIL_H

#include <jansson.h>

#include "plugin/loader.h"

/* The image scripts/test-docker builds. */
#define KT_IMAGE "nodewright/node-virtual:test"

/* A loaded kind plugin. */
typedef struct kt_plugin {
  nw__plugin_set *set;
  nw__plugin *p;
  const nw_provider_vtable *vt;
  void *state;
} kt_plugin;

/* Loads kind.so with config_json; hooks may be NULL.  On failure returns
 * -1 and copies the loader's message into err. */
int kt_load(kt_plugin *kp, const char *config_json, const nw__host_hooks *hooks,
            char *err, size_t errlen);
void kt_unload(kt_plugin *kp);

/* A unique cluster name for this process ("nwt-<pid>-<tag>"); static. */
const char *kt_cluster(const char *tag);

/* The plugin config for the test dockerd with cluster and extra members
 * (a JSON fragment starting with ',' or ""); static buffer. */
const char *kt_config(const char *cluster, const char *extra);

/* Runs `docker <args>` against the test socket; returns the exit status.
 * *out (if non-NULL) gets stdout+stderr, caller frees. */
int kt_docker(char **out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* `docker inspect <name>` parsed (the first element); NULL when absent. */
json_t *kt_inspect(const char *name);

/* Removes every container of the cluster (test cleanup). */
void kt_remove_cluster(const char *cluster);

#endif
