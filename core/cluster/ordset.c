#include "cluster/ordset.h"

#include <stdlib.h>
#include <string.h>

struct nw__ordset {
  json_t *places;   /* every added name -> its place (integer) */
  json_t *members;  /* member name -> null */
  int64_t next;
};

nw__ordset *nw__ordset_new(void) {
  nw__ordset *s = calloc(1, sizeof(*s));
  if (!s)
    return NULL;
  s->places = json_object();
  s->members = json_object();
  if (!s->places || !s->members) {
    nw__ordset_free(s);
    return NULL;
  }
  return s;
}

void nw__ordset_free(nw__ordset *s) {
  if (!s)
    return;
  json_decref(s->places);
  json_decref(s->members);
  free(s);
}

void nw__ordset_put(nw__ordset *s, const char *name, int added, int removed,
                    int member) {
  if (!name)
    return;
  if (removed) {
    json_object_del(s->places, name);
    json_object_del(s->members, name);
    return;
  }
  if (added || !json_object_get(s->places, name))
    json_object_set_new(s->places, name, json_integer(s->next++));
  if (member)
    json_object_set_new(s->members, name, json_null());
  else
    json_object_del(s->members, name);
}

int nw__ordset_has(const nw__ordset *s, const char *name) {
  return name && json_object_get(s->members, name) != NULL;
}

size_t nw__ordset_count(const nw__ordset *s) {
  return json_object_size(s->members);
}

int64_t nw__ordset_place(const nw__ordset *s, const char *name) {
  const json_t *p = name ? json_object_get(s->places, name) : NULL;
  return p ? (int64_t)json_integer_value(p) : -1;
}

typedef struct placed {
  int64_t place;
  const char *name;
} placed;

static int placed_cmp(const void *a, const void *b) {
  const placed *x = a, *y = b;
  return x->place < y->place ? -1 : (x->place > y->place ? 1 : 0);
}

/* Appends name when it has a place after `after` and is not listed yet
 * (a name both a member and in `extra`). */
static void add_placed(const nw__ordset *s, placed *out, size_t *n,
                       int64_t after, const char *name, int check_member) {
  int64_t p = nw__ordset_place(s, name);
  if (p < 0 || p <= after)
    return;
  if (check_member && nw__ordset_has(s, name))
    return;
  out[(*n)++] = (placed){p, name};
}

char **nw__ordset_list(const nw__ordset *s, int64_t after, const json_t *extra) {
  size_t cap = json_object_size(s->members) + json_object_size(extra);
  placed *tmp = malloc((cap ? cap : 1) * sizeof(*tmp));
  size_t n = 0;
  const char *name;
  json_t *v;
  json_object_foreach(s->members, name, v) {
    add_placed(s, tmp, &n, after, name, 0);
  }
  json_object_foreach((json_t *)extra, name, v) {
    add_placed(s, tmp, &n, after, name, 1);
  }
  qsort(tmp, n, sizeof(*tmp), placed_cmp);
  char **out = malloc((n + 1) * sizeof(*out));
  for (size_t i = 0; i < n; i++)
    out[i] = strdup(tmp[i].name);
  out[n] = NULL;
  free(tmp);
  return out;
}

void nw__ordset_list_free(char **names) {
  if (!names)
    return;
  for (char **p = names; *p; p++)
    free(*p);
  free(names);
}
