/* Small jansson helpers shared across the daemon. */
#ifndef NW_UTIL_JSON_H
#define NW_UTIL_JSON_H

#include <jansson.h>

/* The value at a dotted path of objects ("spec.template.metadata"), or
 * NULL when a step is missing, not an object, or longer than 255 bytes.
 * Borrowed from obj. */
json_t *nw__json_at(const json_t *obj, const char *dotted);

#endif
