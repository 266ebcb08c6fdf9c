#include "cli/cli.h"

#include <stdio.h>
#include <string.h>

#include <nodewright/plugin.h>

static int cmd_version(void) {
  printf("nodewright %s (plugin ABI %d.%d)\n", NW_VERSION, NW_ABI_MAJOR,
         NW_ABI_MINOR);
  return 0;
}

int nw__cli_main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: nodewright run|simulate|plugins|version\n");
    return 2;
  }
  if (strcmp(argv[1], "version") == 0)
    return cmd_version();
  fprintf(stderr, "nodewright: unknown command '%s'\n", argv[1]);
  return 2;
}
