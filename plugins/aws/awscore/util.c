/* Small shared pieces of nw_awscore: errors, buffers, hashing, time. */
#include "awscore.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

nw_status nw_aws_error(nw_error *err, nw_status status, const char *fmt, ...) {
  if (!err)
    return status;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err->message, sizeof(err->message), fmt, ap);
  va_end(ap);
  err->status = status;
  return status;
}

static int buf_reserve(nw_aws_buf *b, size_t extra) {
  if (b->oom)
    return -1;
  if (b->len + extra + 1 <= b->cap)
    return 0;
  size_t cap = b->cap ? b->cap : 64;
  while (cap < b->len + extra + 1)
    cap *= 2;
  /* Not realloc: the old block may hold a secret, so it is wiped first. */
  char *p = malloc(cap);
  if (!p) {
    b->oom = 1;
    return -1;
  }
  if (b->data) {
    memcpy(p, b->data, b->len + 1);
    OPENSSL_cleanse(b->data, b->cap);
    free(b->data);
  }
  b->data = p;
  b->cap = cap;
  return 0;
}

void nw_aws_buf_append(nw_aws_buf *b, const char *s, size_t n) {
  if (buf_reserve(b, n) != 0)
    return;
  memcpy(b->data + b->len, s, n);
  b->len += n;
  b->data[b->len] = '\0';
}

void nw_aws_buf_puts(nw_aws_buf *b, const char *s) {
  nw_aws_buf_append(b, s, strlen(s));
}

void nw_aws_buf_printf(nw_aws_buf *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0 || buf_reserve(b, (size_t)n) != 0)
    return;
  va_start(ap, fmt);
  vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
  va_end(ap);
  b->len += (size_t)n;
}

static int is_unreserved(unsigned char c) {
  return isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

void nw_aws_buf_uri_encode(nw_aws_buf *b, const char *s, size_t n,
                           int keep_slash) {
  static const char hex[] = "0123456789ABCDEF";
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (is_unreserved(c) || (keep_slash && c == '/')) {
      nw_aws_buf_append(b, (const char *)&c, 1);
      continue;
    }
    char esc[3] = {'%', hex[c >> 4], hex[c & 15]};
    nw_aws_buf_append(b, esc, 3);
  }
}

char *nw_aws_buf_take(nw_aws_buf *b) {
  if (b->oom) {
    nw_aws_buf_free(b);
    return NULL;
  }
  char *s = b->data ? b->data : strdup("");
  memset(b, 0, sizeof(*b));
  return s;
}

void nw_aws_buf_free(nw_aws_buf *b) {
  if (b->data) {
    OPENSSL_cleanse(b->data, b->cap);
    free(b->data);
  }
  memset(b, 0, sizeof(*b));
}

void nw_aws_sha256_hex(const void *data, size_t len, char out[65]) {
  unsigned char md[32];
  unsigned int mdlen = 0;
  EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL);
  for (unsigned i = 0; i < 32; i++)
    snprintf(out + 2 * i, 3, "%02x", md[i]);
  out[64] = '\0';
}

int nw_aws_credentials_copy(nw_aws_credentials *dst,
                            const nw_aws_credentials *src) {
  memset(dst, 0, sizeof(*dst));
  dst->access_key_id = src->access_key_id ? strdup(src->access_key_id) : NULL;
  dst->secret_access_key =
      src->secret_access_key ? strdup(src->secret_access_key) : NULL;
  dst->session_token = src->session_token ? strdup(src->session_token) : NULL;
  dst->expires_ms = src->expires_ms;
  dst->source = src->source;
  if ((src->access_key_id && !dst->access_key_id) ||
      (src->secret_access_key && !dst->secret_access_key) ||
      (src->session_token && !dst->session_token)) {
    nw_aws_credentials_clear(dst);
    return -1;
  }
  return 0;
}

static void wipe_free(char *s) {
  if (!s)
    return;
  OPENSSL_cleanse(s, strlen(s));
  free(s);
}

void nw_aws_credentials_clear(nw_aws_credentials *c) {
  if (!c)
    return;
  wipe_free(c->access_key_id);
  wipe_free(c->secret_access_key);
  wipe_free(c->session_token);
  memset(c, 0, sizeof(*c));
}

int64_t nw_aws_now_ms(const nw_aws_env *env) {
  if (env && env->now_ms)
    return env->now_ms(env->clock_user);
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

const char *nw_aws_getenv(const nw_aws_env *env, const char *name) {
  const char *v;
  if (env && env->getenv)
    v = env->getenv(env->getenv_user, name);
  else
    v = getenv(name);
  return (v && *v) ? v : NULL;
}

static int digits(const char **p, int n, int *out) {
  int v = 0;
  for (int i = 0; i < n; i++) {
    if (!isdigit((unsigned char)(*p)[i]))
      return -1;
    v = v * 10 + ((*p)[i] - '0');
  }
  *p += n;
  *out = v;
  return 0;
}

int64_t nw_aws_parse_iso8601(const char *s) {
  if (!s)
    return -1;
  const char *p = s;
  int y, mo, d, h, mi, sec;
  if (digits(&p, 4, &y) || *p++ != '-' || digits(&p, 2, &mo) || *p++ != '-' ||
      digits(&p, 2, &d) || (*p != 'T' && *p != 't' && *p != ' '))
    return -1;
  p++;
  if (digits(&p, 2, &h) || *p++ != ':' || digits(&p, 2, &mi) || *p++ != ':' ||
      digits(&p, 2, &sec))
    return -1;
  int ms = 0;
  if (*p == '.') {
    p++;
    int scale = 100;
    while (isdigit((unsigned char)*p)) {
      ms += (*p - '0') * scale;
      scale /= 10;
      p++;
    }
  }
  int offset_s = 0;
  if (*p == 'Z' || *p == 'z') {
    p++;
  } else if (*p == '+' || *p == '-') {
    int sign = *p == '-' ? -1 : 1, oh, om;
    p++;
    if (digits(&p, 2, &oh))
      return -1;
    if (*p == ':')
      p++;
    if (digits(&p, 2, &om))
      return -1;
    offset_s = sign * (oh * 3600 + om * 60);
  } else {
    return -1;
  }
  if (*p || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 ||
      sec > 60)
    return -1;
  struct tm tm = {0};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = sec;
  time_t t = timegm(&tm);
  return ((int64_t)t - offset_s) * 1000 + ms;
}

void nw_aws_amz_date(int64_t unix_ms, char out[17]) {
  time_t t = (time_t)(unix_ms / 1000);
  struct tm tm;
  gmtime_r(&t, &tm);
  strftime(out, 17, "%Y%m%dT%H%M%SZ", &tm);
}
