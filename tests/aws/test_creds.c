/*
 * The credential chain, shared files, region and endpoint resolution of
 * nw_awscore, with temp files and a private view of the environment.
 *
 * Container credentials (EKS Pod Identity / ECS) are served by a small
 * libmicrohttpd server here: no runnable agent exists outside AWS.  Web
 * identity (STS) and IMDS run against moto in test_aws_moto.
 */
#include "nwtest.h"

#include "awscore.h"
#include "http/http.h"
#include "util/arena.h"

#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ----------------------------------------------------- fake environment */

#define MAX_VARS 24
static const char *g_names[MAX_VARS];
static char g_values[MAX_VARS][1024];
static size_t g_nvars;

static void env_reset(void) { g_nvars = 0; }

static void env_set(const char *name, const char *value) {
  for (size_t i = 0; i < g_nvars; i++)
    if (strcmp(g_names[i], name) == 0) {
      snprintf(g_values[i], sizeof(g_values[i]), "%s", value);
      return;
    }
  g_names[g_nvars] = name;
  snprintf(g_values[g_nvars++], sizeof(g_values[0]), "%s", value);
}

static const char *env_get(void *user, const char *name) {
  (void)user;
  for (size_t i = 0; i < g_nvars; i++)
    if (strcmp(g_names[i], name) == 0)
      return g_values[i];
  return NULL;
}

static nw_status transport(void *user, const nw_http_request *req,
                           nw_http_response *resp, nw_arena *arena,
                           nw_error *err) {
  (void)user;
  return nw__http_request(req, resp, arena, err);
}

static int64_t g_now_ms;
static int64_t fake_now(void *user) {
  (void)user;
  return g_now_ms;
}

static nw_aws_env test_env(void) {
  nw_aws_env e = {.http = transport, .getenv = env_get, .now_ms = fake_now};
  return e;
}

static char g_dir[256];

static const char *write_tmp(const char *name, const char *text) {
  static char path[512];
  snprintf(path, sizeof(path), "%s/%s", g_dir, name);
  FILE *f = fopen(path, "w");
  fputs(text, f);
  fclose(f);
  return path;
}

static int setup(void) {
  snprintf(g_dir, sizeof(g_dir), "/tmp/nw-aws-creds-XXXXXX");
  if (!mkdtemp(g_dir))
    return 1;
  nw__http_global_init();
  return 0;
}

static int teardown(void) {
  char cmd[600];
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", g_dir);
  nw__http_global_cleanup();
  return system(cmd);
}

/* Every case starts from an environment with no AWS settings at all, IMDS
 * disabled (no traffic to 169.254.169.254) and HOME in the temp dir. */
static void base_env(void) {
  env_reset();
  env_set("HOME", g_dir);
  env_set("AWS_EC2_METADATA_DISABLED", "true");
  g_now_ms = 1764288000000; /* 2025-11-28 */
}

static nw_status get_creds(nw_aws_credentials *out, nw_error *err) {
  nw_aws_env e = test_env();
  nw_aws_creds *p = nw_aws_creds_new(&e, "us-east-1");
  nw_arena *a = nw__arena_new();
  nw_status st = nw_aws_creds_get(p, a, out, err);
  nw__arena_free(a);
  nw_aws_creds_free(p);
  return st;
}

/* ------------------------------------------------------------- tests */

static void test_env_credentials(void) {
  base_env();
  env_set("AWS_ACCESS_KEY_ID", "AKIAENV");
  env_set("AWS_SECRET_ACCESS_KEY", "envsecret");
  env_set("AWS_SESSION_TOKEN", "envtoken");
  /* A profile exists too; the environment comes first. */
  env_set("AWS_SHARED_CREDENTIALS_FILE",
          write_tmp("c1", "[default]\naws_access_key_id = AKIAFILE\n"
                          "aws_secret_access_key = filesecret\n"));
  nw_aws_credentials c;
  nw_error err = {0};
  CU_ASSERT_EQUAL_FATAL(get_creds(&c, &err), NW_OK);
  CU_ASSERT_STRING_EQUAL(c.access_key_id, "AKIAENV");
  CU_ASSERT_STRING_EQUAL(c.secret_access_key, "envsecret");
  CU_ASSERT_STRING_EQUAL(c.session_token, "envtoken");
  CU_ASSERT_STRING_EQUAL(c.source, "env");
  nw_aws_credentials_clear(&c);
}

static void test_env_partial_is_error(void) {
  base_env();
  env_set("AWS_ACCESS_KEY_ID", "AKIAENV");
  nw_aws_credentials c;
  nw_error err = {0};
  CU_ASSERT_EQUAL(get_creds(&c, &err), NW_ERR_AUTH);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "AWS_SECRET_ACCESS_KEY is not"));
}

