/*
 * nw_awscore: the AWS plumbing shared by the AWS provider plugin and the
 * pricing plugin.  A static, position-independent library (CMake target
 * `nw_awscore`) that depends only on the SDK headers, OpenSSL, libxml2,
 * jansson and libc -- never on the host table or on libcurl -- so that a
 * plugin hands it host->http as the transport and a unit test hands it the
 * daemon's own HTTP client or any other.
 *
 * What it does:
 *  - SigV4 signing (nw_aws_sigv4_sign), checked against the AWS test suite;
 *  - the credential chain of the AWS SDKs (nw_aws_creds_*), cached and
 *    refreshed before expiry;
 *  - region and endpoint resolution with the SDKs' environment overrides;
 *  - signed calls in the Query protocol (EC2, STS, IAM; XML answers parsed
 *    with libxml2) and the JSON protocol (SQS, Pricing), with AWS error
 *    codes mapped onto nw_status and throttling retried with backoff and
 *    jitter.
 *
 * Memory: every string the library returns is malloc'd and documented with
 * its free function; HTTP responses live in the nw_arena the caller passes
 * (the transport allocates them there).  Secrets (secret keys, session
 * tokens, web identity tokens) are wiped with OPENSSL_cleanse when freed
 * and never appear in an error message or a log line.
 *
 * Threading: nw_aws_client and nw_aws_creds are safe to share between
 * threads; everything else is per call.
 */
#ifndef NW_AWSCORE_AWSCORE_H
#define NW_AWSCORE_AWSCORE_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <libxml/tree.h>

#include <nodewright/plugin.h>
#include <nodewright/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- errors */

/* Fills err (when not NULL) and returns status.  Never put secrets in fmt. */
nw_status nw_aws_error(nw_error *err, nw_status status, const char *fmt, ...)
    NW_PRINTF_LIKE(3, 4);

/* ------------------------------------------------------------ buffers */

/* A growable NUL-terminated string on the heap.  Zero-initialise; free with
 * nw_aws_buf_free.  On OOM `oom` is set and further appends are ignored. */
typedef struct nw_aws_buf {
  char *data;
  size_t len;
  size_t cap;
  int oom;
} nw_aws_buf;

void nw_aws_buf_append(nw_aws_buf *b, const char *s, size_t n);
void nw_aws_buf_puts(nw_aws_buf *b, const char *s);
void nw_aws_buf_printf(nw_aws_buf *b, const char *fmt, ...) NW_PRINTF_LIKE(2, 3);
/* Appends s percent-encoded as SigV4 and the Query protocol want: every
 * byte except A-Z a-z 0-9 - . _ ~ (and '/' when keep_slash) as %XX. */
void nw_aws_buf_uri_encode(nw_aws_buf *b, const char *s, size_t n,
                           int keep_slash);
/* Takes the string out of the buffer (caller frees); "" when empty, NULL
 * after OOM.  The buffer is left empty. */
char *nw_aws_buf_take(nw_aws_buf *b);
/* Frees the buffer, wiping its bytes first (it may have held a secret). */
void nw_aws_buf_free(nw_aws_buf *b);

/* --------------------------------------------------------------- crypto */

/* Lowercase hex SHA-256 of data into out (65 bytes with the NUL). */
void nw_aws_sha256_hex(const void *data, size_t len, char out[65]);

/* ----------------------------------------------------------- credentials */

typedef struct nw_aws_credentials {
  char *access_key_id;     /* heap; never logged in full */
  char *secret_access_key; /* heap; secret */
  char *session_token;     /* heap or NULL; secret */
  int64_t expires_ms;      /* Unix ms; 0 = does not expire */
  const char *source;      /* static: "env", "web-identity", "profile",
                              "container", "imds", "static" */
} nw_aws_credentials;

/* Deep copy of src into dst (dst is overwritten, not freed).  Returns 0, or
 * -1 on OOM (dst then holds nothing). */
int nw_aws_credentials_copy(nw_aws_credentials *dst,
                            const nw_aws_credentials *src);
/* Wipes and frees the strings; the struct itself is the caller's. */
void nw_aws_credentials_clear(nw_aws_credentials *c);

/* ----------------------------------------------------------------- SigV4 */

