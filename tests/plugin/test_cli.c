/* The command line as a user runs it: the built binary, its output and
 * exit code. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "nwtest.h"

#include <nodewright/plugin.h>

/* Runs a shell command; returns its exit code and its stdout+stderr in out
 * (truncated to outlen). */
static int run(char *out, size_t outlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int run(char *out, size_t outlen, const char *fmt, ...) {
  char cmd[4096];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(cmd, sizeof(cmd), fmt, ap);
  va_end(ap);
  strncat(cmd, " 2>&1", sizeof(cmd) - strlen(cmd) - 1);
  FILE *p = popen(cmd, "r");
  size_t n = p ? fread(out, 1, outlen - 1, p) : 0;
  out[n] = '\0';
  int st = p ? pclose(p) : -1;
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

#define BIN NW_TEST_BUILD_DIR "/bin/nodewright"
#define FIX NW_TEST_FIXTURE_DIR "/plugins"

static void test_version(void) {
  char out[1024];
  CU_ASSERT_EQUAL(run(out, sizeof(out), "%s version", BIN), 0);
  char want[32];
  snprintf(want, sizeof(want), "plugin ABI %d.%d", NW_ABI_MAJOR, NW_ABI_MINOR);
  CU_ASSERT_PTR_NOT_NULL(strstr(out, want));
}

static void test_unknown_command(void) {
  char out[2048];
  CU_ASSERT_EQUAL(run(out, sizeof(out), "%s frobnicate", BIN), 2);
  CU_ASSERT_PTR_NOT_NULL(strstr(out, "unknown command 'frobnicate'"));
}

static void test_plugins_check(void) {
  char out[2048];
  CU_ASSERT_EQUAL(run(out, sizeof(out), "%s plugins check %s/good.so", BIN, FIX), 0);
  CU_ASSERT_PTR_NOT_NULL(strstr(out, "name:        good"));
  CU_ASSERT_PTR_NOT_NULL(strstr(out, "kind:        pricing"));
  CU_ASSERT_EQUAL(run(out, sizeof(out), "%s plugins check %s/wrong_magic.so", BIN,
                      FIX), 1);
  CU_ASSERT_PTR_NOT_NULL(strstr(out, "refused:"));
  CU_ASSERT_PTR_NOT_NULL(strstr(out, "magic: found 0xdeadbeef"));
}

static void test_plugins_list(void) {
  char out[8192];
  /* Refused plugins make the exit code 1 but are still listed. */
  CU_ASSERT_EQUAL(run(out, sizeof(out), "%s plugins list --plugin-dir %s", BIN,
                      FIX), 1);
  CU_ASSERT_PTR_NOT_NULL(strstr(out, "good "));
  CU_ASSERT_PTR_NOT_NULL(strstr(out, "major.so"));
  CU_ASSERT_PTR_NOT_NULL(strstr(out, "abi major: found 2"));
}

static void write_file(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  CU_ASSERT_PTR_NOT_NULL_FATAL(f);
  fputs(text, f);
  fclose(f);
}

static void test_run_check(void) {
  char out[4096];
  const char *cfg = "/tmp/nwtest-cli-config.yaml";
  write_file(cfg, "pluginDirs: [" FIX "]\n"
                  "plugins:\n"
                  "  - name: good\n"
                  "    config: {greeting: hi}\n");
  CU_ASSERT_EQUAL(run(out, sizeof(out), "%s run --config %s --check", BIN, cfg), 0);
  CU_ASSERT_PTR_NOT_NULL(strstr(out, "configuration valid; 1 of 1 plugins loaded"));
  /* A refused plugin fails the check, names the file, and the good one
   * beside it still loads. */
  write_file(cfg, "pluginDirs: [" FIX "]\n"
                  "plugins:\n"
                  "  - name: good\n"
                  "  - name: init_fail\n"
                  "    config: {region: mars-1}\n");
  CU_ASSERT_EQUAL(run(out, sizeof(out), "%s run --config %s --check", BIN, cfg), 1);
  CU_ASSERT_PTR_NOT_NULL(strstr(out, "region \"mars-1\" is unknown"));
  CU_ASSERT_PTR_NOT_NULL(strstr(out, "1 of 2 plugins loaded"));
  /* A config error stops before any plugin is loaded. */
  write_file(cfg, "plugins:\n  - name: good\nbatch:\n  idle: soon\n");
  CU_ASSERT_EQUAL(run(out, sizeof(out), "%s run --config %s --check", BIN, cfg), 1);
  CU_ASSERT_PTR_NOT_NULL(strstr(out, "nwtest-cli-config.yaml:4:9: batch.idle"));
  remove(cfg);
}

static void test_shipped_example_config(void) {
  char out[4096];
  CU_ASSERT_EQUAL(run(out, sizeof(out),
                      "%s run --config %s --plugin-dir %s --check", BIN,
                      nw_test_src_path("configs/nodewright.yaml"),
                      NW_TEST_PLUGIN_DIR), 0);
  CU_ASSERT_PTR_NOT_NULL(strstr(out, "configuration valid"));
}

NW_TEST_CASES({"version", test_version},
              {"unknown_command", test_unknown_command},
              {"plugins_check", test_plugins_check},
              {"plugins_list", test_plugins_list}, {"run_check", test_run_check},
              {"shipped_example_config", test_shipped_example_config});
NW_TEST_MAIN("cli", NULL, NULL);
