// Placeholder until the scheduler lands its commands.
#include "cli/cli.h"

namespace weir::cli {
void AddSchedulerCommands(CLI::App&, Globals&) {}
}  // namespace weir::cli
