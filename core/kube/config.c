#include "kube/config.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kube/kutil.h"
#include "config/yaml.h"

extern char **environ;

#define SA_DIR "/var/run/secrets/kubernetes.io/serviceaccount"
/* An exec plugin that has not answered by then is killed. */
#define EXEC_TIMEOUT_MS 60000
/* Refresh an exec credential this long before it expires, so a request
 * started just before expiry does not arrive with a stale token. */
#define EXEC_EXPIRY_SLACK_MS 10000

typedef struct blob {
  unsigned char *data;
  size_t len;
} blob;

struct nw__kube_config {
  char *origin;
  char *dir;      /* directory relative paths are resolved against */
  char *server;
  char *ns;
  blob ca;
  blob cert;
  blob key;
  int insecure;
  char *token;
  char *token_file;
  char **exec_argv;  /* NULL-terminated; argv[0] is the command */
  char **exec_env;   /* NULL-terminated NAME=VALUE */
  char *exec_api;

  pthread_mutex_t lock;
  char *file_token;
  struct stat file_stat;
  char *exec_token;
  blob exec_cert;
  blob exec_key;
  int64_t exec_expiry_ms; /* 0: valid until invalidated */
  int exec_valid;
};

static void blob_free(blob *b) {
  free(b->data);
  b->data = NULL;
  b->len = 0;
}

static void strv_free(char **v) {
  for (size_t i = 0; v && v[i]; i++)
    free(v[i]);
  free(v);
}

void nw__kube_config_free(nw__kube_config *cfg) {
  if (!cfg)
    return;
  free(cfg->origin);
  free(cfg->dir);
  free(cfg->server);
  free(cfg->ns);
  blob_free(&cfg->ca);
  blob_free(&cfg->cert);
  blob_free(&cfg->key);
  free(cfg->token);
  free(cfg->token_file);
  strv_free(cfg->exec_argv);
  strv_free(cfg->exec_env);
  free(cfg->exec_api);
  free(cfg->file_token);
  free(cfg->exec_token);
  blob_free(&cfg->exec_cert);
  blob_free(&cfg->exec_key);
  pthread_mutex_destroy(&cfg->lock);
  free(cfg);
}

static nw__kube_config *config_new(const char *origin) {
  nw__kube_config *cfg = calloc(1, sizeof(*cfg));
  if (!cfg)
    return NULL;
  pthread_mutex_init(&cfg->lock, NULL);
  cfg->origin = strdup(origin);
  char *tmp = strdup(origin);
  cfg->dir = tmp ? strdup(dirname(tmp)) : NULL;
  free(tmp);
  return cfg;
}

const char *nw__kube_config_server(const nw__kube_config *cfg) {
  return cfg->server;
}
const char *nw__kube_config_namespace(const nw__kube_config *cfg) {
  return cfg->ns ? cfg->ns : "default";
}
const char *nw__kube_config_origin(const nw__kube_config *cfg) {
  return cfg->origin;
}
int nw__kube_config_insecure(const nw__kube_config *cfg) {
  return cfg->insecure;
}

/* ---- kubeconfig parsing ------------------------------------------------ */

/* Parsing context: the file name and the JSON path of the current section,
 * so every error names where it is. */
typedef struct kc_ctx {
  const char *file;
  nw_error *err;
} kc_ctx;

static nw_status kc_fail(kc_ctx *c, const char *where, const char *fmt,
                         const char *a) {
  char what[256];
  snprintf(what, sizeof(what), fmt, a ? a : "");
  return nw__kube_err(c->err, NW_ERR_INVALID, "kubeconfig %s: %s: %s", c->file,
                      where, what);
}

/* The optional string field `name` of obj: NULL when absent, an error when
 * present with another type. */
static int kc_str(kc_ctx *c, const json_t *obj, const char *where,
                  const char *name, const char **out) {
  json_t *v = json_object_get(obj, name);
  *out = NULL;
  if (!v || json_is_null(v))
    return 0;
  if (!json_is_string(v)) {
    char path[300];
    snprintf(path, sizeof(path), "%s.%s", where, name);
    kc_fail(c, path, "must be a string", NULL);
    return -1;
  }
  *out = json_string_value(v);
  return 0;
}

