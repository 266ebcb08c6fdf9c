/*
 * Disruption budgets and cron schedules; see budget.h.
 */
#include "disruption/budget.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static int fail(nw_error *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int fail(nw_error *err, const char *fmt, ...) {
  va_list ap;

  if (err != NULL) {
    err->status = NW_ERR_INVALID;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof(err->message), fmt, ap);
    va_end(ap);
  }
  return -1;
}

int nw__reason_parse(const char *s) {
  if (s == NULL)
    return 0;
  if (strcmp(s, "Empty") == 0)
    return NW__REASON_EMPTY;
  if (strcmp(s, "Underutilized") == 0)
    return NW__REASON_UNDERUTILIZED;
  if (strcmp(s, "Drifted") == 0)
    return NW__REASON_DRIFTED;
  return 0;
}

const char *nw__reason_name(nw__disruption_reason r) {
  switch (r) {
  case NW__REASON_EMPTY:
    return "Empty";
  case NW__REASON_UNDERUTILIZED:
    return "Underutilized";
  case NW__REASON_DRIFTED:
    return "Drifted";
  }
  return "?";
}

/* ---- cron ---------------------------------------------------------- */

typedef struct cron_field {
  const char *name;
  int min;
  int max;
  const char *const *names; /* names[i] stands for min + i */
} cron_field;

static const char *const month_names[] = {"jan", "feb", "mar", "apr",
                                          "may", "jun", "jul", "aug",
                                          "sep", "oct", "nov", "dec", NULL};
static const char *const dow_names[] = {"sun", "mon", "tue", "wed",
                                        "thu", "fri", "sat", NULL};

static const cron_field cron_fields[5] = {
    {"minute", 0, 59, NULL},
    {"hour", 0, 23, NULL},
    {"day of month", 1, 31, NULL},
    {"month", 1, 12, month_names},
    {"day of week", 0, 6, dow_names},
};

/* A number or a name at *p; advances *p.  -1 when neither. */
static int cron_value(const char **p, const cron_field *f) {
  char *end;
  long v;

  if (isdigit((unsigned char)**p)) {
    v = strtol(*p, &end, 10);
    *p = end;
    return v > INT_MAX ? -1 : (int)v;
  }
  for (int i = 0; f->names != NULL && f->names[i] != NULL; i++) {
    if (strncasecmp(*p, f->names[i], 3) == 0 &&
        !isalpha((unsigned char)(*p)[3])) {
      *p += 3;
      return f->min + i;
    }
  }
  return -1;
}

/* One comma-separated item: *, ?, a, a-b, each optionally /step. */
static int cron_item(const char *item, const cron_field *f, uint64_t *bits,
                     int *star) {
  const char *p = item;
  int lo = f->min, hi = f->max, step = 1;

  if (*p == '*' || *p == '?') {
    *star = 1;
    p++;
  } else {
    lo = cron_value(&p, f);
    if (lo < 0)
      return -1;
    hi = lo;
    if (*p == '-') {
      p++;
      hi = cron_value(&p, f);
      if (hi < 0)
        return -1;
    }
  }
  if (*p == '/') {
    char *end;
    long s;
    p++;
    s = strtol(p, &end, 10);
    if (end == p || s <= 0 || s > f->max)
      return -1;
    step = (int)s;
    p = end;
    /* "5/15" means 5-max/15, as robfig/cron reads it. */
    if (hi == lo && !*star && item[0] != '*')
      hi = f->max;
  }
  if (*p != '\0' || lo < f->min || hi > f->max || lo > hi)
    return -1;
  for (int v = lo; v <= hi; v += step)
    *bits |= (uint64_t)1 << v;
  return 0;
}

static int cron_field_parse(const char *text, const cron_field *f,
                            uint64_t *bits, int *star) {
  char buf[128];
  char *save = NULL;

  if (strlen(text) >= sizeof(buf))
    return -1;
  memcpy(buf, text, strlen(text) + 1);
  *bits = 0;
  *star = 0;
  for (char *item = strtok_r(buf, ",", &save); item != NULL;
       item = strtok_r(NULL, ",", &save)) {
    int item_star = 0;
    if (cron_item(item, f, bits, &item_star) != 0)
      return -1;
    *star |= item_star;
  }
  return *bits != 0 ? 0 : -1;
}

