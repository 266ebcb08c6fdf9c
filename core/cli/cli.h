/* The nodewright command line: run, simulate, plugins, version. */
#ifndef NW_CLI_CLI_H
#define NW_CLI_CLI_H

/* Dispatches on argv[1]; returns the process exit code. */
int nw__cli_main(int argc, char **argv);

#endif
