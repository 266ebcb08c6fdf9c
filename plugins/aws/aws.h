/*
 * The AWS provider plugin's internals.  model.c holds the pure parts
 * (catalog parsing, capacity arithmetic, labels, requirement matching,
 * node class parsing, interruption message parsing) so unit tests can link
 * them without a host; plugin.c, ec2.c and sqs.c talk to AWS through
 * nw_awscore with the host's HTTP.
 */
#ifndef NW_AWS_PLUGIN_AWS_H
#define NW_AWS_PLUGIN_AWS_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include <nodewright/nodewright.h>

#include "awscore.h"

/* ------------------------------------------------------------ catalog */

typedef struct aws_itype {
  char *name;                /* "m5.large" */
  char *arch;                /* "amd64" or "arm64" (first supported) */
  char *manufacturer;        /* "intel", "amd", "aws" or "" */
  char *hypervisor;          /* "nitro", "xen" or "" */
  int64_t vcpus;
  int64_t memory_mib;
  int64_t max_enis;
  int64_t ipv4_per_eni;
  int64_t gpu_count;
  int64_t gpu_memory_mib;
  char *gpu_name;            /* lowercase, or NULL */
  char *gpu_manufacturer;    /* lowercase, or NULL */
  int64_t local_nvme_gb;
  int64_t ebs_bandwidth_mbps;
  int bare_metal;
  int encryption_in_transit;
  int spot;                  /* supportedUsageClasses has "spot" */
  int on_demand;
  size_t n_zones;
  char **zones;
} aws_itype;

typedef struct aws_catalog {
  size_t len;
  aws_itype *items;          /* sorted by name */
} aws_catalog;

/* Appends the <item>s of one DescribeInstanceTypes page to cat; only hvm
 * x86_64/arm64 types are kept.  Returns the number of items seen, or -1
 * with err filled on a malformed page. */
int aws_catalog_add_page(aws_catalog *cat, xmlNodePtr response_root,
                         nw_error *err);
/* Adds zones from one DescribeInstanceTypeOfferings page. */
int aws_catalog_add_offerings(aws_catalog *cat, xmlNodePtr response_root,
                              nw_error *err);
void aws_catalog_sort(aws_catalog *cat);
const aws_itype *aws_catalog_find(const aws_catalog *cat, const char *name);
void aws_catalog_free(aws_catalog *cat);

/* Splits "m7gd.2xlarge" into category "m", family "m7gd", generation "7",
 * size "2xlarge" (heap-free: writes into the caller's buffers of 32). */
void aws_itype_parts(const char *name, char category[32], char family[32],
                     char generation[32], char size[32]);

/* ----------------------------------------------------------- capacity */

/* Kubelet settings of an EC2NodeClass that change capacity and overhead. */
typedef struct aws_kubelet {
  int64_t max_pods;          /* 0 = ENI-limited */
  int64_t pods_per_core;     /* 0 = unset */
  int64_t kube_reserved_cpu_m, kube_reserved_mem, kube_reserved_eph; /* -1 */
  int64_t system_reserved_cpu_m, system_reserved_mem, system_reserved_eph;
  int64_t eviction_mem;      /* bytes; -1 = default 100Mi */
} aws_kubelet;

void aws_kubelet_defaults(aws_kubelet *k);

typedef struct aws_capacity {
  int64_t cpu_m, memory, pods, ephemeral, gpus;
  int64_t kr_cpu_m, kr_memory, kr_ephemeral;
  int64_t sr_cpu_m, sr_memory, sr_ephemeral;
  int64_t ev_memory, ev_ephemeral;
} aws_capacity;

/* ENIs x (IPv4 per ENI - 1) + 2. */
int64_t aws_eni_max_pods(int64_t enis, int64_t ipv4_per_eni);
/* 6% of the first core, 1% of the second, 0.5% of the next two, 0.25% of
 * the rest; in millicores. */
int64_t aws_kube_reserved_cpu_m(int64_t vcpus);
/* Memory, pods and overheads of a type, as Karpenter's AWS provider
 * computes them.  `overhead` is the VM memory overhead fraction (0.075);
 * `root_volume` the root volume size in bytes. */
void aws_capacity_compute(const aws_itype *t, const aws_kubelet *k,
                          double overhead, int64_t root_volume,
                          aws_capacity *out);

/* Kubernetes quantity ("100Mi", "1.5Gi", "500m", "2") into bytes or, with
 * milli set, into milli-units.  -1 when malformed. */
int64_t aws_quantity(const char *s, int milli);

/* ------------------------------------------------------- requirements */