/* Finds the entry named `name` in the list `list` ("clusters", ...) and
 * returns its inner mapping (entry[inner]); writes its path into where. */
static const json_t *kc_find(kc_ctx *c, const json_t *root, const char *list,
                             const char *inner, const char *name, char *where,
                             size_t wlen) {
  json_t *arr = json_object_get(root, list);
  size_t i;
  json_t *e;
  if (arr && !json_is_array(arr)) {
    kc_fail(c, list, "must be a list", NULL);
    return NULL;
  }
  json_array_foreach(arr, i, e) {
    const char *n = json_string_value(json_object_get(e, "name"));
    if (!n || strcmp(n, name) != 0)
      continue;
    snprintf(where, wlen, "%s[%zu] (\"%s\").%s", list, i, name, inner);
    const json_t *m = json_object_get(e, inner);
    if (!json_is_object(m)) {
      kc_fail(c, where, "missing or not a mapping", NULL);
      return NULL;
    }
    return m;
  }
  char msg[300];
  snprintf(msg, sizeof(msg), "no entry named \"%s\"", name);
  kc_fail(c, list, "%s", msg);
  return NULL;
}

static char *resolve_path(const char *dir, const char *p) {
  char *out = NULL;
  if (p[0] == '/' || !dir)
    return strdup(p);
  if (asprintf(&out, "%s/%s", dir, p) < 0)
    return NULL;
  return out;
}

static int looks_pem(const blob *b) {
  return b->data && memmem(b->data, b->len, "-----BEGIN", 10) != NULL;
}

/* Loads a PEM item given either inline (base64 `data_field`) or as a file
 * (`file_field`); absent is fine (out stays empty). */
static int kc_pem(kc_ctx *c, nw__kube_config *cfg, const json_t *obj,
                  const char *where, const char *file_field,
                  const char *data_field, blob *out) {
  const char *file;
  const char *data;
  char path[400];
  if (kc_str(c, obj, where, file_field, &file) < 0 ||
      kc_str(c, obj, where, data_field, &data) < 0)
    return -1;
  if (data) {
    snprintf(path, sizeof(path), "%s.%s", where, data_field);
    out->data = nw__kube_b64_decode(data, &out->len);
    if (!out->data)
      return kc_fail(c, path, "not valid base64", NULL), -1;
  } else if (file) {
    snprintf(path, sizeof(path), "%s.%s", where, file_field);
    char *abs = resolve_path(cfg->dir, file);
    out->data = abs ? (unsigned char *)nw__kube_read_file(abs, &out->len) : NULL;
    if (!out->data) {
      char msg[600];
      snprintf(msg, sizeof(msg), "cannot read %s: %s", abs ? abs : file,
               strerror(errno));
      free(abs);
      return kc_fail(c, path, "%s", msg), -1;
    }
    free(abs);
  } else {
    return 0;
  }
  if (!looks_pem(out))
    return kc_fail(c, path, "does not contain a PEM block", NULL), -1;
  return 0;
}

static int kc_cluster(kc_ctx *c, nw__kube_config *cfg, const json_t *cl,
                      const char *where) {
  const char *server;
  json_t *insecure = json_object_get(cl, "insecure-skip-tls-verify");
  char path[400];
  if (kc_str(c, cl, where, "server", &server) < 0)
    return -1;
  snprintf(path, sizeof(path), "%s.server", where);
  if (!server || !*server)
    return kc_fail(c, path, "missing", NULL), -1;
  if (strncmp(server, "https://", 8) != 0 && strncmp(server, "http://", 7) != 0)
    return kc_fail(c, path, "\"%s\" is not an http(s) URL", server), -1;
  cfg->server = strdup(server);
  size_t n = strlen(cfg->server);
  while (n > 0 && cfg->server[n - 1] == '/')
    cfg->server[--n] = '\0';
  if (insecure && !json_is_boolean(insecure)) {
    snprintf(path, sizeof(path), "%s.insecure-skip-tls-verify", where);
    return kc_fail(c, path, "must be true or false", NULL), -1;
  }
  cfg->insecure = json_is_true(insecure);
  return kc_pem(c, cfg, cl, where, "certificate-authority",
                "certificate-authority-data", &cfg->ca);
}

