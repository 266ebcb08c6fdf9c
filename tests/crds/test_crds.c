/*
 * The CRDs in configs/crds behave like Karpenter's v1 API in a real
 * kube-apiserver: they install and become Established, Karpenter-style
 * manifests (configs/examples) apply unchanged, server-side defaults are
 * filled in, printer columns and the status subresource work, and invalid
 * objects are rejected by the schema or the CEL rules with their message.
 */
#include "kubectl_util.h"
#include "nwtest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const crds[] = {
    "nodepools.karpenter.sh", "nodeclaims.karpenter.sh",
    "ec2nodeclasses.karpenter.k8s.aws", "kindnodeclasses.nodewright.dev"};

static int suite_setup(void) {
  char *out = NULL;
  int rc = nwt_kubectl(&out, "apply -f '%s'", nw_test_src_path("configs/crds"));
  if (rc != 0) {
    fprintf(stderr, "applying configs/crds failed: %s\n", out);
    free(out);
    return 1;
  }
  free(out);
  for (size_t i = 0; i < sizeof(crds) / sizeof(crds[0]); i++) {
    rc = nwt_kubectl(&out, "wait --for condition=Established --timeout=60s crd/%s", crds[i]);
    if (rc != 0)
      fprintf(stderr, "crd %s not established: %s\n", crds[i], out);
    free(out);
    if (rc != 0)
      return 1;
  }
  return 0;
}

/* Applies a manifest; returns kubectl's status, output in *out (owned). */
static int apply(const char *yaml, char **out) {
  return nwt_kubectl_stdin(yaml, out, "apply -f -");
}

static void test_crds_served(void) {
  char *out = NULL;
  CU_ASSERT_EQUAL(nwt_kubectl(&out, "api-resources --api-group=karpenter.sh -o name"), 0);
  CU_ASSERT_PTR_NOT_NULL(strstr(out, "nodepools.karpenter.sh"));
  CU_ASSERT_PTR_NOT_NULL(strstr(out, "nodeclaims.karpenter.sh"));
  free(out);
  /* Short names and categories, as with Karpenter. */
  CU_ASSERT_EQUAL(nwt_kubectl(&out, "get ec2nc"), 0);
  free(out);
  CU_ASSERT_EQUAL(nwt_kubectl(&out, "get karpenter"), 0);
  free(out);
  json_t *crd = nwt_kubectl_json("get crd nodepools.karpenter.sh -o json");
  CU_ASSERT_STRING_EQUAL(nwt_json_str(crd, "spec.scope"), "Cluster");
  CU_ASSERT_STRING_EQUAL(nwt_json_str(crd, "spec.versions.0.name"), "v1");
  CU_ASSERT_PTR_NOT_NULL(nwt_json_at(crd, "spec.versions.0.subresources.status"));
  json_decref(crd);
}

