/*
 * The HTML report opened in headless Chromium (Debian's package): every
 * chart is laid out with drawn series, and a screenshot is kept as a CI
 * artifact in <build>/sim-artifacts/.  The scenario is a small synthetic
 * one (tests/sim/fixtures/report.yaml) so the test stays quick under
 * ASan; `scripts/demo` writes the gateway scenario's report.
 */
#include "nwtest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define ART NW_TEST_BUILD_DIR "/sim-artifacts"

static const char *const flags =
    "--headless --no-sandbox --disable-gpu --disable-background-networking "
    "--disable-component-update --disable-sync --no-first-run "
    "--user-data-dir=" ART "/chromium-profile";

static int run(const char *cmd) {
  int rc = system(cmd);
  if (rc != 0)
    fprintf(stderr, "failed (%d): %s\n", rc, cmd);
  return rc;
}

static int setup(void) {
  mkdir(ART, 0755);
  return run(NW_TEST_BUILD_DIR "/bin/nodewright simulate --scenario "
             "tests/sim/fixtures/report.yaml --plugin-dir "
             NW_TEST_PLUGIN_DIR " --report " ART "/report.html "
             "> " ART "/report.txt");
}

static void test_charts_are_drawn(void) {
  char cmd[2048];
  snprintf(cmd, sizeof(cmd), "chromium %s --dump-dom file://%s "
           "> %s 2>/dev/null", flags, ART "/report.html",
           ART "/report.dom.html");
  CU_ASSERT_EQUAL_FATAL(run(cmd), 0);
  size_t len = 0;
  char *dom = nw_test_read_file(ART "/report.dom.html", &len);
  CU_ASSERT_PTR_NOT_NULL_FATAL(dom);
  /* The inline script ran after layout and measured every chart. */
  CU_ASSERT_PTR_NOT_NULL(strstr(dom, "data-charts-drawn=\"3\""));
  static const char *const ids[] = {"nodes", "cost", "pending"};
  for (size_t i = 0; i < 3; i++) {
    char needle[64];
    snprintf(needle, sizeof(needle), "id=\"%s\"", ids[i]);
    const char *svg = strstr(dom, needle);
    CU_ASSERT_PTR_NOT_NULL_FATAL(svg);
    const char *drawn = strstr(svg, "data-drawn=\"");
    const char *end = strchr(svg, '>');
    CU_ASSERT_TRUE_FATAL(drawn && drawn < end);
    CU_ASSERT_TRUE(atoi(drawn + 12) >= 1);
  }
  free(dom);
}

static void test_screenshot_kept(void) {
  char cmd[2048];
  remove(ART "/report.png");
  snprintf(cmd, sizeof(cmd), "chromium %s --window-size=1000,1400 "
           "--screenshot=%s file://%s >/dev/null 2>&1", flags,
           ART "/report.png", ART "/report.html");
  CU_ASSERT_EQUAL_FATAL(run(cmd), 0);
  size_t len = 0;
  char *png = nw_test_read_file(ART "/report.png", &len);
  CU_ASSERT_PTR_NOT_NULL_FATAL(png);
  CU_ASSERT_EQUAL(memcmp(png, "\x89PNG", 4), 0);
  /* A blank page compresses to a few kB; charts and tables do not. */
  CU_ASSERT_TRUE(len > 20000);
  free(png);
}

NW_TEST_CASES({"every chart is drawn", test_charts_are_drawn},
              {"a screenshot is kept", test_screenshot_kept});
NW_TEST_MAIN("sim report in chromium", setup, NULL);
