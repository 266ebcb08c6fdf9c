/* Disruption budgets, cron schedules and durations (core/disruption/budget). */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "disruption/budget.h"
#include "util/arena.h"
#include "nwtest.h"

/* Unix ms of a UTC date-time. */
static int64_t at(int y, int mo, int d, int h, int mi) {
  struct tm tm = {.tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d,
                  .tm_hour = h, .tm_min = mi};
  return (int64_t)timegm(&tm) * 1000;
}

static json_t *parse(const char *text) {
  json_error_t e;
  json_t *j = json_loads(text, 0, &e);
  CU_ASSERT_PTR_NOT_NULL_FATAL(j);
  return j;
}

static void test_reasons(void) {
  CU_ASSERT_EQUAL(nw__reason_parse("Empty"), NW__REASON_EMPTY);
  CU_ASSERT_EQUAL(nw__reason_parse("Underutilized"), NW__REASON_UNDERUTILIZED);
  CU_ASSERT_EQUAL(nw__reason_parse("Drifted"), NW__REASON_DRIFTED);
  CU_ASSERT_EQUAL(nw__reason_parse("empty"), 0);
  CU_ASSERT_STRING_EQUAL(nw__reason_name(NW__REASON_DRIFTED), "Drifted");
}

static void test_cron_next(void) {
  nw__cron c;
  nw_error err;
  /* Weekdays at 09:00. 2026-11-27 is a Friday. */
  CU_ASSERT_EQUAL_FATAL(nw__cron_parse("0 9 * * mon-fri", &c, "s", &err), 0);
  CU_ASSERT_EQUAL(nw__cron_next(&c, at(2026, 11, 27, 8, 0)),
                  at(2026, 11, 27, 9, 0));
  /* Strictly after: at 09:00 exactly, the next hit is Monday. */
  CU_ASSERT_EQUAL(nw__cron_next(&c, at(2026, 11, 27, 9, 0)),
                  at(2026, 11, 30, 9, 0));
  /* Steps and lists. */
  CU_ASSERT_EQUAL_FATAL(nw__cron_parse("*/15 1,13 * * *", &c, "s", &err), 0);
  CU_ASSERT_EQUAL(nw__cron_next(&c, at(2026, 1, 1, 1, 44)),
                  at(2026, 1, 1, 1, 45));
  CU_ASSERT_EQUAL(nw__cron_next(&c, at(2026, 1, 1, 1, 45)),
                  at(2026, 1, 1, 13, 0));
  /* Month names and wrap to the next year. */
  CU_ASSERT_EQUAL_FATAL(nw__cron_parse("30 2 1 Jan *", &c, "s", &err), 0);
  CU_ASSERT_EQUAL(nw__cron_next(&c, at(2026, 6, 1, 0, 0)),
                  at(2027, 1, 1, 2, 30));
  /* Day-of-month and day-of-week both restricted: either matches. */
  CU_ASSERT_EQUAL_FATAL(nw__cron_parse("0 0 13 * 5", &c, "s", &err), 0);
  /* From 2026-11-01 (Sunday): first Friday is Nov 6, before the 13th. */
  CU_ASSERT_EQUAL(nw__cron_next(&c, at(2026, 11, 1, 0, 0)),
                  at(2026, 11, 6, 0, 0));
  /* "5/20" is 5-59/20 (robfig/cron); "?" is "*". */
  CU_ASSERT_EQUAL_FATAL(nw__cron_parse("5/20 3 ? * ?", &c, "s", &err), 0);
  CU_ASSERT_EQUAL(nw__cron_next(&c, at(2026, 1, 1, 3, 6)), at(2026, 1, 1, 3, 25));
  CU_ASSERT_EQUAL(nw__cron_next(&c, at(2026, 1, 1, 3, 45)), at(2026, 1, 2, 3, 5));
  /* Names in any case, in lists. */
  CU_ASSERT_EQUAL_FATAL(nw__cron_parse("0 12 * DEC,jan Sat,sun", &c, "s", &err), 0);
  CU_ASSERT_EQUAL(nw__cron_next(&c, at(2026, 11, 27, 0, 0)), at(2026, 12, 5, 12, 0));
  CU_ASSERT_EQUAL_FATAL(nw__cron_parse("@monthly", &c, "s", &err), 0);
  CU_ASSERT_EQUAL(nw__cron_next(&c, at(2026, 11, 27, 0, 0)), at(2026, 12, 1, 0, 0));
  /* Leap day only. */
  CU_ASSERT_EQUAL_FATAL(nw__cron_parse("0 0 29 2 *", &c, "s", &err), 0);
  CU_ASSERT_EQUAL(nw__cron_next(&c, at(2026, 3, 1, 0, 0)),
                  at(2028, 2, 29, 0, 0));
  /* Impossible date: no hit. */
  CU_ASSERT_EQUAL_FATAL(nw__cron_parse("0 0 30 2 *", &c, "s", &err), 0);
  CU_ASSERT_EQUAL(nw__cron_next(&c, at(2026, 3, 1, 0, 0)), -1);
}

