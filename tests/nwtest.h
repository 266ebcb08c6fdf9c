/*
 * A thin layer over CUnit so every test file is just its tests and a table:
 *
 *   static void test_x(void) { CU_ASSERT_EQUAL(...); }
 *   NW_TEST_SUITE("arena", {"x", test_x}, ...);
 *
 * The shared main runs every suite, prints CUnit's summary and exits
 * non-zero when anything failed.
 */
#ifndef NW_TESTS_NWTEST_H
#define NW_TESTS_NWTEST_H

#include <CUnit/CUnit.h>
#include <stddef.h>

typedef struct nw_test_case {
  const char *name;
  void (*fn)(void);
} nw_test_case;

typedef struct nw_test_suite {
  const char *name;
  const nw_test_case *cases;
  size_t n_cases;
  int (*setup)(void);
  int (*teardown)(void);
} nw_test_suite;

/* Defined once per test executable by NW_TEST_SUITE(S). */
extern const nw_test_suite *const nw_test_suites[];
extern const size_t nw_test_n_suites;

#define NW_TEST_CASES(...) static const nw_test_case nw__cases[] = {__VA_ARGS__}

#define NW_TEST_MAIN(suite_name, setup_fn, teardown_fn)                        \
  static const nw_test_suite nw__suite = {                                     \
      suite_name, nw__cases, sizeof(nw__cases) / sizeof(nw__cases[0]),         \
      setup_fn, teardown_fn};                                                  \
  const nw_test_suite *const nw_test_suites[] = {&nw__suite};                  \
  const size_t nw_test_n_suites = 1

/* Read a whole file; caller frees.  NULL when it cannot be read. */
char *nw_test_read_file(const char *path, size_t *len);
/* Absolute path of a file in the source tree; static buffer. */
const char *nw_test_src_path(const char *rel);

#endif
