// Placeholder until the owning module lands its commands.
#include "cli/cli.h"

namespace weir::cli {
void AddAssetCommands(CLI::App&, Globals&) {}
}  // namespace weir::cli