static void test_profile_and_region(void) {
  base_env();
  env_set("AWS_SHARED_CREDENTIALS_FILE",
          write_tmp("c2", "# comment\n[default]\naws_access_key_id = AKIADEF\n"
                          "aws_secret_access_key = defsecret\n\n"
                          "[dev]\naws_access_key_id=AKIADEV\n"
                          "aws_secret_access_key=devsecret\n"
                          "aws_session_token = devtoken\n"));
  env_set("AWS_CONFIG_FILE",
          write_tmp("cfg2", "[default]\nregion = us-west-2\n"
                            "[profile dev]\nregion = eu-west-1\n"
                            "s3 =\n  max_concurrent_requests = 4\n"));
  nw_aws_credentials c;
  nw_error err = {0};
  CU_ASSERT_EQUAL_FATAL(get_creds(&c, &err), NW_OK);
  CU_ASSERT_STRING_EQUAL(c.access_key_id, "AKIADEF");
  CU_ASSERT_PTR_NULL(c.session_token);
  nw_aws_credentials_clear(&c);

  env_set("AWS_PROFILE", "dev");
  CU_ASSERT_EQUAL_FATAL(get_creds(&c, &err), NW_OK);
  CU_ASSERT_STRING_EQUAL(c.access_key_id, "AKIADEV");
  CU_ASSERT_STRING_EQUAL(c.session_token, "devtoken");
  CU_ASSERT_STRING_EQUAL(c.source, "profile");
  nw_aws_credentials_clear(&c);

  nw_aws_env e = test_env();
  char *r = nw_aws_resolve_region(&e, NULL, NULL, &err);
  CU_ASSERT_STRING_EQUAL(r, "eu-west-1");
  free(r);
  env_set("AWS_REGION", "ap-south-1");
  r = nw_aws_resolve_region(&e, NULL, NULL, &err);
  CU_ASSERT_STRING_EQUAL(r, "ap-south-1");
  free(r);
  r = nw_aws_resolve_region(&e, "ca-central-1", NULL, &err);
  CU_ASSERT_STRING_EQUAL(r, "ca-central-1");
  free(r);
}

static void test_broken_files(void) {
  base_env();
  const char *path = write_tmp("c3", "[default]\naws_access_key_id = AKIA\n"
                                     "this line is not ini\n");
  env_set("AWS_SHARED_CREDENTIALS_FILE", path);
  nw_aws_credentials c;
  nw_error err = {0};
  CU_ASSERT_EQUAL(get_creds(&c, &err), NW_ERR_AUTH);
  char want[600];
  snprintf(want, sizeof(want), "%s:3: expected 'key = value'", path);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, want));

  path = write_tmp("c4", "[default\naws_access_key_id = AKIA\n");
  env_set("AWS_SHARED_CREDENTIALS_FILE", path);
  CU_ASSERT_EQUAL(get_creds(&c, &err), NW_ERR_AUTH);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, ":1: section header without"));

  /* A secret without its key id: named, and the secret is not echoed. */
  env_set("AWS_SHARED_CREDENTIALS_FILE",
          write_tmp("c5", "[default]\naws_secret_access_key = TOPSECRET\n"));
  CU_ASSERT_EQUAL(get_creds(&c, &err), NW_ERR_AUTH);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "has aws_secret_access_key but not"));
  CU_ASSERT_PTR_NULL(strstr(err.message, "TOPSECRET"));

  nw_aws_env e = test_env();
  env_set("AWS_CONFIG_FILE", write_tmp("cfg5", "[profile x\n"));
  char *r = nw_aws_resolve_region(&e, NULL, NULL, &err);
  CU_ASSERT_PTR_NULL(r);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "section header"));
}

static void test_unknown_region(void) {
  base_env();
  nw_aws_env e = test_env();
  nw_error err = {0};
  static const char *const bad[] = {"us-east", "US-EAST-1", "us_east_1",
                                    "useast1", "us-east-1 ", "-us-east-1"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    char *r = nw_aws_resolve_region(&e, bad[i], NULL, &err);
    CU_ASSERT_PTR_NULL(r);
    free(r);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "unknown AWS region"));
  }
  env_set("AWS_REGION", "eu-wst");
  char *r = nw_aws_resolve_region(&e, NULL, NULL, &err);
  CU_ASSERT_PTR_NULL(r);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "(from AWS_REGION)"));
  static const char *const good[] = {"us-east-1", "us-gov-west-1", "cn-north-1",
                                     "ap-southeast-5", "eu-central-2"};
  for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
    r = nw_aws_resolve_region(&e, good[i], NULL, &err);
    CU_ASSERT_STRING_EQUAL(r ? r : "", good[i]);
    free(r);
  }
}

