/*
 * AWS Signature Version 4, as the AWS SDKs compute it (botocore's
 * SigV4Auth is the reference the test suite was generated with).
 */
#include "awscore.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

typedef struct kv {
  char *name;
  char *value;
} kv;

static void kvs_free(kv *v, size_t n) {
  for (size_t i = 0; i < n; i++) {
    free(v[i].name);
    /* Header values include the session token when it is signed. */
    if (v[i].value)
      OPENSSL_cleanse(v[i].value, strlen(v[i].value));
    free(v[i].value);
  }
  free(v);
}

static int kv_cmp(const void *a, const void *b) {
  const kv *x = a, *y = b;
  int c = strcmp(x->name, y->name);
  return c ? c : strcmp(x->value, y->value);
}

static int hexval(int c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  c = tolower(c);
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  return -1;
}

/* Decodes %XX escapes of s[0..n) into a heap string; invalid escapes stay. */
static char *pct_decode(const char *s, size_t n) {
  char *out = malloc(n + 1);
  if (!out)
    return NULL;
  size_t j = 0;
  for (size_t i = 0; i < n; i++) {
    if (s[i] == '%' && i + 2 < n) {
      int h = hexval((unsigned char)s[i + 1]);
      int l = hexval((unsigned char)s[i + 2]);
      if (h >= 0 && l >= 0) {
        out[j++] = (char)(h * 16 + l);
        i += 2;
        continue;
      }
    }
    out[j++] = s[i];
  }
  out[j] = '\0';
  return out;
}

static char *encode_dup(const char *s, int keep_slash) {
  nw_aws_buf b = {0};
  nw_aws_buf_uri_encode(&b, s, strlen(s), keep_slash);
  return nw_aws_buf_take(&b);
}

/* Removes empty and "." segments and resolves "..", keeping the leading and
 * trailing slash, as botocore's remove_dot_segments does. */
static void normalize_path(nw_aws_buf *out, const char *path) {
  size_t n = strlen(path);
  const char **segs = calloc(n / 2 + 2, sizeof(*segs));
  size_t *lens = calloc(n / 2 + 2, sizeof(*lens));
  size_t ns = 0;
  if (!segs || !lens) {
    out->oom = 1;
    free(segs);
    free(lens);
    return;
  }
  const char *p = path;
  while (*p) {
    const char *slash = strchr(p, '/');
    size_t len = slash ? (size_t)(slash - p) : strlen(p);
    if (len == 2 && p[0] == '.' && p[1] == '.') {
      if (ns > 0)
        ns--;
    } else if (len > 0 && !(len == 1 && p[0] == '.')) {
      segs[ns] = p;
      lens[ns++] = len;
    }
    p += len;
    if (*p == '/')
      p++;
  }
  if (path[0] == '/')
    nw_aws_buf_puts(out, "/");
  for (size_t i = 0; i < ns; i++) {
    if (i > 0)
      nw_aws_buf_puts(out, "/");
    nw_aws_buf_append(out, segs[i], lens[i]);
  }
  if (n > 0 && path[n - 1] == '/' && ns > 0)
    nw_aws_buf_puts(out, "/");
  free(segs);
  free(lens);
}

static void canonical_uri(nw_aws_buf *out, const nw_aws_sigv4_request *req) {
  const char *path = (req->path && *req->path) ? req->path : "/";
  if (req->no_path_normalization) {
    nw_aws_buf_uri_encode(out, path, strlen(path), 1);
    return;
  }
  nw_aws_buf norm = {0};
  normalize_path(&norm, path);
  const char *p = norm.data && norm.len ? norm.data : "/";
  nw_aws_buf_uri_encode(out, p, strlen(p), 1);
  nw_aws_buf_free(&norm);
}

/* Splits the query into decoded-then-encoded pairs sorted by name, then
 * value (repeated keys sort by value). */
static int canonical_query(nw_aws_buf *out, const char *query) {
  if (!query || !*query)
    return 0;
  size_t cap = 1;
  for (const char *p = query; *p; p++)
    cap += *p == '&';
  kv *pairs = calloc(cap, sizeof(*pairs));
  if (!pairs)
    return -1;
  size_t n = 0;
  int rc = 0;
  const char *p = query;
  while (*p && rc == 0) {
    const char *amp = strchr(p, '&');
    size_t len = amp ? (size_t)(amp - p) : strlen(p);
    if (len > 0) {
      const char *eq = memchr(p, '=', len);
      size_t klen = eq ? (size_t)(eq - p) : len;
      char *k = pct_decode(p, klen);
      char *v = eq ? pct_decode(eq + 1, len - klen - 1) : strdup("");
      pairs[n].name = k ? encode_dup(k, 0) : NULL;
      pairs[n].value = v ? encode_dup(v, 0) : NULL;
      free(k);
      free(v);
      if (!pairs[n].name || !pairs[n].value)
        rc = -1;
      n++;
    }
    p += len;
    if (*p == '&')
      p++;
  }
  if (rc == 0) {
    qsort(pairs, n, sizeof(*pairs), kv_cmp);
    for (size_t i = 0; i < n; i++)
      nw_aws_buf_printf(out, "%s%s=%s", i ? "&" : "", pairs[i].name,
                        pairs[i].value);
  }
  kvs_free(pairs, n);
  return rc;
}