static void test_cron_macros_and_errors(void) {
  nw__cron c;
  nw_error err;
  CU_ASSERT_EQUAL_FATAL(nw__cron_parse("@daily", &c, "s", &err), 0);
  CU_ASSERT_EQUAL(nw__cron_next(&c, at(2026, 5, 5, 10, 0)),
                  at(2026, 5, 6, 0, 0));
  CU_ASSERT_EQUAL_FATAL(nw__cron_parse("@hourly", &c, "s", &err), 0);
  CU_ASSERT_EQUAL(nw__cron_next(&c, at(2026, 5, 5, 10, 1)),
                  at(2026, 5, 5, 11, 0));
  CU_ASSERT_EQUAL_FATAL(nw__cron_parse("@weekly", &c, "s", &err), 0);
  CU_ASSERT_EQUAL(nw__cron_next(&c, at(2026, 11, 27, 0, 0)),
                  at(2026, 11, 29, 0, 0));
  CU_ASSERT_EQUAL_FATAL(nw__cron_parse("@yearly", &c, "s", &err), 0);
  CU_ASSERT_EQUAL(nw__cron_next(&c, at(2026, 11, 27, 0, 0)),
                  at(2027, 1, 1, 0, 0));
  CU_ASSERT_EQUAL(nw__cron_parse("@every 1h", &c, "budgets[2].schedule", &err), -1);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "budgets[2].schedule"));
  CU_ASSERT_EQUAL(nw__cron_parse("0 9 * *", &c, "s", &err), -1);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "5 fields"));
  CU_ASSERT_EQUAL(nw__cron_parse("61 * * * *", &c, "s", &err), -1);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "minute"));
  CU_ASSERT_EQUAL(nw__cron_parse("0 0 * * fri-mon", &c, "s", &err), -1);
  CU_ASSERT_EQUAL(nw__cron_parse("0 0 * foo *", &c, "s", &err), -1);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "month"));
  CU_ASSERT_EQUAL(nw__cron_parse("*/0 * * * *", &c, "s", &err), -1);
}

/* A NodePool (decoded by core/model, as the controller gets it) whose
 * spec.disruption.budgets is the given JSON, or absent when NULL. */
static nw__nodepool *pool_with(const char *budgets, nw_arena *arena,
                               nw_error *err) {
  char text[2048];
  snprintf(text, sizeof(text),
           "{\"metadata\":{\"name\":\"np\"},\"spec\":{\"template\":{\"spec\":{"
           "\"nodeClassRef\":{\"group\":\"g\",\"kind\":\"K\",\"name\":\"n\"},"
           "\"requirements\":[]}},\"disruption\":{%s%s}}}",
           budgets ? "\"budgets\":" : "", budgets ? budgets : "");
  json_t *j = parse(text);
  nw__nodepool *np = nw__nodepool_decode(j, arena, err);
  json_decref(j);
  return np;
}