static void test_examples_apply(void) {
  const char *files[] = {"configs/examples/aws-nodepool-kong.yaml",
                         "configs/examples/aws-static-reserved.yaml",
                         "configs/examples/kind-nodepool.yaml",
                         "configs/examples/nodeclaim.yaml"};
  for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
    char *out = NULL;
    int rc = nwt_kubectl(&out, "apply -f '%s'", nw_test_src_path(files[i]));
    if (rc != 0)
      fprintf(stderr, "%s: %s\n", files[i], out);
    CU_ASSERT_EQUAL(rc, 0);
    free(out);
  }
  json_t *np = nwt_kubectl_json("get nodepool kong -o json");
  CU_ASSERT_STRING_EQUAL(nwt_json_str(np, "spec.template.metadata.labels.nodegroupname"), "kong");
  CU_ASSERT_STRING_EQUAL(nwt_json_str(np, "spec.template.spec.expireAfter"), "336h");
  CU_ASSERT_STRING_EQUAL(nwt_json_str(np, "spec.disruption.budgets.1.schedule"), "0 9 * * mon-fri");
  CU_ASSERT_EQUAL(json_integer_value(nwt_json_at(np, "spec.template.spec.requirements.2.minValues")), 2);
  json_decref(np);
  json_t *nc = nwt_kubectl_json("get ec2nodeclass kong -o json");
  CU_ASSERT_STRING_EQUAL(nwt_json_str(nc, "spec.amiSelectorTerms.0.alias"), "al2023@latest");
  CU_ASSERT_STRING_EQUAL(nwt_json_str(nc, "spec.metadataOptions.httpTokens"), "required");
  json_decref(nc);
  json_t *st = nwt_kubectl_json("get nodepool gpu-static -o json");
  CU_ASSERT_EQUAL(json_integer_value(nwt_json_at(st, "spec.replicas")), 2);
  json_decref(st);
  json_t *gr = nwt_kubectl_json("get ec2nodeclass gpu-reserved -o json");
  CU_ASSERT_STRING_EQUAL(nwt_json_str(gr, "spec.capacityReservationSelectorTerms.1.ownerID"), "123456789012");
  json_decref(gr);
  json_t *claim = nwt_kubectl_json("get nodeclaim kong-abcde -o json");
  CU_ASSERT_STRING_EQUAL(nwt_json_str(claim, "spec.resources.requests.cpu"), "1500m");
  CU_ASSERT_STRING_EQUAL(nwt_json_str(claim, "spec.expireAfter"), "720h");
  json_decref(claim);
}

static void test_nodepool_defaults(void) {
  const char *name = nwt_unique("nwt-np-defaults");
  char yaml[1024], *out = NULL;
  snprintf(yaml, sizeof(yaml),
           "apiVersion: karpenter.sh/v1\nkind: NodePool\nmetadata: {name: %s}\n"
           "spec:\n  template:\n    spec:\n"
           "      nodeClassRef: {group: karpenter.k8s.aws, kind: EC2NodeClass, name: x}\n"
           "      requirements: [{key: kubernetes.io/arch, operator: In, values: [amd64]}]\n",
           name);
  int rc = apply(yaml, &out);
  if (rc != 0)
    fprintf(stderr, "apply: %s\n", out);
  CU_ASSERT_EQUAL_FATAL(rc, 0);
  free(out);
  json_t *np = nwt_kubectl_json("get nodepool %s -o json", name);
  CU_ASSERT_STRING_EQUAL(nwt_json_str(np, "spec.disruption.consolidateAfter"), "0s");
  CU_ASSERT_STRING_EQUAL(nwt_json_str(np, "spec.disruption.consolidationPolicy"), "WhenEmptyOrUnderutilized");
  CU_ASSERT_EQUAL(json_array_size(nwt_json_at(np, "spec.disruption.budgets")), 1);
  CU_ASSERT_STRING_EQUAL(nwt_json_str(np, "spec.disruption.budgets.0.nodes"), "10%");
  CU_ASSERT_STRING_EQUAL(nwt_json_str(np, "spec.template.spec.expireAfter"), "720h");
  CU_ASSERT_PTR_NULL(nwt_json_at(np, "spec.weight"));
  json_decref(np);
  nwt_kubectl(NULL, "delete nodepool %s", name);
}

