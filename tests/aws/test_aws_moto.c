/*
 * The AWS provider plugin against moto_server (behind the fault-injecting
 * proxy of tests/aws/proxy), loaded through the host's plugin loader.
 * The "aws" ctest fixture starts the peer; its URL is read from
 * <build>/aws/endpoint.
 *
 * Every resource is tagged with a cluster name unique to this process, so
 * the plain and sanitizer builds, or parallel tests, do not see each
 * other's instances.
 */
#include "nwtest.h"

#include "awscore.h"
#include "http/http.h"
#include "metrics/metrics.h"
#include "plugin/loader.h"
#include "provisioning/instance_types.h"
#include "util/arena.h"

#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char g_endpoint[256];
static char g_cluster[64];
static char g_queue[128];
static char g_queue_url[512];
static char g_subnets[2][32];
static char g_sg[32];
static char g_ami_x86[32], g_ami_arm[32];
static char g_nodeclass[2048];

static nw_aws_creds *g_creds;
static nw_aws_client *g_client;
static nw__plugin_set *g_set;
static nw__plugin *g_plugin;
static const nw_provider_vtable *g_vt;
static void *g_state;

static nw_status transport(void *user, const nw_http_request *req,
                           nw_http_response *resp, nw_arena *arena,
                           nw_error *err) {
  (void)user;
  return nw__http_request(req, resp, arena, err);
}

/* ------------------------------------------------------ moto helpers */

static xmlDocPtr ec2(const char *action, nw_aws_params *p) {
  nw_arena *a = nw__arena_new();
  xmlDocPtr doc = NULL;
  nw_error err = {0};
  nw_status st = nw_aws_query(g_client, "ec2", action, "2016-11-15", p, a,
                              &doc, NULL, &err);
  if (st != NW_OK)
    fprintf(stderr, "setup %s: %s\n", action, err.message);
  nw__arena_free(a);
  nw_aws_params_free(p);
  return doc;
}

static char *ec2_text(const char *action, nw_aws_params *p, const char *path) {
  xmlDocPtr doc = ec2(action, p);
  char *v = doc ? nw_aws_xml_text(xmlDocGetRootElement(doc), path) : NULL;
  xmlFreeDoc(doc);
  return v;
}

static json_t *sqs(const char *op, json_t *body, nw_status *st_out) {
  nw_arena *a = nw__arena_new();
  json_t *out = NULL;
  nw_error err = {0};
  nw_status st = nw_aws_json(g_client, "sqs", "AmazonSQS", op, "1.0", body, a,
                             &out, NULL, &err);
  if (st != NW_OK)
    fprintf(stderr, "sqs %s: %s\n", op, err.message);
  if (st_out)
    *st_out = st;
  json_decref(body);
  nw__arena_free(a);
  return out;
}

static int proxy(const char *method, const char *path, const char *body,
                 char *out, size_t outlen) {
  char url[512];
  snprintf(url, sizeof(url), "%s%s", g_endpoint, path);
  nw_http_header h[] = {{"Content-Type", "application/json"}};
  nw_http_request req = {.size = sizeof(req), .method = method, .url = url,
                         .n_headers = 1, .headers = h, .body = body,
                         .body_len = body ? strlen(body) : 0};
  nw_http_response resp = {.size = sizeof(resp)};
  nw_arena *a = nw__arena_new();
  nw_error err = {0};
  nw_status st = nw__http_request(&req, &resp, a, &err);
  int ok = st == NW_OK && resp.status == 200;
  if (out)
    snprintf(out, outlen, "%s", resp.body ? resp.body : "");
  nw__arena_free(a);
  return ok ? 0 : -1;
}

/* Injected-fault counter from the proxy's stats, e.g. "throttle:CreateFleet". */
static long proxy_injected(const char *key) {
  char buf[8192];
  if (proxy("GET", "/__proxy/stats", NULL, buf, sizeof(buf)) != 0)
    return -1;
  json_t *j = json_loads(buf, 0, NULL);
  long v = (long)json_integer_value(
      json_object_get(json_object_get(j, "injected"), key));
  json_decref(j);
  return v;
}

static int find_ami(const char *pattern, char *out) {
  nw_aws_params p = {0};
  nw_aws_params_add(&p, "Filter.1.Name", "name");
  nw_aws_params_add(&p, "Filter.1.Value.1", pattern);
  char *id = ec2_text("DescribeImages", &p, "imagesSet/item/imageId");
  if (!id)
    return -1;
  snprintf(out, 32, "%s", id);
  free(id);
  return 0;
}

static int make_network(void) {
  int seed = (int)(getpid() % 200) + 10;
  char cidr[32];
  snprintf(cidr, sizeof(cidr), "10.%d.0.0/16", seed);
  nw_aws_params p = {0};
  nw_aws_params_add(&p, "CidrBlock", cidr);
  char *vpc = ec2_text("CreateVpc", &p, "vpc/vpcId");
  if (!vpc)
    return -1;
  const char *zones[] = {"us-east-1a", "us-east-1b"};
  for (int i = 0; i < 2; i++) {
    snprintf(cidr, sizeof(cidr), "10.%d.%d.0/24", seed, i + 1);
    nw_aws_params q = {0};
    nw_aws_params_add(&q, "VpcId", vpc);
    nw_aws_params_add(&q, "CidrBlock", cidr);
    nw_aws_params_add(&q, "AvailabilityZone", zones[i]);
    char *id = ec2_text("CreateSubnet", &q, "subnet/subnetId");
    if (!id)
      return -1;
    snprintf(g_subnets[i], sizeof(g_subnets[i]), "%s", id);
    free(id);
  }
  nw_aws_params q = {0};
  char name[96];
  snprintf(name, sizeof(name), "%s-nodes", g_cluster);
  nw_aws_params_add(&q, "GroupName", name);
  nw_aws_params_add(&q, "GroupDescription", "nodes");
  nw_aws_params_add(&q, "VpcId", vpc);
  char *sg = ec2_text("CreateSecurityGroup", &q, "groupId");
  free(vpc);
  if (!sg)
    return -1;
  snprintf(g_sg, sizeof(g_sg), "%s", sg);
  free(sg);
  nw_aws_params t = {0};
  nw_aws_params_add(&t, "ResourceId.1", g_subnets[0]);
  nw_aws_params_add(&t, "ResourceId.2", g_subnets[1]);
  nw_aws_params_add(&t, "ResourceId.3", g_sg);
  nw_aws_params_add(&t, "Tag.1.Key", "karpenter.sh/discovery");
  nw_aws_params_add(&t, "Tag.1.Value", g_cluster);
  xmlDocPtr d = ec2("CreateTags", &t);
  xmlFreeDoc(d);
  return d ? 0 : -1;
}

static int make_instance_profile(void) {
  nw_aws_params p = {0};
  nw_aws_params_add(&p, "InstanceProfileName", g_cluster);
  nw_arena *a = nw__arena_new();
  xmlDocPtr doc = NULL;
  nw_error err = {0};
  nw_status st = nw_aws_query(g_client, "iam", "CreateInstanceProfile",
                              "2010-05-08", &p, a, &doc, NULL, &err);
  nw_aws_params_free(&p);
  nw__arena_free(a);
  xmlFreeDoc(doc);
  if (st != NW_OK)
    fprintf(stderr, "iam: %s\n", err.message);
  return st == NW_OK ? 0 : -1;
}

static void write_nodeclass(const char *ami_terms) {
  snprintf(g_nodeclass, sizeof(g_nodeclass),
           "{\"apiVersion\":\"karpenter.k8s.aws/v1\",\"kind\":\"EC2NodeClass\","
           "\"metadata\":{\"name\":\"default\"},\"spec\":{"
           "\"subnetSelectorTerms\":[{\"tags\":{\"karpenter.sh/discovery\":\"%s\"}}],"
           "\"securityGroupSelectorTerms\":[{\"tags\":{\"karpenter.sh/discovery\":\"%s\"}}],"
           "\"amiSelectorTerms\":[%s],\"instanceProfile\":\"%s\","
           "\"tags\":{\"team\":\"infra\"},"
           "\"blockDeviceMappings\":[{\"deviceName\":\"/dev/xvda\",\"rootVolume\":true,"
           "\"ebs\":{\"volumeSize\":\"40Gi\",\"volumeType\":\"gp3\",\"encrypted\":true}}]}}",
           g_cluster, g_cluster, ami_terms, g_cluster);
}

