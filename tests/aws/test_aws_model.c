/*
 * The AWS provider's pure model: catalog parsing from recorded EC2 answers
 * (tests/aws/fixtures, recorded from moto's EC2 data), Karpenter's capacity
 * arithmetic, labels and requirements, EC2NodeClass parsing, EventBridge
 * messages, and parsers fed broken input.
 *
 * Expected capacity numbers are the published ones (EKS eni-max-pods,
 * Karpenter's kube-reserved table), not recomputed here.
 */
#include "nwtest.h"

#include "aws.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const int64_t MI = 1024 * 1024;

static char *fixture(const char *name, size_t *len) {
  char rel[256];
  snprintf(rel, sizeof(rel), "tests/aws/fixtures/%s", name);
  return nw_test_read_file(nw_test_src_path(rel), len);
}

static void load_catalog(aws_catalog *cat) {
  size_t len;
  char *xml = fixture("describe-instance-types.xml", &len);
  CU_ASSERT_PTR_NOT_NULL_FATAL(xml);
  nw_error err = {0};
  xmlDocPtr doc = nw_aws_xml_parse(xml, len, "fixture", &err);
  CU_ASSERT_PTR_NOT_NULL_FATAL(doc);
  memset(cat, 0, sizeof(*cat));
  CU_ASSERT_EQUAL(aws_catalog_add_page(cat, xmlDocGetRootElement(doc), &err), 4);
  xmlFreeDoc(doc);
  free(xml);
  xml = fixture("describe-instance-type-offerings.xml", &len);
  CU_ASSERT_PTR_NOT_NULL_FATAL(xml);
  doc = nw_aws_xml_parse(xml, len, "fixture", &err);
  CU_ASSERT_PTR_NOT_NULL_FATAL(doc);
  CU_ASSERT_EQUAL(aws_catalog_add_offerings(cat, xmlDocGetRootElement(doc), &err), 10);
  xmlFreeDoc(doc);
  free(xml);
  aws_catalog_sort(cat);
}

static void test_catalog_parse(void) {
  aws_catalog cat;
  load_catalog(&cat);
  CU_ASSERT_EQUAL(cat.len, 4);
  const aws_itype *m5 = aws_catalog_find(&cat, "m5.large");
  CU_ASSERT_PTR_NOT_NULL_FATAL(m5);
  CU_ASSERT_EQUAL(m5->vcpus, 2);
  CU_ASSERT_EQUAL(m5->memory_mib, 8192);
  CU_ASSERT_STRING_EQUAL(m5->arch, "amd64");
  CU_ASSERT_STRING_EQUAL(m5->manufacturer, "intel");
  CU_ASSERT_EQUAL(m5->n_zones, 5);
  CU_ASSERT_TRUE(m5->spot && m5->on_demand);
  const aws_itype *g4 = aws_catalog_find(&cat, "g4dn.xlarge");
  CU_ASSERT_PTR_NOT_NULL_FATAL(g4);
  CU_ASSERT_EQUAL(g4->gpu_count, 1);
  CU_ASSERT_STRING_EQUAL(g4->gpu_name, "t4");
  CU_ASSERT_STRING_EQUAL(g4->gpu_manufacturer, "nvidia");
  CU_ASSERT_EQUAL(g4->local_nvme_gb, 125);
  const aws_itype *arm = aws_catalog_find(&cat, "m6gd.large");
  CU_ASSERT_PTR_NOT_NULL_FATAL(arm);
  CU_ASSERT_STRING_EQUAL(arm->arch, "arm64");
  CU_ASSERT_EQUAL(arm->n_zones, 0); /* no offerings in the fixture */
  aws_catalog_free(&cat);
}

static void test_catalog_skips_non_hvm(void) {
  size_t len;
  char *xml = fixture("describe-instance-types.xml", &len);
  CU_ASSERT_PTR_NOT_NULL_FATAL(xml);
  /* Make the first type paravirtual only: it must be skipped. */
  char *v = strstr(xml, "<supportedVirtualizationTypes><item>hvm</item>");
  CU_ASSERT_PTR_NOT_NULL_FATAL(v);
  memcpy(strstr(v, "hvm"), "xen", 3);
  nw_error err = {0};
  xmlDocPtr doc = nw_aws_xml_parse(xml, len, "fixture", &err);
  aws_catalog cat = {0};
  CU_ASSERT_EQUAL(aws_catalog_add_page(&cat, xmlDocGetRootElement(doc), &err), 4);
  CU_ASSERT_EQUAL(cat.len, 3);
  aws_catalog_free(&cat);
  xmlFreeDoc(doc);
  free(xml);
}

