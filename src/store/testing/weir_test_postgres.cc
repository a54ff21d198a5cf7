// weir_test_postgres start STATE_FILE | stop STATE_FILE: ctest's fixture around the tests that
// need PostgreSQL (src/store/testing/postgres_server.h). `start` starts a throwaway server that
// outlives this process and writes "<socket dir>\n<port>\n<pid>\n" to STATE_FILE (stopping one a
// previous run left behind first); `stop` stops the server STATE_FILE names (SIGINT, SIGKILL
// after 30 s), removes its folder and the file. When the server cannot start, `start` writes
// "ERROR <why>" instead and exits 0: each test then reports the missing service with that reason.
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <thread>

#include "store/testing/postgres_server.h"

namespace {

// Stops the server STATE_FILE names, if it is still a running postgres. Not our child: polls.
void Stop(const std::string& state_file) {
  std::ifstream in(state_file);
  std::string dir;
  int port = 0;
  pid_t pid = -1;
  std::error_code ec;
  if (!std::getline(in, dir) || !(in >> port >> pid) || pid <= 0) {
    std::filesystem::remove(state_file, ec);  // none, or "ERROR ..." from a failed start
    return;
  }
  std::ifstream comm("/proc/" + std::to_string(pid) + "/comm");
  std::string name;
  std::getline(comm, name);
  if (name == "postgres") {
    ::kill(pid, SIGINT);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (::kill(pid, 0) == 0 && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    if (::kill(pid, 0) == 0) ::kill(pid, SIGKILL);
  }
  if (dir.rfind("/tmp/weir-pg-", 0) == 0) std::filesystem::remove_all(dir, ec);
  std::filesystem::remove(state_file, ec);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3 || (std::string(argv[1]) != "start" && std::string(argv[1]) != "stop")) {
    std::cerr << "usage: weir_test_postgres start|stop STATE_FILE\n";
    return 2;
  }
  const std::string state = argv[2];
  Stop(state);
  if (std::string(argv[1]) == "stop") return 0;
  auto server = weir::store::testing::PostgresServer::Start("", /*die_with_parent=*/false);
  if (!server.ok()) {
    // The tests that need it then report the missing service themselves (a skip, or a failure
    // under WEIR_REQUIRE_SERVICES), with this reason.
    std::cerr << "weir_test_postgres: " << server.status().message() << "\n";
    std::ofstream(state) << "ERROR " << server.status().message() << "\n";
    return 0;
  }
  (*server)->Detach();
  std::ofstream(state) << (*server)->socket_dir().string() << "\n"
                       << (*server)->port() << "\n"
                       << (*server)->pid() << "\n";
  std::cout << "postgresql on " << (*server)->socket_dir().string() << " port " << (*server)->port()
            << "\n";
  return 0;
}