static char **strv_from_json(const json_t *arr) {
  size_t n = json_array_size(arr);
  char **v = calloc(n + 2, sizeof(char *));
  return v;
}

static int kc_exec(kc_ctx *c, nw__kube_config *cfg, const json_t *ex,
                   const char *where) {
  const char *api;
  const char *cmd;
  char path[400];
  json_t *args = json_object_get(ex, "args");
  json_t *env = json_object_get(ex, "env");
  size_t i;
  json_t *e;
  if (!json_is_object(ex))
    return kc_fail(c, where, "must be a mapping", NULL), -1;
  if (kc_str(c, ex, where, "apiVersion", &api) < 0 ||
      kc_str(c, ex, where, "command", &cmd) < 0)
    return -1;
  snprintf(path, sizeof(path), "%s.apiVersion", where);
  if (!api || (strcmp(api, "client.authentication.k8s.io/v1") != 0 &&
               strcmp(api, "client.authentication.k8s.io/v1beta1") != 0))
    return kc_fail(c, path, "\"%s\" is not client.authentication.k8s.io/v1 or v1beta1",
                   api ? api : "(missing)"), -1;
  snprintf(path, sizeof(path), "%s.command", where);
  if (!cmd || !*cmd)
    return kc_fail(c, path, "missing", NULL), -1;
  if ((args && !json_is_array(args)) || (env && !json_is_array(env))) {
    snprintf(path, sizeof(path), "%s.%s", where, args && !json_is_array(args) ? "args" : "env");
    return kc_fail(c, path, "must be a list", NULL), -1;
  }
  cfg->exec_api = strdup(api);
  cfg->exec_argv = strv_from_json(args);
  /* A command with a slash but not absolute is relative to the file. */
  cfg->exec_argv[0] = strchr(cmd, '/') ? resolve_path(cfg->dir, cmd) : strdup(cmd);
  json_array_foreach(args, i, e) {
    if (!json_is_string(e)) {
      snprintf(path, sizeof(path), "%s.args[%zu]", where, i);
      return kc_fail(c, path, "must be a string", NULL), -1;
    }
    cfg->exec_argv[i + 1] = strdup(json_string_value(e));
  }
  cfg->exec_env = strv_from_json(env);
  json_array_foreach(env, i, e) {
    const char *n = json_string_value(json_object_get(e, "name"));
    const char *v = json_string_value(json_object_get(e, "value"));
    if (!n || !v) {
      snprintf(path, sizeof(path), "%s.env[%zu]", where, i);
      return kc_fail(c, path, "needs string name and value", NULL), -1;
    }
    if (asprintf(&cfg->exec_env[i], "%s=%s", n, v) < 0)
      return -1;
  }
  return 0;
}

static int kc_user(kc_ctx *c, nw__kube_config *cfg, const json_t *u,
                   const char *where) {
  const char *token;
  const char *tfile;
  char path[400];
  if (kc_pem(c, cfg, u, where, "client-certificate", "client-certificate-data",
             &cfg->cert) < 0 ||
      kc_pem(c, cfg, u, where, "client-key", "client-key-data", &cfg->key) < 0)
    return -1;
  if (!cfg->cert.data != !cfg->key.data) {
    snprintf(path, sizeof(path), "%s.%s", where,
             cfg->cert.data ? "client-key" : "client-certificate");
    return kc_fail(c, path, "missing (a client certificate needs its key and vice versa)", NULL), -1;
  }
  if (kc_str(c, u, where, "token", &token) < 0 ||
      kc_str(c, u, where, "tokenFile", &tfile) < 0)
    return -1;
  if (token)
    cfg->token = strdup(token);
  else if (tfile)
    cfg->token_file = resolve_path(cfg->dir, tfile);
  json_t *ex = json_object_get(u, "exec");
  if (ex && !json_is_null(ex)) {
    snprintf(path, sizeof(path), "%s.exec", where);
    return kc_exec(c, cfg, ex, path);
  }
  const char *ap;
  if (json_object_get(u, "auth-provider")) {
    snprintf(path, sizeof(path), "%s.auth-provider", where);
    ap = "auth-provider plugins are not supported; use exec";
    return kc_fail(c, path, "%s", ap), -1;
  }
  return 0;
}