static void test_capacity_published_values(void) {
  /* EKS eni-max-pods: m5.large 29, c5.24xlarge 737. */
  CU_ASSERT_EQUAL(aws_eni_max_pods(3, 10), 29);
  CU_ASSERT_EQUAL(aws_eni_max_pods(15, 50), 737);
  /* Karpenter/EKS kube-reserved CPU: 1 core 60m, 2 70m, 4 80m, 8 90m,
   * 96 310m. */
  CU_ASSERT_EQUAL(aws_kube_reserved_cpu_m(1), 60);
  CU_ASSERT_EQUAL(aws_kube_reserved_cpu_m(2), 70);
  CU_ASSERT_EQUAL(aws_kube_reserved_cpu_m(4), 80);
  CU_ASSERT_EQUAL(aws_kube_reserved_cpu_m(8), 90);
  CU_ASSERT_EQUAL(aws_kube_reserved_cpu_m(96), 310);

  aws_catalog cat;
  load_catalog(&cat);
  aws_kubelet k;
  aws_kubelet_defaults(&k);
  aws_capacity c;
  aws_capacity_compute(aws_catalog_find(&cat, "m5.large"), &k, 0.075, 0, &c);
  CU_ASSERT_EQUAL(c.cpu_m, 2000);
  CU_ASSERT_EQUAL(c.pods, 29);
  CU_ASSERT_EQUAL(c.memory, 7577 * MI);      /* 8192 - ceil(614.4) */
  CU_ASSERT_EQUAL(c.kr_memory, 574 * MI);    /* 11 x 29 + 255 */
  CU_ASSERT_EQUAL(c.kr_cpu_m, 70);
  CU_ASSERT_EQUAL(c.ev_memory, 100 * MI);
  CU_ASSERT_EQUAL(c.ephemeral, 20LL << 30);
  aws_capacity_compute(aws_catalog_find(&cat, "c5.24xlarge"), &k, 0.075, 0, &c);
  CU_ASSERT_EQUAL(c.pods, 737);
  CU_ASSERT_EQUAL(c.kr_cpu_m, 310);
  CU_ASSERT_EQUAL(c.kr_memory, (11 * 737 + 255) * MI);
  aws_capacity_compute(aws_catalog_find(&cat, "g4dn.xlarge"), &k, 0.075, 0, &c);
  CU_ASSERT_EQUAL(c.gpus, 1);

  /* Node class kubelet overrides. */
  k.max_pods = 110;
  aws_capacity_compute(aws_catalog_find(&cat, "m5.large"), &k, 0.075, 0, &c);
  CU_ASSERT_EQUAL(c.pods, 110);
  CU_ASSERT_EQUAL(c.kr_memory, (11 * 110 + 255) * MI);
  k.pods_per_core = 4;
  aws_capacity_compute(aws_catalog_find(&cat, "m5.large"), &k, 0.075, 0, &c);
  CU_ASSERT_EQUAL(c.pods, 8);
  k.kube_reserved_cpu_m = 500;
  k.eviction_mem = 200 * MI;
  aws_capacity_compute(aws_catalog_find(&cat, "m5.large"), &k, 0.1, 0, &c);
  CU_ASSERT_EQUAL(c.kr_cpu_m, 500);
  CU_ASSERT_EQUAL(c.ev_memory, 200 * MI);
  CU_ASSERT_EQUAL(c.memory, (8192 - 820) * MI); /* ceil(819.2) */
  aws_catalog_free(&cat);
}

static void test_quantities(void) {
  CU_ASSERT_EQUAL(aws_quantity("100Mi", 0), 100 * MI);
  CU_ASSERT_EQUAL(aws_quantity("1.5Gi", 0), 1536 * MI);
  CU_ASSERT_EQUAL(aws_quantity("1G", 0), 1000000000);
  CU_ASSERT_EQUAL(aws_quantity("500m", 1), 500);
  CU_ASSERT_EQUAL(aws_quantity("2", 1), 2000);
  CU_ASSERT_EQUAL(aws_quantity("2", 0), 2);
  CU_ASSERT_EQUAL(aws_quantity("", 0), -1);
  CU_ASSERT_EQUAL(aws_quantity("10Qi", 0), -1);
  CU_ASSERT_EQUAL(aws_quantity("-1Gi", 0), -1);
  CU_ASSERT_EQUAL(aws_quantity("abc", 0), -1);
  CU_ASSERT_EQUAL(aws_quantity(NULL, 0), -1);
}