static void test_nodeclass_defaults(void) {
  const char *name = nwt_unique("nwt-ec2nc");
  char yaml[1024], *out = NULL;
  snprintf(yaml, sizeof(yaml),
           "apiVersion: karpenter.k8s.aws/v1\nkind: EC2NodeClass\nmetadata: {name: %s}\n"
           "spec:\n  role: NodeRole\n  amiFamily: AL2023\n"
           "  amiSelectorTerms: [{id: ami-0123456789abcdef0}]\n"
           "  subnetSelectorTerms: [{id: subnet-0123}]\n"
           "  securityGroupSelectorTerms: [{tags: {team: a}}]\n",
           name);
  int rc = apply(yaml, &out);
  if (rc != 0)
    fprintf(stderr, "apply: %s\n", out);
  CU_ASSERT_EQUAL(rc, 0);
  free(out);
  json_t *nc = nwt_kubectl_json("get ec2nodeclass %s -o json", name);
  CU_ASSERT_STRING_EQUAL(nwt_json_str(nc, "spec.metadataOptions.httpEndpoint"), "enabled");
  CU_ASSERT_STRING_EQUAL(nwt_json_str(nc, "spec.metadataOptions.httpProtocolIPv6"), "disabled");
  CU_ASSERT_STRING_EQUAL(nwt_json_str(nc, "spec.metadataOptions.httpTokens"), "required");
  CU_ASSERT_EQUAL(json_integer_value(nwt_json_at(nc, "spec.metadataOptions.httpPutResponseHopLimit")), 1);
  json_decref(nc);
  nwt_kubectl(NULL, "delete ec2nodeclass %s", name);

  name = nwt_unique("nwt-kindnc");
  snprintf(yaml, sizeof(yaml),
           "apiVersion: nodewright.dev/v1alpha1\nkind: KindNodeClass\nmetadata: {name: %s}\n"
           "spec: {clusterName: nodewright, image: 'kindest/node:v1.31.0'}\n",
           name);
  CU_ASSERT_EQUAL(apply(yaml, &out), 0);
  free(out);
  json_t *kc = nwt_kubectl_json("get kindnodeclass %s -o json", name);
  CU_ASSERT_STRING_EQUAL(nwt_json_str(kc, "spec.network"), "kind");
  CU_ASSERT_STRING_EQUAL(nwt_json_str(kc, "spec.runtime"), "kubeadm");
  json_decref(kc);
  nwt_kubectl(NULL, "delete kindnodeclass %s", name);
}

/* A NodePool manifest with one part swapped for something invalid. */
struct bad_case {
  const char *what;
  const char *spec; /* the NodePool's spec, as YAML flow */
  const char *expect; /* in kubectl's error */
};

#define REF "nodeClassRef: {group: karpenter.k8s.aws, kind: EC2NodeClass, name: x}"
#define REQ "requirements: [{key: kubernetes.io/arch, operator: In, values: [amd64]}]"

static const struct bad_case bad_nodepools[] = {
    {"bad operator", "{template: {spec: {" REF ", requirements: [{key: a, operator: Equals, values: [b]}]}}}",
     "Unsupported value: \"Equals\""},
    {"consolidateAfter format", "{disruption: {consolidateAfter: thirty seconds}, template: {spec: {" REF ", " REQ "}}}",
     "spec.disruption.consolidateAfter"},
    {"missing nodeClassRef", "{template: {spec: {" REQ "}}}",
     "spec.template.spec.nodeClassRef: Required value"},
    {"missing template", "{limits: {cpu: '10'}}", "spec.template: Required value"},
    {"nodeClassRef without group", "{template: {spec: {nodeClassRef: {kind: EC2NodeClass, name: x}, " REQ "}}}",
     "spec.template.spec.nodeClassRef.group: Required value"},
    {"In without values", "{template: {spec: {" REF ", requirements: [{key: a, operator: In}]}}}",
     "requirements with operator 'In' must have a value defined"},
    {"Gt with two values", "{template: {spec: {" REF ", requirements: [{key: a, operator: Gt, values: ['1', '2']}]}}}",
     "must have a single positive integer value"},
    {"restricted label", "{template: {spec: {" REF ", requirements: [{key: kubernetes.io/hostname, operator: Exists}]}}}",
     "label \"kubernetes.io/hostname\" is restricted"},
    {"minValues above values", "{template: {spec: {" REF ", requirements: [{key: a, operator: In, values: [b], minValues: 2}]}}}",
     "must have at least that many values"},
    {"schedule without duration", "{disruption: {consolidateAfter: 1m, budgets: [{nodes: '1', schedule: '@daily'}]}, template: {spec: {" REF ", " REQ "}}}",
     "'schedule' must be set with 'duration'"},
    {"budget nodes", "{disruption: {consolidateAfter: 1m, budgets: [{nodes: '150%'}]}, template: {spec: {" REF ", " REQ "}}}",
     "spec.disruption.budgets[0].nodes"},
    {"weight out of range", "{weight: 101, template: {spec: {" REF ", " REQ "}}}", "spec.weight"},
    {"bad taint effect", "{template: {spec: {" REF ", " REQ ", taints: [{key: a, effect: Sometimes}]}}}",
     "Unsupported value: \"Sometimes\""},
    {"bad consolidationPolicy", "{disruption: {consolidateAfter: 1m, consolidationPolicy: WhenUnderutilized}, template: {spec: {" REF ", " REQ "}}}",
     "Unsupported value: \"WhenUnderutilized\""},
};

