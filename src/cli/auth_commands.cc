// `weir whoami`: who the server takes this CLI for (GET /api/weir/v1/me), with the token from
// --token, --token-file or WEIR_TOKEN.
#include <CLI/CLI.hpp>
#include <iostream>

#include "cli/cli.h"
#include "cli/cli_util.h"
#include "common/strings.h"

namespace weir::cli {

namespace {

int WhoAmI(Globals& g) {
  client::HttpClient http(g.server, g.client);
  auto me = GetJson(http, "/api/weir/v1/me");
  if (!me.ok()) return Fail(me.status().WithContext("whoami"));
  if (g.output == "json") {
    std::cout << boost::json::serialize(*me) << "\n";
    return 0;
  }
  std::vector<std::string> roles;
  if (const auto* r = me->as_object().if_contains("roles"); r && r->is_array()) {
    for (const auto& x : r->as_array()) {
      if (x.is_string()) roles.emplace_back(x.as_string());
    }
  }
  std::cout << "name: " << Str(*me, "name") << "\n"
            << "roles: " << Join(roles, ", ") << "\n"
            << "mechanism: " << Str(*me, "mechanism") << "\n";
  return 0;
}

}  // namespace

void AddAuthCommands(CLI::App& app, Globals& g) {
  CLI::App* cmd = app.add_subcommand(
      "whoami",
      "Show the principal and roles the server sees for this CLI (token from --token, --token-file or WEIR_TOKEN).");
  cmd->callback([&g] { g.exit_code = WhoAmI(g); });
}

}  // namespace weir::cli