static void test_no_credentials(void) {
  base_env();
  nw_aws_credentials c;
  nw_error err = {0};
  CU_ASSERT_EQUAL(get_creds(&c, &err), NW_ERR_AUTH);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "no AWS credentials"));
  nw_aws_env e = test_env();
  char *r = nw_aws_resolve_region(&e, NULL, NULL, &err);
  CU_ASSERT_PTR_NULL(r);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "no AWS region"));
}

static void test_web_identity_unreadable(void) {
  base_env();
  env_set("AWS_WEB_IDENTITY_TOKEN_FILE", "/nonexistent/nw-token");
  env_set("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/karpenter");
  /* A usable profile exists, but a configured broken source is reported,
   * not skipped. */
  env_set("AWS_SHARED_CREDENTIALS_FILE",
          write_tmp("c6", "[default]\naws_access_key_id = AKIAFILE\n"
                          "aws_secret_access_key = filesecret\n"));
  nw_aws_credentials c;
  nw_error err = {0};
  CU_ASSERT_EQUAL(get_creds(&c, &err), NW_ERR_AUTH);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "/nonexistent/nw-token"));
}

/* ----------------------------------------- container credentials server */

static int g_requests;
static char g_expect_auth[128];
static char g_answer[1024];

static enum MHD_Result serve(void *cls, struct MHD_Connection *conn,
                             const char *url, const char *method,
                             const char *version, const char *upload,
                             size_t *upload_len, void **ctx) {
  (void)cls, (void)url, (void)method, (void)version, (void)upload,
      (void)upload_len, (void)ctx;
  g_requests++;
  const char *auth =
      MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
  int ok = auth && strcmp(auth, g_expect_auth) == 0;
  const char *body = ok ? g_answer : "{\"message\":\"bad token\"}";
  struct MHD_Response *r = MHD_create_response_from_buffer(
      strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
  enum MHD_Result rc = MHD_queue_response(conn, ok ? 200 : 401, r);
  MHD_destroy_response(r);
  return rc;
}

static void test_container_credentials(void) {
  base_env();
  struct MHD_Daemon *d = MHD_start_daemon(
      MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, serve, NULL,
      MHD_OPTION_END);
  CU_ASSERT_PTR_NOT_NULL_FATAL(d);
  const union MHD_DaemonInfo *info =
      MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
  char url[128];
  snprintf(url, sizeof(url), "http://127.0.0.1:%u/v1/credentials",
           (unsigned)info->port);
  env_set("AWS_CONTAINER_CREDENTIALS_FULL_URI", url);
  env_set("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
          write_tmp("podtoken", "pod-identity-token\n"));
  snprintf(g_expect_auth, sizeof(g_expect_auth), "pod-identity-token");
  /* Expires in one hour of the fake clock. */
  snprintf(g_answer, sizeof(g_answer),
           "{\"AccessKeyId\":\"ASIAPOD\",\"SecretAccessKey\":\"podsecret\","
           "\"Token\":\"podtoken\",\"Expiration\":\"2025-11-28T01:00:00Z\"}");
  g_requests = 0;

  nw_aws_env e = test_env();
  nw_aws_creds *p = nw_aws_creds_new(&e, "us-east-1");
  nw_arena *a = nw__arena_new();
  nw_aws_credentials c;
  nw_error err = {0};
  CU_ASSERT_EQUAL_FATAL(nw_aws_creds_get(p, a, &c, &err), NW_OK);
  CU_ASSERT_STRING_EQUAL(c.access_key_id, "ASIAPOD");
  CU_ASSERT_STRING_EQUAL(c.session_token, "podtoken");
  CU_ASSERT_STRING_EQUAL(c.source, "container");
  CU_ASSERT_EQUAL(c.expires_ms, 1764291600000);
  nw_aws_credentials_clear(&c);
  CU_ASSERT_EQUAL(g_requests, 1);

  /* Cached while more than five minutes remain. */
  g_now_ms += 50 * 60 * 1000;
  CU_ASSERT_EQUAL(nw_aws_creds_get(p, a, &c, &err), NW_OK);
  nw_aws_credentials_clear(&c);
  CU_ASSERT_EQUAL(g_requests, 1);

  /* Within five minutes of expiry: refreshed. */
  g_now_ms += 6 * 60 * 1000;
  snprintf(g_answer, sizeof(g_answer),
           "{\"AccessKeyId\":\"ASIAPOD2\",\"SecretAccessKey\":\"s2\","
           "\"Token\":\"t2\",\"Expiration\":\"2025-11-28T02:00:00Z\"}");
  CU_ASSERT_EQUAL(nw_aws_creds_get(p, a, &c, &err), NW_OK);
  CU_ASSERT_STRING_EQUAL(c.access_key_id, "ASIAPOD2");
  nw_aws_credentials_clear(&c);
  CU_ASSERT_EQUAL(g_requests, 2);

  /* A wrong token is rejected by the agent: a clear error, no secret. */
  nw_aws_creds_invalidate(p);
  snprintf(g_expect_auth, sizeof(g_expect_auth), "other");
  CU_ASSERT_EQUAL(nw_aws_creds_get(p, a, &c, &err), NW_ERR_AUTH);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "HTTP 401"));
  CU_ASSERT_PTR_NULL(strstr(err.message, "pod-identity-token"));

  /* Malformed answers. */
  snprintf(g_expect_auth, sizeof(g_expect_auth), "pod-identity-token");
  snprintf(g_answer, sizeof(g_answer), "{\"AccessKeyId\":");
  CU_ASSERT_EQUAL(nw_aws_creds_get(p, a, &c, &err), NW_ERR_AUTH);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "malformed JSON"));
  snprintf(g_answer, sizeof(g_answer), "{\"AccessKeyId\":\"A\"}");
  CU_ASSERT_EQUAL(nw_aws_creds_get(p, a, &c, &err), NW_ERR_AUTH);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "lacks AccessKeyId or Secret"));

  nw_aws_creds_free(p);
  nw__arena_free(a);
  MHD_stop_daemon(d);

  /* Plain http to an arbitrary host is refused before any request. */
  env_set("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://192.0.2.1/creds");
  g_requests = 0;
  CU_ASSERT_EQUAL(get_creds(&c, &err), NW_ERR_AUTH);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "must be https"));
}