/* Trims a header value and folds every run of whitespace (including the
 * line breaks of obsolete multi-line values) into one space. */
static char *trim_value(const char *v) {
  nw_aws_buf b = {0};
  int pending_space = 0;
  nw_aws_buf_append(&b, "", 0);
  for (const char *p = v; *p; p++) {
    if (isspace((unsigned char)*p)) {
      pending_space = b.len > 0;
      continue;
    }
    if (pending_space)
      nw_aws_buf_append(&b, " ", 1);
    pending_space = 0;
    nw_aws_buf_append(&b, p, 1);
  }
  return nw_aws_buf_take(&b);
}

static char *lower_dup(const char *s) {
  char *d = strdup(s);
  for (char *p = d; p && *p; p++)
    *p = (char)tolower((unsigned char)*p);
  return d;
}

static int add_header(kv *hs, size_t *n, const char *name, const char *value) {
  char *lname = lower_dup(name);
  char *tv = trim_value(value ? value : "");
  if (!lname || !tv) {
    free(lname);
    free(tv);
    return -1;
  }
  for (size_t i = 0; i < *n; i++) {
    if (strcmp(hs[i].name, lname) != 0)
      continue;
    /* A repeated header is signed as one, values joined in order. */
    nw_aws_buf b = {0};
    nw_aws_buf_printf(&b, "%s,%s", hs[i].value, tv);
    free(lname);
    OPENSSL_cleanse(tv, strlen(tv));
    free(tv);
    char *joined = nw_aws_buf_take(&b);
    if (!joined)
      return -1;
    free(hs[i].value);
    hs[i].value = joined;
    return 0;
  }
  hs[*n].name = lname;
  hs[*n].value = tv;
  (*n)++;
  return 0;
}

static int name_cmp(const void *a, const void *b) {
  return strcmp(((const kv *)a)->name, ((const kv *)b)->name);
}

static int has_header(const nw_aws_sigv4_request *req, const char *name) {
  for (size_t i = 0; i < req->n_headers; i++)
    if (strcasecmp(req->headers[i].name, name) == 0)
      return 1;
  return 0;
}

/* Appends the canonical headers block and fills *signed_headers. */
static int canonical_headers(nw_aws_buf *out, const nw_aws_sigv4_request *req,
                             const char *token, char **signed_headers) {
  kv *hs = calloc(req->n_headers + 1, sizeof(*hs));
  size_t n = 0;
  int rc = hs ? 0 : -1;
  for (size_t i = 0; rc == 0 && i < req->n_headers; i++)
    rc = add_header(hs, &n, req->headers[i].name, req->headers[i].value);
  if (rc == 0 && token)
    rc = add_header(hs, &n, "x-amz-security-token", token);
  if (rc == 0) {
    qsort(hs, n, sizeof(*hs), name_cmp);
    nw_aws_buf names = {0};
    for (size_t i = 0; i < n; i++) {
      nw_aws_buf_printf(out, "%s:%s\n", hs[i].name, hs[i].value);
      nw_aws_buf_printf(&names, "%s%s", i ? ";" : "", hs[i].name);
    }
    *signed_headers = nw_aws_buf_take(&names);
    rc = *signed_headers ? 0 : -1;
  }
  if (hs)
    kvs_free(hs, n);
  return rc;
}

static void hmac(const void *key, size_t klen, const char *msg,
                 unsigned char out[32]) {
  unsigned int len = 32;
  HMAC(EVP_sha256(), key, (int)klen, (const unsigned char *)msg, strlen(msg),
       out, &len);
}

static int valid_date(const char *d) {
  if (!d || strlen(d) != 16 || d[8] != 'T' || d[15] != 'Z')
    return 0;
  for (int i = 0; i < 15; i++)
    if (i != 8 && !isdigit((unsigned char)d[i]))
      return 0;
  return 1;
}

