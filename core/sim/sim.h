/*
 * `nodewright simulate`: runs the daemon's controllers (provisioning,
 * lifecycle, termination, disruption) with the scheduling core and the
 * pricing and consolidation-strategy plugins against an in-memory cluster
 * on a virtual clock (sim/venv.h), in a simulated world (sim/world.h)
 * described by a scenario (sim/scenario.h).  See docs/simulate.md.
 */
#ifndef NW_SIM_SIM_H
#define NW_SIM_SIM_H

#include <jansson.h>
#include <stddef.h>

#include "sim/scenario.h"

typedef struct nw__sim_opts {
  const char *plugin_dir;      /* NULL: next to the executable, else the
                                  installed plugin directory */
  int progress;                /* draw a progress bar on stderr */
} nw__sim_opts;

/*
 * Runs scenario `sc` (borrowed) to its end.  Returns the report (a new
 * reference; the shape nw__world_report documents), or NULL with a
 * message in err (a plugin that does not load, a bad catalog, ...).
 * Deterministic: the same scenario and seed give the same report.
 */
json_t *nw__sim_run(const nw__scenario *sc, const nw__sim_opts *opts,
                    char *err, size_t errlen);

#endif
