// `weir server`: loads the config file, applies flag overrides, runs the server until SIGINT or
// SIGTERM. Prints one line "weir server listening on http://HOST:PORT" (https:// with server.tls)
// once ready (tests and scripts wait for it).
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <csignal>
#include <cstdio>
#include <iostream>

#include "cli/cli.h"
#include "server/config.h"
#include "server/server.h"
#include "service/job_log.h"

namespace weir::cli {

namespace {

struct ServerFlags {
  std::string config_file;
  std::string listen;
  std::string data_dir;
  bool insecure_no_auth = false;
};

int RunServer(const ServerFlags& flags) {
  server::ServerConfig config;
  if (!flags.config_file.empty()) {
    auto loaded = server::LoadServerConfig(flags.config_file);
    if (!loaded.ok()) {
      std::cerr << "weir: " << loaded.status().message() << "\n";
      return 2;
    }
    config = *loaded;
  }
  if (!flags.listen.empty()) {
    if (Status s = server::ParseListen(flags.listen, config); !s.ok()) {
      std::cerr << "weir: --listen: " << s.message() << "\n";
      return 2;
    }
  }
  if (!flags.data_dir.empty()) config.data_dir = flags.data_dir;
  config.insecure_no_auth = flags.insecure_no_auth;
  if (Status s = server::CheckAuthExposure(config); !s.ok()) {
    std::cerr << "weir: server: " << s.message() << "\n";
    return 2;
  }
  spdlog::set_level(spdlog::level::from_str(config.log_level));
  service::SetLogFormat(*service::ParseLogFormat(config.log_format));  // validated by the config

  // Block the stop signals in every thread; the main thread waits for them below.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  auto srv = server::NewServer(config);
  if (Status s = srv->Start(); !s.ok()) {
    std::cerr << "weir: server: " << s.message() << "\n";
    return 1;
  }
  std::printf("weir server listening on %s://%s:%u\n", config.tls_cert.empty() ? "http" : "https",
              config.listen_host.c_str(), static_cast<unsigned>(srv->port()));
  std::fflush(stdout);
  int sig = 0;
  sigwait(&set, &sig);
  spdlog::info("signal {}: stopping (running jobs keep running)", sig);
  srv->Stop();
  return 0;
}

}  // namespace

void AddServerCommand(CLI::App& app, Globals& g) {
  auto flags = std::make_shared<ServerFlags>();
  CLI::App* cmd = app.add_subcommand(
      "server",
      "Run the weir server: the Genie v3 job API, the asset registry and the scheduler.\n"
      "Settings come from --config (YAML, see docs/operations.md); flags override it.");
  cmd->add_option("-c,--config", flags->config_file, "server config file (YAML)")
      ->check(CLI::ExistingFile);
  cmd->add_option("--listen", flags->listen, "HOST:PORT to listen on (default 127.0.0.1:8080)");
  cmd->add_option("--data-dir", flags->data_dir,
                  "folder for the database, job folders and blobs (default ./.weir)");
  cmd->add_flag("--insecure-no-auth", flags->insecure_no_auth,
                "allow auth.mode none on a non-loopback address (anyone who reaches it runs "
                "commands as the server's user)");
  cmd->callback([flags, &g] { g.exit_code = RunServer(*flags); });
}

}  // namespace weir::cli
