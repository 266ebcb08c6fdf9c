/*
 * Instance-type catalogs: the real AWS us-east-1 catalog shipped in
 * configs/catalogs/aws-us-east-1.json (a faithful copy of the recorded
 * DescribeInstanceTypes data with on-demand prices), and synthetic ones
 * (karpenter-diverse: Karpenter's scheduling benchmark catalog).
 *
 * A catalog is a plain nw_instance_types array — the same data a provider
 * plugin returns — so the scheduler, the simulator and the providers all
 * consume one shape.
 *
 * ## How an AWS instance type becomes capacity, overhead and labels
 *
 * This is the ONE place the formula lives (plugins cannot link nwcore; the
 * AWS provider plugin must mirror these functions exactly).  It follows
 * Karpenter's AWS provider (pkg/providers/instancetype/types.go):
 *
 *  - memory capacity = MiB * 2^20 minus the VM overhead, ceil(MiB * 7.5%)
 *    MiB (vmMemoryOverheadPercent = 0.075);
 *  - pods = ENI-limited max pods = max_enis * (ipv4_per_eni - 1) + 2;
 *  - ephemeral-storage capacity = 20 GiB (the EC2NodeClass default root
 *    volume);
 *  - GPUs: nvidia.com/gpu or amd.com/gpu = GPU count, by manufacturer;
 *  - kube-reserved cpu (millicores) = 6% of the first core + 1% of the
 *    second + 0.5% of the third and fourth + 0.25% of every further core;
 *  - kube-reserved memory = 11 MiB * pods + 255 MiB;
 *  - kube-reserved ephemeral-storage = 1 GiB;
 *  - eviction threshold: memory.available 100 MiB, nodefs.available 10%;
 *  - allocatable = capacity - kube_reserved - system_reserved - eviction
 *    (system_reserved is empty by default).
 *
 * Labels (as requirements "key In [value]"): node.kubernetes.io/instance-type,
 * kubernetes.io/arch (amd64|arm64), kubernetes.io/os=linux,
 * topology.kubernetes.io/region, topology.kubernetes.io/zone (every offered
 * zone), karpenter.sh/capacity-type (offered ones), and
 * karpenter.k8s.aws/instance-{family,category,generation,size,cpu,memory,
 * cpu-manufacturer,hypervisor,local-nvme,gpu-name,gpu-manufacturer,gpu-count,
 * gpu-memory}.  Category/generation follow Karpenter's
 * ^([a-z]+)(-[0-9]+tb)?([0-9]+) on the family name.  Mac instance types are
 * left out, as Karpenter does.
 *
 * ## Spot prices (modelled, not recorded)
 *
 * The data has no spot prices (they move hourly).  nw__aws_spot_price()
 * models them as a fixed fraction of on-demand per family, between 30% and
 * 45% (derived from a hash of the family name, so stable), varied by zone
 * by up to +-6%.  Every figure computed from the default catalog's spot
 * offerings is therefore a model; the pricing plugin replaces it with real
 * prices when it runs.  Types without an on-demand price have unavailable
 * offerings (price -1).
 */
#ifndef NW_CATALOG_CATALOG_H
#define NW_CATALOG_CATALOG_H

#include <stddef.h>
#include <stdint.h>

#include <nodewright/types.h>

typedef struct nw__catalog {
  nw_arena *arena;             /* owns everything below */
  const char *name;
  nw_instance_types types;
} nw__catalog;

/*
 * Loads a catalog in the format of configs/catalogs/aws-us-east-1.json
 * from `path` (borrowed).  Returns a catalog the caller frees with
 * nw__catalog_free, or NULL with err filled ("<path>: ...").
 */
nw__catalog *nw__catalog_load_aws(const char *path, nw_error *err);

/* The shipped AWS catalog, found under NW_SOURCE_DIR or the installed
 * data dir; or the file named by $NW_AWS_CATALOG. */
nw__catalog *nw__catalog_load_default_aws(nw_error *err);
const char *nw__catalog_default_aws_path(void);

/*
 * Karpenter's benchmark catalog: n types, type i with (i+1) vCPU,
 * 2(i+1) GiB, 10(i+1) pods, price 0.1 * vCPU + 0.1 * GiB, spot in
 * test-zone-1..2 and on-demand in test-zone-1..3, kube-reserved 100m cpu
 * and 10 MiB memory, amd64/linux.  Names "fake-it-<i>".
 */
nw__catalog *nw__catalog_karpenter_diverse(size_t n);

/*
 * A catalog by name, for configs and scenarios: "aws" or "aws-us-east-1"
 * (the shipped catalog), "karpenter-diverse" or "karpenter-diverse:<n>"
 * (400 types by default), or a path to a file in the AWS catalog format.
 * NULL with err filled when unknown or unreadable.
 */
nw__catalog *nw__catalog_load(const char *spec, nw_error *err);

/* Releases the catalog and its arena; NULL is fine. */
void nw__catalog_free(nw__catalog *c);

/* ---- the AWS formula, one function per rule (see above) ----------- */
int64_t nw__aws_max_pods(int64_t max_enis, int64_t ipv4_per_eni);
int64_t nw__aws_memory_bytes(int64_t memory_mib);
int64_t nw__aws_kube_reserved_cpu_m(int64_t vcpu);
int64_t nw__aws_kube_reserved_memory(int64_t max_pods);
/* The modelled spot price of `family` in `zone`. */
double nw__aws_spot_price(const char *family, const char *zone, double od);

#endif
