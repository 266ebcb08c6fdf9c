/* Go-style durations ("1h30m", "10s", "500ms"), as Kubernetes and
 * Karpenter write them. */
#ifndef NW_UTIL_DURATION_H
#define NW_UTIL_DURATION_H

#include <stdint.h>

/* Parses s into milliseconds.  Units: ns, us, ms, s, m, h, fractions
 * allowed ("1.5h"); "0" alone is zero; "Never" gives -1.  Returns 0, or -1
 * when malformed (negative, no unit, unknown unit, empty). */
int nw__duration_ms(const char *s, int64_t *ms);

#endif