typedef struct nw_aws_sigv4_request {
  const char *method;          /* "GET", "POST" */
  const char *path;            /* as sent on the wire, e.g. "/" */
  const char *query;           /* without '?', as sent; NULL or "" = none */
  size_t n_headers;            /* every header to sign, including Host and */
  const nw_http_header *headers; /* X-Amz-Date; names in any case, may repeat */
  const char *body;            /* may be NULL */
  size_t body_len;
  const char *region;          /* "us-east-1" */
  const char *service;         /* signing name: "ec2", "sqs", "sts" */
  const char *amz_date;        /* "YYYYMMDDTHHMMSSZ", the X-Amz-Date value */
  /* Non-zero: X-Amz-Security-Token is added after signing, unsigned (the
   * suite's post-sts-header-after); zero: it is signed, as every current
   * service expects. */
  int unsigned_session_token;
  /* Non-zero: keep the path as given (S3); zero: remove dot segments and
   * empty segments, as every other service signs. */
  int no_path_normalization;
} nw_aws_sigv4_request;

/* Results, all heap strings owned by the struct (nw_aws_sigv4_free). */
typedef struct nw_aws_sigv4_result {
  char *canonical_request;
  char *string_to_sign;
  char *signed_headers;        /* "host;x-amz-date" */
  char *signature;             /* 64 hex digits */
  char *authorization;         /* the Authorization header's value */
  /* The session token to send as X-Amz-Security-Token, or NULL when the
   * credentials have none or the request already carries the header. */
  const char *security_token;  /* borrowed from the credentials */
} nw_aws_sigv4_result;

/* Signs req with creds.  NW_OK, or NW_ERR_INVALID (missing field, malformed
 * date) / NW_ERR (OOM) with err filled.  `out` is always safe to free. */
nw_status nw_aws_sigv4_sign(const nw_aws_sigv4_request *req,
                            const nw_aws_credentials *creds,
                            nw_aws_sigv4_result *out, nw_error *err);
void nw_aws_sigv4_free(nw_aws_sigv4_result *r);

/* ------------------------------------------------------------ transport */

/* How the library does HTTP: host->http in a plugin, nw__http_request in a
 * test.  The response is allocated in `arena`.  Must be thread-safe. */
typedef nw_status (*nw_aws_http_fn)(void *user, const nw_http_request *req,
                                    nw_http_response *resp, nw_arena *arena,
                                    nw_error *err);

typedef struct nw_aws_env {
  nw_aws_http_fn http;
  void *http_user;
  /* Wall clock in Unix ms; NULL = the real clock.  Plugins pass the host's
   * now_ms so simulations see virtual time. */
  int64_t (*now_ms)(void *user);
  void *clock_user;
  /* Optional log sink (message already formatted, never with secrets). */
  void (*log)(void *user, nw_log_level level, const char *msg);
  void *log_user;
  /* Reads an environment variable; NULL = getenv.  Tests and embedders can
   * substitute their own view of the environment. */
  const char *(*getenv)(void *user, const char *name);
  void *getenv_user;
} nw_aws_env;

int64_t nw_aws_now_ms(const nw_aws_env *env);
const char *nw_aws_getenv(const nw_aws_env *env, const char *name);

/* ------------------------------------------------------- shared config */

/* Reads one value of a profile from the shared config or credentials file
 * (AWS_CONFIG_FILE / AWS_SHARED_CREDENTIALS_FILE, default ~/.aws/config and
 * ~/.aws/credentials).  `profile` NULL = AWS_PROFILE or "default".
 * Returns a heap string (caller frees), or NULL when absent.  A file that
 * exists but cannot be parsed gives NULL and, when err is given, fills it
 * with "<file>:<line>: <what>" and sets *broken to 1. */
char *nw_aws_profile_value(const nw_aws_env *env, int credentials_file,
                           const char *profile, const char *key, int *broken,
                           nw_error *err);

/* -------------------------------------------------- region and endpoint */

/* The region: `configured` when not NULL/empty, else AWS_REGION, else
 * AWS_DEFAULT_REGION, else the profile's `region`, else IMDS
 * (placement/region) unless AWS_EC2_METADATA_DISABLED=true.  A name that
 * is not shaped like a region ("us-east-1", "us-gov-west-1") is refused
 * with its source named.  Heap string, or NULL with err filled
 * (NW_ERR_INVALID).  `arena` is only used for IMDS and may be NULL when
 * the transport accepts that. */
char *nw_aws_resolve_region(const nw_aws_env *env, const char *configured,
                            nw_arena *arena, nw_error *err);