static int setup(void) {
  char path[512];
  snprintf(path, sizeof(path), "%s/aws/endpoint", NW_TEST_BUILD_DIR);
  char *ep = nw_test_read_file(path, NULL);
  if (!ep) {
    fprintf(stderr, "no %s: is the aws fixture (scripts/test-aws up) running?\n",
            path);
    return 1;
  }
  ep[strcspn(ep, "\r\n")] = '\0';
  snprintf(g_endpoint, sizeof(g_endpoint), "%s", ep);
  free(ep);
  snprintf(g_cluster, sizeof(g_cluster), "nwtest-%d", (int)getpid());
  setenv("AWS_ACCESS_KEY_ID", "testing", 1);
  setenv("AWS_SECRET_ACCESS_KEY", "testing", 1);
  setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
  unsetenv("AWS_PROFILE");
  unsetenv("AWS_ENDPOINT_URL");
  nw__http_global_init();

  nw_aws_env env = {.http = transport};
  nw_aws_credentials c = {.access_key_id = "testing",
                          .secret_access_key = "testing"};
  g_creds = nw_aws_creds_new_static(&env, &c);
  nw_aws_client_config cc = {.region = "us-east-1", .endpoint = g_endpoint,
                             .backoff_base_ms = 5};
  g_client = nw_aws_client_new(&env, g_creds, &cc);
  if (!g_client || proxy("POST", "/__proxy/reset", "{}", NULL, 0) != 0 ||
      make_network() != 0 || make_instance_profile() != 0 ||
      find_ami("al2023-ami-2023*-x86_64", g_ami_x86) != 0 ||
      find_ami("al2023-ami-2023*-arm64", g_ami_arm) != 0)
    return 1;
  char cfg[1024];
  snprintf(cfg, sizeof(cfg),
           "{\"ssm_parameters\":{"
           "\"/aws/service/eks/optimized-ami/1.31/amazon-linux-2023/x86_64/"
           "standard/recommended/image_id\":\"%s\","
           "\"/aws/service/eks/optimized-ami/1.31/amazon-linux-2023/arm64/"
           "standard/recommended/image_id\":\"%s\"}}",
           g_ami_x86, g_ami_arm);
  if (proxy("POST", "/__proxy/config", cfg, NULL, 0) != 0)
    return 1;
  snprintf(g_queue, sizeof(g_queue), "%s-interruption", g_cluster);
  json_t *q = sqs("CreateQueue", json_pack("{s:s}", "QueueName", g_queue), NULL);
  const char *qurl = json_string_value(json_object_get(q, "QueueUrl"));
  if (!qurl) {
    json_decref(q);
    return 1;
  }
  snprintf(g_queue_url, sizeof(g_queue_url), "%s", qurl);
  json_decref(q);
  write_nodeclass("{\"alias\":\"al2023@latest\"}");

  char plugin_cfg[2048];
  snprintf(plugin_cfg, sizeof(plugin_cfg),
           "{\"cluster_name\":\"%s\",\"region\":\"us-east-1\","
           "\"endpoint\":\"%s\",\"interruption_queue\":\"%s\","
           "\"instance_types\":[\"m5.large\",\"m5.xlarge\",\"c5.large\","
           "\"m6g.large\",\"t3.micro\"],"
           "\"prices\":{\"m5.large\":0.096,\"m5.xlarge\":0.192,"
           "\"c5.large\":0.085,\"m6g.large\":0.077},"
           "\"backoff_ms\":5,\"max_attempts\":4,"
           "\"create_batch_idle_ms\":400,\"create_batch_max_ms\":3000,"
           "\"node_class_cache_ttl_s\":3,\"launch_template_ttl_s\":4,"
           "\"cluster_endpoint\":\"https://example.eks\"}",
           g_cluster, g_endpoint, g_queue);
  g_set = nw__plugins_new(NULL);
  char err[512] = "";
  g_plugin = nw__plugins_load(g_set, NW_TEST_PLUGIN_DIR "/aws.so", plugin_cfg,
                              0, err, sizeof(err));
  if (!g_plugin) {
    fprintf(stderr, "load: %s\n", err);
    return 1;
  }
  /* A pricing plugin beside it: offerings the config does not price are
   * priced by the host through it (ABI 1.2 host->price). */
  if (!nw__plugins_load(g_set, NW_TEST_PLUGIN_DIR "/pricing.so",
                        "{\"mode\":\"static\",\"prices\":[{\"type\":\"t3.micro\","
                        "\"capacityType\":\"on-demand\",\"price\":0.0104}]}",
                        0, err, sizeof(err))) {
    fprintf(stderr, "load pricing: %s\n", err);
    return 1;
  }
  g_vt = nw__plugin_provider(g_plugin);
  g_state = nw__plugin_state(g_plugin);
  return g_vt ? 0 : 1;
}

static int teardown(void) {
  nw__plugins_free(g_set);
  nw_aws_client_free(g_client);
  nw_aws_creds_free(g_creds);
  nw__http_global_cleanup();
  return 0;
}

/* ------------------------------------------------------------ claims */

static const char *const V_ONDEMAND[] = {"on-demand"};
static const char *const V_SPOT[] = {"spot"};

static nw_node_claim make_claim(const char *name, nw_requirement *reqs,
                                size_t n) {
  nw_node_claim c;
  memset(&c, 0, sizeof(c));
  c.name = name;
  c.nodepool = "default";
  c.node_class = (nw_node_class_ref){"karpenter.k8s.aws", "EC2NodeClass",
                                     "default"};
  c.node_class_json = g_nodeclass;
  c.requirements = (nw_requirements){n, reqs};
  return c;
}

static const nw_instance_type *find_type(const nw_instance_types *ts,
                                         const char *name) {
  for (size_t i = 0; i < ts->len; i++)
    if (strcmp(ts->items[i].name, name) == 0)
      return &ts->items[i];
  return NULL;
}

static int64_t res(const nw_resource_list *l, const char *name) {
  for (size_t i = 0; i < l->len; i++)
    if (strcmp(l->items[i].name, name) == 0)
      return l->items[i].value;
  return -1;
}

static const char *req_value(const nw_requirements *r, const char *key) {
  for (size_t i = 0; i < r->len; i++)
    if (strcmp(r->items[i].key, key) == 0 && r->items[i].n_values)
      return r->items[i].values[0];
  return NULL;
}

static const nw_offering *offering(const nw_instance_type *t, const char *zone,
                                   const char *ct) {
  for (size_t i = 0; i < t->n_offerings; i++)
    if (strcmp(t->offerings[i].zone, zone) == 0 &&
        strcmp(t->offerings[i].capacity_type, ct) == 0)
      return &t->offerings[i];
  return NULL;
}

/* Tags of an instance as EC2 reports them. */
static char *instance_tag(const char *id, const char *key) {
  nw_aws_params p = {0};
  nw_aws_params_add(&p, "InstanceId.1", id);
  xmlDocPtr doc = ec2("DescribeInstances", &p);
  char *out = NULL;
  xmlNodePtr tags = nw_aws_xml_path(
      xmlDocGetRootElement(doc), "reservationSet/item/instancesSet/item/tagSet");
  for (xmlNodePtr t = nw_aws_xml_child(tags, "item"); t && !out;
       t = nw_aws_xml_next(t, "item")) {
    char *k = nw_aws_xml_text(t, "key");
    if (k && strcmp(k, key) == 0)
      out = nw_aws_xml_text(t, "value");
    free(k);
  }
  xmlFreeDoc(doc);
  return out;
}

/* An instance's state name as EC2 reports it (heap, or NULL). */
static char *instance_state(const char *id) {
  nw_aws_params p = {0};
  nw_aws_params_add(&p, "InstanceId.1", id);
  xmlDocPtr doc = ec2("DescribeInstances", &p);
  char *out = nw_aws_xml_text(
      nw_aws_xml_path(xmlDocGetRootElement(doc),
                      "reservationSet/item/instancesSet/item"),
      "instanceState/name");
  xmlFreeDoc(doc);
  return out;
}

/* ------------------------------------------------------------- tests */

