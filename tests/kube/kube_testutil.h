/* Helpers for the tests of core/kube/ against a real kube-apiserver. */
#ifndef NW_TESTS_KUBE_TESTUTIL_H
#define NW_TESTS_KUBE_TESTUTIL_H

#include <jansson.h>
#include <uv.h>

#include "kube/client.h"
#include "kube/config.h"
#include "kube/ops.h"

/* ConfigMaps: a simple namespaced kind for generic informer tests. */
extern const nw__kube_resource KT_CONFIGMAPS;

/* Runs the loop until *flag is non-zero or timeout_ms passes; returns the
 * flag's final value. */
int kt_run_until(uv_loop_t *loop, const int *flag, int timeout_ms);
/* Runs the loop until it has nothing left (after freeing clients). */
void kt_drain(uv_loop_t *loop);

/* Loads kubeconfig `path` with `context` (may be NULL); aborts the test
 * on failure.  Caller frees. */
nw__kube_config *kt_config(const char *path, const char *context);

/* Creates a namespace with a unique name (and its default service
 * account); returns a static string, NULL on failure (no CUnit assertion,
 * so suite setups may call it). */
const char *kt_namespace(nw__kube_client *blocking, const char *prefix);
void kt_delete_namespace(nw__kube_client *blocking, const char *ns);

/* Runs a shell command (printf format); returns its exit status and, when
 * out is non-NULL, its stdout (caller frees). */
int kt_sh(char **out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A configmap object with one label and one data key. */
json_t *kt_configmap(const char *ns, const char *name, const char *label_value);

#endif