static nw_status sign_strings(const nw_aws_sigv4_request *req,
                              const nw_aws_credentials *creds,
                              nw_aws_sigv4_result *out) {
  char date[9];
  memcpy(date, req->amz_date, 8);
  date[8] = '\0';
  char hash[65];
  nw_aws_sha256_hex(out->canonical_request, strlen(out->canonical_request),
                    hash);
  nw_aws_buf sts = {0};
  nw_aws_buf_printf(&sts, "AWS4-HMAC-SHA256\n%s\n%s/%s/%s/aws4_request\n%s",
                    req->amz_date, date, req->region, req->service, hash);
  out->string_to_sign = nw_aws_buf_take(&sts);
  if (!out->string_to_sign)
    return NW_ERR;

  nw_aws_buf key = {0};
  nw_aws_buf_printf(&key, "AWS4%s", creds->secret_access_key);
  if (key.oom)
    return NW_ERR;
  unsigned char k1[32], k2[32], k3[32], k4[32], sig[32];
  hmac(key.data, key.len, date, k1);
  nw_aws_buf_free(&key);
  hmac(k1, 32, req->region, k2);
  hmac(k2, 32, req->service, k3);
  hmac(k3, 32, "aws4_request", k4);
  hmac(k4, 32, out->string_to_sign, sig);
  OPENSSL_cleanse(k1, 32);
  OPENSSL_cleanse(k2, 32);
  OPENSSL_cleanse(k3, 32);
  OPENSSL_cleanse(k4, 32);

  nw_aws_buf hex = {0};
  for (int i = 0; i < 32; i++)
    nw_aws_buf_printf(&hex, "%02x", sig[i]);
  out->signature = nw_aws_buf_take(&hex);
  nw_aws_buf auth = {0};
  nw_aws_buf_printf(&auth,
                    "AWS4-HMAC-SHA256 Credential=%s/%s/%s/%s/aws4_request, "
                    "SignedHeaders=%s, Signature=%s",
                    creds->access_key_id, date, req->region, req->service,
                    out->signed_headers, out->signature ? out->signature : "");
  out->authorization = nw_aws_buf_take(&auth);
  return out->signature && out->authorization ? NW_OK : NW_ERR;
}

nw_status nw_aws_sigv4_sign(const nw_aws_sigv4_request *req,
                            const nw_aws_credentials *creds,
                            nw_aws_sigv4_result *out, nw_error *err) {
  memset(out, 0, sizeof(*out));
  if (!req->method || !req->region || !req->service || !creds ||
      !creds->access_key_id || !creds->secret_access_key)
    return nw_aws_error(err, NW_ERR_INVALID,
                        "sigv4: request needs a method, region, service and "
                        "credentials");
  if (!valid_date(req->amz_date))
    return nw_aws_error(err, NW_ERR_INVALID,
                        "sigv4: date must be YYYYMMDDTHHMMSSZ");

  const char *token = NULL;
  if (creds->session_token && *creds->session_token &&
      !has_header(req, "x-amz-security-token"))
    out->security_token = creds->session_token;
  if (out->security_token && !req->unsigned_session_token)
    token = out->security_token;

  nw_aws_buf cr = {0};
  nw_aws_buf_printf(&cr, "%s\n", req->method);
  canonical_uri(&cr, req);
  nw_aws_buf_puts(&cr, "\n");
  int rc = canonical_query(&cr, req->query);
  nw_aws_buf_puts(&cr, "\n");
  if (rc == 0)
    rc = canonical_headers(&cr, req, token, &out->signed_headers);
  if (rc == 0) {
    char hash[65];
    nw_aws_sha256_hex(req->body ? req->body : "", req->body ? req->body_len : 0,
                      hash);
    nw_aws_buf_printf(&cr, "\n%s\n%s", out->signed_headers, hash);
  }
  out->canonical_request = nw_aws_buf_take(&cr);
  if (rc != 0 || !out->canonical_request ||
      sign_strings(req, creds, out) != NW_OK) {
    nw_aws_sigv4_free(out);
    return nw_aws_error(err, NW_ERR, "sigv4: out of memory");
  }
  return NW_OK;
}

void nw_aws_sigv4_free(nw_aws_sigv4_result *r) {
  if (!r)
    return;
  /* The canonical request may contain the session token. */
  if (r->canonical_request)
    OPENSSL_cleanse(r->canonical_request, strlen(r->canonical_request));
  free(r->canonical_request);
  free(r->string_to_sign);
  free(r->signed_headers);
  free(r->signature);
  free(r->authorization);
  memset(r, 0, sizeof(*r));
}