static int kc_parse(kc_ctx *c, nw__kube_config *cfg, const json_t *root,
                    const char *context) {
  const char *cur;
  char where[300];
  if (!json_is_object(root))
    return kc_fail(c, "(document)", "not a YAML mapping", NULL), -1;
  if (kc_str(c, root, "(document)", "current-context", &cur) < 0)
    return -1;
  const char *name = context ? context : cur;
  if (!name || !*name)
    return kc_fail(c, "current-context", "not set and no context was chosen", NULL), -1;
  const json_t *ctx = kc_find(c, root, "contexts", "context", name, where, sizeof(where));
  if (!ctx)
    return -1;
  const char *cl_name;
  const char *user_name;
  const char *ns;
  if (kc_str(c, ctx, where, "cluster", &cl_name) < 0 ||
      kc_str(c, ctx, where, "user", &user_name) < 0 ||
      kc_str(c, ctx, where, "namespace", &ns) < 0)
    return -1;
  if (!cl_name) {
    strncat(where, ".cluster", sizeof(where) - strlen(where) - 1);
    return kc_fail(c, where, "missing", NULL), -1;
  }
  if (ns)
    cfg->ns = strdup(ns);
  const json_t *cl = kc_find(c, root, "clusters", "cluster", cl_name, where, sizeof(where));
  if (!cl || kc_cluster(c, cfg, cl, where) < 0)
    return -1;
  if (!user_name)
    return 0;
  const json_t *u = kc_find(c, root, "users", "user", user_name, where, sizeof(where));
  if (!u)
    return -1;
  return kc_user(c, cfg, u, where);
}

static const char *default_kubeconfig(char *buf, size_t len) {
  const char *env = getenv("KUBECONFIG");
  if (env && *env) {
    size_t n = strcspn(env, ":");
    snprintf(buf, len, "%.*s", (int)n, env);
    return buf;
  }
  const char *home = getenv("HOME");
  snprintf(buf, len, "%s/.kube/config", home ? home : "");
  return buf;
}

nw__kube_config *nw__kube_config_load(const char *path, const char *context,
                                      nw_error *err) {
  char def[1024];
  char yerr[512];
  size_t len = 0;
  if (!path)
    path = default_kubeconfig(def, sizeof(def));
  char *text = nw__kube_read_file(path, &len);
  if (!text) {
    nw__kube_err(err, NW_ERR_INVALID, "kubeconfig %s: cannot read: %s", path,
                 strerror(errno));
    return NULL;
  }
  nw__ydoc *doc = nw__yaml_parse(path, text, len, yerr, sizeof(yerr));
  free(text);
  if (!doc) {
    nw__kube_err(err, NW_ERR_INVALID, "kubeconfig %s", yerr);
    return NULL;
  }
  /* The kubeconfig is small; walking it as JSON keeps the code short. */
  json_t *root = doc->root ? nw__ynode_to_json(doc->root) : json_null();
  nw__ydoc_free(doc);
  nw__kube_config *cfg = config_new(path);
  kc_ctx c = {path, err};
  int rc = cfg ? kc_parse(&c, cfg, root, context) : -1;
  json_decref(root);
  if (rc < 0) {
    nw__kube_config_free(cfg);
    return NULL;
  }
  return cfg;
}

