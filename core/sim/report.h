/*
 * Presenting a simulation's results (the JSON nw__world_report returns):
 * the terminal summary and the self-contained HTML report.
 */
#ifndef NW_SIM_REPORT_H
#define NW_SIM_REPORT_H

#include <jansson.h>
#include <stdio.h>

/*
 * The terminal summary: peak and final nodes, cost, pending-time
 * percentiles, cost per hour over time, every decision with its reason.
 * `report` borrowed; `wall_s` is the run's real duration.
 */
void nw__sim_print_summary(FILE *out, const json_t *report, double wall_s);

/*
 * One HTML file with inline SVG charts (nodes by instance type and
 * capacity type, cost per hour, pending pods), the summary and the
 * decisions; no external resources, so it opens offline.  A small inline
 * script measures each chart once the page is laid out and records the
 * number of charts actually drawn in <body data-charts-drawn="N"> (the
 * headless-browser test reads it).  Returns 0, or -1 on a write error.
 */
int nw__sim_write_html(FILE *out, const json_t *report);

#endif
