// Placeholder: `weir server` is composed here (the server's composition root).
#include "cli/cli.h"

namespace weir::cli {
void AddServerCommand(CLI::App&, Globals&) {}
}  // namespace weir::cli
