/*
 * The shared config and credentials files (INI as the AWS CLI writes them),
 * region resolution and endpoint resolution.
 */
#include "internal.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

void aws__log(const nw_aws_env *env, nw_log_level level, const char *fmt, ...) {
  if (!env || !env->log)
    return;
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  env->log(env->log_user, level, msg);
}

char *aws__read_small_file(const char *path, size_t max) {
  FILE *f = fopen(path, "rb");
  if (!f)
    return NULL;
  char *buf = malloc(max + 1);
  if (!buf) {
    fclose(f);
    errno = ENOMEM;
    return NULL;
  }
  size_t n = fread(buf, 1, max + 1, f);
  int read_err = ferror(f);
  fclose(f);
  if (read_err || n > max) {
    OPENSSL_cleanse(buf, max + 1);
    free(buf);
    errno = read_err ? EIO : EFBIG;
    return NULL;
  }
  while (n > 0 && isspace((unsigned char)buf[n - 1]))
    n--;
  buf[n] = '\0';
  return buf;
}

static char *trim(char *s) {
  while (isspace((unsigned char)*s))
    s++;
  size_t n = strlen(s);
  while (n > 0 && isspace((unsigned char)s[n - 1]))
    s[--n] = '\0';
  return s;
}

static char *file_path(const nw_aws_env *env, int credentials_file) {
  const char *override = nw_aws_getenv(
      env, credentials_file ? "AWS_SHARED_CREDENTIALS_FILE" : "AWS_CONFIG_FILE");
  nw_aws_buf b = {0};
  if (override) {
    /* The SDKs expand a leading "~/" here as well. */
    const char *home = nw_aws_getenv(env, "HOME");
    if (override[0] == '~' && override[1] == '/' && home)
      nw_aws_buf_printf(&b, "%s%s", home, override + 1);
    else
      nw_aws_buf_puts(&b, override);
  } else {
    const char *home = nw_aws_getenv(env, "HOME");
    if (!home)
      return NULL;
    nw_aws_buf_printf(&b, "%s/.aws/%s", home,
                      credentials_file ? "credentials" : "config");
  }
  return nw_aws_buf_take(&b);
}

/* Is `section` (the text between the brackets) the wanted profile? */
static int section_matches(const char *section, int credentials_file,
                           const char *profile) {
  if (credentials_file)
    return strcmp(section, profile) == 0;
  if (strncmp(section, "profile", 7) == 0 && isspace((unsigned char)section[7])) {
    const char *name = section + 8;
    while (isspace((unsigned char)*name))
      name++;
    return strcmp(name, profile) == 0;
  }
  return strcmp(profile, "default") == 0 && strcmp(section, "default") == 0;
}

char *nw_aws_profile_value(const nw_aws_env *env, int credentials_file,
                           const char *profile, const char *key, int *broken,
                           nw_error *err) {
  if (broken)
    *broken = 0;
  if (!profile)
    profile = nw_aws_getenv(env, "AWS_PROFILE");
  if (!profile)
    profile = "default";
  char *path = file_path(env, credentials_file);
  if (!path)
    return NULL;
  FILE *f = fopen(path, "r");
  if (!f) {
    free(path);
    return NULL;
  }
  char line[4096];
  int lineno = 0, in_section = 0;
  char *found = NULL;
  while (fgets(line, sizeof(line), f)) {
    lineno++;
    /* Indented lines continue a nested setting (s3 =\n  max_...). */
    int indented = isspace((unsigned char)line[0]);
    char *s = trim(line);
    if (*s == '\0' || *s == '#' || *s == ';')
      continue;
    if (*s == '[') {
      char *close = strchr(s, ']');
      if (!close) {
        nw_aws_error(err, NW_ERR_INVALID,
                     "%s:%d: section header without a closing ']'", path,
                     lineno);
        goto broken_file;
      }
      *close = '\0';
      in_section = section_matches(trim(s + 1), credentials_file, profile);
      continue;
    }
    char *eq = strchr(s, '=');
    if (!eq) {
      if (indented)
        continue;
      nw_aws_error(err, NW_ERR_INVALID,
                   "%s:%d: expected 'key = value' or '[section]'", path,
                   lineno);
      goto broken_file;
    }
    if (indented || !in_section)
      continue;
    *eq = '\0';
    if (strcasecmp(trim(s), key) == 0 && !found)
      found = strdup(trim(eq + 1));
  }
  OPENSSL_cleanse(line, sizeof(line));
  fclose(f);
  free(path);
  return found;

broken_file:
  OPENSSL_cleanse(line, sizeof(line));
  fclose(f);
  free(path);
  if (found) {
    OPENSSL_cleanse(found, strlen(found));
    free(found);
  }
  if (broken)
    *broken = 1;
  return NULL;
}

