#include "util/arena.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct block {
  struct block *next;
  size_t cap;
  size_t used;
  /* Data follows, aligned by the allocation itself. */
  _Alignas(16) unsigned char data[];
} block;

struct nw_arena {
  block *head;
  size_t total;
};

enum { BLOCK_SIZE = 64 * 1024 };

/*
 * Freed standard-size blocks kept for the next arena, up to SPARE_MAX
 * (8 MiB).  Snapshots and schedulers make and free arenas of many blocks
 * all the time; handing 64 KiB back to malloc and asking again made it
 * consolidate its free lists on every request (~4% of a long
 * simulation's CPU).  Shared by all threads under a mutex: a lock per
 * 64 KiB is nothing.  Off under AddressSanitizer, so that a use of a
 * freed arena still reports.
 */
#if defined(__SANITIZE_ADDRESS__)
#define SPARE_MAX 0
#else
#define SPARE_MAX 128
#endif
static pthread_mutex_t spare_mu = PTHREAD_MUTEX_INITIALIZER;
static block *spare;
static size_t n_spare;

nw_arena *nw__arena_new(void) { return calloc(1, sizeof(nw_arena)); }

/* Gives the standard blocks of a chain to the spares while there is
 * room, and the rest back to malloc (outside the lock). */
static void blocks_release(block *b) {
#if SPARE_MAX > 0
  block *rest = NULL;
  pthread_mutex_lock(&spare_mu);
  while (b) {
    block *next = b->next;
    if (b->cap == BLOCK_SIZE && n_spare < SPARE_MAX) {
      b->next = spare;
      spare = b;
      n_spare++;
    } else {
      b->next = rest;
      rest = b;
    }
    b = next;
  }
  pthread_mutex_unlock(&spare_mu);
  b = rest;
#endif
  while (b) {
    block *next = b->next;
    free(b);
    b = next;
  }
}

void nw__arena_free(nw_arena *a) {
  if (!a)
    return;
  blocks_release(a->head);
  free(a);
}

#if SPARE_MAX > 0
/* At exit the spares go back, so leak checkers see nothing held. */
__attribute__((destructor)) static void spare_drop(void) {
  pthread_mutex_lock(&spare_mu);
  while (spare) {
    block *next = spare->next;
    free(spare);
    spare = next;
  }
  n_spare = 0;
  pthread_mutex_unlock(&spare_mu);
}
#endif

static block *spare_take(void) {
  pthread_mutex_lock(&spare_mu);
  block *b = spare;
  if (b) {
    spare = b->next;
    n_spare--;
  }
  pthread_mutex_unlock(&spare_mu);
  return b;
}

static block *block_new(size_t cap) {
  block *b = cap == BLOCK_SIZE ? spare_take() : NULL;
  if (!b)
    b = malloc(sizeof(block) + cap);
  if (!b)
    return NULL;
  b->next = NULL;
  b->cap = cap;
  b->used = 0;
  return b;
}

void *nw__arena_alloc(nw_arena *a, size_t size) {
  size_t need = (size + 15) & ~(size_t)15;
  if (need == 0)
    need = 16;
  block *b = a->head;
  if (!b || b->cap - b->used < need) {
    /* Large requests get a block of their own behind the current one so
     * the current block's free space is not wasted. */
    size_t cap = need > BLOCK_SIZE / 4 ? need : BLOCK_SIZE;
    block *nb = block_new(cap);
    if (!nb)
      return NULL;
    if (b && cap != BLOCK_SIZE) {
      nb->next = b->next;
      b->next = nb;
    } else {
      nb->next = b;
      a->head = nb;
    }
    b = nb;
  }
  void *p = b->data + b->used;
  b->used += need;
  a->total += need;
  memset(p, 0, need);
  return p;
}

char *nw__arena_strndup(nw_arena *a, const char *s, size_t n) {
  if (!s)
    return NULL;
  char *p = nw__arena_alloc(a, n + 1);
  if (!p)
    return NULL;
  memcpy(p, s, n);
  p[n] = '\0';
  return p;
}

char *nw__arena_strdup(nw_arena *a, const char *s) {
  return s ? nw__arena_strndup(a, s, strlen(s)) : NULL;
}

char *nw__arena_printf(nw_arena *a, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0)
    return NULL;
  char *p = nw__arena_alloc(a, (size_t)n + 1);
  if (!p)
    return NULL;
  va_start(ap, fmt);
  vsnprintf(p, (size_t)n + 1, fmt, ap);
  va_end(ap);
  return p;
}

size_t nw__arena_used(const nw_arena *a) { return a->total; }