/* Base URL for a service ("ec2", "sqs", "sts", "ssm", "iam", "pricing"):
 * AWS_ENDPOINT_URL_<SERVICE> (service id upper-cased, '-' and ' ' as '_'),
 * else AWS_ENDPOINT_URL, else `configured` (a plugin's config override),
 * else https://<service>.<region>.amazonaws.com (".com.cn" in China, IAM
 * global).  AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true skips the environment.
 * Heap string without a trailing '/'.  NULL on OOM. */
char *nw_aws_endpoint(const nw_aws_env *env, const char *service,
                      const char *region, const char *configured);

/* ------------------------------------------------------ credential chain */

typedef struct nw_aws_creds nw_aws_creds;

/*
 * A cached credential chain, in the SDKs' order:
 *   1. AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY [/ AWS_SESSION_TOKEN];
 *   2. web identity: AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN
 *      [+ AWS_ROLE_SESSION_NAME] -> STS AssumeRoleWithWebIdentity;
 *   3. the shared credentials/config files, profile AWS_PROFILE or
 *      "default" (aws_access_key_id, aws_secret_access_key,
 *      aws_session_token);
 *   4. container credentials: AWS_CONTAINER_CREDENTIALS_FULL_URI (loopback,
 *      the EKS Pod Identity agent 169.254.170.23 / [fd00:ec2::23], or https)
 *      or AWS_CONTAINER_CREDENTIALS_RELATIVE_URI, with the token from
 *      AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE or
 *      AWS_CONTAINER_AUTHORIZATION_TOKEN;
 *   5. IMDSv2 (AWS_EC2_METADATA_SERVICE_ENDPOINT overrides the address;
 *      AWS_EC2_METADATA_DISABLED=true skips it).
 * A source that is configured but broken (unreadable token file, malformed
 * profile, rejected role) is an error naming it: the chain does not fall
 * through to the next source, as the SDKs do not.
 *
 * `env` is copied; `region` (for STS) is copied and may be NULL ("us-east-1").
 * Returns NULL on OOM.
 */
nw_aws_creds *nw_aws_creds_new(const nw_aws_env *env, const char *region);
/* Static credentials, for tests and for explicit config.  Copied. */
nw_aws_creds *nw_aws_creds_new_static(const nw_aws_env *env,
                                      const nw_aws_credentials *c);
void nw_aws_creds_free(nw_aws_creds *p);

/* Current credentials: the cached ones when they are valid for at least 5
 * more minutes, else a fresh resolution (one thread refreshes, others wait).
 * `out` receives a deep copy (nw_aws_credentials_clear it).  `arena` is
 * used for the HTTP calls a refresh needs.  NW_ERR_AUTH when no source has
 * credentials or a source is broken. */
nw_status nw_aws_creds_get(nw_aws_creds *p, nw_arena *arena,
                           nw_aws_credentials *out, nw_error *err);
/* Drops the cache so the next get resolves again (after an auth error). */
void nw_aws_creds_invalidate(nw_aws_creds *p);

/* ------------------------------------------------------------- clients */

typedef struct nw_aws_client nw_aws_client;

typedef struct nw_aws_client_config {
  const char *region;          /* required */
  const char *endpoint;        /* config override for every service, or NULL */
  int max_attempts;            /* 0 = 5 (throttling and 5xx retried) */
  int64_t backoff_base_ms;     /* 0 = 100; full jitter, capped at 20 s */
  int64_t timeout_ms;          /* per HTTP call; 0 = 30 s */
  size_t max_response_bytes;   /* larger answers fail; 0 = the transport's
                                  default (64 MiB for the host) */
} nw_aws_client_config;

/* `creds` is borrowed and must outlive the client; `env` and `cfg` are
 * copied.  NULL on OOM or when cfg->region is missing. */
nw_aws_client *nw_aws_client_new(const nw_aws_env *env, nw_aws_creds *creds,
                                 const nw_aws_client_config *cfg);
void nw_aws_client_free(nw_aws_client *c);
const char *nw_aws_client_region(const nw_aws_client *c);
/* Resolved endpoint of a service for this client; owned by the client. */
const char *nw_aws_client_endpoint(nw_aws_client *c, const char *service);

/* Details of a failed call beyond nw_error: the AWS error code
 * ("InsufficientInstanceCapacity"), the HTTP status and the request id. */
typedef struct nw_aws_fault {
  char code[96];
  char request_id[96];
  long http_status;
  int attempts;
} nw_aws_fault;

