/* The daemon: `nodewright run`.  Loads config and plugins, then runs the
 * libuv loop until SIGTERM/SIGINT; SIGHUP reloads the configuration. */
#ifndef NW_DAEMON_DAEMON_H
#define NW_DAEMON_DAEMON_H

#include "config/config.h"
#include "plugin/loader.h"

/* Entry point of `run`; `config_path` borrowed.  `plugin_dir`, when not
 * NULL, replaces the config's pluginDirs (an absolute or cwd-relative path).  With `check_only`,
 * validates the config and loads every plugin, then exits: 0 when all is
 * well, 1 otherwise.  Returns the process exit code. */
int nw__daemon_main(const char *config_path, const char *plugin_dir,
                    int check_only);

/*
 * Loads every plugin the config lists into `set`.  Failures are logged one
 * line each and counted; the failed plugin is closed and the others stay.
 * Returns the number of failures.
 */
int nw__daemon_load_plugins(const nw__config *cfg, nw__plugin_set *set);

/* Entry point of `simulate` (core/sim/). */
int nw__simulate_main(int argc, char **argv);

#endif
