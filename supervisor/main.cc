#include "supervisor/cli.h"

int main(int argc, char** argv) { return yoke::RunCli(argc, argv); }
