#include "util/duration.h"

#include <stdlib.h>
#include <string.h>

/* Unit length and milliseconds per unit at p; 0 length when unknown.
 * Two-letter units are tried first so "ms" is not read as minutes. */
static size_t unit_at(const char *p, double *ms) {
  static const struct {
    const char *u;
    double ms;
  } units[] = {{"ns", 1e-6}, {"us", 1e-3}, {"ms", 1},
               {"h", 3600e3}, {"m", 60e3}, {"s", 1e3}};
  for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
    size_t n = strlen(units[i].u);
    if (strncmp(p, units[i].u, n) == 0) {
      *ms = units[i].ms;
      return n;
    }
  }
  return 0;
}

int nw__duration_ms(const char *s, int64_t *ms) {
  if (!s || !*s)
    return -1;
  if (strcmp(s, "Never") == 0) {
    *ms = -1;
    return 0;
  }
  if (strcmp(s, "0") == 0) {
    *ms = 0;
    return 0;
  }
  double total = 0;
  const char *p = s;
  while (*p) {
    if ((*p < '0' || *p > '9') && *p != '.')
      return -1;
    char *end;
    double v = strtod(p, &end);
    if (end == p)
      return -1;
    double unit;
    size_t n = unit_at(end, &unit);
    if (n == 0)
      return -1;
    total += v * unit;
    p = end + n;
  }
  if (total > 9.0e18)
    return -1;
  *ms = (int64_t)(total + 0.5);
  return 0;
}
