/*
 * The credential chain, in the order of the AWS SDKs, with a cache that
 * refreshes five minutes before expiry.
 */
#include "internal.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

enum {
  REFRESH_BEFORE_MS = 5 * 60 * 1000,
  IMDS_TIMEOUT_MS = 1000,
  TOKEN_FILE_MAX = 64 * 1024
};

struct nw_aws_creds {
  nw_aws_env env;
  char *region;
  pthread_mutex_t mu;
  nw_aws_credentials cached;
  int have;
  int is_static;
};

nw_aws_creds *nw_aws_creds_new(const nw_aws_env *env, const char *region) {
  nw_aws_creds *p = calloc(1, sizeof(*p));
  if (!p)
    return NULL;
  p->env = *env;
  p->region = strdup(region && *region ? region : "us-east-1");
  pthread_mutex_init(&p->mu, NULL);
  if (!p->region) {
    nw_aws_creds_free(p);
    return NULL;
  }
  return p;
}

nw_aws_creds *nw_aws_creds_new_static(const nw_aws_env *env,
                                      const nw_aws_credentials *c) {
  nw_aws_creds *p = nw_aws_creds_new(env, NULL);
  if (!p)
    return NULL;
  if (nw_aws_credentials_copy(&p->cached, c) != 0) {
    nw_aws_creds_free(p);
    return NULL;
  }
  p->cached.source = "static";
  p->have = 1;
  p->is_static = 1;
  return p;
}

void nw_aws_creds_free(nw_aws_creds *p) {
  if (!p)
    return;
  nw_aws_credentials_clear(&p->cached);
  pthread_mutex_destroy(&p->mu);
  free(p->region);
  free(p);
}

void nw_aws_creds_invalidate(nw_aws_creds *p) {
  pthread_mutex_lock(&p->mu);
  if (!p->is_static) {
    nw_aws_credentials_clear(&p->cached);
    p->have = 0;
  }
  pthread_mutex_unlock(&p->mu);
}

/* ------------------------------------------------------------- sources */

/* 0 = not configured, 1 = found, -1 = configured but broken (err set). */
typedef int (*source_fn)(nw_aws_creds *p, nw_arena *arena,
                         nw_aws_credentials *out, nw_error *err);

static int set_creds(nw_aws_credentials *out, const char *akid,
                     const char *secret, const char *token, int64_t expires,
                     const char *source) {
  nw_aws_credentials tmp = {.access_key_id = (char *)akid,
                            .secret_access_key = (char *)secret,
                            .session_token = (char *)token,
                            .expires_ms = expires,
                            .source = source};
  return nw_aws_credentials_copy(out, &tmp) == 0 ? 1 : -1;
}

static int from_env(nw_aws_creds *p, nw_arena *arena, nw_aws_credentials *out,
                    nw_error *err) {
  (void)arena;
  const char *akid = nw_aws_getenv(&p->env, "AWS_ACCESS_KEY_ID");
  const char *secret = nw_aws_getenv(&p->env, "AWS_SECRET_ACCESS_KEY");
  if (!akid && !secret)
    return 0;
  if (!akid || !secret) {
    nw_aws_error(err, NW_ERR_AUTH,
                 "environment credentials: %s is set but %s is not",
                 akid ? "AWS_ACCESS_KEY_ID" : "AWS_SECRET_ACCESS_KEY",
                 akid ? "AWS_SECRET_ACCESS_KEY" : "AWS_ACCESS_KEY_ID");
    return -1;
  }
  return set_creds(out, akid, secret,
                   nw_aws_getenv(&p->env, "AWS_SESSION_TOKEN"), 0, "env");
}

/* Reads AccessKeyId/SecretAccessKey/Token/Expiration from a JSON document
 * (container and IMDS endpoints share this shape). */