/* The value of label `key` for an instance type (NULL when the type has no
 * such label).  Writes into buf (64 bytes) when the value is computed. */
const char *aws_label_value(const aws_itype *t, const char *key, char buf[64]);
/* Does the type satisfy every requirement whose key is not zone or
 * capacity type (those are checked per offering)? */
int aws_type_matches(const aws_itype *t, const nw_requirements *reqs);
/* Does a single value satisfy the requirement on `key` in reqs (true when
 * reqs says nothing about key)? */
int aws_value_allowed(const nw_requirements *reqs, const char *key,
                      const char *value);

/* --------------------------------------------------------- node class */

typedef struct aws_selector_term {
  char *id;
  char *name;
  char *owner;
  char *alias;               /* amiSelectorTerms only: "al2023@latest" */
  size_t n_tags;
  char **tag_keys;
  char **tag_values;         /* "*" = any value */
} aws_selector_term;

typedef struct aws_block_device {
  char *device_name;
  int64_t volume_size;       /* bytes; 0 = unset */
  char *volume_type;
  int64_t iops, throughput;
  int encrypted;             /* -1 unset */
  char *kms_key_id;
  int delete_on_termination; /* -1 unset */
  int root;
} aws_block_device;

typedef struct aws_node_class {
  char *name;
  char *hash;                /* sha256 of the spec, 16 hex digits */
  size_t n_subnet_terms, n_sg_terms, n_ami_terms;
  aws_selector_term *subnet_terms, *sg_terms, *ami_terms;
  char *role;
  char *instance_profile;
  char *user_data;
  char *ami_family;          /* "AL2023", "Bottlerocket", "AL2", "Custom" */
  size_t n_tags;
  char **tag_keys, **tag_values;
  size_t n_block_devices;
  aws_block_device *block_devices;
  char *http_endpoint, *http_tokens, *http_protocol_ipv6;
  int64_t http_hop_limit;
  aws_kubelet kubelet;
  int detailed_monitoring;
  int associate_public_ip;   /* -1 unset */
} aws_node_class;

/* Parses an EC2NodeClass object (the whole object or its spec).  NW_OK or
 * NW_ERR_INVALID with err naming the field ("spec.subnetSelectorTerms[1]:
 * ..."). */
nw_status aws_node_class_parse(const char *json, aws_node_class *out,
                               nw_error *err);
void aws_node_class_free(aws_node_class *nc);

/* ------------------------------------------------------- interruption */

typedef struct aws_event {
  nw_event_kind kind;
  char instance_ids[8][32];
  size_t n_instances;
  char state[32];
  int64_t time_ms;
  char detail[160];
} aws_event;

/* Parses an SQS message body holding an EventBridge envelope.  Returns 1
 * for an event we act on, 0 for a well-formed event of no interest, -1
 * when malformed (err says why). */
int aws_event_parse(const char *body, aws_event *out, nw_error *err);

/* ------------------------------------------------------------- plugin */

typedef struct aws_unavailable {
  char key[128];             /* "type/zone/capacity-type" */
  int64_t until_ms;
} aws_unavailable;

typedef struct aws_lt_entry {
  char name[128];
  char id[64];
  int64_t used_ms;           /* monotonic, last launch that used it */
} aws_lt_entry;

typedef struct aws_instance_rec {
  char id[32];
  char zone[32];
} aws_instance_rec;

typedef struct aws_state {
  const nw_host_api *host;
  nw_plugin_handle *h;
  nw_aws_env env;
  nw_aws_creds *creds;
  nw_aws_client *client;
  json_t *config;
  char *cluster;
  char *k8s_version;
  char *cluster_endpoint;
  char *cluster_ca;
  char *queue;               /* name or URL from config, or NULL */
  char *queue_url;           /* resolved */
  double vm_overhead;
  double spot_factor;
  int64_t catalog_ttl_ms;
  int batch_idle_ms;         /* CreateFleet batching windows */
  int batch_max_ms;

  pthread_mutex_t mu;        /* guards everything below */
  aws_catalog catalog;
  int64_t catalog_at_ms;     /* monotonic; 0 = never loaded */
  pthread_mutex_t umu;       /* guards the unavailable list only, so it can
                                be consulted while mu is held */
  size_t n_unavailable, cap_unavailable;
  aws_unavailable *unavailable;
  size_t n_lts, cap_lts;
  struct aws_lt_entry *lts;  /* launch template cache: name -> id */
  int64_t lt_ttl_ms;         /* unused this long: deleted from EC2 */
  pthread_rwlock_t lt_lock;  /* launches read, template deletion writes */
  size_t n_instances, cap_instances;
  aws_instance_rec *instances; /* instance id -> zone, for events */

  pthread_mutex_t bmu;       /* guards the CreateFleet batches */
  void *batches;             /* struct fleet_batch list (ec2.c) */
  void *id_batches;          /* Describe/TerminateInstances batches (ec2.c) */

  int64_t resolve_ttl_ms;    /* node class resolution cache (under mu) */
  struct aws_resolve_entry *resolve_cache; /* AWS_RESOLVE_CACHE entries */
} aws_state;

