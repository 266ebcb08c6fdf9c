/*
 * A subset of one kind's objects (by name) that a controller must look at
 * again, listed in the store's iteration order.
 *
 * Controllers that used to walk every object of a kind on each pass keep
 * the few that still need work here instead, maintained from the store's
 * watch.  Listing them in the order nw__store_foreach would have visited
 * them keeps the controllers' writes, and so the simulator, in the same
 * deterministic order as the walk they replace.
 *
 * The set numbers every object it is told was added (nw__ordset_put with
 * added set), in the order the additions are reported; the store reports
 * them in insertion order and keeps a replaced object at its place, which
 * is the order nw__store_foreach visits.  Seed it with one
 * nw__store_foreach at creation, then feed it every change.
 *
 * Single-threaded, like the store.
 */
#ifndef NW_CLUSTER_ORDSET_H
#define NW_CLUSTER_ORDSET_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

typedef struct nw__ordset nw__ordset;

/* An empty set; free with nw__ordset_free.  NULL when out of memory. */
nw__ordset *nw__ordset_new(void);
void nw__ordset_free(nw__ordset *s);

/*
 * Records a change of the object `name` (borrowed for the call): `added`
 * when the store did not hold it before, `removed` when it is gone (it
 * then leaves the set and its place is forgotten), else `member` says
 * whether it belongs in the set now.
 */
void nw__ordset_put(nw__ordset *s, const char *name, int added, int removed,
                    int member);

/* Non-zero when name is in the set. */
int nw__ordset_has(const nw__ordset *s, const char *name);
size_t nw__ordset_count(const nw__ordset *s);

/* The object's place in the store's order, or -1 for a name never added. */
int64_t nw__ordset_place(const nw__ordset *s, const char *name);

/*
 * The members whose place is after `after` (-1: all), in store order:
 * a NULL-terminated array of names the caller frees with
 * nw__ordset_list_free (names and array are owned by the caller, so the
 * set may change while the caller walks them).  `extra` (may be NULL) is
 * a JSON object whose keys are more names to list in their place (names
 * the set never saw added are left out).
 */
char **nw__ordset_list(const nw__ordset *s, int64_t after, const json_t *extra);
void nw__ordset_list_free(char **names);

#endif