static int creds_from_json(const char *body, size_t len, const char *what,
                           const char *source, nw_aws_credentials *out,
                           nw_error *err) {
  json_error_t jerr;
  json_t *j = json_loadb(body ? body : "", len, 0, &jerr);
  if (!json_is_object(j)) {
    nw_aws_error(err, NW_ERR_AUTH, "%s: malformed JSON answer: %s", what,
                 j ? "not an object" : jerr.text);
    json_decref(j);
    return -1;
  }
  const char *akid = json_string_value(json_object_get(j, "AccessKeyId"));
  const char *secret = json_string_value(json_object_get(j, "SecretAccessKey"));
  const char *token = json_string_value(json_object_get(j, "Token"));
  const char *exp = json_string_value(json_object_get(j, "Expiration"));
  int64_t expires = exp ? nw_aws_parse_iso8601(exp) : 0;
  int rc;
  if (!akid || !secret) {
    nw_aws_error(err, NW_ERR_AUTH,
                 "%s: answer lacks AccessKeyId or SecretAccessKey", what);
    rc = -1;
  } else if (exp && expires < 0) {
    nw_aws_error(err, NW_ERR_AUTH, "%s: malformed Expiration", what);
    rc = -1;
  } else {
    rc = set_creds(out, akid, secret, token, expires, source);
  }
  json_decref(j);
  return rc;
}

static int from_web_identity(nw_aws_creds *p, nw_arena *arena,
                             nw_aws_credentials *out, nw_error *err) {
  const char *file = nw_aws_getenv(&p->env, "AWS_WEB_IDENTITY_TOKEN_FILE");
  const char *role = nw_aws_getenv(&p->env, "AWS_ROLE_ARN");
  if (!file || !role)
    return 0;
  const char *session = nw_aws_getenv(&p->env, "AWS_ROLE_SESSION_NAME");
  char *token = aws__read_small_file(file, TOKEN_FILE_MAX);
  if (!token || !*token) {
    nw_aws_error(err, NW_ERR_AUTH,
                 "web identity: cannot read AWS_WEB_IDENTITY_TOKEN_FILE %s: %s",
                 file, token ? "empty file" : strerror(errno));
    free(token);
    return -1;
  }
  nw_aws_buf body = {0};
  nw_aws_buf_puts(&body, "Action=AssumeRoleWithWebIdentity&Version=2011-06-15"
                         "&RoleArn=");
  nw_aws_buf_uri_encode(&body, role, strlen(role), 0);
  nw_aws_buf_puts(&body, "&RoleSessionName=");
  const char *sn = session ? session : "nodewright";
  nw_aws_buf_uri_encode(&body, sn, strlen(sn), 0);
  nw_aws_buf_puts(&body, "&WebIdentityToken=");
  nw_aws_buf_uri_encode(&body, token, strlen(token), 0);
  OPENSSL_cleanse(token, strlen(token));
  free(token);

  char *ep = nw_aws_endpoint(&p->env, "sts", p->region, NULL);
  nw_aws_buf url = {0};
  nw_aws_buf_printf(&url, "%s/", ep ? ep : "");
  free(ep);
  nw_http_header hs[] = {
      {"Content-Type", "application/x-www-form-urlencoded; charset=utf-8"}};
  nw_http_response resp;
  nw_error herr = {0};
  /* AssumeRoleWithWebIdentity is unsigned: the token is the credential. */
  nw_status st = body.oom || url.oom
                     ? NW_ERR
                     : aws__send(&p->env, NULL, p->region, "sts", "POST",
                                 url.data, hs, 1, body.data, body.len, 10000,
                                 64 * 1024, arena, &resp, &herr);
  nw_aws_buf_free(&body);
  nw_aws_buf_free(&url);
  if (st != NW_OK) {
    nw_aws_error(err, NW_ERR_AUTH, "web identity: STS unreachable: %s",
                 herr.message);
    return -1;
  }
  if (resp.status != 200) {
    nw_aws_fault f = {0};
    char *msg = aws__query_error(&resp, &f);
    nw_aws_error(err, NW_ERR_AUTH,
                 "web identity: STS AssumeRoleWithWebIdentity for %s failed: "
                 "%s: %s (HTTP %ld)",
                 role, f.code[0] ? f.code : "error", msg ? msg : "", resp.status);
    free(msg);
    return -1;
  }
  xmlDocPtr doc =
      nw_aws_xml_parse(resp.body, resp.body_len,
                       "web identity: STS AssumeRoleWithWebIdentity", err);
  if (!doc)
    return -1;
  xmlNodePtr c = nw_aws_xml_path(
      xmlDocGetRootElement(doc), "AssumeRoleWithWebIdentityResult/Credentials");
  char *akid = nw_aws_xml_text(c, "AccessKeyId");
  char *secret = nw_aws_xml_text(c, "SecretAccessKey");
  char *stoken = nw_aws_xml_text(c, "SessionToken");
  char *exp = nw_aws_xml_text(c, "Expiration");
  int rc;
  int64_t expires = exp ? nw_aws_parse_iso8601(exp) : -1;
  if (!akid || !secret || !stoken || expires < 0) {
    nw_aws_error(err, NW_ERR_AUTH,
                 "web identity: STS answer lacks Credentials "
                 "(AccessKeyId, SecretAccessKey, SessionToken, Expiration)");
    rc = -1;
  } else {
    rc = set_creds(out, akid, secret, stoken, expires, "web-identity");
  }
  nw_aws_credentials wipe = {.access_key_id = akid, .secret_access_key = secret,
                             .session_token = stoken};
  nw_aws_credentials_clear(&wipe);
  free(exp);
  xmlFreeDoc(doc);
  return rc;
}