/* The host's HTTP as an nw_awscore transport. */
nw_status aws_http(void *user, const nw_http_request *req,
                   nw_http_response *resp, nw_arena *arena, nw_error *err);

/* Offering availability (3 min after a capacity error). */
void aws_mark_unavailable(aws_state *s, const char *type, const char *zone,
                          const char *capacity_type);
int aws_is_unavailable(aws_state *s, const char *type, const char *zone,
                       const char *capacity_type);
/* The user's override from the config table `prices` (on-demand; spot =
 * factor x on-demand).  < 0 when the table does not name the type: the
 * offering is then priced by the host's pricing plugins. */
double aws_price(aws_state *s, const char *type, const char *capacity_type);
/* The price launches are ordered by: the override, else the host's
 * pricing plugins (ABI 1.2 host->price).  < 0 when nobody knows it. */
double aws_launch_price(aws_state *s, const char *type, const char *zone,
                        const char *capacity_type);
/* Does the host price offerings for plugins (ABI 1.2)? */
int aws_host_prices(const aws_state *s);
void aws_remember_instance(aws_state *s, const char *id, const char *zone);

/* ec2.c */
nw_status aws_catalog_refresh(aws_state *s, nw_arena *arena, nw_error *err);

typedef struct aws_subnet {
  char id[32];
  char zone[32];
  int64_t free_ips;
} aws_subnet;

typedef struct aws_ami {
  char id[32];
  char arch[16];             /* "amd64" / "arm64" */
  char created[40];
} aws_ami;

typedef struct aws_resolved {
  size_t n_subnets, n_sgs, n_amis;
  aws_subnet subnets[64];
  char sgs[16][32];
  aws_ami amis[8];
  char instance_profile[128]; /* made from spec.role, or "" */
} aws_resolved;

enum { AWS_RESOLVE_CACHE = 8 };

typedef struct aws_resolve_entry {
  char hash[32];
  int64_t at_ms;             /* monotonic; 0 = empty */
  aws_resolved resolved;
} aws_resolve_entry;

nw_status aws_resolve_node_class(aws_state *s, const aws_node_class *nc,
                                 nw_arena *arena, aws_resolved *out,
                                 nw_error *err);
nw_status aws_instance_types(aws_state *s, const char *node_class_json,
                             nw_arena *arena, nw_instance_types *out,
                             nw_error *err);
nw_status aws_create(aws_state *s, const nw_node_claim *claim, nw_arena *arena,
                     nw_node_instance *out, nw_error *err);
nw_status aws_delete(aws_state *s, const char *provider_id, nw_error *err);
nw_status aws_get(aws_state *s, const char *provider_id, nw_arena *arena,
                  nw_node_instance *out, nw_error *err);
nw_status aws_list(aws_state *s, nw_arena *arena, nw_node_instances *out,
                   nw_error *err);
nw_status aws_is_drifted(aws_state *s, const nw_node_instance *inst,
                         const char *node_class_json, nw_arena *arena,
                         const char **reason, nw_error *err);
/* ABI 1.2: CreateTags Name=<node> (and the claim tag) once the Node
 * registered; the node class's status JSON (resolved subnets, security
 * groups, AMIs, instance profile, conditions) in the arena. */
nw_status aws_registered(aws_state *s, const char *provider_id,
                         const char *claim_name, const char *node_name,
                         nw_error *err);
nw_status aws_node_class_status(aws_state *s, const char *node_class_json,
                                nw_arena *arena, const char **status_json,
                                nw_error *err);
/* sqs.c */
nw_status aws_poll_events(aws_state *s, int64_t wait_ms, size_t max,
                          nw_arena *arena, nw_provider_event **out,
                          size_t *n_out, nw_error *err);

/* "aws:///us-east-1a/i-0123" -> "i-0123" (into buf of 32); NULL if not
 * an AWS provider id. */
const char *aws_instance_id(const char *provider_id, char buf[32]);

/* The labels an AWS instance type carries (karpenter.k8s.aws/ ones and the
 * well-known ones), NULL-terminated: what requirements and node labels
 * are built from, and what counts as a known label. */
extern const char *const aws_label_keys[];

#endif