static void test_labels_and_requirements(void) {
  aws_catalog cat;
  load_catalog(&cat);
  char buf[64];
  const aws_itype *g4 = aws_catalog_find(&cat, "g4dn.xlarge");
  const aws_itype *arm = aws_catalog_find(&cat, "m6gd.large");
  const aws_itype *m5 = aws_catalog_find(&cat, "m5.large");
  CU_ASSERT_STRING_EQUAL(aws_label_value(g4, "karpenter.k8s.aws/instance-family", buf), "g4dn");
  CU_ASSERT_STRING_EQUAL(aws_label_value(g4, "karpenter.k8s.aws/instance-category", buf), "g");
  CU_ASSERT_STRING_EQUAL(aws_label_value(g4, "karpenter.k8s.aws/instance-generation", buf), "4");
  CU_ASSERT_STRING_EQUAL(aws_label_value(g4, "karpenter.k8s.aws/instance-size", buf), "xlarge");
  CU_ASSERT_STRING_EQUAL(aws_label_value(g4, "karpenter.k8s.aws/instance-gpu-name", buf), "t4");
  CU_ASSERT_STRING_EQUAL(aws_label_value(g4, "karpenter.k8s.aws/instance-gpu-count", buf), "1");
  CU_ASSERT_STRING_EQUAL(aws_label_value(g4, "karpenter.k8s.aws/instance-local-nvme", buf), "125");
  CU_ASSERT_STRING_EQUAL(aws_label_value(arm, "karpenter.k8s.aws/instance-cpu-manufacturer", buf), "aws");
  CU_ASSERT_STRING_EQUAL(aws_label_value(arm, "kubernetes.io/arch", buf), "arm64");
  CU_ASSERT_PTR_NULL(aws_label_value(m5, "karpenter.k8s.aws/instance-gpu-name", buf));
  CU_ASSERT_PTR_NULL(aws_label_value(m5, "team", buf));

  static const char *const four[] = {"4"};
  static const char *const m5fam[] = {"m5"};
  nw_requirement gt[] = {{"karpenter.k8s.aws/instance-cpu", NW_OP_GT, 1, four, 0}};
  nw_requirements r = {1, gt};
  CU_ASSERT_FALSE(aws_type_matches(m5, &r));
  CU_ASSERT_FALSE(aws_type_matches(g4, &r)); /* 4 is not > 4 */
  gt[0].op = NW_OP_GTE;
  CU_ASSERT_TRUE(aws_type_matches(g4, &r));
  nw_requirement notin[] = {{"karpenter.k8s.aws/instance-family", NW_OP_NOT_IN, 1, m5fam, 0},
                            {"karpenter.k8s.aws/instance-gpu-name", NW_OP_DOES_NOT_EXIST, 0, NULL, 0},
                            {"team", NW_OP_IN, 1, four, 0}};
  r = (nw_requirements){3, notin};
  CU_ASSERT_FALSE(aws_type_matches(m5, &r));
  CU_ASSERT_FALSE(aws_type_matches(g4, &r));
  CU_ASSERT_TRUE(aws_type_matches(arm, &r)); /* "team" is the pool's label */
  static const char *const zone[] = {"us-east-1a"};
  nw_requirement z[] = {{"topology.kubernetes.io/zone", NW_OP_IN, 1, zone, 0}};
  r = (nw_requirements){1, z};
  CU_ASSERT_TRUE(aws_value_allowed(&r, "topology.kubernetes.io/zone", "us-east-1a"));
  CU_ASSERT_FALSE(aws_value_allowed(&r, "topology.kubernetes.io/zone", "us-east-1b"));
  CU_ASSERT_TRUE(aws_value_allowed(&r, "karpenter.sh/capacity-type", "spot"));
  aws_catalog_free(&cat);
}