static int allowed(const char *budgets, int reason, int64_t now, int nodes,
                   int disrupting) {
  nw_arena *a = nw__arena_new();
  nw_error err;
  nw__nodepool *np = pool_with(budgets, a, &err);
  int out = -42;
  int rc = -1;
  CU_ASSERT_PTR_NOT_NULL(np);
  if (np != NULL)
    rc = nw__budgets_allowed(np, (nw__disruption_reason)reason, now, nodes,
                             disrupting, &out, &err);
  nw__arena_free(a);
  return rc == 0 ? out : -1;
}

static void test_budget_counts_and_percentages(void) {
  int64_t now = at(2026, 11, 27, 12, 0);
  /* Default: 10%, rounded up. */
  CU_ASSERT_EQUAL(allowed(NULL, NW__REASON_EMPTY, now, 10, 0), 1);
  CU_ASSERT_EQUAL(allowed(NULL, NW__REASON_EMPTY, now, 11, 0), 2);
  CU_ASSERT_EQUAL(allowed(NULL, NW__REASON_EMPTY, now, 0, 0), 0);
  CU_ASSERT_EQUAL(allowed("[{\"nodes\":\"5%\"}]", NW__REASON_EMPTY, now, 10, 0), 1);
  CU_ASSERT_EQUAL(allowed("[{\"nodes\":\"50%\"}]", NW__REASON_EMPTY, now, 7, 0), 4);
  CU_ASSERT_EQUAL(allowed("[{\"nodes\":\"100%\"}]", NW__REASON_EMPTY, now, 7, 0), 7);
  CU_ASSERT_EQUAL(allowed("[{\"nodes\":\"3\"}]", NW__REASON_EMPTY, now, 100, 0), 3);
  CU_ASSERT_EQUAL(allowed("[{\"nodes\":\"0\"}]", NW__REASON_EMPTY, now, 100, 0), 0);
  /* The minimum of the active budgets. */
  CU_ASSERT_EQUAL(allowed("[{\"nodes\":\"3\"},{\"nodes\":\"20%\"}]",
                          NW__REASON_EMPTY, now, 10, 0), 2);
  /* No budgets at all: no limit. */
  CU_ASSERT_EQUAL(allowed("[]", NW__REASON_EMPTY, now, 10, 0), INT32_MAX);
  /* Nodes already disrupting count against it, never below 0. */
  CU_ASSERT_EQUAL(allowed("[{\"nodes\":\"3\"}]", NW__REASON_EMPTY, now, 10, 2), 1);
  CU_ASSERT_EQUAL(allowed("[{\"nodes\":\"3\"}]", NW__REASON_EMPTY, now, 10, 5), 0);
}

static void test_budget_reasons(void) {
  int64_t now = at(2026, 11, 27, 12, 0);
  const char *b = "[{\"nodes\":\"0\",\"reasons\":[\"Drifted\",\"Underutilized\"]},"
                  "{\"nodes\":\"5\"}]";
  CU_ASSERT_EQUAL(allowed(b, NW__REASON_DRIFTED, now, 10, 0), 0);
  CU_ASSERT_EQUAL(allowed(b, NW__REASON_UNDERUTILIZED, now, 10, 0), 0);
  CU_ASSERT_EQUAL(allowed(b, NW__REASON_EMPTY, now, 10, 0), 5);
  /* A budget for one reason only: other reasons are unlimited. */
  CU_ASSERT_EQUAL(allowed("[{\"nodes\":\"1\",\"reasons\":[\"Empty\"]}]",
                          NW__REASON_DRIFTED, now, 10, 0), INT32_MAX);
}