static void test_catalog(void) {
  nw_arena *a = nw__arena_new();
  nw_instance_types ts;
  nw_error err = {0};
  nw_status st = g_vt->instance_types(g_state, "default", g_nodeclass, a, &ts, &err);
  if (st != NW_OK)
    fprintf(stderr, "instance_types: %s\n", err.message);
  CU_ASSERT_EQUAL_FATAL(st, NW_OK);
  /* The five configured types; all hvm x86_64/arm64. */
  CU_ASSERT_EQUAL(ts.len, 5);
  const nw_instance_type *m5 = find_type(&ts, "m5.large");
  CU_ASSERT_PTR_NOT_NULL_FATAL(m5);
  /* m5.large: 2 vCPU, 8 GiB, 3 ENIs x 10 IPv4. */
  CU_ASSERT_EQUAL(res(&m5->capacity, "cpu"), 2000);
  CU_ASSERT_EQUAL(res(&m5->capacity, "pods"), 3 * (10 - 1) + 2);
  CU_ASSERT_EQUAL(res(&m5->capacity, "memory"),
                  (8192 - 615) * 1024LL * 1024); /* ceil(8192 * 0.075) = 615 */
  CU_ASSERT_EQUAL(res(&m5->capacity, "ephemeral-storage"), 40LL << 30);
  CU_ASSERT_EQUAL(res(&m5->kube_reserved, "cpu"), 70);
  CU_ASSERT_EQUAL(res(&m5->kube_reserved, "memory"), (11 * 29 + 255) * 1024LL * 1024);
  CU_ASSERT_EQUAL(res(&m5->eviction_threshold, "memory"), 100LL * 1024 * 1024);
  CU_ASSERT_STRING_EQUAL(req_value(&m5->requirements, "kubernetes.io/arch"), "amd64");
  CU_ASSERT_STRING_EQUAL(
      req_value(&m5->requirements, "karpenter.k8s.aws/instance-family"), "m5");
  CU_ASSERT_STRING_EQUAL(
      req_value(&m5->requirements, "karpenter.k8s.aws/instance-category"), "m");
  CU_ASSERT_STRING_EQUAL(
      req_value(&m5->requirements, "karpenter.k8s.aws/instance-generation"), "5");
  CU_ASSERT_STRING_EQUAL(
      req_value(&m5->requirements, "karpenter.k8s.aws/instance-memory"), "8192");
  /* Offerings only in the zones of the selected subnets. */
  const nw_offering *o = offering(m5, "us-east-1a", "on-demand");
  CU_ASSERT_PTR_NOT_NULL_FATAL(o);
  CU_ASSERT_DOUBLE_EQUAL(o->price, 0.096, 1e-9);
  CU_ASSERT_TRUE(o->available);
  CU_ASSERT_PTR_NOT_NULL(offering(m5, "us-east-1b", "spot"));
  CU_ASSERT_PTR_NULL(offering(m5, "us-east-1c", "on-demand"));
  const nw_instance_type *arm = find_type(&ts, "m6g.large");
  CU_ASSERT_PTR_NOT_NULL_FATAL(arm);
  CU_ASSERT_STRING_EQUAL(req_value(&arm->requirements, "kubernetes.io/arch"), "arm64");
  /* No price: not available. */
  const nw_instance_type *t3 = find_type(&ts, "t3.micro");
  CU_ASSERT_PTR_NOT_NULL_FATAL(t3);
  /* Not in the config's prices: left to the host's pricing plugins. */
  o = offering(t3, "us-east-1a", "on-demand");
  CU_ASSERT_PTR_NOT_NULL_FATAL(o);
  CU_ASSERT_TRUE(o->price < 0);
  nw_instance_types priced;
  CU_ASSERT_EQUAL_FATAL(nw__priced_instance_types(g_set, g_plugin, "default",
                                                  g_nodeclass, a, &priced, NULL, &err),
                        NW_OK);
  t3 = find_type(&priced, "t3.micro");
  CU_ASSERT_PTR_NOT_NULL_FATAL(t3);
  o = offering(t3, "us-east-1a", "on-demand");
  CU_ASSERT_PTR_NOT_NULL_FATAL(o);
  CU_ASSERT_DOUBLE_EQUAL(o->price, 0.0104, 1e-9);
  CU_ASSERT_TRUE(o->available);
  /* Spot t3.micro: nobody prices it, so the host holds it unavailable. */
  o = offering(t3, "us-east-1a", "spot");
  CU_ASSERT_PTR_NOT_NULL_FATAL(o);
  CU_ASSERT_FALSE(o->available);
  /* The config's override wins over the pricing plugin. */
  o = offering(find_type(&priced, "m5.large"), "us-east-1a", "on-demand");
  CU_ASSERT_PTR_NOT_NULL_FATAL(o);
  CU_ASSERT_DOUBLE_EQUAL(o->price, 0.096, 1e-9);
  /* Paginated: the plugin asks 100 per page and the proxy pages. */
  CU_ASSERT_TRUE(proxy_injected("page:DescribeInstanceTypes") >= 1);
  nw__arena_free(a);
}

static void test_selectors(void) {
  nw_arena *a = nw__arena_new();
  nw_instance_types ts;
  nw_error err = {0};
  /* By id and name: one subnet only -> offerings only in its zone. */
  char nc[2048];
  snprintf(nc, sizeof(nc),
           "{\"metadata\":{\"name\":\"byid\"},\"spec\":{"
           "\"subnetSelectorTerms\":[{\"id\":\"%s\"}],"
           "\"securityGroupSelectorTerms\":[{\"name\":\"%s-nodes\"}],"
           "\"amiSelectorTerms\":[{\"id\":\"%s\"}]}}",
           g_subnets[1], g_cluster, g_ami_x86);
  CU_ASSERT_EQUAL_FATAL(g_vt->instance_types(g_state, "p", nc, a, &ts, &err), NW_OK);
  const nw_instance_type *m5 = find_type(&ts, "m5.large");
  CU_ASSERT_PTR_NOT_NULL_FATAL(m5);
  CU_ASSERT_PTR_NULL(offering(m5, "us-east-1a", "on-demand"));
  CU_ASSERT_PTR_NOT_NULL(offering(m5, "us-east-1b", "on-demand"));
  /* Only an x86_64 image: no arm64 types. */
  CU_ASSERT_PTR_NULL(find_type(&ts, "m6g.large"));

  /* A selector that matches nothing is a clear error. */
  snprintf(nc, sizeof(nc),
           "{\"metadata\":{\"name\":\"none\"},\"spec\":{"
           "\"subnetSelectorTerms\":[{\"tags\":{\"karpenter.sh/discovery\":\"nope-%s\"}}],"
           "\"securityGroupSelectorTerms\":[{\"id\":\"%s\"}],"
           "\"amiSelectorTerms\":[{\"id\":\"%s\"}]}}",
           g_cluster, g_sg, g_ami_x86);
  CU_ASSERT_EQUAL(g_vt->instance_types(g_state, "p", nc, a, &ts, &err), NW_ERR_INVALID);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "subnetSelectorTerms match no subnet"));

  /* Malformed node classes name the field. */
  CU_ASSERT_EQUAL(g_vt->instance_types(g_state, "p", "{\"spec\":{\"subnetSelectorTerms\":[{}]}}",
                                       a, &ts, &err), NW_ERR_INVALID);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "spec.subnetSelectorTerms[0]"));
  CU_ASSERT_EQUAL(g_vt->instance_types(g_state, "p", "{not json", a, &ts, &err),
                  NW_ERR_INVALID);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "malformed JSON"));
  nw__arena_free(a);
}

static char g_launched[2][128];

