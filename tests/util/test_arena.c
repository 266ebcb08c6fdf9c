#include "nwtest.h"
#include "util/arena.h"

#include <stdint.h>
#include <string.h>

static void test_alloc_zeroed_aligned(void) {
  nw_arena *a = nw__arena_new();
  for (int i = 1; i < 2000; i += 37) {
    unsigned char *p = nw__arena_alloc(a, (size_t)i);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    CU_ASSERT_EQUAL((uintptr_t)p % 16, 0);
    for (int j = 0; j < i; j++)
      CU_ASSERT_EQUAL_FATAL(p[j], 0);
    memset(p, 0xab, (size_t)i);
  }
  nw__arena_free(a);
}

static void test_large_and_strings(void) {
  nw_arena *a = nw__arena_new();
  char *small = nw__arena_strdup(a, "hello");
  void *big = nw__arena_alloc(a, 1 << 20);
  char *after = nw__arena_strdup(a, "world");
  CU_ASSERT_PTR_NOT_NULL(big);
  CU_ASSERT_STRING_EQUAL(small, "hello");
  CU_ASSERT_STRING_EQUAL(after, "world");
  CU_ASSERT_STRING_EQUAL(nw__arena_printf(a, "%s-%d", "x", 42), "x-42");
  CU_ASSERT_PTR_NULL(nw__arena_strdup(a, NULL));
  CU_ASSERT_TRUE(nw__arena_used(a) >= (1u << 20));
  nw__arena_free(a);
}

/* Blocks of a freed arena may serve the next one (a spare list): what
 * they held must not show through. */
static void test_reused_blocks_are_zeroed(void) {
  for (int round = 0; round < 3; round++) {
    nw_arena *a = nw__arena_new();
    for (int i = 0; i < 40; i++) {
      unsigned char *p = nw__arena_alloc(a, 8000);
      CU_ASSERT_PTR_NOT_NULL_FATAL(p);
      for (int j = 0; j < 8000; j++)
        CU_ASSERT_EQUAL_FATAL(p[j], 0);
      memset(p, 0xcd, 8000);
    }
    nw__arena_free(a);
  }
}

NW_TEST_CASES({"reused_blocks_are_zeroed", test_reused_blocks_are_zeroed},
              {"alloc_zeroed_aligned", test_alloc_zeroed_aligned},
              {"large_and_strings", test_large_and_strings});
NW_TEST_MAIN("arena", NULL, NULL);