static const struct {
  const char *macro;
  const char *expr;
} cron_macros[] = {
    {"@yearly", "0 0 1 1 *"}, {"@annually", "0 0 1 1 *"},
    {"@monthly", "0 0 1 * *"}, {"@weekly", "0 0 * * 0"},
    {"@daily", "0 0 * * *"},   {"@midnight", "0 0 * * *"},
    {"@hourly", "0 * * * *"},
};

int nw__cron_parse(const char *s, nw__cron *out, const char *where,
                   nw_error *err) {
  char buf[256];
  char *fields[6];
  char *save = NULL;
  int n = 0;
  uint64_t bits[5];
  int star[5];

  if (s == NULL)
    return fail(err, "%s: missing schedule", where);
  for (size_t i = 0; i < sizeof(cron_macros) / sizeof(cron_macros[0]); i++) {
    if (strcmp(s, cron_macros[i].macro) == 0)
      s = cron_macros[i].expr;
  }
  if (s[0] == '@')
    return fail(err, "%s: unknown schedule macro \"%s\" (allowed: @yearly, "
                "@annually, @monthly, @weekly, @daily, @midnight, @hourly)",
                where, s);
  if (strlen(s) >= sizeof(buf))
    return fail(err, "%s: schedule too long", where);
  memcpy(buf, s, strlen(s) + 1);
  for (char *f = strtok_r(buf, " \t", &save); f != NULL && n < 6;
       f = strtok_r(NULL, " \t", &save))
    fields[n++] = f;
  if (n != 5)
    return fail(err, "%s: schedule \"%s\" must have 5 fields (minute hour "
                "day-of-month month day-of-week), has %d", where, s, n);
  for (int i = 0; i < 5; i++) {
    if (cron_field_parse(fields[i], &cron_fields[i], &bits[i], &star[i]) != 0)
      return fail(err, "%s: schedule \"%s\": invalid %s field \"%s\" "
                  "(range %d-%d)", where, s, cron_fields[i].name, fields[i],
                  cron_fields[i].min, cron_fields[i].max);
  }
  out->minute = bits[0];
  out->hour = (uint32_t)bits[1];
  out->dom = (uint32_t)bits[2];
  out->month = (uint16_t)bits[3];
  out->dow = (uint8_t)bits[4];
  out->dom_star = (uint8_t)star[2];
  out->dow_star = (uint8_t)star[4];
  return 0;
}

/* robfig/cron (and Vixie cron): when either day field is '*' both must
 * match, otherwise either may. */
static int day_matches(const nw__cron *c, const struct tm *t) {
  int dom = (c->dom >> t->tm_mday) & 1;
  int dow = (c->dow >> t->tm_wday) & 1;

  if (c->dom_star || c->dow_star)
    return dom && dow;
  return dom || dow;
}

int64_t nw__cron_next(const nw__cron *c, int64_t after_ms) {
  /* Start at the next whole minute strictly after `after`. */
  time_t t = (time_t)(after_ms >= 0 ? after_ms / 1000 : (after_ms - 999) / 1000);
  time_t limit;
  struct tm tm;

  t = t - (t % 60 + 60) % 60 + 60;
  limit = t + (time_t)5 * 366 * 24 * 3600;
  gmtime_r(&t, &tm);
  while (t <= limit) {
    if (!((c->month >> (tm.tm_mon + 1)) & 1)) {
      tm.tm_mon++;
      tm.tm_mday = 1;
      tm.tm_hour = 0;
      tm.tm_min = 0;
    } else if (!day_matches(c, &tm)) {
      tm.tm_mday++;
      tm.tm_hour = 0;
      tm.tm_min = 0;
    } else if (!((c->hour >> tm.tm_hour) & 1)) {
      tm.tm_hour++;
      tm.tm_min = 0;
    } else if (!((c->minute >> tm.tm_min) & 1)) {
      tm.tm_min++;
    } else {
      return (int64_t)t * 1000;
    }
    tm.tm_sec = 0;
    t = timegm(&tm);
    gmtime_r(&t, &tm); /* normalise the carried fields */
  }
  return -1;
}