/* Query-protocol parameters: an ordered list of name=value pairs. */
typedef struct nw_aws_params {
  size_t len, cap;
  char **names;
  char **values;
  int oom;
} nw_aws_params;

void nw_aws_params_add(nw_aws_params *p, const char *name, const char *value);
/* The name is printf-formatted ("Filter.%d.Name"). */
void nw_aws_params_addf(nw_aws_params *p, const char *value,
                        const char *name_fmt, ...) NW_PRINTF_LIKE(3, 4);
void nw_aws_params_free(nw_aws_params *p);

/*
 * One Query-protocol call (EC2, STS, IAM, SSM has JSON): POST
 * Action=<action>&Version=<version>&<params> to the service endpoint, signed
 * with `signing_name` (usually the service).  On NW_OK *doc is the parsed
 * answer (caller xmlFreeDoc).  Errors:
 *   NW_ERR_INSUFFICIENT_CAPACITY  capacity codes (see nw_aws_is_capacity_code)
 *   NW_ERR_RETRYABLE              throttling or 5xx still failing after retries
 *   NW_ERR_AUTH                   auth codes (AuthFailure, ExpiredToken, ...)
 *   NW_ERR_NOT_FOUND              *.NotFound / *NotFound codes
 *   NW_ERR_INVALID                other 4xx codes, malformed answers
 * with err->message "<service> <action>: <code>: <message>".  `fault` may
 * be NULL.
 */
nw_status nw_aws_query(nw_aws_client *c, const char *service,
                       const char *action, const char *version,
                       const nw_aws_params *params, nw_arena *arena,
                       xmlDocPtr *doc, nw_aws_fault *fault, nw_error *err);

/*
 * One JSON-protocol call: POST `body` (may be NULL = "{}") with
 * X-Amz-Target: <target_prefix>.<operation> and Content-Type
 * application/x-amz-json-<json_version> ("1.0" for SQS, "1.1" for Pricing).
 * On NW_OK *out is the parsed answer (caller json_decref).  Errors as for
 * nw_aws_query; the code comes from "__type" (after '#') or "code".
 */
nw_status nw_aws_json(nw_aws_client *c, const char *service,
                      const char *target_prefix, const char *operation,
                      const char *json_version, json_t *body, nw_arena *arena,
                      json_t **out, nw_aws_fault *fault, nw_error *err);

/* Error code classes, as the AWS SDKs and Karpenter classify them. */
int nw_aws_is_throttle_code(const char *code);
int nw_aws_is_capacity_code(const char *code);
int nw_aws_is_auth_code(const char *code);
int nw_aws_is_not_found_code(const char *code);

/* ---------------------------------------------------------- XML helpers */

/* Parses an XML body without network access or entity expansion.  NULL
 * with err filled ("<what>: malformed XML at line N: ...") when invalid. */
xmlDocPtr nw_aws_xml_parse(const char *body, size_t len, const char *what,
                           nw_error *err);
/* The first element child of `node` with local name `name` (namespaces
 * ignored), or NULL. */
xmlNodePtr nw_aws_xml_child(xmlNodePtr node, const char *name);
/* Follows a '/'-separated path of local names from node. */
xmlNodePtr nw_aws_xml_path(xmlNodePtr node, const char *path);
/* Text of the child at `path` (or of node itself when path is NULL) as a
 * heap string (caller frees), or NULL when absent. */
char *nw_aws_xml_text(xmlNodePtr node, const char *path);
/* Text of the child at `path` parsed as an integer; dflt when absent or not
 * a number. */
int64_t nw_aws_xml_int(xmlNodePtr node, const char *path, int64_t dflt);
/* Next element sibling with local name `name` (to walk <item> lists). */
xmlNodePtr nw_aws_xml_next(xmlNodePtr node, const char *name);

/* ------------------------------------------------------------- time */

/* Parses ISO 8601 "2026-11-28T00:24:18Z" (fractional seconds and numeric
 * offsets accepted) into Unix ms; -1 when malformed. */
int64_t nw_aws_parse_iso8601(const char *s);
/* Formats Unix ms as the X-Amz-Date "YYYYMMDDTHHMMSSZ" (17 bytes). */
void nw_aws_amz_date(int64_t unix_ms, char out[17]);

#ifdef __cplusplus
}
#endif
#endif /* NW_AWSCORE_AWSCORE_H */