static void test_node_class_parse(void) {
  const char *json =
      "{\"apiVersion\":\"karpenter.k8s.aws/v1\",\"kind\":\"EC2NodeClass\","
      "\"metadata\":{\"name\":\"gpu\"},\"spec\":{"
      "\"subnetSelectorTerms\":[{\"tags\":{\"karpenter.sh/discovery\":\"c\"}},{\"id\":\"subnet-1\"}],"
      "\"securityGroupSelectorTerms\":[{\"name\":\"nodes\"}],"
      "\"amiSelectorTerms\":[{\"alias\":\"bottlerocket@latest\"}],"
      "\"role\":\"KarpenterNodeRole\",\"tags\":{\"team\":\"ml\"},"
      "\"kubelet\":{\"maxPods\":50,\"kubeReserved\":{\"cpu\":\"250m\",\"memory\":\"1Gi\"},"
      "\"evictionHard\":{\"memory.available\":\"5%\"}},"
      "\"metadataOptions\":{\"httpTokens\":\"required\",\"httpPutResponseHopLimit\":2}}}";
  aws_node_class nc;
  nw_error err = {0};
  /* evictionHard percentages are not quantities we can use: named. */
  CU_ASSERT_EQUAL(aws_node_class_parse(json, &nc, &err), NW_ERR_INVALID);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "spec.kubelet.evictionHard.memory.available"));

  char fixed[2048];
  snprintf(fixed, sizeof(fixed), "%s", json);
  char *pct = strstr(fixed, "\"5%\"");
  memcpy(pct, "\"5M\"", 4);
  CU_ASSERT_EQUAL_FATAL(aws_node_class_parse(fixed, &nc, &err), NW_OK);
  CU_ASSERT_STRING_EQUAL(nc.name, "gpu");
  CU_ASSERT_EQUAL(nc.n_subnet_terms, 2);
  CU_ASSERT_STRING_EQUAL(nc.subnet_terms[0].tag_keys[0], "karpenter.sh/discovery");
  CU_ASSERT_STRING_EQUAL(nc.subnet_terms[1].id, "subnet-1");
  CU_ASSERT_STRING_EQUAL(nc.sg_terms[0].name, "nodes");
  CU_ASSERT_STRING_EQUAL(nc.ami_family, "Bottlerocket");
  CU_ASSERT_EQUAL(nc.kubelet.max_pods, 50);
  CU_ASSERT_EQUAL(nc.kubelet.kube_reserved_cpu_m, 250);
  CU_ASSERT_EQUAL(nc.kubelet.kube_reserved_mem, 1024 * MI);
  CU_ASSERT_EQUAL(nc.kubelet.eviction_mem, 5000000);
  CU_ASSERT_EQUAL(nc.http_hop_limit, 2);
  CU_ASSERT_EQUAL(strlen(nc.hash), 16);
  char hash[32];
  snprintf(hash, sizeof(hash), "%s", nc.hash);
  aws_node_class_free(&nc);
  /* Key order does not change the hash; content does. */
  char *team = strstr(fixed, "\"ml\"");
  memcpy(team, "\"mk\"", 4);
  CU_ASSERT_EQUAL_FATAL(aws_node_class_parse(fixed, &nc, &err), NW_OK);
  CU_ASSERT_STRING_NOT_EQUAL(nc.hash, hash);
  aws_node_class_free(&nc);

  static const struct {
    const char *json;
    const char *want;
  } bad[] = {
      {"{\"spec\":{}}", "spec.subnetSelectorTerms is required"},
      {"{\"spec\":{\"subnetSelectorTerms\":{}}}", "spec.subnetSelectorTerms: must be a list"},
      {"{\"spec\":{\"subnetSelectorTerms\":[{\"tags\":{\"a\":1}}]}}",
       "spec.subnetSelectorTerms[0].tags.a: must be a string"},
      {"{\"spec\":{\"subnetSelectorTerms\":[{\"id\":\"s\"}],"
       "\"securityGroupSelectorTerms\":[{\"id\":\"g\"}],"
       "\"amiSelectorTerms\":[{\"alias\":\"al2023\"}]}}",
       "expected family@version"},
      {"{\"spec\":{\"subnetSelectorTerms\":[{\"id\":\"s\"}],"
       "\"securityGroupSelectorTerms\":[{\"id\":\"g\"}],"
       "\"amiSelectorTerms\":[{\"id\":\"a\"}],"
       "\"blockDeviceMappings\":[{\"deviceName\":\"/dev/xvda\",\"ebs\":{\"volumeSize\":\"lots\"}}]}}",
       "spec.blockDeviceMappings[0].ebs.volumeSize: not a quantity"},
      {"{\"spec\":{\"subnetSelectorTerms\":[{\"id\":\"s\"}],"
       "\"securityGroupSelectorTerms\":[{\"id\":\"g\"}],"
       "\"amiSelectorTerms\":[{\"id\":\"a\"}],\"kubelet\":{\"maxPods\":-3}}}",
       "spec.kubelet.maxPods"},
      {"[1,2]", "not an object"},
      {"{\"spec\":", "malformed JSON"},
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    memset(&err, 0, sizeof(err));
    CU_ASSERT_EQUAL(aws_node_class_parse(bad[i].json, &nc, &err), NW_ERR_INVALID);
    if (!strstr(err.message, bad[i].want))
      fprintf(stderr, "case %zu: got '%s', want '%s'\n", i, err.message, bad[i].want);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, bad[i].want));
  }
}

