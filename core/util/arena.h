/*
 * The arena behind nw_arena: a list of blocks freed all at once.  Used for
 * every output a plugin hands back, and by the core for per-pass scratch.
 */
#ifndef NW_UTIL_ARENA_H
#define NW_UTIL_ARENA_H

#include <stddef.h>

#include <nodewright/types.h>

/* Returns a new arena owned by the caller; NULL on OOM. */
nw_arena *nw__arena_new(void);
/* Frees the arena and everything allocated from it; NULL is fine. */
void nw__arena_free(nw_arena *a);
/* Zeroed, 16-byte aligned memory owned by the arena; NULL on OOM. */
void *nw__arena_alloc(nw_arena *a, size_t size);
/* A copy of s owned by the arena; NULL when s is NULL or on OOM. */
char *nw__arena_strdup(nw_arena *a, const char *s);
char *nw__arena_strndup(nw_arena *a, const char *s, size_t n);
/* printf into the arena. */
char *nw__arena_printf(nw_arena *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Bytes handed out so far (for memory accounting in benchmarks). */
size_t nw__arena_used(const nw_arena *a);

#endif
