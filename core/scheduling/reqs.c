#include "scheduling/reqs.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/arena.h"

/* ---- intern table ---------------------------------------------------- */

static uint32_t hash_str(const char *s) {
  uint32_t h = 2166136261u;
  for (; *s; s++)
    h = (h ^ (unsigned char)*s) * 16777619u;
  return h;
}

void nw__strtab_init(nw__strtab *t) { memset(t, 0, sizeof(*t)); }

void nw__strtab_free(nw__strtab *t) {
  nw__arena_free(t->text);
  free(t->strs);
  free(t->num);
  free(t->is_num);
  free(t->slots);
  free(t->hashes);
  memset(t, 0, sizeof(*t));
}

static void rehash(nw__strtab *t) {
  uint32_t ns = t->nslots ? t->nslots * 2 : 1024;
  uint32_t *slots = calloc(ns, sizeof(*slots));
  if (!slots)
    abort();
  for (uint32_t i = 0; i < t->n; i++) {
    uint32_t h = t->hashes[i] & (ns - 1);
    while (slots[h])
      h = (h + 1) & (ns - 1);
    slots[h] = i + 1;
  }
  free(t->slots);
  t->slots = slots;
  t->nslots = ns;
}

static uint32_t find_h(const nw__strtab *t, const char *s, uint32_t full) {
  if (!t->nslots)
    return UINT32_MAX;
  uint32_t h = full & (t->nslots - 1);
  while (t->slots[h]) {
    uint32_t id = t->slots[h] - 1;
    if (t->hashes[id] == full && strcmp(t->strs[id], s) == 0)
      return id;
    h = (h + 1) & (t->nslots - 1);
  }
  return UINT32_MAX;
}

uint32_t nw__strtab_find(const nw__strtab *t, const char *s) {
  return find_h(t, s, hash_str(s));
}

uint32_t nw__strtab_intern(nw__strtab *t, const char *s) {
  /* The memo is keyed by address and checked by content, so a reused
   * address with other text simply misses. */
  uint32_t m = (uint32_t)(((uintptr_t)s >> 4) & 511);
  if (t->memo_ptr[m] == s && strcmp(t->strs[t->memo_id[m]], s) == 0)
    return t->memo_id[m];
  uint32_t full = hash_str(s);
  uint32_t id = find_h(t, s, full);
  if (id != UINT32_MAX) {
    t->memo_ptr[m] = s;
    t->memo_id[m] = id;
    return id;
  }
  if ((t->n + 1) * 2 > t->nslots)
    rehash(t);
  if (t->n == t->cap) {
    t->cap = t->cap ? t->cap * 2 : 256;
    t->strs = realloc(t->strs, t->cap * sizeof(*t->strs));
    t->num = realloc(t->num, t->cap * sizeof(*t->num));
    t->is_num = realloc(t->is_num, t->cap * sizeof(*t->is_num));
    t->hashes = realloc(t->hashes, t->cap * sizeof(*t->hashes));
    if (!t->strs || !t->num || !t->is_num || !t->hashes)
      abort();
  }
  /* One arena for the text: a scheduler interns thousands of strings
   * (every node's hostname) and frees them all at once. */
  if (!t->text)
    t->text = nw__arena_new();
  char *copy = t->text ? nw__arena_strdup(t->text, s) : NULL;
  if (!copy)
    abort();
  id = t->n++;
  t->strs[id] = copy;
  char *end;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  t->is_num[id] = *s && !*end && errno == 0;
  t->num[id] = v;
  t->hashes[id] = full;
  t->memo_ptr[m] = s;
  t->memo_id[m] = id;
  uint32_t h = full & (t->nslots - 1);
  while (t->slots[h])
    h = (h + 1) & (t->nslots - 1);
  t->slots[h] = id + 1;
  return id;
}

/* ---- scratch memory ---------------------------------------------------- */

void *nw__bump_alloc(nw__bump *b, size_t n) {
  size_t need = (n + 7) & ~(size_t)7;
  if (b->buf && b->used + need <= b->cap) {
    void *p = b->buf + b->used;
    b->used += need;
    memset(p, 0, need);
    return p;
  }
  return nw__arena_alloc(b->a, n ? n : 1);
}