static void test_events(void) {
  aws_event ev;
  nw_error err = {0};
  CU_ASSERT_EQUAL(aws_event_parse(
      "{\"detail-type\":\"EC2 Spot Instance Interruption Warning\",\"source\":"
      "\"aws.ec2\",\"time\":\"2026-11-28T00:00:00Z\",\"detail\":{\"instance-id\":"
      "\"i-0abc\",\"instance-action\":\"terminate\"}}", &ev, &err), 1);
  CU_ASSERT_EQUAL(ev.kind, NW_EVENT_SPOT_INTERRUPTION);
  CU_ASSERT_STRING_EQUAL(ev.instance_ids[0], "i-0abc");
  CU_ASSERT_EQUAL(ev.time_ms, nw_aws_parse_iso8601("2026-11-28T00:00:00Z"));
  CU_ASSERT_EQUAL(aws_event_parse(
      "{\"detail-type\":\"EC2 Instance State-change Notification\",\"source\":"
      "\"aws.ec2\",\"detail\":{\"instance-id\":\"i-1\",\"state\":\"terminated\"}}",
      &ev, &err), 1);
  CU_ASSERT_EQUAL(ev.kind, NW_EVENT_STATE_CHANGE);
  CU_ASSERT_STRING_EQUAL(ev.state, "terminated");
  CU_ASSERT_EQUAL(aws_event_parse(
      "{\"detail-type\":\"AWS Health Event\",\"source\":\"aws.health\",\"detail\":"
      "{\"service\":\"EC2\",\"eventTypeCategory\":\"scheduledChange\","
      "\"affectedEntities\":[{\"entityValue\":\"i-1\"},{\"entityValue\":\"i-2\"}]}}",
      &ev, &err), 1);
  CU_ASSERT_EQUAL(ev.kind, NW_EVENT_SCHEDULED_MAINTENANCE);
  CU_ASSERT_EQUAL(ev.n_instances, 2);
  /* Of no interest: other services, other categories, other detail types. */
  CU_ASSERT_EQUAL(aws_event_parse(
      "{\"detail-type\":\"AWS Health Event\",\"source\":\"aws.health\",\"detail\":"
      "{\"service\":\"RDS\",\"eventTypeCategory\":\"scheduledChange\"}}", &ev, &err), 0);
  CU_ASSERT_EQUAL(aws_event_parse(
      "{\"detail-type\":\"Something Else\",\"source\":\"aws.ec2\",\"detail\":{}}",
      &ev, &err), 0);
  /* Malformed. */
  static const char *const bad[] = {
      "", "{", "[]", "{\"detail-type\":\"x\"}",
      "{\"detail-type\":\"EC2 Spot Instance Interruption Warning\",\"source\":"
      "\"aws.ec2\",\"detail\":{\"instance-id\":\"not-an-instance\"}}",
      "{\"detail-type\":\"EC2 Instance State-change Notification\",\"source\":"
      "\"aws.ec2\",\"detail\":{\"instance-id\":\"i-1\"}}",
      "{\"detail-type\":\"AWS Health Event\",\"source\":\"aws.health\",\"detail\":"
      "{\"service\":\"EC2\",\"eventTypeCategory\":\"scheduledChange\"}}",
      NULL};
  for (size_t i = 0; bad[i]; i++) {
    err.message[0] = '\0';
    CU_ASSERT_EQUAL(aws_event_parse(bad[i], &ev, &err), -1);
    CU_ASSERT_TRUE(err.message[0] != '\0');
  }
  CU_ASSERT_EQUAL(aws_event_parse(NULL, &ev, &err), -1);
}