static void test_fleet_launch_and_reuse(void) {
  nw_arena *a = nw__arena_new();
  static const char *const types[] = {"m5.large", "c5.large"};
  nw_requirement reqs[] = {
      {"node.kubernetes.io/instance-type", NW_OP_IN, 2, types, 0},
      {"karpenter.sh/capacity-type", NW_OP_IN, 1, V_ONDEMAND, 0}};
  char name[128];
  snprintf(name, sizeof(name), "%s-claim-1", g_cluster);
  nw_node_claim claim = make_claim(name, reqs, 2);
  nw_node_instance inst;
  nw_error err = {0};
  nw_status st = g_vt->create(g_state, &claim, a, &inst, &err);
  if (st != NW_OK)
    fprintf(stderr, "create: %s\n", err.message);
  CU_ASSERT_EQUAL_FATAL(st, NW_OK);
  /* The cheapest allowed offering: c5.large on-demand. */
  CU_ASSERT_STRING_EQUAL(inst.instance_type, "c5.large");
  CU_ASSERT_STRING_EQUAL(inst.capacity_type, "on-demand");
  CU_ASSERT_STRING_EQUAL(inst.image_id, g_ami_x86);
  CU_ASSERT_EQUAL(strncmp(inst.provider_id, "aws:///us-east-1", 16), 0);
  snprintf(g_launched[0], sizeof(g_launched[0]), "%s", inst.provider_id);
  const char *id = strrchr(inst.provider_id, '/') + 1;
  char *tag = instance_tag(id, "karpenter.sh/nodeclaim");
  CU_ASSERT_STRING_EQUAL(tag ? tag : "", name);
  free(tag);
  tag = instance_tag(id, "team");
  CU_ASSERT_STRING_EQUAL(tag ? tag : "", "infra");
  free(tag);
  char key[128];
  snprintf(key, sizeof(key), "kubernetes.io/cluster/%s", g_cluster);
  tag = instance_tag(id, key);
  CU_ASSERT_STRING_EQUAL(tag ? tag : "", "owned");
  free(tag);

  /* Idempotent per claim. */
  nw_node_instance again;
  CU_ASSERT_EQUAL(g_vt->create(g_state, &claim, a, &again, &err), NW_OK);
  CU_ASSERT_STRING_EQUAL(again.provider_id, inst.provider_id);

  /* A second claim with the same launch content reuses the template. */
  double reused = nw__metric_get("aws_launch_template_reused_total", NULL);
  double created = nw__metric_get("aws_launch_template_created_total", NULL);
  snprintf(name, sizeof(name), "%s-claim-2", g_cluster);
  claim.name = name;
  nw_status st2 = g_vt->create(g_state, &claim, a, &again, &err);
  if (st2 != NW_OK)
    fprintf(stderr, "create %s: %s\n", name, err.message);
  CU_ASSERT_EQUAL_FATAL(st2, NW_OK);
  CU_ASSERT_STRING_NOT_EQUAL(again.provider_id, inst.provider_id);
  snprintf(g_launched[1], sizeof(g_launched[1]), "%s", again.provider_id);
  CU_ASSERT_EQUAL(nw__metric_get("aws_launch_template_created_total", NULL), created);
  CU_ASSERT_EQUAL(nw__metric_get("aws_launch_template_reused_total", NULL), reused + 1);
  nw_aws_params p = {0};
  char filter[160];
  snprintf(filter, sizeof(filter), "nodewright/%s/*", g_cluster);
  nw_aws_params_add(&p, "Filter.1.Name", "launch-template-name");
  nw_aws_params_add(&p, "Filter.1.Value.1", filter);
  xmlDocPtr doc = ec2("DescribeLaunchTemplates", &p);
  int n = 0;
  for (xmlNodePtr it = nw_aws_xml_child(nw_aws_xml_child(xmlDocGetRootElement(doc),
                                                         "launchTemplates"), "item");
       it; it = nw_aws_xml_next(it, "item"))
    n++;
  xmlFreeDoc(doc);
  CU_ASSERT_EQUAL(n, 1);

  /* Its user data: AL2023 nodeadm NodeConfig joining this cluster, with
   * the pool's label and the ENI-limited max pods of the overrides. */
  nw_aws_params q = {0};
  nw_aws_params_add(&q, "Filter.1.Name", "launch-template-name");
  nw_aws_params_add(&q, "Filter.1.Value.1", filter);
  char *lt = ec2_text("DescribeLaunchTemplates", &q,
                      "launchTemplates/item/launchTemplateId");
  CU_ASSERT_PTR_NOT_NULL_FATAL(lt);
  nw_aws_params v = {0};
  nw_aws_params_add(&v, "LaunchTemplateId", lt);
  free(lt);
  char *b64 = ec2_text("DescribeLaunchTemplateVersions", &v,
                       "launchTemplateVersionSet/item/launchTemplateData/userData");
  CU_ASSERT_PTR_NOT_NULL_FATAL(b64);
  unsigned char *ud = calloc(1, strlen(b64) + 4);
  EVP_DecodeBlock(ud, (const unsigned char *)b64, (int)strlen(b64));
  const char *text = (const char *)ud;
  CU_ASSERT_PTR_NOT_NULL(strstr(text, "Content-Type: multipart/mixed; boundary=\"//\""));
  CU_ASSERT_PTR_NOT_NULL(strstr(text, "kind: NodeConfig"));
  char want[160];
  snprintf(want, sizeof(want), "name: %s\n", g_cluster);
  CU_ASSERT_PTR_NOT_NULL(strstr(text, want));
  CU_ASSERT_PTR_NOT_NULL(strstr(text, "apiServerEndpoint: https://example.eks"));
  CU_ASSERT_PTR_NOT_NULL(strstr(text, "maxPods: 29"));
  CU_ASSERT_PTR_NOT_NULL(strstr(text, "--node-labels=karpenter.sh/nodepool=default"));
  free(ud);
  free(b64);
  nw__arena_free(a);
}

static void test_list_get(void) {
  nw_arena *a = nw__arena_new();
  nw_node_instances all;
  nw_error err = {0};
  CU_ASSERT_EQUAL_FATAL(g_vt->list(g_state, a, &all, &err), NW_OK);
  int seen = 0;
  for (size_t i = 0; i < all.len; i++)
    for (int k = 0; k < 2; k++)
      seen += strcmp(all.items[i].provider_id, g_launched[k]) == 0;
  CU_ASSERT_EQUAL(seen, 2);
  CU_ASSERT_EQUAL(all.len, 2);
  nw_node_instance got;
  CU_ASSERT_EQUAL_FATAL(g_vt->get(g_state, g_launched[0], a, &got, &err), NW_OK);
  CU_ASSERT_STRING_EQUAL(got.instance_type, "c5.large");
  CU_ASSERT_STRING_EQUAL(got.nodepool, "default");
  CU_ASSERT_PTR_NOT_NULL(got.claim_name);
  CU_ASSERT_EQUAL(res(&got.capacity, "pods"), 29);
  CU_ASSERT_EQUAL(g_vt->get(g_state, "aws:///us-east-1a/i-0000000000000dead", a,
                            &got, &err), NW_ERR_NOT_FOUND);
  CU_ASSERT_EQUAL(g_vt->get(g_state, "kind://x", a, &got, &err), NW_ERR_INVALID);
  nw__arena_free(a);
}

static void test_drift(void) {
  nw_arena *a = nw__arena_new();
  nw_node_instance got;
  nw_error err = {0};
  CU_ASSERT_EQUAL_FATAL(g_vt->get(g_state, g_launched[0], a, &got, &err), NW_OK);
  /* moto's CreateFleet drops the launch template's security groups (it
   * reads GroupSet, not SecurityGroupIds); EC2 applies them.  Put them on
   * the instance as EC2 would have. */
  {
    nw_aws_params p = {0};
    nw_aws_params_add(&p, "InstanceId", strrchr(g_launched[0], '/') + 1);
    nw_aws_params_add(&p, "GroupId.1", g_sg);
    xmlFreeDoc(ec2("ModifyInstanceAttribute", &p));
  }
  const char *reason = "x";
  CU_ASSERT_EQUAL(g_vt->is_drifted(g_state, &got, g_nodeclass, a, &reason, &err), NW_OK);
  if (reason)
    fprintf(stderr, "unexpected drift: %s\n", reason);
  CU_ASSERT_PTR_NULL(reason);
  /* The node class changes: its hash no longer matches the instance's. */
  char changed[2300];
  snprintf(changed, sizeof(changed), "%s", g_nodeclass);
  char *team = strstr(changed, "\"infra\"");
  CU_ASSERT_PTR_NOT_NULL_FATAL(team);
  memcpy(team, "\"other\"", 7);
  CU_ASSERT_EQUAL(g_vt->is_drifted(g_state, &got, changed, a, &reason, &err), NW_OK);
  CU_ASSERT_STRING_EQUAL(reason ? reason : "", "NodeClassDrift");

  /* The alias now resolves to another image: AMI drift, once the cached
   * resolution (3 s in this test's config) has expired.  Resolve right
   * before the change (after the last entry expired) so the cache is
   * fresh. */
  usleep(3100 * 1000);
  CU_ASSERT_EQUAL(g_vt->is_drifted(g_state, &got, g_nodeclass, a, &reason, &err), NW_OK);
  CU_ASSERT_PTR_NULL(reason);
  char cfg[512];
  snprintf(cfg, sizeof(cfg),
           "{\"ssm_parameters\":{\"/aws/service/eks/optimized-ami/1.31/"
           "amazon-linux-2023/x86_64/standard/recommended/image_id\":\"%s\"}}",
           g_ami_arm);
  CU_ASSERT_EQUAL_FATAL(proxy("POST", "/__proxy/config", cfg, NULL, 0), 0);
  CU_ASSERT_EQUAL(g_vt->is_drifted(g_state, &got, g_nodeclass, a, &reason, &err), NW_OK);
  if (reason)
    fprintf(stderr, "cached resolution gave drift: %s\n", reason);
  CU_ASSERT_PTR_NULL(reason);
  usleep(3100 * 1000);
  CU_ASSERT_EQUAL(g_vt->is_drifted(g_state, &got, g_nodeclass, a, &reason, &err), NW_OK);
  CU_ASSERT_STRING_EQUAL(reason ? reason : "", "AMIDrift");
  snprintf(cfg, sizeof(cfg),
           "{\"ssm_parameters\":{\"/aws/service/eks/optimized-ami/1.31/"
           "amazon-linux-2023/x86_64/standard/recommended/image_id\":\"%s\"}}",
           g_ami_x86);
  CU_ASSERT_EQUAL(proxy("POST", "/__proxy/config", cfg, NULL, 0), 0);
  usleep(3100 * 1000);
  nw__arena_free(a);
}

