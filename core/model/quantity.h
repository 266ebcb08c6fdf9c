/*
 * Kubernetes resource quantities ("100m", "1.5Gi", "2e3", "128974848")
 * turned into the integers nodewright uses everywhere (see types.h):
 * millicores for cpu, bytes for memory-like resources, whole units for the
 * rest.  The grammar is apimachinery's:
 *   quantity := [sign] digits [. digits] [suffix]
 *   suffix   := Ki | Mi | Gi | Ti | Pi | Ei | n | u | m | "" | k | M | G
 *               | T | P | E | (e|E) [sign] digits
 * Values are rounded up, as Quantity.Value() and MilliValue() do, so a
 * request is never under-counted.
 */
#ifndef NW_MODEL_QUANTITY_H
#define NW_MODEL_QUANTITY_H

#include <stddef.h>
#include <stdint.h>

/*
 * Parses `s` (borrowed, NUL-terminated).  With `milli` non-zero the result
 * is in thousandths (cpu millicores).  Returns 0 and stores *out, or -1
 * with a reason in err (errlen bytes) when `s` is not a quantity or does
 * not fit in int64.
 */
int nw__quantity_parse(const char *s, int milli, int64_t *out, char *err,
                       size_t errlen);

/* Non-zero when the resource `name` is counted in millis (only "cpu"). */
int nw__resource_is_milli(const char *name);

/*
 * Formats an amount of resource `name` the way kubectl prints it ("1500m",
 * "2Gi", "4") into buf (len bytes); returns buf.
 */
char *nw__quantity_format(const char *name, int64_t v, char *buf, size_t len);

#endif