static void expect_rejected(const char *kind_yaml_head, const char *name,
                            const char *what, const char *body,
                            const char *expect, const char *resource) {
  char yaml[2048], *out = NULL;
  snprintf(yaml, sizeof(yaml), "%s\nmetadata: {name: %s}\n%s\n", kind_yaml_head, name, body);
  int rc = apply(yaml, &out);
  if (rc == 0 || !strstr(out, expect))
    fprintf(stderr, "case '%s': rc=%d, wanted '%s' in: %s\n", what, rc, expect, out);
  CU_ASSERT_NOT_EQUAL(rc, 0);
  CU_ASSERT_PTR_NOT_NULL(strstr(out, expect));
  free(out);
  /* Rejected means not stored. */
  CU_ASSERT_NOT_EQUAL(nwt_kubectl(&out, "get %s %s", resource, name), 0);
  CU_ASSERT_PTR_NOT_NULL(strstr(out, "NotFound"));
  free(out);
}

static void test_invalid_nodepools(void) {
  for (size_t i = 0; i < sizeof(bad_nodepools) / sizeof(bad_nodepools[0]); i++) {
    char body[1024];
    snprintf(body, sizeof(body), "spec: %s", bad_nodepools[i].spec);
    expect_rejected("apiVersion: karpenter.sh/v1\nkind: NodePool", nwt_unique("nwt-bad-np"),
                    bad_nodepools[i].what, body, bad_nodepools[i].expect, "nodepool");
  }
}

static const struct bad_case bad_nodeclasses[] = {
    {"role and instanceProfile", "{role: r, instanceProfile: p, amiSelectorTerms: [{alias: al2023@latest}], subnetSelectorTerms: [{id: subnet-1}], securityGroupSelectorTerms: [{id: sg-1}]}",
     "must specify exactly one of ['role', 'instanceProfile']"},
    {"unknown alias family", "{role: r, amiSelectorTerms: [{alias: ubuntu@latest}], subnetSelectorTerms: [{id: subnet-1}], securityGroupSelectorTerms: [{id: sg-1}]}",
     "family is not supported"},
    {"no amiFamily without alias", "{role: r, amiSelectorTerms: [{id: ami-1}], subnetSelectorTerms: [{id: subnet-1}], securityGroupSelectorTerms: [{id: sg-1}]}",
     "must specify amiFamily if amiSelectorTerms does not contain an alias"},
    {"empty subnet terms", "{role: r, amiSelectorTerms: [{alias: al2023@latest}], subnetSelectorTerms: [], securityGroupSelectorTerms: [{id: sg-1}]}",
     "subnetSelectorTerms cannot be empty"},
    {"missing amiSelectorTerms", "{role: r, subnetSelectorTerms: [{id: subnet-1}], securityGroupSelectorTerms: [{id: sg-1}]}",
     "spec.amiSelectorTerms: Required value"},
    {"reservation id with ownerID", "{role: r, amiSelectorTerms: [{alias: al2023@latest}], subnetSelectorTerms: [{id: subnet-1}], securityGroupSelectorTerms: [{id: sg-1}], capacityReservationSelectorTerms: [{id: cr-1, ownerID: '123456789012'}]}",
     "'id' is mutually exclusive"},
    {"unknown field", "{role: r, amiSelectorTerms: [{alias: al2023@latest}], subnetSelectorTerms: [{id: subnet-1}], securityGroupSelectorTerms: [{id: sg-1}], instanceType: m5.large}",
     "unknown field \"spec.instanceType\""},
    {"restricted tag", "{role: r, amiSelectorTerms: [{alias: al2023@latest}], subnetSelectorTerms: [{id: subnet-1}], securityGroupSelectorTerms: [{id: sg-1}], tags: {karpenter.sh/nodepool: x}}",
     "tag contains a restricted tag matching karpenter.sh/nodepool"},
};