static void test_capacity_errors(void) {
  nw_arena *a = nw__arena_new();
  CU_ASSERT_EQUAL_FATAL(
      proxy("POST", "/__proxy/config",
            "{\"capacity_errors\":[{\"instance_type\":\"c5.large\","
            "\"capacity_type\":\"spot\",\"code\":\"InsufficientInstanceCapacity\"}]}",
            NULL, 0), 0);
  static const char *const types[] = {"m5.large", "c5.large"};
  nw_requirement reqs[] = {
      {"node.kubernetes.io/instance-type", NW_OP_IN, 2, types, 0},
      {"karpenter.sh/capacity-type", NW_OP_IN, 1, V_SPOT, 0}};
  char name[128];
  snprintf(name, sizeof(name), "%s-claim-spot", g_cluster);
  nw_node_claim claim = make_claim(name, reqs, 2);
  nw_node_instance inst;
  nw_error err = {0};
  nw_status st = g_vt->create(g_state, &claim, a, &inst, &err);
  if (st != NW_OK)
    fprintf(stderr, "create: %s\n", err.message);
  CU_ASSERT_EQUAL_FATAL(st, NW_OK);
  /* c5.large spot was out of capacity: the fleet fell back to m5.large. */
  CU_ASSERT_STRING_EQUAL(inst.instance_type, "m5.large");
  CU_ASSERT_STRING_EQUAL(inst.capacity_type, "spot");
  CU_ASSERT_TRUE(proxy_injected("capacity:CreateFleet") >= 1);
  /* And c5.large spot is now unavailable in the catalog, in both zones. */
  nw_instance_types ts;
  CU_ASSERT_EQUAL_FATAL(g_vt->instance_types(g_state, "default", g_nodeclass, a, &ts, &err), NW_OK);
  const nw_instance_type *c5 = find_type(&ts, "c5.large");
  CU_ASSERT_PTR_NOT_NULL_FATAL(c5);
  const nw_offering *o = offering(c5, inst.zone, "spot");
  CU_ASSERT_PTR_NOT_NULL_FATAL(o);
  CU_ASSERT_FALSE(o->available);
  o = offering(c5, inst.zone, "on-demand");
  CU_ASSERT_PTR_NOT_NULL_FATAL(o);
  CU_ASSERT_TRUE(o->available);

  /* Only unavailable types left: NW_ERR_INSUFFICIENT_CAPACITY naming it. */
  CU_ASSERT_EQUAL_FATAL(
      proxy("POST", "/__proxy/config",
            "{\"capacity_errors\":[{\"instance_type\":\"m5.xlarge\","
            "\"capacity_type\":\"any\",\"code\":\"InsufficientInstanceCapacity\"}]}",
            NULL, 0), 0);
  static const char *const only[] = {"m5.xlarge"};
  nw_requirement reqs2[] = {
      {"node.kubernetes.io/instance-type", NW_OP_IN, 1, only, 0},
      {"karpenter.sh/capacity-type", NW_OP_IN, 1, V_ONDEMAND, 0}};
  snprintf(name, sizeof(name), "%s-claim-ice", g_cluster);
  claim = make_claim(name, reqs2, 2);
  CU_ASSERT_EQUAL(g_vt->create(g_state, &claim, a, &inst, &err),
                  NW_ERR_INSUFFICIENT_CAPACITY);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "m5.xlarge"));
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "InsufficientInstanceCapacity"));
  /* Marked for 3 minutes: the next try fails without calling EC2. */
  long before = proxy_injected("capacity:CreateFleet");
  CU_ASSERT_EQUAL(g_vt->create(g_state, &claim, a, &inst, &err),
                  NW_ERR_INSUFFICIENT_CAPACITY);
  CU_ASSERT_EQUAL(proxy_injected("capacity:CreateFleet"), before);
  proxy("POST", "/__proxy/config", "{\"capacity_errors\":[]}", NULL, 0);
  nw__arena_free(a);
}

static void test_throttling(void) {
  nw_arena *a = nw__arena_new();
  nw_error err = {0};
  /* Two throttled answers, then success: retried with backoff. */
  CU_ASSERT_EQUAL_FATAL(proxy("POST", "/__proxy/config",
                              "{\"throttle\":{\"DescribeInstances\":2}}", NULL, 0), 0);
  long before = proxy_injected("throttle:DescribeInstances");
  nw_node_instances all;
  CU_ASSERT_EQUAL(g_vt->list(g_state, a, &all, &err), NW_OK);
  CU_ASSERT_EQUAL(proxy_injected("throttle:DescribeInstances"), before + 2);
  /* More throttling than attempts: NW_ERR_RETRYABLE, named. */
  CU_ASSERT_EQUAL_FATAL(proxy("POST", "/__proxy/config",
                              "{\"throttle\":{\"DescribeInstances\":10}}", NULL, 0), 0);
  CU_ASSERT_EQUAL(g_vt->list(g_state, a, &all, &err), NW_ERR_RETRYABLE);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "RequestLimitExceeded"));
  proxy("POST", "/__proxy/config", "{\"throttle\":{\"DescribeInstances\":0}}",
        NULL, 0);
  nw__arena_free(a);
}

static void send_event(const char *detail_type, const char *source,
                       const char *detail) {
  char body[2048];
  snprintf(body, sizeof(body),
           "{\"version\":\"0\",\"id\":\"e-%d\",\"detail-type\":\"%s\","
           "\"source\":\"%s\",\"account\":\"123456789012\","
           "\"time\":\"2026-11-28T00:00:00Z\",\"region\":\"us-east-1\","
           "\"resources\":[],\"detail\":%s}",
           rand(), detail_type, source, detail);
  json_t *r = sqs("SendMessage", json_pack("{s:s,s:s}", "QueueUrl", g_queue_url,
                                           "MessageBody", body), NULL);
  json_decref(r);
}

static void test_interruption_events(void) {
  const char *id = strrchr(g_launched[0], '/') + 1;
  char d[512];
  snprintf(d, sizeof(d), "{\"instance-id\":\"%s\",\"instance-action\":\"terminate\"}", id);
  send_event("EC2 Spot Instance Interruption Warning", "aws.ec2", d);
  snprintf(d, sizeof(d), "{\"instance-id\":\"%s\"}", id);
  send_event("EC2 Instance Rebalance Recommendation", "aws.ec2", d);
  snprintf(d, sizeof(d), "{\"instance-id\":\"%s\",\"state\":\"stopping\"}", id);
  send_event("EC2 Instance State-change Notification", "aws.ec2", d);
  snprintf(d, sizeof(d),
           "{\"service\":\"EC2\",\"eventTypeCategory\":\"scheduledChange\","
           "\"eventTypeCode\":\"AWS_EC2_INSTANCE_RETIREMENT_SCHEDULED\","
           "\"affectedEntities\":[{\"entityValue\":\"%s\"}]}", id);
  send_event("AWS Health Event", "aws.health", d);
  snprintf(d, sizeof(d), "{\"instance-id\":\"%s\"}", id);
  send_event("EC2 Capacity Reservation Instance Interruption Warning", "aws.ec2", d);
  /* Malformed and unknown messages are deleted and counted. */
  json_decref(sqs("SendMessage", json_pack("{s:s,s:s}", "QueueUrl", g_queue_url,
                                           "MessageBody", "{not json"), NULL));
  send_event("EC2 Instance State-change Notification", "aws.ec2",
             "{\"instance-id\":\"i-00000000000000bad\",\"state\":\"stopping\"}");
  double malformed = nw__metric_get("aws_interruption_messages_total", "result=malformed");

  int seen[5] = {0};
  int total = 0;
  for (int round = 0; round < 10 && total < 5; round++) {
    nw_arena *a = nw__arena_new();
    nw_provider_event *evs = NULL;
    size_t n = 0;
    nw_error err = {0};
    CU_ASSERT_EQUAL_FATAL(g_vt->poll_events(g_state, 1000, 10, a, &evs, &n, &err), NW_OK);
    for (size_t i = 0; i < n; i++) {
      CU_ASSERT_STRING_EQUAL(evs[i].provider_id, g_launched[0]);
      if (evs[i].kind <= 4)
        seen[evs[i].kind]++;
      if (evs[i].kind == NW_EVENT_STATE_CHANGE)
        CU_ASSERT_STRING_EQUAL(evs[i].state, "stopping");
      total++;
    }
    nw__arena_free(a);
  }
  CU_ASSERT_EQUAL(seen[NW_EVENT_SPOT_INTERRUPTION], 1);
  CU_ASSERT_EQUAL(seen[NW_EVENT_REBALANCE_RECOMMENDATION], 1);
  CU_ASSERT_EQUAL(seen[NW_EVENT_STATE_CHANGE], 1);
  CU_ASSERT_EQUAL(seen[NW_EVENT_SCHEDULED_MAINTENANCE], 1);
  CU_ASSERT_EQUAL(seen[NW_EVENT_CAPACITY_RESERVATION_INTERRUPTION], 1);
  CU_ASSERT_EQUAL(nw__metric_get("aws_interruption_messages_total", "result=malformed"),
                  malformed + 1);
  CU_ASSERT_TRUE(nw__metric_get("aws_interruption_messages_total",
                                "result=unknown_instance") >= 1);
  /* Everything was deleted: the queue is empty. */
  json_t *attrs = sqs("GetQueueAttributes",
                      json_pack("{s:s,s:[s,s]}", "QueueUrl", g_queue_url,
                                "AttributeNames", "ApproximateNumberOfMessages",
                                "ApproximateNumberOfMessagesNotVisible"), NULL);
  json_t *at = json_object_get(attrs, "Attributes");
  CU_ASSERT_STRING_EQUAL(
      json_string_value(json_object_get(at, "ApproximateNumberOfMessages")), "0");
  CU_ASSERT_STRING_EQUAL(
      json_string_value(json_object_get(at, "ApproximateNumberOfMessagesNotVisible")), "0");
  json_decref(attrs);
}

