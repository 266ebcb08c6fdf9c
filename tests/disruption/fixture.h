/*
 * Built cluster states for the disruption tests: a catalog of c4/c8/c16
 * (4/8/16 cpu at 0.40/0.80/1.60 $/h, on-demand in z1), one NodePool
 * "default" (WhenEmptyOrUnderutilized, consolidateAfter 30s), nodes with
 * 2-cpu pods, their NodeClaims (Initialized an hour before NOW), decoded
 * by core/model as the controller gets them; and the two strategy plugins
 * loaded through the loader.
 */
#ifndef NW_TESTS_DISRUPTION_FIXTURE_H
#define NW_TESTS_DISRUPTION_FIXTURE_H

#include <jansson.h>

#include "disruption/consolidation.h"
#include "plugin/loader.h"

#define NOW "2026-11-27T12:00:00Z"
#define HOUR_AGO "2026-11-27T11:00:00Z"

typedef struct ctype {
  const char *name;
  int cpu;
  double price;
} ctype;

typedef struct tnode {
  const char *name;
  const char *type;
  int n_pods;
  const char *pod_json[8]; /* extra pod fields, "" for plain pods */
  const char *claim_extra; /* extra claim fields, or NULL */
  const char *node_ann;    /* node annotations JSON, or NULL */
} tnode;

typedef struct cluster {
  nw_arena *a;
  json_t *objs; /* keeps every JSON object alive */
  nw__sched_pool pool;
  nw__sched_node nodes[32];
  const json_t *claims[32];
  nw__sched_input in;
  nw__consolidation_state st;
} cluster;

/* The NodePool's spec.disruption.budgets (JSON, NULL = absent), the
 * nodes, and the PDBs (JSON array or NULL). */
void build(cluster *c, const char *budgets, const tnode *nodes, size_t n,
           const char *pdbs);
/* Parses text and keeps it alive with the cluster; returns it borrowed. */
json_t *keep(cluster *c, const char *text);
void teardown_cluster(cluster *c);

extern nw__plugin_set *g_set;
extern nw__plugin *g_default, *g_balanced;
/* CUnit suite setup/teardown: catalog and plugins. */
int setup(void);
int teardown(void);

#endif
