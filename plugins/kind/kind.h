/*
 * The kind/Docker provider: internal declarations shared by its files.
 *
 * Nodes are Docker containers labelled as kind labels its nodes, sized by
 * Docker CPU and memory limits after a synthetic instance-type catalog.
 * Everything reaches the outside world through the host API table: the
 * Docker Engine API over its unix socket with host->http, the event stream
 * with host->http_stream, and the Kubernetes API with host->kube_request.
 *
 * Ownership: functions returning malloc'd memory say so; strings they take
 * are borrowed for the call.  Arena outputs belong to the host's arena.
 */
#ifndef NW_KIND_KIND_H
#define NW_KIND_KIND_H

#include <jansson.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include <nodewright/nodewright.h>

#define NW_KIND_GROUP "nodewright.dev"
#define NW_KIND_NODE_CLASS "KindNodeClass"

/* Labels kind itself puts on its node containers. */
#define NW_KIND_LABEL_CLUSTER "io.x-k8s.kind.cluster"
#define NW_KIND_LABEL_ROLE "io.x-k8s.kind.role"
/* Our labels on node containers. */
#define NW_KIND_LABEL_POOL "nodewright.dev/nodepool"
#define NW_KIND_LABEL_CLAIM "nodewright.dev/nodeclaim"
#define NW_KIND_LABEL_TYPE "nodewright.dev/instance-type"
#define NW_KIND_LABEL_ZONE "nodewright.dev/zone"
#define NW_KIND_LABEL_CAPACITY "nodewright.dev/capacity-type"
#define NW_KIND_LABEL_RUNTIME "nodewright.dev/runtime"
/* Requirement labels of the synthetic catalog. */
#define NW_KIND_LABEL_CPU "nodewright.dev/instance-cpu"
#define NW_KIND_LABEL_MEMORY "nodewright.dev/instance-memory"
#define NW_KIND_LABEL_FAMILY "nodewright.dev/instance-family"

#define NW_KIND_PROVIDER_PREFIX "kind://docker/"
/* The newest Docker API version this plugin speaks, and the oldest it
 * accepts (NanoCpus appeared in 1.25). */
#define NW_KIND_API_MAX_MINOR 41
#define NW_KIND_API_MIN_MINOR 25

typedef enum nw__kind_runtime {
  NW_KIND_RUNTIME_VIRTUAL = 0,
  NW_KIND_RUNTIME_KUBEADM = 1
} nw__kind_runtime;

/* One instance type of the synthetic catalog. */
typedef struct nw__kind_type {
  char name[64];
  char family[32];
  int cpus;
  int64_t memory_mib;
  double price_on_demand; /* USD/hour */
  double price_spot;
} nw__kind_type;

/* The plugin config, parsed and validated. */
typedef struct nw__kind_config {
  char *socket;          /* Docker Engine unix socket */
  char *cluster;         /* the kind cluster this plugin serves */
  char *image;           /* default node image */
  char *network;         /* default network ("none") */
  nw__kind_runtime runtime;
  char *arch;
  char *os;
  char **zones;
  size_t n_zones;
  int spot;              /* offer spot */
  int on_demand;         /* offer on-demand */
  nw__kind_type *types;
  size_t n_types;
  int64_t pods;
  double cpu_scale;      /* container CPU limit = vCPUs * cpu_scale */
  double memory_scale;   /* container memory limit = memory * memory_scale */
  /* Overheads subtracted for allocatable (millicores and MiB). */
  int64_t kube_reserved_cpu_m, kube_reserved_mem_mib;
  int64_t system_reserved_cpu_m, system_reserved_mem_mib;
  int64_t eviction_mem_mib;
  int64_t timeout_ms;    /* per Docker API call */
  char *kwok_label; /* "key=value" kwok selects fake nodes by */
} nw__kind_config;

/* A KindNodeClass merged over the config defaults. */
typedef struct nw__kind_class {
  char image[512];
  char network[128];
  char cluster[128];
  nw__kind_runtime runtime;
} nw__kind_class;

/* One queued Docker event, for poll_events. */
typedef struct nw__kind_event {
  char provider_id[320];
  char state[16];
  char detail[160];
  int64_t time_ms;
} nw__kind_event;