static void test_budget_schedule_window(void) {
  /* No disruption on weekdays 09:00-17:00 UTC, 10 nodes otherwise. */
  const char *b = "[{\"nodes\":\"0\",\"schedule\":\"0 9 * * mon-fri\","
                  "\"duration\":\"8h\"},{\"nodes\":\"10\"}]";
  /* Friday 2026-11-27. */
  CU_ASSERT_EQUAL(allowed(b, NW__REASON_EMPTY, at(2026, 11, 27, 8, 59), 50, 0), 10);
  CU_ASSERT_EQUAL(allowed(b, NW__REASON_EMPTY, at(2026, 11, 27, 9, 0), 50, 0), 0);
  CU_ASSERT_EQUAL(allowed(b, NW__REASON_EMPTY, at(2026, 11, 27, 16, 59), 50, 0), 0);
  /* The window is [hit, hit + duration): Karpenter asks whether the next
   * hit after now - duration is <= now, and at 17:00 that is Monday. */
  CU_ASSERT_EQUAL(allowed(b, NW__REASON_EMPTY, at(2026, 11, 27, 17, 0), 50, 0), 10);
  /* Saturday: window never opened. */
  CU_ASSERT_EQUAL(allowed(b, NW__REASON_EMPTY, at(2026, 11, 28, 12, 0), 50, 0), 10);
  /* A window that spans midnight. */
  const char *night = "[{\"nodes\":\"50%\",\"schedule\":\"@daily\","
                      "\"duration\":\"2h\"},{\"nodes\":\"1\",\"schedule\":\"0 22 * * *\","
                      "\"duration\":\"4h\"}]";
  CU_ASSERT_EQUAL(allowed(night, NW__REASON_EMPTY, at(2026, 11, 28, 1, 0), 10, 0), 1);
  CU_ASSERT_EQUAL(allowed(night, NW__REASON_EMPTY, at(2026, 11, 28, 2, 30), 10, 0), INT32_MAX);
  CU_ASSERT_EQUAL(allowed(night, NW__REASON_EMPTY, at(2026, 11, 28, 23, 0), 10, 0), 1);
}

static void test_budget_errors_fail_closed(void) {
  int64_t now = at(2026, 11, 27, 12, 0);
  const char *bad[][2] = {
      {"[{\"nodes\":\"ten\"}]", "NodePool np: spec.disruption.budgets[0].nodes"},
      {"[{\"nodes\":\"101%\"}]", "budgets[0].nodes"},
      {"[{\"nodes\":\"1\",\"schedule\":\"0 25 * * *\",\"duration\":\"1h\"}]",
       "budgets[0].schedule"},
      {"[{\"nodes\":\"1\",\"schedule\":\"@every 1h\",\"duration\":\"1h\"}]",
       "unknown schedule macro"},
      {"[{\"nodes\":\"1\",\"reasons\":[\"Bored\"]}]",
       "reasons[0]: unknown reason Bored"},
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    nw_arena *a = nw__arena_new();
    nw_error err = {0, ""};
    nw__nodepool *np = pool_with(bad[i][0], a, &err);
    int out = 7;
    CU_ASSERT_PTR_NOT_NULL_FATAL(np);
    CU_ASSERT_EQUAL(nw__budgets_allowed(np, NW__REASON_EMPTY, now, 10, 0, &out,
                                        &err), -1);
    CU_ASSERT_EQUAL(out, 0);
    if (strstr(err.message, bad[i][1]) == NULL)
      fprintf(stderr, "\n  %s: got \"%s\"\n", bad[i][0], err.message);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, bad[i][1]));
    nw__arena_free(a);
  }
}

NW_TEST_CASES({"reasons", test_reasons},
              {"cron_next", test_cron_next},
              {"cron_macros_and_errors", test_cron_macros_and_errors},
              {"budget_counts_and_percentages",
               test_budget_counts_and_percentages},
              {"budget_reasons", test_budget_reasons},
              {"budget_schedule_window", test_budget_schedule_window},
              {"budget_errors_fail_closed", test_budget_errors_fail_closed});
NW_TEST_MAIN("disruption-budget", NULL, NULL);
