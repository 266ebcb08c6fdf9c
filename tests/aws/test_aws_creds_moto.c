/*
 * The credential chain's network sources against moto: web identity
 * through STS AssumeRoleWithWebIdentity, IMDSv2 (moto serves the instance
 * metadata paths), region from IMDS, and a refresh after the service
 * rejects a token as expired (injected by the proxy).
 */
#include "nwtest.h"

#include "awscore.h"
#include "http/http.h"
#include "util/arena.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char g_endpoint[256];
static char g_token_file[256];

static nw_status transport(void *user, const nw_http_request *req,
                           nw_http_response *resp, nw_arena *arena,
                           nw_error *err) {
  (void)user;
  return nw__http_request(req, resp, arena, err);
}

/* The environment each case sees, instead of the process's. */
static const char *g_vars[16][2];
static size_t g_nvars;

static void env_set(const char *k, const char *v) {
  g_vars[g_nvars][0] = k;
  g_vars[g_nvars++][1] = v;
}

static const char *env_get(void *user, const char *name) {
  (void)user;
  for (size_t i = 0; i < g_nvars; i++)
    if (strcmp(g_vars[i][0], name) == 0)
      return g_vars[i][1];
  return NULL;
}

static nw_aws_env test_env(void) {
  nw_aws_env e = {.http = transport, .getenv = env_get};
  return e;
}

static long proxy_stat(const char *kind, const char *key) {
  char url[512];
  snprintf(url, sizeof(url), "%s/__proxy/stats", g_endpoint);
  nw_http_request req = {.size = sizeof(req), .method = "GET", .url = url};
  nw_http_response resp = {.size = sizeof(resp)};
  nw_arena *a = nw__arena_new();
  nw_error err = {0};
  long v = -1;
  if (nw__http_request(&req, &resp, a, &err) == NW_OK && resp.status == 200) {
    json_t *j = json_loads(resp.body, 0, NULL);
    v = (long)json_integer_value(json_object_get(json_object_get(j, kind), key));
    json_decref(j);
  }
  nw__arena_free(a);
  return v;
}

static int proxy_config(const char *body) {
  char url[512];
  snprintf(url, sizeof(url), "%s/__proxy/config", g_endpoint);
  nw_http_request req = {.size = sizeof(req), .method = "POST", .url = url,
                         .body = body, .body_len = strlen(body)};
  nw_http_response resp = {.size = sizeof(resp)};
  nw_arena *a = nw__arena_new();
  nw_error err = {0};
  int ok = nw__http_request(&req, &resp, a, &err) == NW_OK && resp.status == 200;
  nw__arena_free(a);
  return ok ? 0 : -1;
}

static int setup(void) {
  char path[512];
  snprintf(path, sizeof(path), "%s/aws/endpoint", NW_TEST_BUILD_DIR);
  char *ep = nw_test_read_file(path, NULL);
  if (!ep)
    return 1;
  ep[strcspn(ep, "\r\n")] = '\0';
  snprintf(g_endpoint, sizeof(g_endpoint), "%s", ep);
  free(ep);
  snprintf(g_token_file, sizeof(g_token_file), "/tmp/nw-aws-wi-%d", (int)getpid());
  FILE *f = fopen(g_token_file, "w");
  if (!f)
    return 1;
  fputs("eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQifQ.sig\n", f);
  fclose(f);
  return nw__http_global_init();
}

static int teardown(void) {
  unlink(g_token_file);
  nw__http_global_cleanup();
  return 0;
}