/* Every truncation and a few thousand byte flips of a real answer: the
 * parsers either succeed or say what is wrong, and never crash or leak
 * (the ASan build runs this with leak detection). */
static void test_fuzz_parsers(void) {
  size_t len;
  char *xml = fixture("describe-instance-types.xml", &len);
  CU_ASSERT_PTR_NOT_NULL_FATAL(xml);
  char *copy = malloc(len + 1);
  int failures = 0, successes = 0;
  for (size_t cut = 0; cut < len; cut += 97) {
    memcpy(copy, xml, cut);
    copy[cut] = '\0';
    nw_error err = {0};
    xmlDocPtr doc = nw_aws_xml_parse(copy, cut, "fuzz", &err);
    if (!doc) {
      CU_ASSERT_TRUE(strstr(err.message, "fuzz: ") == err.message);
      failures++;
      continue;
    }
    aws_catalog cat = {0};
    aws_catalog_add_page(&cat, xmlDocGetRootElement(doc), &err);
    aws_catalog_free(&cat);
    xmlFreeDoc(doc);
    successes++;
  }
  CU_ASSERT_TRUE(failures > 0);
  unsigned seed = 12345;
  for (int i = 0; i < 3000; i++) {
    memcpy(copy, xml, len + 1);
    for (int k = 0; k < 4; k++) {
      seed = seed * 1103515245u + 12345u;
      size_t pos = (seed >> 8) % len;
      seed = seed * 1103515245u + 12345u;
      copy[pos] = (char)(seed >> 16);
    }
    nw_error err = {0};
    xmlDocPtr doc = nw_aws_xml_parse(copy, len, "fuzz", &err);
    if (!doc)
      continue;
    aws_catalog cat = {0};
    if (aws_catalog_add_page(&cat, xmlDocGetRootElement(doc), &err) < 0)
      CU_ASSERT_TRUE(err.message[0] != '\0');
    aws_catalog_free(&cat);
    xmlFreeDoc(doc);
  }
  /* An entity bomb is not expanded. */
  const char *bomb =
      "<?xml version=\"1.0\"?><!DOCTYPE r [<!ENTITY a \"aaaaaaaaaa\">"
      "<!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;\">"
      "<!ENTITY c \"&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;\">]>"
      "<DescribeInstanceTypesResponse><instanceTypeSet><item><instanceType>&c;"
      "</instanceType></item></instanceTypeSet></DescribeInstanceTypesResponse>";
  nw_error err = {0};
  xmlDocPtr doc = nw_aws_xml_parse(bomb, strlen(bomb), "bomb", &err);
  CU_ASSERT_PTR_NULL(doc);
  CU_ASSERT_TRUE(strstr(err.message, "bomb: ") == err.message);
  /* Nor is any DTD, even a harmless one: AWS never sends them. */
  const char *dtd = "<?xml version=\"1.0\"?><!DOCTYPE r [<!ENTITY a \"x\">]><r>&a;</r>";
  doc = nw_aws_xml_parse(dtd, strlen(dtd), "dtd", &err);
  CU_ASSERT_PTR_NULL(doc);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "dtd: XML answer with a DTD refused"));
  xmlFreeDoc(doc);
  /* Random JSON for the event parser. */
  const char *ev = "{\"detail-type\":\"EC2 Spot Instance Interruption Warning\","
                   "\"source\":\"aws.ec2\",\"detail\":{\"instance-id\":\"i-0abc\"}}";
  char evc[256];
  for (int i = 0; i < 2000; i++) {
    snprintf(evc, sizeof(evc), "%s", ev);
    seed = seed * 1103515245u + 12345u;
    evc[(seed >> 8) % strlen(ev)] = (char)(seed >> 16);
    aws_event out;
    aws_event_parse(evc, &out, &err);
  }
  free(copy);
  free(xml);
  (void)successes;
}

NW_TEST_CASES({"catalog_parse", test_catalog_parse},
              {"catalog_skips_non_hvm", test_catalog_skips_non_hvm},
              {"capacity_published_values", test_capacity_published_values},
              {"quantities", test_quantities},
              {"labels_and_requirements", test_labels_and_requirements},
              {"node_class_parse", test_node_class_parse},
              {"events", test_events},
              {"fuzz_parsers", test_fuzz_parsers});
NW_TEST_MAIN("aws-model", NULL, NULL);