static xmlDocPtr iam_call(const char *action, nw_aws_params *p) {
  nw_arena *a = nw__arena_new();
  xmlDocPtr doc = NULL;
  nw_error err = {0};
  if (nw_aws_query(g_client, "iam", action, "2010-05-08", p, a, &doc, NULL,
                   &err) != NW_OK)
    fprintf(stderr, "iam %s: %s\n", action, err.message);
  nw__arena_free(a);
  nw_aws_params_free(p);
  return doc;
}

/* spec.role: the plugin makes an instance profile holding the role. */
static void test_role_instance_profile(void) {
  char role[96];
  snprintf(role, sizeof(role), "%s-node-role", g_cluster);
  nw_aws_params p = {0};
  nw_aws_params_add(&p, "RoleName", role);
  nw_aws_params_add(&p, "AssumeRolePolicyDocument",
                    "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":"
                    "\"Allow\",\"Principal\":{\"Service\":\"ec2.amazonaws.com\"},"
                    "\"Action\":\"sts:AssumeRole\"}]}");
  xmlDocPtr doc = iam_call("CreateRole", &p);
  CU_ASSERT_PTR_NOT_NULL_FATAL(doc);
  xmlFreeDoc(doc);
  char saved[2048];
  snprintf(saved, sizeof(saved), "%s", g_nodeclass);
  char roleterm[160];
  snprintf(roleterm, sizeof(roleterm), "\"role\":\"%s\"", role);
  /* Swap "instanceProfile":"<cluster>" for "role":"<role>". */
  char *ip = strstr(g_nodeclass, "\"instanceProfile\"");
  CU_ASSERT_PTR_NOT_NULL_FATAL(ip);
  char *end = strchr(ip + 18, '"');
  end = strchr(end + 1, '"') + 1;
  char tail[2048];
  snprintf(tail, sizeof(tail), "%s", end);
  snprintf(ip, sizeof(g_nodeclass) - (size_t)(ip - g_nodeclass), "%s%s", roleterm, tail);

  nw_arena *a = nw__arena_new();
  static const char *const types[] = {"m5.large"};
  nw_requirement reqs[] = {
      {"node.kubernetes.io/instance-type", NW_OP_IN, 1, types, 0},
      {"karpenter.sh/capacity-type", NW_OP_IN, 1, V_ONDEMAND, 0}};
  char name[128];
  snprintf(name, sizeof(name), "%s-claim-role", g_cluster);
  nw_node_claim claim = make_claim(name, reqs, 2);
  nw_node_instance inst;
  nw_error err = {0};
  nw_status st = g_vt->create(g_state, &claim, a, &inst, &err);
  if (st != NW_OK)
    fprintf(stderr, "create: %s\n", err.message);
  CU_ASSERT_EQUAL(st, NW_OK);
  nw_aws_params q = {0};
  nw_aws_params_add(&q, "RoleName", role);
  doc = iam_call("ListInstanceProfilesForRole", &q);
  char *prof = doc ? nw_aws_xml_text(xmlDocGetRootElement(doc),
                                     "ListInstanceProfilesForRoleResult/"
                                     "InstanceProfiles/member/InstanceProfileName")
                   : NULL;
  xmlFreeDoc(doc);
  char prefix[96];
  snprintf(prefix, sizeof(prefix), "nodewright_%s_", g_cluster);
  CU_ASSERT_PTR_NOT_NULL(prof);
  CU_ASSERT_EQUAL(prof ? strncmp(prof, prefix, strlen(prefix)) : -1, 0);
  free(prof);
  snprintf(g_nodeclass, sizeof(g_nodeclass), "%s", saved);
  nw__arena_free(a);
}

/* The user data of this cluster's Bottlerocket launch template (moto does
 * not report an instance's template, so it is found by name and content). */
static char *bottlerocket_user_data(void) {
  nw_aws_params q = {0};
  char filter[160];
  snprintf(filter, sizeof(filter), "nodewright/%s/*", g_cluster);
  nw_aws_params_add(&q, "Filter.1.Name", "launch-template-name");
  nw_aws_params_add(&q, "Filter.1.Value.1", filter);
  xmlDocPtr doc = ec2("DescribeLaunchTemplates", &q);
  char *out = NULL;
  xmlNodePtr set = nw_aws_xml_child(xmlDocGetRootElement(doc), "launchTemplates");
  for (xmlNodePtr it = nw_aws_xml_child(set, "item"); it && !out;
       it = nw_aws_xml_next(it, "item")) {
    char *id = nw_aws_xml_text(it, "launchTemplateId");
    nw_aws_params v = {0};
    nw_aws_params_add(&v, "LaunchTemplateId", id);
    free(id);
    char *b64 = ec2_text("DescribeLaunchTemplateVersions", &v,
                         "launchTemplateVersionSet/item/launchTemplateData/userData");
    if (b64) {
      unsigned char *ud = calloc(1, strlen(b64) + 4);
      EVP_DecodeBlock(ud, (const unsigned char *)b64, (int)strlen(b64));
      if (strstr((char *)ud, "[settings.kubernetes]"))
        out = (char *)ud;
      else
        free(ud);
      free(b64);
    }
  }
  xmlFreeDoc(doc);
  return out;
}