/* ---- budgets ------------------------------------------------------- */

/* "10", "10%", "100%": Karpenter's pattern ^((100|[0-9]{1,2})%|[0-9]+)$. */
static int budget_nodes(const char *s, int num_nodes, int *out) {
  size_t len = s != NULL ? strlen(s) : 0;
  long v;
  char *end;

  if (len == 0 || !isdigit((unsigned char)s[0]))
    return -1;
  errno = 0;
  v = strtol(s, &end, 10);
  if (errno != 0 || v > INT_MAX)
    return -1;
  if (*end == '\0') {
    *out = (int)v;
    return 0;
  }
  if (strcmp(end, "%") != 0 || len > 4 || v > 100)
    return -1;
  /* Rounded up, as Kubernetes does for maxUnavailable: 5% of 10 nodes is
   * one node, not none. */
  *out = (int)((v * (long)num_nodes + 99) / 100);
  return 0;
}

/* Whether the budget applies to `reason` (no reasons: every reason). */
static int budget_applies(const nw__nodepool *pool, const nw__budget *b,
                          nw__disruption_reason reason, size_t i,
                          nw_error *err) {
  if (b->n_reasons == 0)
    return 1;
  for (size_t k = 0; k < b->n_reasons; k++) {
    int parsed = nw__reason_parse(b->reasons[k]);
    if (parsed == 0)
      return fail(err, "NodePool %s: spec.disruption.budgets[%zu].reasons[%zu]: "
                  "unknown reason %s (allowed: Empty, Underutilized, Drifted)",
                  pool->name, i, k, b->reasons[k]);
    if (parsed == (int)reason)
      return 1;
  }
  return 0;
}

/* Whether the budget's window is open now: the last schedule hit is at
 * most `duration` ago.  Karpenter: Next(now - duration) <= now. */
static int budget_active(const nw__nodepool *pool, const nw__budget *b,
                         int64_t now_ms, size_t i, nw_error *err) {
  char where[160];
  nw__cron cron;
  int64_t next;

  if (b->schedule == NULL && b->duration_s <= 0)
    return 1;
  if (b->schedule == NULL || b->duration_s <= 0)
    return fail(err, "NodePool %s: spec.disruption.budgets[%zu]: 'schedule' "
                "must be set with a positive 'duration'", pool->name, i);
  snprintf(where, sizeof(where), "NodePool %s: spec.disruption.budgets[%zu]"
           ".schedule", pool->name, i);
  if (nw__cron_parse(b->schedule, &cron, where, err) != 0)
    return -1;
  next = nw__cron_next(&cron, now_ms - b->duration_s * 1000);
  return next >= 0 && next <= now_ms;
}

static int budget_limit(const nw__nodepool *pool, const nw__budget *b,
                        nw__disruption_reason reason, int64_t now_ms,
                        int num_nodes, size_t i, int *limit, nw_error *err) {
  const char *text = b->nodes != NULL ? b->nodes : "10%";
  int applies, active;

  *limit = INT32_MAX;
  applies = budget_applies(pool, b, reason, i, err);
  if (applies <= 0)
    return applies;
  active = budget_active(pool, b, now_ms, i, err);
  if (active <= 0)
    return active;
  if (budget_nodes(text, num_nodes, limit) != 0)
    return fail(err, "NodePool %s: spec.disruption.budgets[%zu].nodes: \"%s\" "
                "is neither a count nor a percentage (0%%-100%%)", pool->name,
                i, text);
  return 0;
}

int nw__budgets_allowed(const nw__nodepool *pool, nw__disruption_reason reason,
                        int64_t now_ms, int num_nodes, int disrupting,
                        int *allowed, nw_error *err) {
  int min = INT32_MAX;

  *allowed = 0;
  for (size_t i = 0; i < pool->n_budgets; i++) {
    int limit;
    if (budget_limit(pool, &pool->budgets[i], reason, now_ms, num_nodes, i,
                     &limit, err) != 0)
      return -1;
    if (limit < min)
      min = limit;
  }
  if (min == INT32_MAX) {
    *allowed = INT32_MAX;
    return 0;
  }
  *allowed = min - disrupting > 0 ? min - disrupting : 0;
  return 0;
}
