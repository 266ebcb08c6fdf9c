#include "nwtest.h"

#include <CUnit/Basic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *nw_test_read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f)
    return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *buf = malloc((size_t)n + 1);
  if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
    free(buf);
    buf = NULL;
  }
  fclose(f);
  if (!buf)
    return NULL;
  buf[n] = '\0';
  if (len)
    *len = (size_t)n;
  return buf;
}

const char *nw_test_src_path(const char *rel) {
  static char buf[4096];
  snprintf(buf, sizeof(buf), "%s/%s", NW_SOURCE_DIR, rel);
  return buf;
}

int main(int argc, char **argv) {
  if (CU_initialize_registry() != CUE_SUCCESS)
    return 2;
  for (size_t s = 0; s < nw_test_n_suites; s++) {
    const nw_test_suite *ts = nw_test_suites[s];
    CU_pSuite suite = CU_add_suite(ts->name, ts->setup, ts->teardown);
    for (size_t i = 0; i < ts->n_cases; i++) {
      /* A single case may be picked by name: `test_x case_name`. */
      if (argc > 1 && strcmp(argv[1], ts->cases[i].name) != 0)
        continue;
      CU_add_test(suite, ts->cases[i].name, ts->cases[i].fn);
    }
  }
  CU_basic_set_mode(CU_BRM_VERBOSE);
  CU_basic_run_tests();
  unsigned failed = CU_get_number_of_failures() + CU_get_number_of_suites_failed();
  unsigned run = CU_get_number_of_tests_run();
  CU_cleanup_registry();
  if (run == 0) {
    fprintf(stderr, "no test ran\n");
    return 1;
  }
  return failed ? 1 : 0;
}