static void test_invalid_nodeclasses(void) {
  for (size_t i = 0; i < sizeof(bad_nodeclasses) / sizeof(bad_nodeclasses[0]); i++) {
    char body[1024];
    snprintf(body, sizeof(body), "spec: %s", bad_nodeclasses[i].spec);
    expect_rejected("apiVersion: karpenter.k8s.aws/v1\nkind: EC2NodeClass", nwt_unique("nwt-bad-nc"),
                    bad_nodeclasses[i].what, body, bad_nodeclasses[i].expect, "ec2nodeclass");
  }
  expect_rejected("apiVersion: nodewright.dev/v1alpha1\nkind: KindNodeClass", nwt_unique("nwt-bad-kind"),
                  "bad runtime", "spec: {clusterName: c, image: i, runtime: firecracker}",
                  "Unsupported value: \"firecracker\"", "kindnodeclass");
  expect_rejected("apiVersion: nodewright.dev/v1alpha1\nkind: KindNodeClass", nwt_unique("nwt-bad-kind"),
                  "kubeadm without image", "spec: {clusterName: c}",
                  "image is required when runtime is kubeadm", "kindnodeclass");
}

static void test_immutability(void) {
  const char *name = nwt_unique("nwt-claim");
  char yaml[1024], *out = NULL;
  const char *fmt = "apiVersion: karpenter.sh/v1\nkind: NodeClaim\nmetadata: {name: %s}\n"
                    "spec:\n  nodeClassRef: {group: karpenter.k8s.aws, kind: EC2NodeClass, name: x}\n"
                    "  requirements: [{key: node.kubernetes.io/instance-type, operator: In, values: [%s]}]\n";
  snprintf(yaml, sizeof(yaml), fmt, name, "m5.large");
  CU_ASSERT_EQUAL_FATAL(apply(yaml, &out), 0);
  free(out);
  snprintf(yaml, sizeof(yaml), fmt, name, "m5.xlarge");
  CU_ASSERT_NOT_EQUAL(apply(yaml, &out), 0);
  CU_ASSERT_PTR_NOT_NULL(strstr(out, "spec is immutable"));
  free(out);
  nwt_kubectl(NULL, "delete nodeclaim %s", name);

  /* EC2NodeClass role is immutable too. */
  name = nwt_unique("nwt-role");
  const char *nfmt = "apiVersion: karpenter.k8s.aws/v1\nkind: EC2NodeClass\nmetadata: {name: %s}\n"
                     "spec: {role: %s, amiSelectorTerms: [{alias: al2023@latest}], "
                     "subnetSelectorTerms: [{id: subnet-1}], securityGroupSelectorTerms: [{id: sg-1}]}\n";
  snprintf(yaml, sizeof(yaml), nfmt, name, "RoleA");
  CU_ASSERT_EQUAL_FATAL(apply(yaml, &out), 0);
  free(out);
  snprintf(yaml, sizeof(yaml), nfmt, name, "RoleB");
  CU_ASSERT_NOT_EQUAL(apply(yaml, &out), 0);
  CU_ASSERT_PTR_NOT_NULL(strstr(out, "immutable field changed"));
  free(out);
  nwt_kubectl(NULL, "delete ec2nodeclass %s", name);
}