static int from_profile(nw_aws_creds *p, nw_arena *arena,
                        nw_aws_credentials *out, nw_error *err) {
  (void)arena;
  /* The credentials file wins over the config file, key by key set. */
  for (int credfile = 1; credfile >= 0; credfile--) {
    int broken = 0;
    char *akid = nw_aws_profile_value(&p->env, credfile, NULL,
                                      "aws_access_key_id", &broken, err);
    if (broken)
      return -1;
    char *secret = nw_aws_profile_value(&p->env, credfile, NULL,
                                        "aws_secret_access_key", &broken, err);
    char *token = nw_aws_profile_value(&p->env, credfile, NULL,
                                       "aws_session_token", &broken, err);
    int rc = 0;
    if (akid && secret && *akid && *secret) {
      rc = set_creds(out, akid, secret, token, 0, "profile");
    } else if (akid || secret) {
      const char *prof = nw_aws_getenv(&p->env, "AWS_PROFILE");
      nw_aws_error(err, NW_ERR_AUTH,
                   "profile %s in the shared %s file has %s but not %s",
                   prof ? prof : "default", credfile ? "credentials" : "config",
                   akid ? "aws_access_key_id" : "aws_secret_access_key",
                   akid ? "aws_secret_access_key" : "aws_access_key_id");
      rc = -1;
    }
    nw_aws_credentials wipe = {.access_key_id = akid,
                               .secret_access_key = secret,
                               .session_token = token};
    nw_aws_credentials_clear(&wipe);
    if (rc != 0)
      return rc;
  }
  return 0;
}

/* http only to loopback and the ECS / EKS Pod Identity agents; https
 * anywhere (the SDKs' rule, so a URI from the environment cannot send the
 * token to an arbitrary host in clear text). */
static int container_host_allowed(const char *url) {
  if (strncasecmp(url, "https://", 8) == 0)
    return 1;
  if (strncasecmp(url, "http://", 7) != 0)
    return 0;
  const char *h = url + 7;
  static const char *const ok[] = {"127.", "localhost", "[::1]",
                                   "169.254.170.2", "169.254.170.23",
                                   "[fd00:ec2::23]", NULL};
  for (size_t i = 0; ok[i]; i++) {
    size_t n = strlen(ok[i]);
    if (strncasecmp(h, ok[i], n) != 0)
      continue;
    char next = h[n];
    if (ok[i][n - 1] == '.' || next == '\0' || next == ':' || next == '/')
      return 1;
  }
  return 0;
}

