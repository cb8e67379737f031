#include "supervisor/cli/cli.h"
#include "supervisor/run.h"

int main(int argc, char** argv) {
  return yoke::RunCli(argc, argv, {.run = yoke::RunDaemon, .proxy = yoke::RunProxy});
}