static void test_status_and_columns(void) {
  const char *name = nwt_unique("nwt-np-status");
  char yaml[1024], *out = NULL;
  snprintf(yaml, sizeof(yaml),
           "apiVersion: karpenter.sh/v1\nkind: NodePool\nmetadata: {name: %s}\n"
           "spec: {template: {spec: {" REF ", " REQ "}}}\n"
           "status: {resources: {nodes: '7'}}\n",
           name);
  CU_ASSERT_EQUAL_FATAL(apply(yaml, &out), 0);
  free(out);
  /* status is a subresource: writing it with the object is ignored. */
  json_t *np = nwt_kubectl_json("get nodepool %s -o json", name);
  CU_ASSERT_PTR_NULL(nwt_json_at(np, "status.resources"));
  json_decref(np);
  int rc = nwt_kubectl(&out,
      "patch nodepool %s --subresource=status --type=merge -p "
      "'{\"status\":{\"resources\":{\"nodes\":\"3\",\"cpu\":\"12\"},\"conditions\":[{\"type\":\"Ready\","
      "\"status\":\"True\",\"reason\":\"Ready\",\"message\":\"\",\"lastTransitionTime\":\"2026-01-01T00:00:00Z\"}]}}'",
      name);
  if (rc != 0)
    fprintf(stderr, "status patch: %s\n", out);
  CU_ASSERT_EQUAL(rc, 0);
  free(out);
  /* A condition without a reason breaks the schema. */
  CU_ASSERT_NOT_EQUAL(nwt_kubectl(&out,
      "patch nodepool %s --subresource=status --type=merge -p "
      "'{\"status\":{\"conditions\":[{\"type\":\"Ready\",\"status\":\"Maybe\",\"reason\":\"\","
      "\"message\":\"\",\"lastTransitionTime\":\"2026-01-01T00:00:00Z\"}]}}'",
      name), 0);
  free(out);
  /* Printer columns as Karpenter's: NAME NODECLASS NODES READY AGE. */
  CU_ASSERT_EQUAL(nwt_kubectl(&out, "get nodepool %s", name), 0);
  CU_ASSERT_PTR_NOT_NULL(strstr(out, "NODECLASS"));
  char want[256];
  snprintf(want, sizeof(want), "%s", name);
  char *row = strstr(out, want);
  CU_ASSERT_PTR_NOT_NULL(row);
  if (row) {
    char n1[128], cls[64], nodes[16], ready[16];
    CU_ASSERT_EQUAL(sscanf(row, "%127s %63s %15s %15s", n1, cls, nodes, ready), 4);
    CU_ASSERT_STRING_EQUAL(cls, "x");
    CU_ASSERT_STRING_EQUAL(nodes, "3");
    CU_ASSERT_STRING_EQUAL(ready, "True");
  }
  free(out);
  CU_ASSERT_EQUAL(nwt_kubectl(&out, "get nodepool %s -o wide", name), 0);
  CU_ASSERT_PTR_NOT_NULL(strstr(out, "WEIGHT"));
  CU_ASSERT_PTR_NOT_NULL(strstr(out, "CPU"));
  free(out);
  nwt_kubectl(NULL, "delete nodepool %s", name);
}

NW_TEST_CASES({"crds_served", test_crds_served},
              {"examples_apply", test_examples_apply},
              {"nodepool_defaults", test_nodepool_defaults},
              {"nodeclass_defaults", test_nodeclass_defaults},
              {"invalid_nodepools", test_invalid_nodepools},
              {"invalid_nodeclasses", test_invalid_nodeclasses},
              {"immutability", test_immutability},
              {"status_and_columns", test_status_and_columns});
NW_TEST_MAIN("crds", suite_setup, NULL);