/* Bottlerocket through its alias: TOML settings after the user's own. */
static void test_bottlerocket(void) {
  char cfg[512];
  snprintf(cfg, sizeof(cfg),
           "{\"ssm_parameters\":{\"/aws/service/bottlerocket/aws-k8s-1.31/"
           "x86_64/latest/image_id\":\"%s\",\"/aws/service/bottlerocket/"
           "aws-k8s-1.31/arm64/latest/image_id\":\"%s\"}}",
           g_ami_x86, g_ami_arm);
  CU_ASSERT_EQUAL_FATAL(proxy("POST", "/__proxy/config", cfg, NULL, 0), 0);
  char saved[2048];
  snprintf(saved, sizeof(saved), "%s", g_nodeclass);
  write_nodeclass("{\"alias\":\"bottlerocket@latest\"}");
  /* The user's own settings go in first. */
  char *spec = strstr(g_nodeclass, "\"tags\":{\"team\"");
  CU_ASSERT_PTR_NOT_NULL_FATAL(spec);
  char tail[2048];
  snprintf(tail, sizeof(tail), "%s", spec);
  snprintf(spec, sizeof(g_nodeclass) - (size_t)(spec - g_nodeclass),
           "\"userData\":\"[settings.host-containers.admin]\\nenabled = true\\n\","
           "\"associatePublicIPAddress\":false,%s",
           tail);
  nw_arena *a = nw__arena_new();
  static const char *const types[] = {"m5.large"};
  nw_requirement reqs[] = {
      {"node.kubernetes.io/instance-type", NW_OP_IN, 1, types, 0},
      {"karpenter.sh/capacity-type", NW_OP_IN, 1, V_ONDEMAND, 0}};
  char name[128];
  snprintf(name, sizeof(name), "%s-claim-br", g_cluster);
  nw_node_claim claim = make_claim(name, reqs, 2);
  nw_taint taint = {"dedicated", "infra", NW_TAINT_NO_SCHEDULE};
  claim.taints = (nw_taints){1, &taint};
  nw_node_instance inst;
  nw_error err = {0};
  nw_status st = g_vt->create(g_state, &claim, a, &inst, &err);
  if (st != NW_OK)
    fprintf(stderr, "create: %s\n", err.message);
  CU_ASSERT_EQUAL_FATAL(st, NW_OK);
  char *ud = bottlerocket_user_data();
  CU_ASSERT_PTR_NOT_NULL_FATAL(ud);
  char *user = strstr(ud, "[settings.host-containers.admin]");
  char *ours = strstr(ud, "[settings.kubernetes]");
  CU_ASSERT_TRUE(user && ours && user < ours);
  char want[160];
  snprintf(want, sizeof(want), "cluster-name = \"%s\"", g_cluster);
  CU_ASSERT_PTR_NOT_NULL(strstr(ud, want));
  CU_ASSERT_PTR_NOT_NULL(strstr(ud, "max-pods = 29"));
  CU_ASSERT_PTR_NOT_NULL(strstr(ud, "\"karpenter.sh/nodepool\" = \"default\""));
  CU_ASSERT_PTR_NOT_NULL(strstr(ud, "\"dedicated\" = [\"infra:NoSchedule\"]"));
  free(ud);
  /* associatePublicIPAddress went onto the primary interface with the
   * security groups. */
  {
    nw_aws_params q = {0};
    char filter[160];
    snprintf(filter, sizeof(filter), "nodewright/%s/*", g_cluster);
    nw_aws_params_add(&q, "Filter.1.Name", "launch-template-name");
    nw_aws_params_add(&q, "Filter.1.Value.1", filter);
    xmlDocPtr doc = ec2("DescribeLaunchTemplates", &q);
    int found = 0;
    xmlNodePtr set = nw_aws_xml_child(xmlDocGetRootElement(doc), "launchTemplates");
    for (xmlNodePtr it = nw_aws_xml_child(set, "item"); it && !found;
         it = nw_aws_xml_next(it, "item")) {
      char *id = nw_aws_xml_text(it, "launchTemplateId");
      nw_aws_params v = {0};
      nw_aws_params_add(&v, "LaunchTemplateId", id);
      free(id);
      xmlDocPtr vd = ec2("DescribeLaunchTemplateVersions", &v);
      xmlNodePtr ni = nw_aws_xml_path(xmlDocGetRootElement(vd),
          "launchTemplateVersionSet/item/launchTemplateData/networkInterfaceSet/item");
      if (ni) {
        char *pub = nw_aws_xml_text(ni, "associatePublicIpAddress");
        char *sg = nw_aws_xml_text(ni, "groupSet/groupId");
        CU_ASSERT_STRING_EQUAL(pub ? pub : "", "false");
        CU_ASSERT_STRING_EQUAL(sg ? sg : "", g_sg);
        free(pub);
        free(sg);
        found = 1;
      }
      xmlFreeDoc(vd);
    }
    xmlFreeDoc(doc);
    CU_ASSERT_TRUE(found);
  }

  /* A user [settings.kubernetes] table is refused, naming the class. */
  write_nodeclass("{\"alias\":\"bottlerocket@latest\"}");
  spec = strstr(g_nodeclass, "\"tags\":{\"team\"");
  snprintf(tail, sizeof(tail), "%s", spec);
  snprintf(spec, sizeof(g_nodeclass) - (size_t)(spec - g_nodeclass),
           "\"userData\":\"[settings.kubernetes]\\nmax-pods = 3\\n\",%s", tail);
  snprintf(name, sizeof(name), "%s-claim-br2", g_cluster);
  claim.name = name;
  CU_ASSERT_EQUAL(g_vt->create(g_state, &claim, a, &inst, &err), NW_ERR_INVALID);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "[settings.kubernetes]"));
  snprintf(g_nodeclass, sizeof(g_nodeclass), "%s", saved);
  nw__arena_free(a);
}

typedef struct create_job {
  pthread_t thread;
  char name[128];
  nw_status st;
  char provider_id[128];
  char message[512];
} create_job;

static void *create_thread(void *arg) {
  create_job *j = arg;
  static const char *const types[] = {"m5.large"};
  nw_requirement reqs[] = {
      {"node.kubernetes.io/instance-type", NW_OP_IN, 1, types, 0},
      {"karpenter.sh/capacity-type", NW_OP_IN, 1, V_ONDEMAND, 0}};
  nw_node_claim claim = make_claim(j->name, reqs, 2);
  nw_arena *a = nw__arena_new();
  nw_node_instance inst;
  nw_error err = {0};
  j->st = g_vt->create(g_state, &claim, a, &inst, &err);
  if (j->st == NW_OK)
    snprintf(j->provider_id, sizeof(j->provider_id), "%s", inst.provider_id);
  snprintf(j->message, sizeof(j->message), "%s", err.message);
  nw__arena_free(a);
  return NULL;
}

/* Requests the proxy has forwarded for an action, e.g. "CreateFleet". */
static long proxy_requests(const char *action) {
  char buf[8192];
  if (proxy("GET", "/__proxy/stats", NULL, buf, sizeof(buf)) != 0)
    return -1;
  json_t *j = json_loads(buf, 0, NULL);
  long v = (long)json_integer_value(
      json_object_get(json_object_get(j, "requests"), action));
  json_decref(j);
  return v;
}

/* The instances test_batched_creates launched, for the get/delete
 * batching test after it. */
static char g_batch_ids[4][128];

/* Concurrent creates with the same launch share one CreateFleet; each
 * claim gets its own instance, tagged with its name. */
static void test_batched_creates(void) {
  enum { N = 4 };
  create_job jobs[N];
  long before = -1;
  char buf[8192];
  if (proxy("GET", "/__proxy/stats", NULL, buf, sizeof(buf)) == 0) {
    json_t *j = json_loads(buf, 0, NULL);
    before = (long)json_integer_value(
        json_object_get(json_object_get(j, "requests"), "CreateFleet"));
    json_decref(j);
  }
  for (int i = 0; i < N; i++) {
    memset(&jobs[i], 0, sizeof(jobs[i]));
    snprintf(jobs[i].name, sizeof(jobs[i].name), "%s-batch-%d", g_cluster, i);
    pthread_create(&jobs[i].thread, NULL, create_thread, &jobs[i]);
  }
  for (int i = 0; i < N; i++)
    pthread_join(jobs[i].thread, NULL);
  for (int i = 0; i < N; i++) {
    if (jobs[i].st != NW_OK)
      fprintf(stderr, "batch create %d: %s\n", i, jobs[i].message);
    CU_ASSERT_EQUAL_FATAL(jobs[i].st, NW_OK);
    for (int k = 0; k < i; k++)
      CU_ASSERT_STRING_NOT_EQUAL(jobs[i].provider_id, jobs[k].provider_id);
    char *tag = instance_tag(strrchr(jobs[i].provider_id, '/') + 1,
                             "karpenter.sh/nodeclaim");
    CU_ASSERT_STRING_EQUAL(tag ? tag : "", jobs[i].name);
    free(tag);
    snprintf(g_batch_ids[i], sizeof(g_batch_ids[i]), "%s", jobs[i].provider_id);
  }
  long after = -1;
  if (proxy("GET", "/__proxy/stats", NULL, buf, sizeof(buf)) == 0) {
    json_t *j = json_loads(buf, 0, NULL);
    after = (long)json_integer_value(
        json_object_get(json_object_get(j, "requests"), "CreateFleet"));
    json_decref(j);
  }
  /* The threads start within microseconds, well inside the 35 ms window;
   * allow a second call in case the machine stalls one thread past it. */
  fprintf(stderr, "CreateFleet calls for %d claims: %ld\n", N, after - before);
  CU_ASSERT_TRUE(after - before >= 1 && after - before <= 2);
}

typedef struct id_job {
  pthread_t thread;
  int del;                   /* delete_instance, else get */
  const char *provider_id;
  nw_status st;
  char got[128];             /* get: the provider id answered */
} id_job;

static void *id_thread(void *arg) {
  id_job *j = arg;
  nw_error err = {0};
  if (j->del) {
    j->st = g_vt->delete_instance(g_state, j->provider_id, &err);
    return NULL;
  }
  nw_arena *a = nw__arena_new();
  nw_node_instance inst;
  j->st = g_vt->get(g_state, j->provider_id, a, &inst, &err);
  if (j->st == NW_OK)
    snprintf(j->got, sizeof(j->got), "%s", inst.provider_id);
  nw__arena_free(a);
  return NULL;
}

/* Runs the jobs at once; returns how many `action` calls reached EC2. */
static long run_id_jobs(id_job *jobs, int n, const char *action) {
  long before = proxy_requests(action);
  for (int i = 0; i < n; i++)
    pthread_create(&jobs[i].thread, NULL, id_thread, &jobs[i]);
  for (int i = 0; i < n; i++)
    pthread_join(jobs[i].thread, NULL);
  return proxy_requests(action) - before;
}

/* Concurrent gets share one DescribeInstances and concurrent deletes one
 * TerminateInstances; each caller gets its own instance's answer, an
 * unknown id NW_ERR_NOT_FOUND without failing the others. */
