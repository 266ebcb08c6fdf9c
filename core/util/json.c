#include "util/json.h"

#include <string.h>

json_t *nw__json_at(const json_t *obj, const char *dotted) {
  char key[256];
  const char *p = dotted;
  json_t *cur = (json_t *)obj;
  while (cur && *p) {
    const char *dot = strchr(p, '.');
    size_t n = dot ? (size_t)(dot - p) : strlen(p);
    if (n >= sizeof(key))
      return NULL;
    memcpy(key, p, n);
    key[n] = '\0';
    cur = json_is_object(cur) ? json_object_get(cur, key) : NULL;
    p = dot ? dot + 1 : p + n;
  }
  return cur;
}