nw__kube_config *nw__kube_config_in_cluster(const char *sa_dir, nw_error *err) {
  const char *host = getenv("KUBERNETES_SERVICE_HOST");
  const char *port = getenv("KUBERNETES_SERVICE_PORT");
  char path[1024];
  if (!sa_dir)
    sa_dir = SA_DIR;
  if (!host || !*host || !port || !*port) {
    nw__kube_err(err, NW_ERR_INVALID,
                 "in-cluster config: KUBERNETES_SERVICE_HOST and "
                 "KUBERNETES_SERVICE_PORT must be set");
    return NULL;
  }
  nw__kube_config *cfg = config_new("in-cluster");
  if (!cfg)
    return NULL;
  free(cfg->dir);
  cfg->dir = strdup(sa_dir);
  int v6 = strchr(host, ':') != NULL;
  if (asprintf(&cfg->server, "https://%s%s%s:%s", v6 ? "[" : "", host,
               v6 ? "]" : "", port) < 0)
    cfg->server = NULL;
  snprintf(path, sizeof(path), "%s/ca.crt", sa_dir);
  cfg->ca.data = (unsigned char *)nw__kube_read_file(path, &cfg->ca.len);
  if (!cfg->ca.data || !looks_pem(&cfg->ca)) {
    nw__kube_err(err, NW_ERR_INVALID, "in-cluster config: %s: %s", path,
                 cfg->ca.data ? "no PEM certificate" : strerror(errno));
    nw__kube_config_free(cfg);
    return NULL;
  }
  snprintf(path, sizeof(path), "%s/token", sa_dir);
  cfg->token_file = strdup(path);
  if (access(path, R_OK) != 0) {
    nw__kube_err(err, NW_ERR_INVALID, "in-cluster config: %s: %s", path,
                 strerror(errno));
    nw__kube_config_free(cfg);
    return NULL;
  }
  snprintf(path, sizeof(path), "%s/namespace", sa_dir);
  cfg->ns = nw__kube_read_file(path, NULL);
  if (cfg->ns)
    cfg->ns[strcspn(cfg->ns, " \r\n")] = '\0';
  return cfg;
}

nw__kube_config *nw__kube_config_auto(nw_error *err) {
  const char *host = getenv("KUBERNETES_SERVICE_HOST");
  if (host && *host)
    return nw__kube_config_in_cluster(NULL, err);
  return nw__kube_config_load(NULL, NULL, err);
}

/* ---- credentials ------------------------------------------------------- */

static void trim(char *s) {
  size_t n = strlen(s);
  while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' '))
    s[--n] = '\0';
}

/* Re-reads the token file when it changed since last time (locked). */
static nw_status file_token(nw__kube_config *cfg, nw_error *err) {
  struct stat st;
  if (stat(cfg->token_file, &st) != 0)
    return nw__kube_err(err, NW_ERR_AUTH, "%s: token file %s: %s", cfg->origin,
                        cfg->token_file, strerror(errno));
  if (cfg->file_token && st.st_ino == cfg->file_stat.st_ino &&
      st.st_size == cfg->file_stat.st_size &&
      st.st_mtim.tv_sec == cfg->file_stat.st_mtim.tv_sec &&
      st.st_mtim.tv_nsec == cfg->file_stat.st_mtim.tv_nsec)
    return NW_OK;
  char *t = nw__kube_read_file(cfg->token_file, NULL);
  if (!t)
    return nw__kube_err(err, NW_ERR_AUTH, "%s: token file %s: %s", cfg->origin,
                        cfg->token_file, strerror(errno));
  trim(t);
  free(cfg->file_token);
  cfg->file_token = t;
  cfg->file_stat = st;
  return NW_OK;
}