static void test_web_identity(void) {
  g_nvars = 0;
  env_set("AWS_WEB_IDENTITY_TOKEN_FILE", g_token_file);
  env_set("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/karpenter");
  env_set("AWS_ROLE_SESSION_NAME", "nodewright-test");
  env_set("AWS_ENDPOINT_URL_STS", g_endpoint);
  env_set("AWS_ENDPOINT_URL", g_endpoint);
  env_set("AWS_EC2_METADATA_DISABLED", "true");
  env_set("HOME", "/nonexistent");
  nw_aws_env e = test_env();
  nw_aws_creds *p = nw_aws_creds_new(&e, "us-east-1");
  nw_arena *a = nw__arena_new();
  nw_aws_credentials c;
  nw_error err = {0};
  long before = proxy_stat("requests", "AssumeRoleWithWebIdentity");
  nw_status st = nw_aws_creds_get(p, a, &c, &err);
  if (st != NW_OK)
    fprintf(stderr, "web identity: %s\n", err.message);
  CU_ASSERT_EQUAL_FATAL(st, NW_OK);
  CU_ASSERT_STRING_EQUAL(c.source, "web-identity");
  CU_ASSERT_PTR_NOT_NULL(c.session_token);
  CU_ASSERT_TRUE(c.expires_ms > nw_aws_now_ms(NULL));
  nw_aws_credentials_clear(&c);
  CU_ASSERT_EQUAL(proxy_stat("requests", "AssumeRoleWithWebIdentity"), before + 1);

  /* Usable for a signed call; an ExpiredToken answer makes the client
   * fetch new credentials once and retry. */
  nw_aws_client_config cc = {.region = "us-east-1", .backoff_base_ms = 5};
  nw_aws_client *cl = nw_aws_client_new(&e, p, &cc);
  CU_ASSERT_EQUAL_FATAL(proxy_config("{\"errors\":{\"DescribeRegions\":"
                                     "{\"code\":\"ExpiredToken\",\"count\":1}}}"), 0);
  xmlDocPtr doc = NULL;
  st = nw_aws_query(cl, "ec2", "DescribeRegions", "2016-11-15", NULL, a, &doc,
                    NULL, &err);
  if (st != NW_OK)
    fprintf(stderr, "DescribeRegions: %s\n", err.message);
  CU_ASSERT_EQUAL(st, NW_OK);
  xmlFreeDoc(doc);
  CU_ASSERT_EQUAL(proxy_stat("requests", "AssumeRoleWithWebIdentity"), before + 2);

  /* An auth error that is not about expiry is reported, not retried hot. */
  CU_ASSERT_EQUAL_FATAL(proxy_config("{\"errors\":{\"DescribeRegions\":"
                                     "{\"code\":\"UnauthorizedOperation\",\"status\":403,\"count\":1}}}"), 0);
  long calls = proxy_stat("requests", "DescribeRegions");
  CU_ASSERT_EQUAL(nw_aws_query(cl, "ec2", "DescribeRegions", "2016-11-15", NULL,
                               a, &doc, NULL, &err), NW_ERR_AUTH);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "ec2 DescribeRegions: UnauthorizedOperation"));
  CU_ASSERT_EQUAL(proxy_stat("requests", "DescribeRegions"), calls + 1);
  nw_aws_client_free(cl);

  /* STS refusing the role is an error naming it. */
  CU_ASSERT_EQUAL_FATAL(proxy_config("{\"errors\":{\"AssumeRoleWithWebIdentity\":"
                                     "{\"code\":\"InvalidIdentityToken\",\"count\":1}}}"), 0);
  nw_aws_creds_invalidate(p);
  CU_ASSERT_EQUAL(nw_aws_creds_get(p, a, &c, &err), NW_ERR_AUTH);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "InvalidIdentityToken"));
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "arn:aws:iam::123456789012:role/karpenter"));
  nw_aws_creds_free(p);
  nw__arena_free(a);
}

static void test_imds(void) {
  g_nvars = 0;
  env_set("AWS_EC2_METADATA_SERVICE_ENDPOINT", g_endpoint);
  env_set("HOME", "/nonexistent");
  nw_aws_env e = test_env();
  nw_aws_creds *p = nw_aws_creds_new(&e, "us-east-1");
  nw_arena *a = nw__arena_new();
  nw_aws_credentials c;
  nw_error err = {0};
  nw_status st = nw_aws_creds_get(p, a, &c, &err);
  if (st != NW_OK)
    fprintf(stderr, "imds: %s\n", err.message);
  CU_ASSERT_EQUAL_FATAL(st, NW_OK);
  CU_ASSERT_STRING_EQUAL(c.source, "imds");
  CU_ASSERT_PTR_NOT_NULL(c.session_token);
  CU_ASSERT_TRUE(c.expires_ms > nw_aws_now_ms(NULL));
  nw_aws_credentials_clear(&c);
  /* The token was fetched with PUT first (IMDSv2). */
  CU_ASSERT_TRUE(proxy_stat("requests", "PUT /latest/api/token") >= 1);
  char *region = nw_aws_resolve_region(&e, NULL, a, &err);
  CU_ASSERT_STRING_EQUAL(region ? region : "", "us-east-1");
  free(region);
  nw_aws_creds_free(p);
  nw__arena_free(a);
}

/* An answer larger than the client allows is refused, naming the call
 * (moto's full DescribeInstanceTypes is several MiB). */
static void test_oversized_response(void) {
  g_nvars = 0;
  nw_aws_env e = test_env();
  nw_aws_credentials sc = {.access_key_id = "testing",
                           .secret_access_key = "testing"};
  nw_aws_creds *p = nw_aws_creds_new_static(&e, &sc);
  nw_aws_client_config cc = {.region = "us-east-1", .endpoint = g_endpoint,
                             .max_response_bytes = 1 << 20};
  nw_aws_client *cl = nw_aws_client_new(&e, p, &cc);
  nw_arena *a = nw__arena_new();
  xmlDocPtr doc = NULL;
  nw_error err = {0};
  nw_status st = nw_aws_query(cl, "ec2", "DescribeInstanceTypes", "2016-11-15",
                              NULL, a, &doc, NULL, &err);
  CU_ASSERT_NOT_EQUAL(st, NW_OK);
  CU_ASSERT_PTR_NULL(doc);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "ec2 DescribeInstanceTypes: "));
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "larger than 1048576 bytes"));
  nw__arena_free(a);
  nw_aws_client_free(cl);
  nw_aws_creds_free(p);
}

NW_TEST_CASES({"web_identity", test_web_identity}, {"imds", test_imds},
              {"oversized_response", test_oversized_response});
NW_TEST_MAIN("aws-creds-moto", setup, teardown);
