/*
 * A simulation scenario: the YAML file `nodewright simulate --scenario`
 * reads (docs/simulate.md describes every field).
 *
 * Parsed with the position-aware YAML tree (config/yaml.h): every error is
 * "file:line:column: what", unknown fields are rejected, and Kubernetes
 * manifests (NodePools, node classes, pod specs) are decoded with
 * core/model so a bad manifest is named as precisely as the daemon would.
 */
#ifndef NW_SIM_SCENARIO_H
#define NW_SIM_SCENARIO_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include <nodewright/types.h>

/* A value that changes over time: a step (or linear) curve. */
typedef struct nw__sim_point {
  int64_t at_ms;               /* from the start of the run */
  double value;
} nw__sim_point;

typedef struct nw__sim_curve {
  size_t len;
  nw__sim_point *items;        /* sorted by at_ms */
  int linear;                  /* interpolate between points */
} nw__sim_curve;

/* The value at t: before the first point 0; after the last, the last. */
double nw__sim_curve_at(const nw__sim_curve *c, int64_t t_ms);

/* The Horizontal Pod Autoscaler model (autoscaling/v2 semantics). */
typedef struct nw__sim_hpa {
  int32_t min_replicas;
  int32_t max_replicas;
  double target_utilization;   /* percent of the CPU request */
  double pod_capacity_rps;     /* load one pod serves at 100% CPU */
  int64_t scale_up_window_ms;  /* stabilisation; default 0 */
  int64_t scale_down_window_ms;/* default 300 s */
  int64_t sync_ms;             /* default 15 s */
  double tolerance;            /* default 0.1 */
} nw__sim_hpa;

typedef struct nw__sim_workload {
  const char *name;
  const char *namespace_;
  json_t *pod_template;        /* {"metadata":{...},"spec":{...}} */
  int32_t replicas;            /* fixed replicas (no schedule, no HPA) */
  nw__sim_curve schedule;      /* replicas over time, when len > 0 */
  int has_hpa;
  nw__sim_hpa hpa;
  nw__sim_curve load;          /* req/s, for the HPA */
  json_t *pdb;                 /* a policy/v1 PDB object, or NULL */
  int64_t pod_startup_ms;      /* bound -> Running and Ready */
} nw__sim_workload;

/* A node that exists before the run and that nodewright does not manage
 * (a managed node group). */
typedef struct nw__sim_static_node {
  const char *name;
  const char *instance_type;
  const char *zone;
  const char *capacity_type;
  json_t *labels;              /* object */
  json_t *taints;              /* array of Kubernetes taints */
  int line, column;            /* of its entry, for errors found later */
} nw__sim_static_node;

typedef enum nw__sim_event_kind {
  NW__SIM_SPOT_INTERRUPTION = 0, /* warning, then the instance goes */
  NW__SIM_NODE_FAILURE = 1,      /* the kubelet stops reporting */
  NW__SIM_INSTANCE_STOPPED = 2   /* the cloud stops the instance */
} nw__sim_event_kind;

typedef struct nw__sim_event {
  int64_t at_ms;
  nw__sim_event_kind kind;
  const char *node;            /* a node name, or NULL: pick by selector */
  json_t *selector;            /* labels the node must have, or NULL */
  int32_t count;               /* nodes to hit (default 1) */
  int line, column;
} nw__sim_event;

typedef enum nw__sim_catalog_kind {
  NW__SIM_CATALOG_AWS = 0,     /* the shipped us-east-1 catalog or `path` */
  NW__SIM_CATALOG_SYNTHETIC = 1
} nw__sim_catalog_kind;

/* A plugin to load: file and its config subtree as JSON text. */
typedef struct nw__sim_plugin {
  const char *path;
  char *config_json;           /* owned */
} nw__sim_plugin;

typedef struct nw__scenario {
  nw_arena *arena;             /* owns the strings and arrays below */
  const char *file;
  const char *name;
  int64_t start_ms;            /* virtual Unix time of t = 0 */
  int64_t duration_ms;
  uint64_t seed;
  int64_t sample_ms;           /* report resolution (default 60 s) */

  nw__sim_catalog_kind catalog;
  const char *catalog_path;    /* NULL = the shipped AWS catalog */
  size_t synthetic_types;

  int64_t boot_ms;             /* launch -> Node registered and Ready */
  int64_t launch_api_ms;       /* the provider's create call */
  int64_t interruption_notice_ms; /* spot warning -> instance gone (2 min) */
  int64_t batch_idle_ms;
  int64_t batch_max_ms;

  const char *strategy;        /* consolidation strategy plugin name */
  size_t n_plugins;            /* pricing, strategy, provider plugins */
  nw__sim_plugin *plugins;

  json_t *nodepools;           /* array of NodePool objects */
  json_t *nodeclasses;         /* array of node class objects */
  json_t *daemonsets;          /* array of apps/v1 DaemonSet objects */

  size_t n_static_nodes;
  nw__sim_static_node *static_nodes;
  size_t n_workloads;
  nw__sim_workload *workloads;
  size_t n_events;
  nw__sim_event *events;
} nw__scenario;

/*
 * Reads and validates a scenario file.  Returns the scenario (freed with
 * nw__scenario_free), or NULL with "file:line:column: what" in err.
 */
nw__scenario *nw__scenario_load(const char *path, char *err, size_t errlen);
/* The same from text; `file` names it in messages. */
nw__scenario *nw__scenario_parse(const char *file, const char *text,
                                 size_t len, char *err, size_t errlen);
void nw__scenario_free(nw__scenario *s);

#endif
