/*
 * NodePool disruption budgets (Karpenter v1 spec.disruption.budgets, as
 * core/model decodes them) and the cron schedules that open their windows.
 * Pure functions of their arguments and the clock value passed in; see
 * docs/disruption.md.  Durations are parsed by core/model
 * (nw__duration_parse).
 */
#ifndef NW_DISRUPTION_BUDGET_H
#define NW_DISRUPTION_BUDGET_H

#include <stddef.h>
#include <stdint.h>

#include <nodewright/types.h>

#include "model/objects.h"

/* Disruption reasons, as budgets name them; usable as a bit set. */
typedef enum nw__disruption_reason {
  NW__REASON_EMPTY = 1,         /* "Empty" */
  NW__REASON_UNDERUTILIZED = 2, /* "Underutilized" */
  NW__REASON_DRIFTED = 4        /* "Drifted" */
} nw__disruption_reason;

/* "Empty", "Underutilized", "Drifted"; 0 when unknown (case-sensitive, as
 * the CRD's enum). */
int nw__reason_parse(const char *s);
const char *nw__reason_name(nw__disruption_reason r);

/* A parsed cron schedule (minute hour day-of-month month day-of-week). */
typedef struct nw__cron {
  uint64_t minute;  /* bit i: minute i matches */
  uint32_t hour;
  uint32_t dom;     /* bits 1..31 */
  uint16_t month;   /* bits 1..12 */
  uint8_t dow;      /* bits 0..6, Sunday = 0 */
  uint8_t dom_star; /* field was '*' or '?': day matching is an AND */
  uint8_t dow_star;
} nw__cron;

/*
 * Parses a standard 5-field cron expression or a macro (@yearly,
 * @annually, @monthly, @weekly, @daily, @midnight, @hourly), as Karpenter
 * (robfig/cron ParseStandard) accepts: numbers, names (jan-dec, sun-sat),
 * ranges, steps, lists, '*' and '?'.  Always UTC.  Returns 0, or -1 with
 * err naming `where`, the field and the text.
 */
int nw__cron_parse(const char *s, nw__cron *out, const char *where,
                   nw_error *err);

/* The first time strictly after after_ms (Unix ms) the schedule fires,
 * in Unix ms; -1 when there is none within 5 years (e.g. "0 0 30 2 *"). */
int64_t nw__cron_next(const nw__cron *c, int64_t after_ms);

/*
 * Allowed disruptions for one pool and one reason, Karpenter's
 * GetAllowedDisruptionsByReason minus what is already disrupting:
 *  - `pool` is the decoded NodePool (borrowed); its budgets are the CRD
 *    default (one of "10%") when spec.disruption.budgets is absent, and no
 *    budget at all (no limit) when it is an empty list;
 *  - a budget applies when it has no `reasons` or lists `reason`, and is
 *    active when it has no schedule or when now_ms lies in a window that
 *    opens at a schedule hit and lasts `duration`;
 *  - `nodes` is a count or a percentage of num_nodes, rounded up;
 *  - the minimum over applicable active budgets wins (no active one: no
 *    limit, INT32_MAX);
 *  - `disrupting` nodes (marked for deletion or NotReady) are subtracted,
 *    never below 0.
 * Returns 0 and *allowed, or -1 with *allowed = 0 and err naming the pool,
 * the budget index and the bad field; the caller must then allow nothing
 * for the pool (fail closed, as Karpenter).
 */
int nw__budgets_allowed(const nw__nodepool *pool, nw__disruption_reason reason,
                        int64_t now_ms, int num_nodes, int disrupting,
                        int *allowed, nw_error *err);

#endif
