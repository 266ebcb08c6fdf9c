/*
 * The price map: open addressing with linear probing, at most half full,
 * so a lookup touches one or two slots.  Each entry's three key strings
 * live in one allocation ("type\0ct\0zone\0").  The hash runs over the
 * three strings with a separator, so price() hashes its borrowed inputs
 * without building a key.
 */
#include "pricing_int.h"

#include <stdlib.h>
#include <string.h>

typedef struct slot {
  uint64_t hash;           /* 0 = empty (real hashes are forced non-zero) */
  char *key;               /* "type\0ct\0zone\0", owned */
  const char *ct;          /* into key */
  const char *zone;        /* into key */
  double price;
} slot;

struct nw__pricing_map {
  slot *slots;
  size_t cap;              /* a power of two */
  size_t len;
};

/* FNV-1a over the bytes of s, continuing from h. */
static uint64_t fnv(uint64_t h, const char *s) {
  for (; *s; s++) {
    h ^= (unsigned char)*s;
    h *= 0x100000001b3ull;
  }
  return h;
}

static uint64_t key_hash(const char *type, const char *ct, const char *zone) {
  uint64_t h = 0xcbf29ce484222325ull;
  h = fnv(h, type);
  h = fnv(h, "\x1f");
  h = fnv(h, ct);
  h = fnv(h, "\x1f");
  h = fnv(h, zone);
  return h ? h : 1;
}

static int slot_matches(const slot *s, uint64_t h, const char *type,
                        const char *ct, const char *zone) {
  return s->hash == h && strcmp(s->key, type) == 0 && strcmp(s->ct, ct) == 0 &&
         strcmp(s->zone, zone) == 0;
}

nw__pricing_map *nw__pricing_map_new(size_t hint) {
  nw__pricing_map *m = calloc(1, sizeof(*m));
  if (!m)
    return NULL;
  m->cap = 16;
  while (m->cap < hint * 2)
    m->cap *= 2;
  m->slots = calloc(m->cap, sizeof(slot));
  if (!m->slots) {
    free(m);
    return NULL;
  }
  return m;
}

void nw__pricing_map_free(nw__pricing_map *m) {
  if (!m)
    return;
  for (size_t i = 0; i < m->cap; i++)
    free(m->slots[i].key);
  free(m->slots);
  free(m);
}

/* The slot holding the key, or the empty slot where it would go. */
static slot *find_slot(slot *slots, size_t cap, uint64_t h, const char *type,
                       const char *ct, const char *zone) {
  size_t i = (size_t)h & (cap - 1);
  while (slots[i].hash && !slot_matches(&slots[i], h, type, ct, zone))
    i = (i + 1) & (cap - 1);
  return &slots[i];
}

static int grow(nw__pricing_map *m) {
  size_t cap = m->cap * 2;
  slot *slots = calloc(cap, sizeof(slot));
  if (!slots)
    return -1;
  for (size_t i = 0; i < m->cap; i++) {
    slot *s = &m->slots[i];
    if (!s->hash)
      continue;
    size_t j = (size_t)s->hash & (cap - 1);
    while (slots[j].hash)
      j = (j + 1) & (cap - 1);
    slots[j] = *s;
  }
  free(m->slots);
  m->slots = slots;
  m->cap = cap;
  return 0;
}

int nw__pricing_map_put(nw__pricing_map *m, const char *type, const char *ct,
                        const char *zone, double price) {
  if ((m->len + 1) * 2 > m->cap && grow(m) != 0)
    return -1;
  uint64_t h = key_hash(type, ct, zone);
  slot *s = find_slot(m->slots, m->cap, h, type, ct, zone);
  if (s->hash) {
    s->price = price;
    return 0;
  }
  size_t lt = strlen(type) + 1, lc = strlen(ct) + 1, lz = strlen(zone) + 1;
  char *key = malloc(lt + lc + lz);
  if (!key)
    return -1;
  memcpy(key, type, lt);
  memcpy(key + lt, ct, lc);
  memcpy(key + lt + lc, zone, lz);
  s->hash = h;
  s->key = key;
  s->ct = key + lt;
  s->zone = key + lt + lc;
  s->price = price;
  m->len++;
  return 0;
}

int nw__pricing_map_get(const nw__pricing_map *m, const char *type,
                        const char *ct, const char *zone, double *price) {
  uint64_t h = key_hash(type, ct, zone);
  const slot *s = find_slot(m->slots, m->cap, h, type, ct, zone);
  if (!s->hash)
    return -1;
  *price = s->price;
  return 0;
}

int nw__pricing_map_lookup(const nw__pricing_map *m, const char *type,
                           const char *ct, const char *zone, double *price) {
  if (zone && *zone && nw__pricing_map_get(m, type, ct, zone, price) == 0)
    return 0;
  return nw__pricing_map_get(m, type, ct, "", price);
}

size_t nw__pricing_map_len(const nw__pricing_map *m) { return m->len; }

size_t nw__pricing_map_count(const nw__pricing_map *m, const char *ct) {
  size_t n = 0;
  for (size_t i = 0; i < m->cap; i++)
    if (m->slots[i].hash && strcmp(m->slots[i].ct, ct) == 0)
      n++;
  return n;
}

int nw__pricing_map_next(const nw__pricing_map *m, size_t *cursor,
                         const char **type, const char **ct,
                         const char **zone, double *price) {
  for (size_t i = *cursor; i < m->cap; i++) {
    const slot *s = &m->slots[i];
    if (!s->hash)
      continue;
    *type = s->key;
    *ct = s->ct;
    *zone = s->zone;
    *price = s->price;
    *cursor = i + 1;
    return 0;
  }
  *cursor = m->cap;
  return -1;
}

int nw__pricing_map_merge(nw__pricing_map *dst, const nw__pricing_map *src) {
  size_t cur = 0;
  const char *type, *ct, *zone;
  double price;
  while (nw__pricing_map_next(src, &cur, &type, &ct, &zone, &price) == 0)
    if (nw__pricing_map_put(dst, type, ct, zone, price) != 0)
      return -1;
  return 0;
}
