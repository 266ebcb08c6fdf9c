#include <stdio.h>

#include "daemon/daemon.h"

int nw__simulate_main(int argc, char **argv) {
  (void)argc;
  (void)argv;
  fprintf(stderr, "nodewright simulate: the simulator is not part of this "
                  "build yet\n");
  return 2;
}
