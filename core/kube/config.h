/*
 * Where the Kubernetes API is and how to authenticate to it: a kubeconfig
 * file (current-context or a chosen context) or the in-cluster service
 * account.
 *
 * Supported in a kubeconfig: clusters[].cluster.{server,
 * certificate-authority, certificate-authority-data, tls-server-name,
 * insecure-skip-tls-verify}, users[].user.{client-certificate(-data),
 * client-key(-data), token, tokenFile, exec}, contexts[].context.{cluster,
 * user, namespace}.  Relative file paths are resolved against the
 * kubeconfig's directory, as kubectl does.  Exec plugins speak
 * client.authentication.k8s.io/v1 (and v1beta1); their credential is
 * cached until status.expirationTimestamp and re-run after a 401.
 *
 * A config is a live object: it owns the credential cache and is
 * thread-safe, so a client on the loop and blocking callers on worker
 * threads can share one.
 */
#ifndef NW_KUBE_CONFIG_H
#define NW_KUBE_CONFIG_H

#include <curl/curl.h>
#include <nodewright/types.h>

typedef struct nw__kube_config nw__kube_config;

/*
 * Loads `path` (NULL: the first entry of $KUBECONFIG, else
 * $HOME/.kube/config) using `context` (NULL: current-context).  Returns a
 * config the caller frees with nw__kube_config_free, or NULL with err set
 * (NW_ERR_INVALID) naming the file and the field, e.g.
 *   "kubeconfig /x/config: users[0] (\"admin\").user.client-key-data: not
 *    valid base64".
 * Both arguments are borrowed.
 */
nw__kube_config *nw__kube_config_load(const char *path, const char *context,
                                      nw_error *err);

/*
 * The in-cluster config: server from $KUBERNETES_SERVICE_HOST/PORT, CA,
 * token and namespace from `sa_dir` (NULL: the standard
 * /var/run/secrets/kubernetes.io/serviceaccount).  The token file is
 * re-read whenever it changes (projected tokens rotate).  Caller frees.
 */
nw__kube_config *nw__kube_config_in_cluster(const char *sa_dir, nw_error *err);

/* In-cluster when $KUBERNETES_SERVICE_HOST is set, else the default
 * kubeconfig.  Caller frees. */
nw__kube_config *nw__kube_config_auto(nw_error *err);

void nw__kube_config_free(nw__kube_config *cfg);

/* Borrowed views, valid while cfg lives. */
const char *nw__kube_config_server(const nw__kube_config *cfg);   /* no trailing '/' */
const char *nw__kube_config_namespace(const nw__kube_config *cfg); /* "default" if unset */
const char *nw__kube_config_origin(const nw__kube_config *cfg);    /* file path or "in-cluster" */
int nw__kube_config_insecure(const nw__kube_config *cfg);

/*
 * Applies TLS settings and credentials to an easy handle: CA, client
 * certificate, and an "Authorization: Bearer" header appended to *headers
 * (which the caller owns and frees with curl_slist_free_all).  May run the
 * exec plugin (blocking, at most once per credential lifetime).
 * Returns NW_OK, or NW_ERR_AUTH with err set when no credential could be
 * obtained.  Thread-safe.
 */
nw_status nw__kube_config_apply(nw__kube_config *cfg, CURL *easy,
                                struct curl_slist **headers, nw_error *err);

/* Forgets a cached exec credential, after the server answered 401. */
void nw__kube_config_invalidate(nw__kube_config *cfg);

#endif
