// weir: the job gateway and workflow service, server and CLI in one binary.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "cli/cli.h"

namespace weir::cli {
// weir db status|migrate (src/server/db_command.cc): the store's schema, from a server config.
void AddDbCommand(CLI::App& app, Globals& g);
}  // namespace weir::cli

namespace {

// Edit distance with adjacent transpositions ("sumbit" is 1 from "submit").
size_t Distance(const std::string& a, const std::string& b) {
  std::vector<std::vector<size_t>> d(a.size() + 1, std::vector<size_t>(b.size() + 1));
  for (size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.size()][b.size()];
}

// The option `name` ("--server", "-o") of `app` or of an app it falls through to.
const CLI::Option* FindOption(const CLI::App* app, const std::string& name) {
  for (; app != nullptr; app = app->get_parent()) {
    if (const CLI::Option* o = app->get_option_no_throw(name)) return o;
  }
  return nullptr;
}

// After a failed parse: walks argv through the command groups and, at the first word that is
// not a subcommand of a group that requires one, prints "weir: unknown command 'W' for 'weir
// job'; did you mean 'submit'?" (or the valid commands) and returns true. False when every word
// named a command (the parse failed for another reason).
bool ReportUnknownCommand(CLI::App& root, int argc, char** argv) {
  CLI::App* app = &root;
  std::string path = "weir";
  for (int i = 1; i < argc; ++i) {
    std::string word = argv[i];
    if (word == "--") return false;
    if (word.size() > 1 && word[0] == '-') {
      if (word.find('=') != std::string::npos) continue;
      const CLI::Option* o = FindOption(app, word);
      if (o == nullptr && word.size() > 2 && word[1] != '-') o = FindOption(app, word.substr(0, 2));
      // An option that takes a value given as the next word ("--server URL", "-o json").
      if (o != nullptr && o->get_type_size_min() > 0 && o->get_expected_min() > 0 &&
          (word.size() == 2 || word[1] == '-')) {
        ++i;
      }
      continue;
    }
    std::vector<CLI::App*> subs = app->get_subcommands([](CLI::App*) { return true; });
    if (subs.empty() || app->get_require_subcommand_min() == 0) return false;
    CLI::App* next = nullptr;
    for (CLI::App* s : subs) {
      if (s->check_name(word)) next = s;
    }
    if (next != nullptr) {
      app = next;
      path += " " + next->get_name();
      continue;
    }
    std::string best;
    size_t best_distance = 3;  // suggest only a close match
    std::string names;
    for (CLI::App* s : subs) {
      if (s->get_name().empty()) continue;
      names += (names.empty() ? "" : ", ") + s->get_name();
      size_t dist = Distance(word, s->get_name());
      if (dist < best_distance) {
        best_distance = dist;
        best = s->get_name();
      }
    }
    std::cerr << "weir: unknown command '" << word << "' for '" << path << "'; ";
    if (!best.empty()) {
      std::cerr << "did you mean '" << best << "'?\n";
    } else {
      std::cerr << "valid commands: " << names << "\n";
    }
    std::cerr << "run `" << path << " --help` for usage\n";
    return true;
  }
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "weir: a job gateway (Genie REST API v3) and a versioned asset and workflow service.\n"
      "Run `weir server` to start the server; the other commands talk to it over HTTP."};
  app.require_subcommand(1);
  app.fallthrough();  // global options (--server, -o) also after the subcommand
  weir::cli::Globals g;
  if (const char* env = std::getenv("WEIR_SERVER"); env && *env) g.server = env;
  app.add_option("--server", g.server, "server URL (env WEIR_SERVER)")->capture_default_str();
  // Credentials: flags beat the environment; a token beats a token file.
  const auto env = [](const char* name) -> std::string {
    const char* v = std::getenv(name);
    return v ? v : "";
  };
  g.client.bearer_token = env("WEIR_TOKEN");
  g.client.token_file = env("WEIR_TOKEN_FILE");
  g.client.ca_file = env("WEIR_CACERT");
  CLI::Option* token_opt =
      app.add_option_function<std::string>(
             "--token",
             [&g](const std::string& v) {
               g.client.bearer_token = v;
               g.client.token_file.clear();
             },
             "bearer token sent as 'Authorization: Bearer TOKEN' (env WEIR_TOKEN); it shows in "
             "the process list, so prefer --token-file on shared machines")
          ->type_name("TEXT");
  app.add_option_function<std::string>(
         "--token-file",
         [&g](const std::string& v) {
           g.client.token_file = v;
           g.client.bearer_token.clear();
         },
         "file holding the bearer token (env WEIR_TOKEN_FILE); it must not be readable by group "
         "or others (chmod 600)")
      ->type_name("FILE")
      ->excludes(token_opt);
  app.add_option_function<std::string>(
         "--cacert", [&g](const std::string& v) { g.client.ca_file = v; },
         "PEM CA certificate(s) to trust for an https:// server instead of the system's "
         "(env WEIR_CACERT)")
      ->type_name("FILE");
  CLI::Option* cert_opt =
      app.add_option_function<std::string>(
             "--client-cert", [&g](const std::string& v) { g.client.client_cert = v; },
             "PEM client certificate, for a server that requires one (mutual TLS)")
          ->type_name("FILE");
  CLI::Option* key_opt =
      app.add_option_function<std::string>(
             "--client-key", [&g](const std::string& v) { g.client.client_key = v; },
             "PEM private key of --client-cert")
          ->type_name("FILE");
  cert_opt->needs(key_opt);
  key_opt->needs(cert_opt);
  app.add_option("-o,--output", g.output, "output format: table or json")
      ->check(CLI::IsMember({"table", "json"}))
      ->capture_default_str();
  app.set_version_flag("--version", std::string("weir ") + WEIR_VERSION);

  weir::cli::AddServerCommand(app, g);
  weir::cli::AddDbCommand(app, g);
  weir::cli::AddApplyCommand(app, g);
  weir::cli::AddConfigCommands(app, g);
  weir::cli::AddJobCommands(app, g);
  weir::cli::AddAssetCommands(app, g);
  weir::cli::AddProjectCommands(app, g);
  weir::cli::AddWorkflowCommands(app, g);
  weir::cli::AddSchedulerCommands(app, g);
  weir::cli::AddBackfillCommand(app, g);
  weir::cli::AddSampleCommands(app, g);
  weir::cli::AddAuditCommand(app, g);
  weir::cli::AddNodeCommands(app, g);
  weir::cli::AddEventsCommand(app, g);
  weir::cli::AddAuthCommands(app, g);
  weir::cli::AddSearchCommand(app, g);
  weir::cli::AddWebhookCommands(app, g);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() != 0 && ReportUnknownCommand(app, argc, argv)) {
      return weir::cli::kExitUsage;
    }
    return app.exit(e) == 0 ? 0 : weir::cli::kExitUsage;
  }
  return g.exit_code;
}
