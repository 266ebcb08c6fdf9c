/*
 * Test helpers that drive the fixture cluster (scripts/test-cluster, CTest
 * fixture "cluster") the way a user would: through the kubectl CLI.  Shared
 * by tests/cluster and tests/crds.
 */
#ifndef NW_TESTS_CLUSTER_KUBECTL_UTIL_H
#define NW_TESTS_CLUSTER_KUBECTL_UTIL_H

#include <jansson.h>

/*
 * Runs `kubectl --kubeconfig NW_TEST_KUBECONFIG <args>` (args is a printf
 * format, spliced into a shell command line, so quote what needs quoting)
 * and returns its exit status, or -1 when it could not be run.  When out is
 * non-NULL it receives stdout and stderr combined, NUL-terminated, owned by
 * the caller (free()); it is always set, even on failure.
 */
int nwt_kubectl(char **out, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/*
 * Like nwt_kubectl() but feeds manifest to kubectl on stdin (through a
 * temporary file), e.g. nwt_kubectl_stdin(yaml, &out, "apply -f -").
 */
int nwt_kubectl_stdin(const char *manifest, char **out, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * Runs kubectl (format as above, normally a `get ... -o json`) and parses
 * its stdout as JSON.  Returns a new reference the caller releases with
 * json_decref(), or NULL when kubectl failed or printed no JSON.
 */
json_t *nwt_kubectl_json(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

/*
 * Runs a shell command line (printf format) and returns its exit status;
 * output as for nwt_kubectl().  Used for scripts/test-cluster itself.
 */
int nwt_sh(char **out, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/*
 * Polls nwt_kubectl_json(get_fmt...) every 200 ms until the string at
 * dotted path (e.g. "status.phase", array indexes as numbers) equals want,
 * or timeout_s passes.  Returns 1 on success, 0 on timeout.
 */
int nwt_wait_field(int timeout_s, const char *path, const char *want,
                   const char *get_fmt, ...)
    __attribute__((format(printf, 4, 5)));

/*
 * The string at a dotted path inside obj (borrowed from obj), or NULL when
 * any step is missing or the value is not a string.
 */
const char *nwt_json_str(json_t *obj, const char *path);

/* The JSON value at a dotted path inside obj (borrowed), or NULL. */
json_t *nwt_json_at(json_t *obj, const char *path);

/* A name unique to this process run, "<prefix>-<pid>-<counter>"; static buffer
 * replaced by the next call. */
const char *nwt_unique(const char *prefix);

#endif
