/*
 * The scheduler's fast data structures: an intern table (every label key
 * and value becomes a small integer) and requirement sets over interned
 * values with Karpenter's semantics (pkg/scheduling/requirement.go):
 * a requirement is a set of allowed values, or the complement of one,
 * with optional integer bounds.
 *
 *   In [a b]      complement=0 vals={a,b}
 *   NotIn [a]     complement=1 vals={a}
 *   Exists        complement=1 vals={}
 *   DoesNotExist  complement=0 vals={}
 *   Gt 3 / Lt 9   complement=1 vals={} gt=3 / lt=9  (Gte n = Gt n-1, ...)
 *
 * Everything here is internal to core/scheduling.  Arrays are allocated
 * from the arena given to each call and never freed individually.
 */
#ifndef NW_SCHEDULING_REQS_H
#define NW_SCHEDULING_REQS_H

#include <stddef.h>
#include <stdint.h>

#include <nodewright/types.h>

/* ---- intern table ---------------------------------------------------- */

typedef struct nw__strtab {
  char **strs;                 /* in `text`, freed with the table */
  nw_arena *text;
  int64_t *num;                /* integer value of the string, if any */
  uint8_t *is_num;
  uint32_t n, cap;
  uint32_t *slots;             /* open addressing: id + 1, 0 = empty */
  uint32_t *hashes;            /* per id, to skip strcmp on collisions */
  uint32_t nslots;
  /* Direct-mapped memo of recently interned string addresses: catalogs
   * repeat the same key pointers for every instance type. */
  const char *memo_ptr[512];
  uint32_t memo_id[512];
} nw__strtab;

void nw__strtab_init(nw__strtab *t);
void nw__strtab_free(nw__strtab *t);
/* The id of s (borrowed), interning a copy on first sight. */
uint32_t nw__strtab_intern(nw__strtab *t, const char *s);
/* The id of s, or UINT32_MAX when it was never interned. */
uint32_t nw__strtab_find(const nw__strtab *t, const char *s);
static inline const char *nw__strtab_str(const nw__strtab *t, uint32_t id) {
  return t->strs[id];
}

/* ---- scratch memory ---------------------------------------------------- */

/*
 * A bump allocator for the scheduler's hot path: tries that fail must not
 * grow memory.  Allocations come from buf (reset by the caller between
 * tries, used = 0) and fall back to the arena when it is full.
 */
typedef struct nw__bump {
  nw_arena *a;
  char *buf;
  size_t used, cap;
} nw__bump;

/* Zeroed, 8-byte aligned memory from b; never NULL unless OOM. */
void *nw__bump_alloc(nw__bump *b, size_t n);

/* ---- requirements ---------------------------------------------------- */

typedef struct nw__sreq {
  uint32_t key;
  uint8_t complement;
  uint8_t has_gt, has_lt;
  int32_t min_values;
  int64_t gt, lt;
  uint32_t n;
  const uint32_t *vals;        /* sorted ascending, unique */
} nw__sreq;

typedef struct nw__sreqs {
  uint32_t n;
  const nw__sreq *r;           /* sorted by key, one entry per key */
} nw__sreqs;

/* Operator Karpenter would report for r (In, NotIn, Exists, DoesNotExist). */
nw_operator nw__sreq_op(const nw__sreq *r);
int nw__sreq_has(const nw__strtab *t, const nw__sreq *r, uint32_t v);
/* True when no value can satisfy r (other than by absence). */
int nw__sreq_empty(const nw__sreq *r);
/* a AND b (same key). */
nw__sreq nw__sreq_intersect(nw_arena *a, const nw__strtab *t,
                            const nw__sreq *x, const nw__sreq *y);
const nw__sreq *nw__sreqs_get(const nw__sreqs *s, uint32_t key);

/* As nw__sreqs_and, allocating from a bump allocator. */
nw__sreqs nw__sreqs_and_b(nw__bump *b, const nw__strtab *t, nw__sreqs s,
                          nw__sreqs add, int *changed);
/*
 * s AND add.  Returns the new set (may share arrays with the inputs) and
 * sets *changed when anything narrowed.
 */
nw__sreqs nw__sreqs_and(nw_arena *a, const nw__strtab *t, nw__sreqs s,
                        nw__sreqs add, int *changed);

/* One key of Intersects: x and y share a value (or both exclude it). */
int nw__sreq_compatible(const nw__strtab *t, const nw__sreq *x,
                        const nw__sreq *y);
/*
 * Karpenter's Intersects: every key in both must have a common value
 * (NotIn/DoesNotExist on both sides is fine).  Returns 1, or 0 with the
 * failing key in *bad_key.
 */
int nw__sreqs_intersects(const nw__strtab *t, const nw__sreqs *node,
                         const nw__sreqs *pod, uint32_t *bad_key);
/*
 * Karpenter's Compatible: Intersects, and every key the pod requires with
 * In/Exists/Gt/Lt must be defined on the node unless `allow` says the key
 * is well known (allow may be NULL: nothing is allowed undefined).
 */
int nw__sreqs_compatible(const nw__strtab *t, const nw__sreqs *node,
                         const nw__sreqs *pod,
                         int (*allow)(void *ctx, uint32_t key), void *ctx,
                         uint32_t *bad_key);

/* Converts SDK requirements (interning strings) into a sorted set. */
nw__sreqs nw__sreqs_from(nw_arena *a, nw__strtab *t, const nw_requirements *r);
/* "key In [a b]" for messages; into buf, returns buf. */
char *nw__sreq_format(const nw__strtab *t, const nw__sreq *r, char *buf,
                      size_t len);
/* Back to SDK form with strings owned by the arena. */
nw_requirements nw__sreqs_to_sdk(nw_arena *a, const nw__strtab *t,
                                 const nw__sreqs *s);
/* A deep copy in the arena. */
nw__sreqs nw__sreqs_copy(nw_arena *a, const nw__sreqs *s);
/* A single-value In requirement. */
nw__sreq nw__sreq_in1(nw_arena *a, uint32_t key, uint32_t val);

#endif