/* Runs the exec plugin and returns its stdout (caller frees). */
static char *exec_run(nw__kube_config *cfg, int *exit_status, nw_error *err) {
  int fds[2];
  posix_spawn_file_actions_t fa;
  pid_t pid;
  size_t n_env = 0;
  size_t n_extra = 0;
  while (environ[n_env])
    n_env++;
  while (cfg->exec_env[n_extra])
    n_extra++;
  char **envp = calloc(n_env + n_extra + 2, sizeof(char *));
  if (!envp || pipe2(fds, O_CLOEXEC) != 0) {
    free(envp);
    nw__kube_err(err, NW_ERR_AUTH, "exec plugin: %s", strerror(errno));
    return NULL;
  }
  memcpy(envp, environ, n_env * sizeof(char *));
  memcpy(envp + n_env, cfg->exec_env, n_extra * sizeof(char *));
  char info[256];
  snprintf(info, sizeof(info),
           "KUBERNETES_EXEC_INFO={\"apiVersion\":\"%s\",\"kind\":"
           "\"ExecCredential\",\"spec\":{\"interactive\":false}}",
           cfg->exec_api);
  envp[n_env + n_extra] = info;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  int rc = posix_spawnp(&pid, cfg->exec_argv[0], &fa, NULL, cfg->exec_argv, envp);
  posix_spawn_file_actions_destroy(&fa);
  free(envp);
  close(fds[1]);
  if (rc != 0) {
    close(fds[0]);
    nw__kube_err(err, NW_ERR_AUTH, "%s: exec plugin \"%s\": %s", cfg->origin,
                 cfg->exec_argv[0], strerror(rc));
    return NULL;
  }
  size_t cap = 4096;
  size_t len = 0;
  char *out = malloc(cap);
  int64_t deadline = nw__kube_now_ms() + EXEC_TIMEOUT_MS;
  int timed_out = 0;
  for (;;) {
    struct pollfd p = {fds[0], POLLIN, 0};
    int64_t left = deadline - nw__kube_now_ms();
    if (left <= 0 || poll(&p, 1, (int)left) == 0) {
      timed_out = 1;
      kill(pid, SIGKILL);
      break;
    }
    if (len + 1 >= cap) {
      cap *= 2;
      char *nb = realloc(out, cap);
      if (!nb)
        break;
      out = nb;
    }
    ssize_t got = read(fds[0], out + len, cap - len - 1);
    if (got < 0 && errno == EINTR)
      continue;
    if (got <= 0)
      break;
    len += (size_t)got;
  }
  close(fds[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  out[len] = '\0';
  *exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : 128;
  if (timed_out) {
    nw__kube_err(err, NW_ERR_AUTH, "%s: exec plugin \"%s\": no answer within %d s",
                 cfg->origin, cfg->exec_argv[0], EXEC_TIMEOUT_MS / 1000);
    free(out);
    return NULL;
  }
  return out;
}

/* Runs the plugin and caches its credential (locked). */
static nw_status exec_refresh(nw__kube_config *cfg, nw_error *err) {
  int code = 0;
  char *out = exec_run(cfg, &code, err);
  if (!out)
    return NW_ERR_AUTH;
  json_error_t je;
  json_t *doc = json_loads(out, 0, &je);
  free(out);
  const char *who = cfg->exec_argv[0];
  if (code != 0) {
    json_decref(doc);
    return nw__kube_err(err, NW_ERR_AUTH, "%s: exec plugin \"%s\" exited with status %d",
                        cfg->origin, who, code);
  }
  const char *kind = json_string_value(json_object_get(doc, "kind"));
  json_t *st = json_object_get(doc, "status");
  if (!doc || !kind || strcmp(kind, "ExecCredential") != 0 || !json_is_object(st)) {
    json_decref(doc);
    return nw__kube_err(err, NW_ERR_AUTH,
                        "%s: exec plugin \"%s\": output is not an ExecCredential "
                        "with a status", cfg->origin, who);
  }
  const char *tok = json_string_value(json_object_get(st, "token"));
  const char *crt = json_string_value(json_object_get(st, "clientCertificateData"));
  const char *key = json_string_value(json_object_get(st, "clientKeyData"));
  const char *exp = json_string_value(json_object_get(st, "expirationTimestamp"));
  int64_t exp_ms = exp ? nw__kube_parse_time(exp) : 0;
  if ((!tok && !(crt && key)) || exp_ms < 0) {
    json_decref(doc);
    return nw__kube_err(err, NW_ERR_AUTH,
                        "%s: exec plugin \"%s\": status needs token or "
                        "clientCertificateData+clientKeyData%s", cfg->origin, who,
                        exp_ms < 0 ? " and a valid expirationTimestamp" : "");
  }
  free(cfg->exec_token);
  blob_free(&cfg->exec_cert);
  blob_free(&cfg->exec_key);
  cfg->exec_token = tok ? strdup(tok) : NULL;
  if (crt && key) {
    cfg->exec_cert.data = (unsigned char *)strdup(crt);
    cfg->exec_cert.len = strlen(crt);
    cfg->exec_key.data = (unsigned char *)strdup(key);
    cfg->exec_key.len = strlen(key);
  }
  cfg->exec_expiry_ms = exp_ms;
  cfg->exec_valid = 1;
  json_decref(doc);
  return NW_OK;
}

static void set_blob(CURL *easy, CURLoption opt, const blob *b) {
  struct curl_blob cb = {b->data, b->len, CURL_BLOB_COPY};
  curl_easy_setopt(easy, opt, &cb);
}

static void set_client_cert(CURL *easy, const blob *cert, const blob *key) {
  set_blob(easy, CURLOPT_SSLCERT_BLOB, cert);
  curl_easy_setopt(easy, CURLOPT_SSLCERTTYPE, "PEM");
  set_blob(easy, CURLOPT_SSLKEY_BLOB, key);
  curl_easy_setopt(easy, CURLOPT_SSLKEYTYPE, "PEM");
}

static nw_status add_bearer(struct curl_slist **headers, const char *tok) {
  char *h = NULL;
  if (asprintf(&h, "Authorization: Bearer %s", tok) < 0)
    return NW_ERR;
  struct curl_slist *n = curl_slist_append(*headers, h);
  free(h);
  if (!n)
    return NW_ERR;
  *headers = n;
  return NW_OK;
}

/* Exec credential (locked): refreshed when missing or about to expire. */
static nw_status exec_apply(nw__kube_config *cfg, CURL *easy,
                            struct curl_slist **headers, nw_error *err) {
  int64_t now = nw__kube_now_ms();
  if (!cfg->exec_valid ||
      (cfg->exec_expiry_ms && cfg->exec_expiry_ms - EXEC_EXPIRY_SLACK_MS < now)) {
    nw_status st = exec_refresh(cfg, err);
    if (st != NW_OK)
      return st;
  }
  if (cfg->exec_cert.data)
    set_client_cert(easy, &cfg->exec_cert, &cfg->exec_key);
  if (cfg->exec_token)
    return add_bearer(headers, cfg->exec_token);
  return NW_OK;
}

nw_status nw__kube_config_apply(nw__kube_config *cfg, CURL *easy,
                                struct curl_slist **headers, nw_error *err) {
  nw_status st = NW_OK;
  curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, cfg->insecure ? 0L : 1L);
  curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, cfg->insecure ? 0L : 2L);
  if (cfg->ca.data)
    set_blob(easy, CURLOPT_CAINFO_BLOB, &cfg->ca);
  if (cfg->cert.data)
    set_client_cert(easy, &cfg->cert, &cfg->key);
  pthread_mutex_lock(&cfg->lock);
  if (cfg->token) {
    st = add_bearer(headers, cfg->token);
  } else if (cfg->token_file) {
    st = file_token(cfg, err);
    if (st == NW_OK)
      st = add_bearer(headers, cfg->file_token);
  } else if (cfg->exec_argv) {
    st = exec_apply(cfg, easy, headers, err);
  }
  pthread_mutex_unlock(&cfg->lock);
  return st;
}

void nw__kube_config_invalidate(nw__kube_config *cfg) {
  pthread_mutex_lock(&cfg->lock);
  cfg->exec_valid = 0;
  if (cfg->file_token) {
    /* Forces a re-read: the token may have been rotated in place. */
    free(cfg->file_token);
    cfg->file_token = NULL;
  }
  pthread_mutex_unlock(&cfg->lock);
}