static int from_container(nw_aws_creds *p, nw_arena *arena,
                          nw_aws_credentials *out, nw_error *err) {
  const char *full = nw_aws_getenv(&p->env, "AWS_CONTAINER_CREDENTIALS_FULL_URI");
  const char *rel =
      nw_aws_getenv(&p->env, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
  if (!full && !rel)
    return 0;
  nw_aws_buf url = {0};
  if (rel)
    nw_aws_buf_printf(&url, "http://169.254.170.2%s", rel);
  else
    nw_aws_buf_puts(&url, full);
  if (!rel && !container_host_allowed(full)) {
    nw_aws_error(err, NW_ERR_AUTH,
                 "container credentials: AWS_CONTAINER_CREDENTIALS_FULL_URI "
                 "must be https or http to a loopback or EKS/ECS agent "
                 "address, got %s",
                 full);
    nw_aws_buf_free(&url);
    return -1;
  }
  char *token = NULL;
  const char *file =
      nw_aws_getenv(&p->env, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
  if (file) {
    token = aws__read_small_file(file, TOKEN_FILE_MAX);
    if (!token) {
      nw_aws_error(err, NW_ERR_AUTH,
                   "container credentials: cannot read "
                   "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE %s: %s",
                   file, strerror(errno));
      nw_aws_buf_free(&url);
      return -1;
    }
  } else if (nw_aws_getenv(&p->env, "AWS_CONTAINER_AUTHORIZATION_TOKEN")) {
    token = strdup(nw_aws_getenv(&p->env, "AWS_CONTAINER_AUTHORIZATION_TOKEN"));
  }
  nw_http_header hs[] = {{"Authorization", token ? token : ""}};
  nw_http_request req = {.size = sizeof(req), .method = "GET",
                         .url = url.data, .n_headers = token ? 1 : 0,
                         .headers = hs, .timeout_ms = 5000,
                         .max_response_bytes = 64 * 1024};
  nw_http_response resp = {.size = sizeof(resp)};
  nw_error herr = {0};
  nw_status st = url.oom ? NW_ERR
                         : p->env.http(p->env.http_user, &req, &resp, arena,
                                       &herr);
  if (token) {
    OPENSSL_cleanse(token, strlen(token));
    free(token);
  }
  int rc;
  if (st != NW_OK) {
    nw_aws_error(err, NW_ERR_AUTH, "container credentials: %s unreachable: %s",
                 url.data ? url.data : "", herr.message);
    rc = -1;
  } else if (resp.status != 200) {
    nw_aws_error(err, NW_ERR_AUTH,
                 "container credentials: %s answered HTTP %ld", url.data,
                 resp.status);
    rc = -1;
  } else {
    rc = creds_from_json(resp.body, resp.body_len, "container credentials",
                         "container", out, err);
  }
  nw_aws_buf_free(&url);
  return rc;
}

static int imds_disabled(const nw_aws_env *env) {
  const char *d = nw_aws_getenv(env, "AWS_EC2_METADATA_DISABLED");
  return d && strcasecmp(d, "true") == 0;
}

nw_status aws__imds_get(const nw_aws_env *env, const char *path,
                        nw_arena *arena, const char **body, nw_error *err) {
  *body = NULL;
  if (imds_disabled(env))
    return nw_aws_error(err, NW_ERR_NOT_FOUND,
                        "IMDS disabled by AWS_EC2_METADATA_DISABLED");
  const char *base = nw_aws_getenv(env, "AWS_EC2_METADATA_SERVICE_ENDPOINT");
  if (!base)
    base = "http://169.254.169.254";
  size_t blen = strlen(base);
  while (blen > 0 && base[blen - 1] == '/')
    blen--;
  char url[1024];
  snprintf(url, sizeof(url), "%.*s/latest/api/token", (int)blen, base);
  nw_http_header th[] = {{"X-aws-ec2-metadata-token-ttl-seconds", "21600"}};
  nw_http_request req = {.size = sizeof(req), .method = "PUT", .url = url,
                         .n_headers = 1, .headers = th,
                         .timeout_ms = IMDS_TIMEOUT_MS,
                         .max_response_bytes = 64 * 1024};
  nw_http_response resp = {.size = sizeof(resp)};
  nw_error herr = {0};
  if (env->http(env->http_user, &req, &resp, arena, &herr) != NW_OK)
    return nw_aws_error(err, NW_ERR_NOT_FOUND, "IMDS at %.*s unreachable: %s",
                        (int)blen, base, herr.message);
  if (resp.status != 200 || !resp.body)
    return nw_aws_error(err, NW_ERR_NOT_FOUND,
                        "IMDS token request answered HTTP %ld", resp.status);
  /* The session token lives in the arena only for this exchange. */
  char *token = strdup(resp.body);
  if (!token)
    return nw_aws_error(err, NW_ERR, "IMDS: out of memory");
  snprintf(url, sizeof(url), "%.*s%s", (int)blen, base, path);
  nw_http_header gh[] = {{"X-aws-ec2-metadata-token", token}};
  nw_http_request get = {.size = sizeof(get), .method = "GET", .url = url,
                         .n_headers = 1, .headers = gh,
                         .timeout_ms = IMDS_TIMEOUT_MS,
                         .max_response_bytes = 64 * 1024};
  nw_status st = env->http(env->http_user, &get, &resp, arena, &herr);
  OPENSSL_cleanse(token, strlen(token));
  free(token);
  if (st != NW_OK)
    return nw_aws_error(err, NW_ERR_NOT_FOUND, "IMDS %s: %s", path,
                        herr.message);
  if (resp.status != 200)
    return nw_aws_error(err, NW_ERR_NOT_FOUND, "IMDS %s answered HTTP %ld",
                        path, resp.status);
  *body = resp.body ? resp.body : "";
  return NW_OK;
}

static int from_imds(nw_aws_creds *p, nw_arena *arena,
                     nw_aws_credentials *out, nw_error *err) {
  if (imds_disabled(&p->env))
    return 0;
  const char *roles = NULL;
  nw_error ierr = {0};
  nw_status st = aws__imds_get(&p->env, "/latest/meta-data/iam/security-credentials/",
                               arena, &roles, &ierr);
  if (st != NW_OK) {
    /* Not on EC2 (or no instance profile): not a broken source, so the
     * caller reports "no credentials" with this reason. */
    nw_aws_error(err, NW_ERR_AUTH, "%s", ierr.message);
    return 0;
  }
  char role[256];
  size_t n = strcspn(roles, "\r\n");
  if (n == 0 || n >= sizeof(role)) {
    nw_aws_error(err, NW_ERR_AUTH, "IMDS: the instance has no IAM role");
    return -1;
  }
  memcpy(role, roles, n);
  role[n] = '\0';
  char path[512];
  snprintf(path, sizeof(path), "/latest/meta-data/iam/security-credentials/%s",
           role);
  const char *body = NULL;
  st = aws__imds_get(&p->env, path, arena, &body, &ierr);
  if (st != NW_OK) {
    nw_aws_error(err, NW_ERR_AUTH, "IMDS credentials for role %s: %s", role,
                 ierr.message);
    return -1;
  }
  return creds_from_json(body, strlen(body), "IMDS credentials", "imds", out,
                         err);
}

static nw_status resolve(nw_aws_creds *p, nw_arena *arena,
                         nw_aws_credentials *out, nw_error *err) {
  static const source_fn sources[] = {from_env, from_web_identity,
                                      from_profile, from_container, from_imds};
  nw_error last = {0};
  for (size_t i = 0; i < sizeof(sources) / sizeof(sources[0]); i++) {
    last.message[0] = '\0';
    int rc = sources[i](p, arena, out, &last);
    if (rc == 1)
      return NW_OK;
    if (rc < 0)
      return nw_aws_error(err, NW_ERR_AUTH, "%s", last.message);
  }
  return nw_aws_error(
      err, NW_ERR_AUTH,
      "no AWS credentials: none in the environment (AWS_ACCESS_KEY_ID), web "
      "identity (AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN), shared files "
      "(profile %s), container (AWS_CONTAINER_CREDENTIALS_FULL_URI) or IMDS "
      "(%s)",
      nw_aws_getenv(&p->env, "AWS_PROFILE") ? nw_aws_getenv(&p->env, "AWS_PROFILE")
                                             : "default",
      last.message[0] ? last.message : "disabled");
}

nw_status nw_aws_creds_get(nw_aws_creds *p, nw_arena *arena,
                           nw_aws_credentials *out, nw_error *err) {
  memset(out, 0, sizeof(*out));
  pthread_mutex_lock(&p->mu);
  int64_t now = nw_aws_now_ms(&p->env);
  int fresh = p->have && (p->cached.expires_ms == 0 ||
                          p->cached.expires_ms - now > REFRESH_BEFORE_MS);
  nw_status st = NW_OK;
  if (!fresh) {
    nw_aws_credentials got = {0};
    st = resolve(p, arena, &got, err);
    if (st == NW_OK) {
      nw_aws_credentials_clear(&p->cached);
      p->cached = got;
      p->have = 1;
      aws__log(&p->env, NW_LOG_INFO, "AWS credentials from %s (key %.4s...)",
               got.source, got.access_key_id);
    } else if (p->have && p->cached.expires_ms > now) {
      /* Refresh failed but the old ones still work: use them and retry the
       * refresh on the next call. */
      aws__log(&p->env, NW_LOG_WARN,
               "AWS credentials refresh failed, using cached ones: %s",
               err ? err->message : "");
      st = NW_OK;
    }
  }
  if (st == NW_OK && nw_aws_credentials_copy(out, &p->cached) != 0)
    st = nw_aws_error(err, NW_ERR, "credentials: out of memory");
  pthread_mutex_unlock(&p->mu);
  return st;
}
