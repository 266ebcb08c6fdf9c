/*
 * Loads a scheduling fixture (a `kubectl get -o json` List of NodePools,
 * Nodes, Pods, DaemonSets, PVs, PVCs and StorageClasses) into a
 * scheduler input.  Pods with spec.nodeName are bound to their node; the
 * others are pending.  Every pool gets the same catalog.
 */
#ifndef NW_TESTS_SCHEDULING_FIXTURE_H
#define NW_TESTS_SCHEDULING_FIXTURE_H

#include "catalog/catalog.h"
#include "scheduling/scheduler.h"

typedef struct fixture {
  nw_arena *a;
  nw__catalog *catalog;
  nw__sched_input in;
  const nw__pod **pending;
  size_t n_pending;
} fixture;

/* catalog: "diverse:<n>" or "aws".  Returns 0 or -1 (message printed). */
int fixture_load(fixture *f, const char *name, const char *catalog);
void fixture_free(fixture *f);

/* Index of the pending pod called `name`, or (size_t)-1. */
size_t fixture_pod(const fixture *f, const char *name);
/* Value of requirement `key` In [v] when it has exactly one value. */
const char *claim_single(const nw__sched_claim *c, const char *key);
/* Whether an instance type's requirements put `key` in [value]. */
const char *type_label(const nw_instance_type *it, const char *key);

#endif