/* ---- requirements ---------------------------------------------------- */

static int contains(const uint32_t *v, uint32_t n, uint32_t x) {
  uint32_t lo = 0, hi = n;
  while (lo < hi) {
    uint32_t mid = (lo + hi) / 2;
    if (v[mid] < x)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo < n && v[lo] == x;
}

static int within(const nw__strtab *t, const nw__sreq *r, uint32_t v) {
  if (!r->has_gt && !r->has_lt)
    return 1;
  if (!t->is_num[v])
    return 0;
  int64_t x = t->num[v];
  return (!r->has_gt || x > r->gt) && (!r->has_lt || x < r->lt);
}

nw_operator nw__sreq_op(const nw__sreq *r) {
  if (r->complement)
    return r->n == 0 ? NW_OP_EXISTS : NW_OP_NOT_IN;
  return r->n > 0 ? NW_OP_IN : NW_OP_DOES_NOT_EXIST;
}

int nw__sreq_has(const nw__strtab *t, const nw__sreq *r, uint32_t v) {
  int in = contains(r->vals, r->n, v);
  return (r->complement ? !in : in) && within(t, r, v);
}

int nw__sreq_empty(const nw__sreq *r) { return !r->complement && r->n == 0; }

static nw__sreq intersect_b(nw__bump *b, const nw__strtab *t,
                            const nw__sreq *x, const nw__sreq *y);

nw__sreq nw__sreq_intersect(nw_arena *a, const nw__strtab *t,
                            const nw__sreq *x, const nw__sreq *y) {
  nw__bump b = {a, NULL, 0, 0};
  return intersect_b(&b, t, x, y);
}

static nw__sreq intersect_b(nw__bump *b, const nw__strtab *t,
                            const nw__sreq *x, const nw__sreq *y) {
  nw__sreq r = {.key = x->key};
  r.min_values = x->min_values > y->min_values ? x->min_values : y->min_values;
  r.has_gt = x->has_gt || y->has_gt;
  r.has_lt = x->has_lt || y->has_lt;
  r.gt = x->has_gt ? x->gt : y->gt;
  if (x->has_gt && y->has_gt && y->gt > r.gt)
    r.gt = y->gt;
  r.lt = x->has_lt ? x->lt : y->lt;
  if (x->has_lt && y->has_lt && y->lt < r.lt)
    r.lt = y->lt;
  if (r.has_gt && r.has_lt && r.gt >= r.lt) {
    r.has_gt = r.has_lt = 0;
    return r; /* DoesNotExist */
  }
  uint32_t cap = x->n + y->n;
  uint32_t *out = cap ? nw__bump_alloc(b, cap * sizeof(*out)) : NULL;
  uint32_t k = 0;
  r.complement = x->complement && y->complement;
  if (r.complement) {
    /* Union of the excluded values. */
    uint32_t i = 0, j = 0;
    while (i < x->n || j < y->n) {
      uint32_t v;
      if (j >= y->n || (i < x->n && x->vals[i] < y->vals[j]))
        v = x->vals[i++];
      else if (i >= x->n || y->vals[j] < x->vals[i])
        v = y->vals[j++];
      else {
        v = x->vals[i++];
        j++;
      }
      out[k++] = v;
    }
  } else {
    const nw__sreq *set = x->complement ? y : x;
    const nw__sreq *other = x->complement ? x : y;
    for (uint32_t i = 0; i < set->n; i++) {
      uint32_t v = set->vals[i];
      int in = contains(other->vals, other->n, v);
      if ((other->complement ? !in : in) && within(t, &r, v))
        out[k++] = v;
    }
    r.has_gt = r.has_lt = 0;
  }
  /* Reuse an input's array when the result equals it. */
  if (k == x->n && r.complement == x->complement &&
      (k == 0 || memcmp(out, x->vals, k * sizeof(*out)) == 0))
    r.vals = x->vals;
  else if (k == y->n && r.complement == y->complement &&
           (k == 0 || memcmp(out, y->vals, k * sizeof(*out)) == 0))
    r.vals = y->vals;
  else
    r.vals = out;
  r.n = k;
  return r;
}

const nw__sreq *nw__sreqs_get(const nw__sreqs *s, uint32_t key) {
  uint32_t lo = 0, hi = s->n;
  while (lo < hi) {
    uint32_t mid = (lo + hi) / 2;
    if (s->r[mid].key < key)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo < s->n && s->r[lo].key == key ? &s->r[lo] : NULL;
}

static int sreq_equal(const nw__sreq *a, const nw__sreq *b) {
  return a->complement == b->complement && a->n == b->n &&
         a->has_gt == b->has_gt && a->has_lt == b->has_lt &&
         (!a->has_gt || a->gt == b->gt) && (!a->has_lt || a->lt == b->lt) &&
         a->min_values == b->min_values &&
         (a->vals == b->vals ||
          memcmp(a->vals, b->vals, a->n * sizeof(*a->vals)) == 0);
}

/* x is at least as narrow as y (so x AND y == x). */
static int sreq_within(const nw__strtab *t, const nw__sreq *x,
                       const nw__sreq *y) {
  if (y->min_values > x->min_values)
    return 0;
  if (!x->complement) {
    if (x->has_gt || x->has_lt)
      return 0;
    for (uint32_t i = 0; i < x->n; i++)
      if (!nw__sreq_has(t, y, x->vals[i]))
        return 0;
    return 1;
  }
  if (!y->complement)
    return 0;
  if ((y->has_gt && (!x->has_gt || x->gt < y->gt)) ||
      (y->has_lt && (!x->has_lt || x->lt > y->lt)))
    return 0;
  for (uint32_t i = 0; i < y->n; i++)
    if (!contains(x->vals, x->n, y->vals[i]))
      return 0;
  return 1;
}

nw__sreqs nw__sreqs_and(nw_arena *a, const nw__strtab *t, nw__sreqs s,
                        nw__sreqs add, int *changed) {
  nw__bump b = {a, NULL, 0, 0};
  return nw__sreqs_and_b(&b, t, s, add, changed);
}

nw__sreqs nw__sreqs_and_b(nw__bump *b, const nw__strtab *t, nw__sreqs s,
                          nw__sreqs add, int *changed) {
  int ch = 0;
  /* Most pods add nothing new to a claim: answer without allocating. */
  int same = 1;
  for (uint32_t j = 0; j < add.n && same; j++) {
    const nw__sreq *x = nw__sreqs_get(&s, add.r[j].key);
    same = x && sreq_within(t, x, &add.r[j]);
  }
  if (same) {
    if (changed)
      *changed = 0;
    return s;
  }
  nw__sreq *out = nw__bump_alloc(b, (s.n + add.n) * sizeof(*out));
  uint32_t i = 0, j = 0, k = 0;
  while (i < s.n || j < add.n) {
    if (j >= add.n || (i < s.n && s.r[i].key < add.r[j].key)) {
      out[k++] = s.r[i++];
    } else if (i >= s.n || add.r[j].key < s.r[i].key) {
      out[k++] = add.r[j++];
      ch = 1;
    } else {
      out[k] = intersect_b(b, t, &s.r[i], &add.r[j]);
      if (!sreq_equal(&out[k], &s.r[i]))
        ch = 1;
      k++;
      i++;
      j++;
    }
  }
  if (changed)
    *changed = ch;
  if (!ch)
    return s;
  return (nw__sreqs){k, out};
}

static int notin_or_dne(const nw__sreq *r) {
  nw_operator op = nw__sreq_op(r);
  return op == NW_OP_NOT_IN || op == NW_OP_DOES_NOT_EXIST;
}

/* Whether x and y share a value, without allocating. */
static int overlap(const nw__strtab *t, const nw__sreq *x, const nw__sreq *y) {
  if (x->complement && y->complement) {
    int64_t gt = INT64_MIN, lt = INT64_MAX;
    if (x->has_gt)
      gt = x->gt;
    if (y->has_gt && y->gt > gt)
      gt = y->gt;
    if (x->has_lt)
      lt = x->lt;
    if (y->has_lt && y->lt < lt)
      lt = y->lt;
    return !((x->has_gt || y->has_gt) && (x->has_lt || y->has_lt) && gt >= lt);
  }
  const nw__sreq *set = x->complement ? y : x;
  const nw__sreq *other = x->complement ? x : y;
  for (uint32_t i = 0; i < set->n; i++) {
    uint32_t v = set->vals[i];
    if (nw__sreq_has(t, other, v) && within(t, set, v))
      return 1;
  }
  return 0;
}

int nw__sreq_compatible(const nw__strtab *t, const nw__sreq *x,
                        const nw__sreq *y) {
  return overlap(t, x, y) || (notin_or_dne(x) && notin_or_dne(y));
}

int nw__sreqs_intersects(const nw__strtab *t, const nw__sreqs *node,
                         const nw__sreqs *pod, uint32_t *bad_key) {
  uint32_t i = 0, j = 0;
  while (i < node->n && j < pod->n) {
    if (node->r[i].key < pod->r[j].key) {
      i++;
    } else if (pod->r[j].key < node->r[i].key) {
      j++;
    } else {
      const nw__sreq *x = &node->r[i], *y = &pod->r[j];
      if (!overlap(t, x, y) && !(notin_or_dne(x) && notin_or_dne(y))) {
        if (bad_key)
          *bad_key = x->key;
        return 0;
      }
      i++;
      j++;
    }
  }
  return 1;
}

int nw__sreqs_compatible(const nw__strtab *t, const nw__sreqs *node,
                         const nw__sreqs *pod,
                         int (*allow)(void *ctx, uint32_t key), void *ctx,
                         uint32_t *bad_key) {
  for (uint32_t j = 0; j < pod->n; j++) {
    const nw__sreq *y = &pod->r[j];
    if (notin_or_dne(y) || nw__sreqs_get(node, y->key))
      continue;
    if (allow && allow(ctx, y->key))
      continue;
    if (bad_key)
      *bad_key = y->key;
    return 0;
  }
  return nw__sreqs_intersects(t, node, pod, bad_key);
}

static int cmp_u32(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return x < y ? -1 : x > y;
}

static int cmp_key(const void *a, const void *b) {
  return cmp_u32(&((const nw__sreq *)a)->key, &((const nw__sreq *)b)->key);
}

static nw__sreq from_one(nw_arena *a, nw__strtab *t, const nw_requirement *q) {
  nw__sreq r = {.key = nw__strtab_intern(t, q->key),
                .min_values = q->min_values};
  uint32_t *v = NULL;
  uint32_t n = 0;
  if (q->op == NW_OP_IN || q->op == NW_OP_NOT_IN) {
    v = nw__arena_alloc(a, (q->n_values + 1) * sizeof(*v));
    for (size_t i = 0; i < q->n_values; i++)
      v[n++] = nw__strtab_intern(t, q->values[i]);
    qsort(v, n, sizeof(*v), cmp_u32);
    uint32_t k = 0;
    for (uint32_t i = 0; i < n; i++)
      if (k == 0 || v[k - 1] != v[i])
        v[k++] = v[i];
    n = k;
  }
  long long num = q->n_values ? strtoll(q->values[0], NULL, 10) : 0;
  switch (q->op) {
  case NW_OP_IN:
    break;
  case NW_OP_NOT_IN:
  case NW_OP_EXISTS:
    r.complement = 1;
    break;
  case NW_OP_DOES_NOT_EXIST:
    break;
  case NW_OP_GT:
  case NW_OP_GTE:
    r.complement = 1;
    r.has_gt = 1;
    r.gt = q->op == NW_OP_GT ? num : num - 1;
    break;
  case NW_OP_LT:
  case NW_OP_LTE:
    r.complement = 1;
    r.has_lt = 1;
    r.lt = q->op == NW_OP_LT ? num : num + 1;
    break;
  }
  r.vals = v;
  r.n = n;
  return r;
}

nw__sreqs nw__sreqs_from(nw_arena *a, nw__strtab *t, const nw_requirements *r) {
  nw__sreqs out = {0, NULL};
  if (!r || r->len == 0)
    return out;
  nw__sreq *tmp = nw__arena_alloc(a, r->len * sizeof(*tmp));
  for (size_t i = 0; i < r->len; i++)
    tmp[i] = from_one(a, t, &r->items[i]);
  qsort(tmp, r->len, sizeof(*tmp), cmp_key);
  /* Merge repeated keys by intersection. */
  uint32_t k = 0;
  for (size_t i = 0; i < r->len; i++) {
    if (k > 0 && tmp[k - 1].key == tmp[i].key)
      tmp[k - 1] = nw__sreq_intersect(a, t, &tmp[k - 1], &tmp[i]);
    else
      tmp[k++] = tmp[i];
  }
  out.n = k;
  out.r = tmp;
  return out;
}

char *nw__sreq_format(const nw__strtab *t, const nw__sreq *r, char *buf,
                      size_t len) {
  static const char *const ops[] = {"In", "NotIn", "Exists", "DoesNotExist"};
  nw_operator op = nw__sreq_op(r);
  size_t k = (size_t)snprintf(buf, len, "%s %s", t->strs[r->key], ops[op]);
  if (r->n && k < len) {
    k += (size_t)snprintf(buf + k, len - k, " [");
    for (uint32_t i = 0; i < r->n && k < len; i++) {
      if (i >= 8) {
        k += (size_t)snprintf(buf + k, len - k, " and %u others", r->n - i);
        break;
      }
      k += (size_t)snprintf(buf + k, len - k, "%s%s", i ? " " : "",
                            t->strs[r->vals[i]]);
    }
    if (k < len)
      k += (size_t)snprintf(buf + k, len - k, "]");
  }
  if (r->has_gt && k < len)
    k += (size_t)snprintf(buf + k, len - k, " >%lld", (long long)r->gt);
  if (r->has_lt && k < len)
    snprintf(buf + k, len - k, " <%lld", (long long)r->lt);
  return buf;
}

nw_requirements nw__sreqs_to_sdk(nw_arena *a, const nw__strtab *t,
                                 const nw__sreqs *s) {
  nw_requirement *items = nw__arena_alloc(a, (s->n * 3 + 1) * sizeof(*items));
  size_t k = 0;
  for (uint32_t i = 0; i < s->n; i++) {
    const nw__sreq *r = &s->r[i];
    nw_requirement *q = &items[k++];
    q->key = t->strs[r->key];
    q->op = nw__sreq_op(r);
    q->min_values = r->min_values;
    q->n_values = r->n;
    const char **v = nw__arena_alloc(a, (r->n + 1) * sizeof(*v));
    for (uint32_t j = 0; j < r->n; j++)
      v[j] = t->strs[r->vals[j]];
    q->values = v;
    /* Bounds on complement sets become extra Gt / Lt entries. */
    if (r->complement && (r->has_gt || r->has_lt)) {
      if (r->n == 0)
        k--;
      for (int b = 0; b < 2; b++) {
        if (!(b == 0 ? r->has_gt : r->has_lt))
          continue;
        const char **bv = nw__arena_alloc(a, sizeof(*bv));
        bv[0] = nw__arena_printf(a, "%lld",
                                 (long long)(b == 0 ? r->gt : r->lt));
        items[k++] = (nw_requirement){t->strs[r->key],
                                      b == 0 ? NW_OP_GT : NW_OP_LT, 1, bv,
                                      r->min_values};
      }
    }
  }
  return (nw_requirements){k, items};
}

nw__sreq nw__sreq_in1(nw_arena *a, uint32_t key, uint32_t val) {
  uint32_t *v = nw__arena_alloc(a, sizeof(*v));
  v[0] = val;
  return (nw__sreq){.key = key, .n = 1, .vals = v};
}

nw__sreqs nw__sreqs_copy(nw_arena *a, const nw__sreqs *s) {
  nw__sreq *r = nw__arena_alloc(a, (s->n + 1) * sizeof(*r));
  for (uint32_t i = 0; i < s->n; i++) {
    r[i] = s->r[i];
    if (s->r[i].n) {
      uint32_t *v = nw__arena_alloc(a, s->r[i].n * sizeof(*v));
      memcpy(v, s->r[i].vals, s->r[i].n * sizeof(*v));
      r[i].vals = v;
    }
  }
  return (nw__sreqs){s->n, r};
}