static void test_endpoints(void) {
  base_env();
  nw_aws_env e = test_env();
  char *u = nw_aws_endpoint(&e, "ec2", "us-east-1", NULL);
  CU_ASSERT_STRING_EQUAL(u, "https://ec2.us-east-1.amazonaws.com");
  free(u);
  u = nw_aws_endpoint(&e, "ec2", "cn-north-1", NULL);
  CU_ASSERT_STRING_EQUAL(u, "https://ec2.cn-north-1.amazonaws.com.cn");
  free(u);
  u = nw_aws_endpoint(&e, "sqs", "eu-west-1", "http://config:1/");
  CU_ASSERT_STRING_EQUAL(u, "http://config:1");
  free(u);
  env_set("AWS_ENDPOINT_URL", "http://127.0.0.1:5000/");
  env_set("AWS_ENDPOINT_URL_EC2", "http://127.0.0.1:6000");
  env_set("AWS_ENDPOINT_URL_RESOURCE_GROUPS", "http://127.0.0.1:7000");
  u = nw_aws_endpoint(&e, "ec2", "us-east-1", "http://config:1");
  CU_ASSERT_STRING_EQUAL(u, "http://127.0.0.1:6000");
  free(u);
  u = nw_aws_endpoint(&e, "sqs", "us-east-1", "http://config:1");
  CU_ASSERT_STRING_EQUAL(u, "http://127.0.0.1:5000");
  free(u);
  u = nw_aws_endpoint(&e, "resource-groups", "us-east-1", NULL);
  CU_ASSERT_STRING_EQUAL(u, "http://127.0.0.1:7000");
  free(u);
  env_set("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true");
  u = nw_aws_endpoint(&e, "ec2", "us-east-1", NULL);
  CU_ASSERT_STRING_EQUAL(u, "https://ec2.us-east-1.amazonaws.com");
  free(u);
}

static void test_iso8601(void) {
  CU_ASSERT_EQUAL(nw_aws_parse_iso8601("2025-11-28T00:00:00Z"), 1764288000000);
  CU_ASSERT_EQUAL(nw_aws_parse_iso8601("2025-11-28T00:00:00.250Z"),
                  1764288000250);
  CU_ASSERT_EQUAL(nw_aws_parse_iso8601("2025-11-28T01:00:00+01:00"),
                  1764288000000);
  CU_ASSERT_EQUAL(nw_aws_parse_iso8601("2025-11-28"), -1);
  CU_ASSERT_EQUAL(nw_aws_parse_iso8601("2025-13-28T00:00:00Z"), -1);
  CU_ASSERT_EQUAL(nw_aws_parse_iso8601("garbage"), -1);
  char d[17];
  nw_aws_amz_date(1764288000000, d);
  CU_ASSERT_STRING_EQUAL(d, "20251128T000000Z");
}

NW_TEST_CASES({"env_credentials", test_env_credentials},
              {"env_partial_is_error", test_env_partial_is_error},
              {"profile_and_region", test_profile_and_region},
              {"broken_files", test_broken_files},
              {"no_credentials", test_no_credentials},
              {"unknown_region", test_unknown_region},
              {"web_identity_unreadable", test_web_identity_unreadable},
              {"container_credentials", test_container_credentials},
              {"endpoints", test_endpoints},
              {"iso8601", test_iso8601});
NW_TEST_MAIN("aws-creds", setup, teardown);