/* Region names are <partition-ish prefix>-<words>-<digit>: "us-east-1",
 * "us-gov-west-1", "cn-north-1", "eu-central-2".  Anything else is a typo
 * that would otherwise surface as a DNS failure on the first call. */
static int region_valid(const char *r) {
  size_t n = strlen(r);
  if (n < 4 || n > 32 || !isdigit((unsigned char)r[n - 1]) || r[n - 2] != '-')
    return 0;
  int dashes = 0;
  for (const char *p = r; *p; p++) {
    if (*p == '-')
      dashes++;
    else if (!islower((unsigned char)*p) && !isdigit((unsigned char)*p))
      return 0;
  }
  return dashes >= 2 && isalpha((unsigned char)r[0]);
}

static char *checked_region(const char *r, const char *from, nw_error *err) {
  if (region_valid(r))
    return strdup(r);
  nw_aws_error(err, NW_ERR_INVALID,
               "unknown AWS region '%s' (from %s): expected a name like "
               "us-east-1",
               r, from);
  return NULL;
}

char *nw_aws_resolve_region(const nw_aws_env *env, const char *configured,
                            nw_arena *arena, nw_error *err) {
  if (configured && *configured)
    return checked_region(configured, "the plugin config", err);
  const char *r = nw_aws_getenv(env, "AWS_REGION");
  if (r)
    return checked_region(r, "AWS_REGION", err);
  r = nw_aws_getenv(env, "AWS_DEFAULT_REGION");
  if (r)
    return checked_region(r, "AWS_DEFAULT_REGION", err);
  int broken = 0;
  char *p = nw_aws_profile_value(env, 0, NULL, "region", &broken, err);
  if (broken)
    return NULL;
  if (p) {
    char *checked = checked_region(p, "the shared config file", err);
    free(p);
    return checked;
  }
  const char *body = NULL;
  nw_error ierr = {0};
  if (aws__imds_get(env, "/latest/meta-data/placement/region", arena, &body,
                    &ierr) == NW_OK &&
      body && *body)
    return strdup(body);
  nw_aws_error(err, NW_ERR_INVALID,
               "no AWS region: set `region` in the plugin config, AWS_REGION, "
               "or a region in the profile (IMDS: %s)",
               ierr.message[0] ? ierr.message : "no answer");
  return NULL;
}

char *nw_aws_endpoint(const nw_aws_env *env, const char *service,
                      const char *region, const char *configured) {
  nw_aws_buf b = {0};
  const char *ignore = nw_aws_getenv(env, "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS");
  int use_env = !(ignore && strcasecmp(ignore, "true") == 0);
  const char *url = NULL;
  if (use_env) {
    char name[96];
    snprintf(name, sizeof(name), "AWS_ENDPOINT_URL_%s", service);
    for (char *p = name; *p; p++)
      *p = (*p == '-' || *p == ' ') ? '_' : (char)toupper((unsigned char)*p);
    url = nw_aws_getenv(env, name);
    if (!url)
      url = nw_aws_getenv(env, "AWS_ENDPOINT_URL");
  }
  if (!url && configured && *configured)
    url = configured;
  if (url) {
    nw_aws_buf_puts(&b, url);
    while (b.len > 0 && b.data[b.len - 1] == '/')
      b.data[--b.len] = '\0';
    return nw_aws_buf_take(&b);
  }
  const char *suffix = strncmp(region, "cn-", 3) == 0 ? "amazonaws.com.cn"
                                                     : "amazonaws.com";
  if (strcmp(service, "iam") == 0)
    nw_aws_buf_printf(&b, "https://iam.%s", suffix);
  else if (strcmp(service, "pricing") == 0)
    nw_aws_buf_printf(&b, "https://api.pricing.%s.%s", region, suffix);
  else
    nw_aws_buf_printf(&b, "https://%s.%s.%s", service, region, suffix);
  return nw_aws_buf_take(&b);
}
