#include "cli/cli.h"

int main(int argc, char **argv) { return nw__cli_main(argc, argv); }