/* The plugin instance. */
typedef struct nw__kind {
  const nw_host_api *host;
  nw_plugin_handle *h;
  nw__kind_config cfg;

  pthread_mutex_t api_lock;   /* guards api_prefix */
  char api_prefix[16];        /* "/v1.41" once negotiated, else "" */
  int host_cpus;              /* NCPU of the Docker host, 0 = unknown */

  /* The events follower. */
  pthread_t thread;
  int thread_started;
  pthread_mutex_t q_lock;
  pthread_cond_t q_cond;
  int stopping;
  nw__kind_event *queue;
  size_t q_head, q_len, q_cap;
  int64_t last_event_ns;      /* newest event seen, to skip replays */

  /* Virtual Nodes whose container is gone, deleted from the cluster by
   * the next callback that has an arena (delete_instance has none). */
  pthread_mutex_t gone_lock;
  char **gone;
  size_t n_gone;
} nw__kind;

/* ---- config.c ----------------------------------------------------------- */

/* Parses the plugin config (JSON text, borrowed) into *cfg.  On failure
 * returns NW_ERR_INVALID with err naming the key and what is wrong; *cfg
 * is then already freed.  Free with nw__kind_config_free. */
nw_status nw__kind_config_parse(const char *json, nw__kind_config *cfg,
                                nw_error *err);
void nw__kind_config_free(nw__kind_config *cfg);

/* Merges a KindNodeClass (JSON text or NULL, borrowed) over the config
 * defaults into *out.  NW_ERR_INVALID names the bad field. */
nw_status nw__kind_class_parse(const nw__kind_config *cfg, const char *json,
                               nw__kind_class *out, nw_error *err);

const nw__kind_type *nw__kind_type_find(const nw__kind_config *cfg,
                                        const char *name);