static void test_batched_get_delete(void) {
  enum { N = 4 };
  CU_ASSERT_TRUE_FATAL(g_batch_ids[N - 1][0] != '\0');
  id_job jobs[N + 1];
  memset(jobs, 0, sizeof(jobs));
  for (int i = 0; i < N; i++)
    jobs[i].provider_id = g_batch_ids[i];
  jobs[N].provider_id = "aws:///us-east-1a/i-0000000000000dead";
  long calls = run_id_jobs(jobs, N + 1, "DescribeInstances");
  fprintf(stderr, "DescribeInstances calls for %d gets: %ld\n", N + 1, calls);
  /* As for creates: one call, a second only if a thread stalled past
   * the 35 ms window. */
  CU_ASSERT_TRUE(calls >= 1 && calls <= 2);
  for (int i = 0; i < N; i++) {
    CU_ASSERT_EQUAL(jobs[i].st, NW_OK);
    CU_ASSERT_STRING_EQUAL(jobs[i].got, g_batch_ids[i]);
  }
  CU_ASSERT_EQUAL(jobs[N].st, NW_ERR_NOT_FOUND);

  memset(jobs, 0, sizeof(jobs));
  for (int i = 0; i < N; i++) {
    jobs[i].del = 1;
    jobs[i].provider_id = g_batch_ids[i];
  }
  calls = run_id_jobs(jobs, N, "TerminateInstances");
  fprintf(stderr, "TerminateInstances calls for %d deletes: %ld\n", N, calls);
  CU_ASSERT_TRUE(calls >= 1 && calls <= 2);
  for (int i = 0; i < N; i++)
    CU_ASSERT_EQUAL(jobs[i].st, NW_OK);
  char *state = instance_state(strrchr(g_batch_ids[0], '/') + 1);
  CU_ASSERT_TRUE(state && (strcmp(state, "shutting-down") == 0 ||
                           strcmp(state, "terminated") == 0));
  free(state);

  /* An unknown id in the batch: EC2 refuses the whole call, the plugin
   * retries one by one, and the known (terminated) one is reported gone. */
  memset(jobs, 0, sizeof(jobs));
  jobs[0].del = jobs[1].del = 1;
  jobs[0].provider_id = g_batch_ids[0];
  jobs[1].provider_id = "aws:///us-east-1a/i-0000000000000dead";
  run_id_jobs(jobs, 2, "TerminateInstances");
  CU_ASSERT_EQUAL(jobs[0].st, NW_ERR_NOT_FOUND);
  CU_ASSERT_EQUAL(jobs[1].st, NW_ERR_NOT_FOUND);
}

/* Ids of this cluster's launch templates, comma-separated. */
static void cluster_lt_ids(char *out, size_t len) {
  nw_aws_params q = {0};
  char filter[160];
  snprintf(filter, sizeof(filter), "nodewright/%s/*", g_cluster);
  nw_aws_params_add(&q, "Filter.1.Name", "launch-template-name");
  nw_aws_params_add(&q, "Filter.1.Value.1", filter);
  xmlDocPtr doc = ec2("DescribeLaunchTemplates", &q);
  out[0] = '\0';
  xmlNodePtr set = nw_aws_xml_child(xmlDocGetRootElement(doc), "launchTemplates");
  for (xmlNodePtr it = nw_aws_xml_child(set, "item"); it;
       it = nw_aws_xml_next(it, "item")) {
    char *id = nw_aws_xml_text(it, "launchTemplateId");
    size_t n = strlen(out);
    snprintf(out + n, len - n, "%s%s", n ? "," : "", id ? id : "");
    free(id);
  }
  xmlFreeDoc(doc);
}

static nw_status create_simple(const char *suffix, nw_arena *a, nw_error *err) {
  static const char *const types[] = {"m5.large"};
  nw_requirement reqs[] = {
      {"node.kubernetes.io/instance-type", NW_OP_IN, 1, types, 0},
      {"karpenter.sh/capacity-type", NW_OP_IN, 1, V_ONDEMAND, 0}};
  char name[128];
  snprintf(name, sizeof(name), "%s-%s", g_cluster, suffix);
  nw_node_claim claim = make_claim(name, reqs, 2);
  nw_node_instance inst;
  return g_vt->create(g_state, &claim, a, &inst, err);
}

/* Templates unused for launch_template_ttl_s (4 s here) are deleted on the
 * next launch; a template deleted behind the plugin's back makes one
 * launch fail retryably and the next one recreate it. */
static void test_launch_template_gc(void) {
  char before[2048], after[2048];
  cluster_lt_ids(before, sizeof(before));
  CU_ASSERT_TRUE_FATAL(before[0] != '\0');
  double deleted = nw__metric_get("aws_launch_template_deleted_total", NULL);
  usleep(4200 * 1000);
  nw_arena *a = nw__arena_new();
  nw_error err = {0};
  nw_status st = create_simple("claim-gc", a, &err);
  if (st != NW_OK)
    fprintf(stderr, "create: %s\n", err.message);
  CU_ASSERT_EQUAL_FATAL(st, NW_OK);
  cluster_lt_ids(after, sizeof(after));
  CU_ASSERT_TRUE(nw__metric_get("aws_launch_template_deleted_total", NULL) > deleted);
  /* Every old template is gone; the launch made a fresh one. */
  char *save = NULL;
  for (char *id = strtok_r(before, ",", &save); id; id = strtok_r(NULL, ",", &save))
    CU_ASSERT_PTR_NULL(strstr(after, id));
  CU_ASSERT_TRUE(after[0] != '\0');
  CU_ASSERT_PTR_NULL(strchr(after, ','));

  /* Deleted behind our back. */
  nw_aws_params p = {0};
  nw_aws_params_add(&p, "LaunchTemplateId", after);
  xmlFreeDoc(ec2("DeleteLaunchTemplate", &p));
  CU_ASSERT_EQUAL(create_simple("claim-gc2", a, &err), NW_ERR_RETRYABLE);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "InvalidLaunchTemplateId.NotFound"));
  CU_ASSERT_EQUAL(create_simple("claim-gc2", a, &err), NW_OK);
  nw__arena_free(a);
}

/* CreateFleet's candidates are ordered by the same prices: t3.micro,
 * priced only by the pricing plugin, is cheaper than m5.large (config). */
static void test_launch_priced_by_plugin(void) {
  nw_arena *a = nw__arena_new();
  static const char *const types[] = {"m5.large", "t3.micro"};
  nw_requirement reqs[] = {
      {"node.kubernetes.io/instance-type", NW_OP_IN, 2, types, 0},
      {"karpenter.sh/capacity-type", NW_OP_IN, 1, V_ONDEMAND, 0}};
  char name[128];
  snprintf(name, sizeof(name), "%s-claim-priced", g_cluster);
  nw_node_claim claim = make_claim(name, reqs, 2);
  nw_node_instance inst;
  nw_error err = {0};
  nw_status st = g_vt->create(g_state, &claim, a, &inst, &err);
  if (st != NW_OK)
    fprintf(stderr, "create: %s\n", err.message);
  CU_ASSERT_EQUAL_FATAL(st, NW_OK);
  CU_ASSERT_STRING_EQUAL(inst.instance_type, "t3.micro");
  nw__arena_free(a);
}

static void test_terminate(void) {
  nw_arena *a = nw__arena_new();
  nw_error err = {0};
  for (int k = 0; k < 2; k++)
    CU_ASSERT_EQUAL(g_vt->delete_instance(g_state, g_launched[k], &err), NW_OK);
  nw_node_instance got;
  CU_ASSERT_EQUAL(g_vt->get(g_state, g_launched[0], a, &got, &err), NW_ERR_NOT_FOUND);
  CU_ASSERT_EQUAL(g_vt->delete_instance(g_state, g_launched[0], &err), NW_ERR_NOT_FOUND);
  CU_ASSERT_EQUAL(g_vt->delete_instance(g_state, "aws:///us-east-1a/i-0000000000000dead",
                                        &err), NW_ERR_NOT_FOUND);
  /* Terminate what is left (the spot instance) and the list is empty. */
  nw_node_instances all;
  CU_ASSERT_EQUAL_FATAL(g_vt->list(g_state, a, &all, &err), NW_OK);
  for (size_t i = 0; i < all.len; i++)
    CU_ASSERT_EQUAL(g_vt->delete_instance(g_state, all.items[i].provider_id, &err), NW_OK);
  CU_ASSERT_EQUAL_FATAL(g_vt->list(g_state, a, &all, &err), NW_OK);
  CU_ASSERT_EQUAL(all.len, 0);
  nw__arena_free(a);
}

NW_TEST_CASES({"catalog", test_catalog},
              {"selectors", test_selectors},
              {"fleet_launch_and_reuse", test_fleet_launch_and_reuse},
              {"list_get", test_list_get},
              {"drift", test_drift},
              {"capacity_errors", test_capacity_errors},
              {"throttling", test_throttling},
              {"interruption_events", test_interruption_events},
              {"role_instance_profile", test_role_instance_profile},
              {"batched_creates", test_batched_creates},
              {"batched_get_delete", test_batched_get_delete},
              {"bottlerocket", test_bottlerocket},
              {"launch_template_gc", test_launch_template_gc},
              {"launch_priced_by_plugin", test_launch_priced_by_plugin},
              {"terminate", test_terminate});
NW_TEST_MAIN("aws-moto", setup, teardown);
