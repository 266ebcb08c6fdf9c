/*
 * A process-wide metrics registry rendered in the Prometheus text format.
 * Thread-safe: plugins and worker threads update it while the HTTP
 * endpoint renders it.
 */
#ifndef NW_METRICS_METRICS_H
#define NW_METRICS_METRICS_H

#include <stddef.h>

typedef enum nw__metric_type {
  NW__METRIC_COUNTER = 0,
  NW__METRIC_GAUGE = 1,
  NW__METRIC_SUMMARY = 2 /* observe(): exported as _sum and _count */
} nw__metric_type;

/* Names and labels are copied.  `name` gets the "nodewright_" prefix when
 * it lacks it; `labels` is "k=v,k2=v2" or NULL. */
void nw__metric_add(const char *name, const char *labels, double value);
void nw__metric_set(const char *name, const char *labels, double value);
void nw__metric_observe(const char *name, const char *labels, double value);

/* The current value of a counter or gauge (sum for summaries); 0 when the
 * series does not exist.  For tests and the simulator. */
double nw__metric_get(const char *name, const char *labels);

/* Renders every series; the caller frees the returned string. */
char *nw__metrics_render(void);

/* Drops every series (tests, and the simulator between runs). */
void nw__metrics_reset(void);

#endif