/* Writes a printf message into err; returns status. */
nw_status nw__kind_err(nw_error *err, nw_status status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- catalog.c ---------------------------------------------------------- */

/* The catalog as nw_instance_types in the arena.  Offerings larger than
 * `host_cpus` (when > 0) are marked unavailable: Docker refuses CPU limits
 * above the host's CPU count. */
nw_status nw__kind_catalog(const nw_host_api *host, const nw__kind_config *cfg,
                           int host_cpus, nw_arena *arena,
                           nw_instance_types *out, nw_error *err);

/* The cheapest (type, zone, capacity type) satisfying reqs whose
 * allocatable fits `requests` (may be NULL).  Returns 0 and fills the out
 * pointers (into cfg), or -1 when nothing matches. */
int nw__kind_pick(const nw__kind_config *cfg, const nw_requirements *reqs,
                  const nw_resource_list *requests, int host_cpus,
                  const nw__kind_type **type, const char **zone,
                  const char **capacity_type);

/* Does a requirement hold for a label value (NULL = label absent)? */
int nw__kind_requirement_holds(const nw_requirement *r, const char *value);

/* ---- docker.c ----------------------------------------------------------- */

/* Percent-encodes s for a URL query or path segment into out (truncating
 * to fit len). */
void nw__kind_url_encode(const char *s, char *out, size_t len);

/* One Docker API call.  `path` starts with "/" and excludes the version
 * prefix, which is negotiated on first use.  `body` is JSON or NULL.  On
 * NW_OK, *resp is filled (any HTTP status) in the arena.  Transport errors
 * come back with a message naming the socket. */
nw_status nw__kind_docker(nw__kind *k, const char *method, const char *path,
                          const char *body, nw_arena *arena,
                          nw_http_response *resp, nw_error *err);

/* The same through host->http_stream, for callbacks without an arena
 * (delete_instance): *body is malloc'd (caller frees), *status the HTTP
 * status. */
nw_status nw__kind_docker_noarena(nw__kind *k, const char *method,
                                  const char *path, long *status, char **body,
                                  nw_error *err);

/* The "message" of a Docker error body, or the body itself; arena string. */
const char *nw__kind_docker_message(const nw_host_api *host, nw_arena *arena,
                                    const nw_http_response *resp);

/* Negotiates the API version (once; again after a failure). */
nw_status nw__kind_negotiate(nw__kind *k, nw_arena *arena, nw_error *err);

/* The same through host->http_stream, for the events thread, which has no
 * arena; reads ApiVersion and MinAPIVersion from /version. */
nw_status nw__kind_negotiate_stream(nw__kind *k, nw_error *err);
/* Has a version been negotiated (and not invalidated since)? */
int nw__kind_have_version(nw__kind *k);

/* Picks the version prefix from the daemon's /_ping Api-Version header and
 * /version MinAPIVersion.  Writes "/v1.NN" to out.  Pure; -1 when the
 * daemon and the plugin have no version in common. */
int nw__kind_pick_version(const char *server_max, const char *server_min,
                          char *out, size_t outlen);

/* Runs argv in a container (docker exec) and collects stdout and stderr,
 * demultiplexed, in the arena.  *exit_code gets the process' status. */
nw_status nw__kind_exec(nw__kind *k, const char *container,
                        const char *const *argv, nw_arena *arena,
                        const char **out, const char **errout, int *exit_code,
                        nw_error *err);

/* nw__kind_exec that also fails (NW_ERR, naming the command, the container
 * and its stderr) when the process exits non-zero.  *out (if out is not
 * NULL) gets stdout in the arena. */
nw_status nw__kind_exec_ok(nw__kind *k, const char *container,
                           const char *const *argv, nw_arena *a,
                           const char **out, nw_error *err);

/* Lists containers (all states) matching label filters, given as a JSON
 * array text such as ["a=b","c=d"].  *out is the parsed array of the
 * Docker API, a new reference the caller decrefs. */
nw_status nw__kind_list_containers(nw__kind *k, const char *labels_json,
                                   nw_arena *a, json_t **out, nw_error *err);

/* Splits Docker's multiplexed exec stream (8-byte frame headers) into
 * stdout and stderr.  Pure; outputs are malloc'd, caller frees.  Returns
 * 0, or -1 on a truncated frame (what came before is kept). */
int nw__kind_demux(const char *data, size_t len, char **out, char **errout);

/* ---- events.c ----------------------------------------------------------- */

nw_status nw__kind_events_start(nw__kind *k, nw_error *err);
void nw__kind_events_stop(nw__kind *k);
/* Parses one line of the Docker events stream for `cluster`; 1 when it
 * yields an event for poll_events, 0 when it is to be skipped.  Pure. */
int nw__kind_event_parse(const char *line, size_t len, const char *cluster,
                         nw__kind_event *out, int64_t *time_ns);
nw_status nw__kind_poll(nw__kind *k, int64_t wait_ms, size_t max,
                        nw_arena *arena, nw_provider_event **out, size_t *n,
                        nw_error *err);

/* ---- node.c ------------------------------------------------------------- */

/* What a node needs to be registered or joined. */
typedef struct nw__kind_node_spec {
  const char *name;           /* node (and container) name */
  const char *provider_id;
  const nw__kind_type *type;
  const char *zone;
  const char *capacity_type;
  const nw_node_claim *claim; /* labels, taints, startup taints */
} nw__kind_node_spec;

/* The Node object for the virtual runtime, as JSON text (malloc'd, caller
 * frees), labelled and annotated so kwok plays its kubelet. */
char *nw__kind_node_json(const nw__kind_config *cfg,
                         const nw__kind_node_spec *spec);

/* The labels a node of the spec carries (catalog, zone, capacity type,
 * claim labels).  New reference; caller decrefs. */
json_t *nw__kind_node_labels(const nw__kind_config *cfg,
                             const nw__kind_node_spec *spec);

/* kubeadm runtime.  The command minting a join command on the control
 * plane; static storage. */
const char *const *nw__kind_token_argv(void);

/* Parses "kubeadm join <endpoint> --token T --discovery-token-ca-cert-hash
 * H" printed by `kubeadm token create --print-join-command`.  Writes the
 * three parts; -1 when the text is not such a command. */
int nw__kind_parse_join(const char *text, char *endpoint, size_t elen,
                        char *token, size_t tlen, char *hash, size_t hlen);

/* The argv writing /etc/default/kubelet in the new node (KUBELET_EXTRA_ARGS
 * with --node-labels, --register-with-taints, --provider-id) and the argv
 * of `kubeadm join`.  malloc'd NULL-terminated arrays of malloc'd strings;
 * free with nw__kind_argv_free. */
char **nw__kind_kubelet_args_argv(const nw__kind_config *cfg,
                                  const nw__kind_node_spec *spec);
char **nw__kind_join_argv(const char *endpoint, const char *token,
                          const char *hash);
void nw__kind_argv_free(char **argv);

/* ---- join.c ------------------------------------------------------------- */

/* Joins the running container spec->name to the kind cluster of the
 * config (kubeadm runtime): finds the cluster's running control-plane
 * container by label, mints a join command there with `kubeadm token
 * create --print-join-command`, writes /etc/default/kubelet in the node and
 * runs `kubeadm join`.  A node that has /etc/kubernetes/kubelet.conf has
 * joined already and is left alone, so a create retried after a crash
 * does not join twice.  Scratch memory comes from the arena. */
nw_status nw__kind_join(nw__kind *k, const nw__kind_node_spec *spec,
                        nw_arena *a, nw_error *err);

#endif
