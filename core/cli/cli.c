#include "cli/cli.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nodewright/plugin.h>

#include "config/config.h"
#include "daemon/daemon.h"
#include "plugin/loader.h"
#include "util/log.h"

static void usage(FILE *f) {
  fprintf(f,
          "usage: nodewright <command> [options]\n"
          "\n"
          "commands:\n"
          "  run --config FILE [--plugin-dir DIR] [--check]\n"
          "                                run the autoscaler daemon; --plugin-dir replaces\n"
          "                                the config's pluginDirs; with --check validate\n"
          "                                config and plugins, then exit\n"
          "  simulate --scenario FILE [--report out.html] [--json]\n"
          "                                replay a scenario on a virtual clock\n"
          "  plugins check FILE.so         check a plugin and print its descriptor\n"
          "  plugins list [--plugin-dir DIR]...\n"
          "                                list the plugins in the plugin directories\n"
          "  version                       print the version and plugin ABI\n");
}

static int cmd_version(void) {
  printf("nodewright %s\nplugin ABI %d.%d\n", NW_VERSION, NW_ABI_MAJOR,
         NW_ABI_MINOR);
  return 0;
}

static void print_descriptor(const char *path, const nw_plugin_descriptor *d) {
  printf("file:        %s\n", path);
  printf("name:        %s\n", d->name);
  printf("kind:        %s\n", nw__plugin_kind_name(d->kind));
  printf("version:     %s\n", d->version ? d->version : "");
  printf("abi:         %u.%u (host %d.%d)\n", d->abi_major, d->abi_minor,
         NW_ABI_MAJOR, NW_ABI_MINOR);
  printf("description: %s\n", d->description ? d->description : "");
}

static int cmd_plugins_check(const char *path) {
  nw_plugin_descriptor d;
  char strings[1024], err[1024];
  if (nw__plugin_inspect(path, 1, &d, strings, sizeof(strings), err,
                         sizeof(err)) != 0) {
    fprintf(stderr, "refused: %s\n", err);
    return 1;
  }
  print_descriptor(path, &d);
  printf("status:      ok\n");
  return 0;
}

static int has_suffix(const char *s, const char *suffix) {
  size_t n = strlen(s), m = strlen(suffix);
  return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* Lists one directory; returns the number of refused plugins. */
static int list_dir(const char *dir) {
  DIR *d = opendir(dir);
  if (!d) {
    fprintf(stderr, "%s: cannot open directory\n", dir);
    return 1;
  }
  int refused = 0;
  struct dirent *e;
  /* readdir order is arbitrary; collect and sort for stable output. */
  char **names = NULL;
  size_t n = 0;
  while ((e = readdir(d)) != NULL) {
    if (!has_suffix(e->d_name, ".so"))
      continue;
    char **grown = realloc(names, (n + 1) * sizeof(*names));
    if (!grown)
      break;
    names = grown;
    names[n++] = strdup(e->d_name);
  }
  closedir(d);
  qsort(names, n, sizeof(*names),
        (int (*)(const void *, const void *))strcmp);
  for (size_t i = 0; i < n; i++) {
    char path[4096], strings[1024], err[1024];
    nw_plugin_descriptor desc;
    snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
    if (nw__plugin_inspect(path, 1, &desc, strings, sizeof(strings), err,
                           sizeof(err)) == 0) {
      printf("%-20s %-9s %-10s ABI %u.%u  %s\n", desc.name,
             nw__plugin_kind_name(desc.kind), desc.version ? desc.version : "",
             desc.abi_major, desc.abi_minor, path);
    } else {
      printf("%-20s %-9s refused: %s\n", names[i], "-", err);
      refused++;
    }
    free(names[i]);
  }
  free(names);
  return refused;
}

static int cmd_plugins_list(int argc, char **argv) {
  int refused = 0, dirs = 0;
  for (int i = 0; i < argc; i++) {
    if (strcmp(argv[i], "--plugin-dir") == 0 && i + 1 < argc) {
      refused += list_dir(argv[++i]);
      dirs++;
    } else {
      fprintf(stderr, "plugins list: unexpected argument '%s'\n", argv[i]);
      return 2;
    }
  }
  if (dirs == 0)
    refused += list_dir(NW_DEFAULT_PLUGIN_DIR);
  return refused ? 1 : 0;
}

static int cmd_plugins(int argc, char **argv) {
  if (argc >= 2 && strcmp(argv[0], "check") == 0)
    return cmd_plugins_check(argv[1]);
  if (argc >= 1 && strcmp(argv[0], "list") == 0)
    return cmd_plugins_list(argc - 1, argv + 1);
  fprintf(stderr, "usage: nodewright plugins check FILE.so | plugins list "
                  "[--plugin-dir DIR]\n");
  return 2;
}

static int cmd_run(int argc, char **argv) {
  const char *config = NULL;
  const char *plugin_dir = NULL;
  int check = 0;
  for (int i = 0; i < argc; i++) {
    if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) {
      config = argv[++i];
    } else if (strcmp(argv[i], "--plugin-dir") == 0 && i + 1 < argc) {
      plugin_dir = argv[++i];
    } else if (strcmp(argv[i], "--check") == 0) {
      check = 1;
    } else {
      fprintf(stderr, "run: unexpected argument '%s'\n", argv[i]);
      return 2;
    }
  }
  if (!config) {
    fprintf(stderr, "run: --config FILE is required\n");
    return 2;
  }
  return nw__daemon_main(config, plugin_dir, check);
}

static int cmd_simulate(int argc, char **argv) {
  return nw__simulate_main(argc, argv);
}

int nw__cli_main(int argc, char **argv) {
  if (argc < 2) {
    usage(stderr);
    return 2;
  }
  const char *cmd = argv[1];
  if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0)
    return cmd_version();
  if (strcmp(cmd, "plugins") == 0)
    return cmd_plugins(argc - 2, argv + 2);
  if (strcmp(cmd, "run") == 0)
    return cmd_run(argc - 2, argv + 2);
  if (strcmp(cmd, "simulate") == 0)
    return cmd_simulate(argc - 2, argv + 2);
  if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0) {
    usage(stdout);
    return 0;
  }
  fprintf(stderr, "nodewright: unknown command '%s'\n\n", cmd);
  usage(stderr);
  return 2;
}
