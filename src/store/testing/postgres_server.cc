#include "store/testing/postgres_server.h"

#include <fcntl.h>
#include <grp.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

#include "common/ids.h"

namespace weir::store::testing {
namespace {

// The folder holding initdb and postgres: WEIR_PG_BIN, else the newest Debian version.
std::filesystem::path BinDir() {
  if (const char* v = std::getenv("WEIR_PG_BIN"); v != nullptr && *v != '\0') return v;
  std::filesystem::path best;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator("/usr/lib/postgresql", ec)) {
    std::filesystem::path bin = e.path() / "bin";
    if (std::filesystem::exists(bin / "postgres", ec) &&
        (best.empty() || e.path().filename().string() > best.parent_path().filename().string())) {
      best = bin;
    }
  }
  return best.empty() ? std::filesystem::path("/usr/lib/postgresql/15/bin") : best;
}

struct RunAs {
  bool drop = false;
  uid_t uid = 0;
  gid_t gid = 0;
};

// As root: the account `nobody`; otherwise ourselves.
Result<RunAs> Account() {
  RunAs r;
  if (::geteuid() != 0) return r;
  struct passwd* pw = ::getpwnam("nobody");
  if (pw == nullptr) return FailedPrecondition("postgresql: no user 'nobody' to run initdb as");
  r.drop = true;
  r.uid = pw->pw_uid;
  r.gid = pw->pw_gid;
  return r;
}

// Forks and execs argv as `as`, stdout and stderr appended to `log`. Only async-signal-safe calls
// happen between fork and exec.
Result<pid_t> Spawn(const std::vector<std::string>& argv, const RunAs& as,
                    const std::filesystem::path& log, bool die_with_parent) {
  int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) return ErrnoStatus("postgresql: open " + log.string(), errno);
  if (as.drop) (void)::fchown(fd, as.uid, as.gid);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid < 0) {
    ::close(fd);
    return ErrnoStatus("postgresql: fork", errno);
  }
  if (pid == 0) {
    int null = ::open("/dev/null", O_RDONLY);
    if (null >= 0) ::dup2(null, 0);
    ::dup2(fd, 1);
    ::dup2(fd, 2);
    if (as.drop) {
      if (::setgroups(0, nullptr) != 0 || ::setgid(as.gid) != 0 || ::setuid(as.uid) != 0) {
        ::_exit(126);
      }
    }
    if (die_with_parent) {
      ::prctl(PR_SET_PDEATHSIG, SIGQUIT);
      if (::getppid() != parent) ::_exit(125);
    } else {
      ::setsid();  // outlives its starter and the starter's process group
    }
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  ::close(fd);
  return pid;
}

std::string ReadLog(const std::filesystem::path& log) {
  std::ifstream in(log);
  std::stringstream s;
  s << in.rdbuf();
  std::string text = s.str();
  if (text.size() > 4000) text = "..." + text.substr(text.size() - 4000);
  return text;
}

// A port number no one listens on now (it only names the socket file: no TCP is opened).
int FreePort() {
  int s = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  int port = 0;
  if (s >= 0 && ::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
      ::getsockname(s, reinterpret_cast<sockaddr*>(&a), &len) == 0) {
    port = ntohs(a.sin_port);
  }
  if (s >= 0) ::close(s);
  return port > 0 ? port : 54329;
}

Status ChownTree(const std::filesystem::path& p, const RunAs& as) {
  if (!as.drop) return Status::Ok();
  if (::chown(p.c_str(), as.uid, as.gid) != 0) return ErrnoStatus("chown " + p.string(), errno);
  return Status::Ok();
}

}  // namespace

std::string PostgresServer::Url(const std::string& database) const {
  return "postgresql://weir@/" + database + "?host=" + dir_.string() +
         "&port=" + std::to_string(port_);
}

std::unique_ptr<PostgresServer> PostgresServer::Attach(std::filesystem::path socket_dir, int port) {
  std::unique_ptr<PostgresServer> server(new PostgresServer());
  server->dir_ = std::move(socket_dir);
  server->port_ = port;
  server->owned_ = false;
  return server;
}

Result<std::unique_ptr<PostgresServer>> PostgresServer::Start(const std::string& password,
                                                              bool die_with_parent) {
  const std::filesystem::path bin = BinDir();
  std::error_code ec;
  if (!std::filesystem::exists(bin / "initdb", ec) ||
      !std::filesystem::exists(bin / "postgres", ec)) {
    return FailedPrecondition("postgresql: " + (bin / "initdb").string() +
                              " is missing; install Debian's postgresql (make test does)");
  }
  WEIR_ASSIGN_OR_RETURN(RunAs as, Account());
  std::unique_ptr<PostgresServer> server(new PostgresServer());
  server->password_ = password;
  server->dir_ = std::filesystem::path("/tmp") / ("weir-pg-" + NewUuid().substr(0, 8));
  if (!std::filesystem::create_directory(server->dir_, ec)) {
    return Internal("postgresql: cannot create " + server->dir_.string() + ": " + ec.message());
  }
  std::filesystem::permissions(server->dir_, std::filesystem::perms::owner_all, ec);
  WEIR_RETURN_IF_ERROR(ChownTree(server->dir_, as));
  const std::filesystem::path data = server->dir_ / "data";
  const std::filesystem::path log = server->dir_ / "server.log";

  std::vector<std::string> initdb = {(bin / "initdb").string(),
                                     "-D",
                                     data.string(),
                                     "-U",
                                     "weir",
                                     "-E",
                                     "UTF8",
                                     "--locale=C",
                                     "--no-sync"};
  if (password.empty()) {
    initdb.push_back("--auth=trust");
  } else {
    const std::filesystem::path pwfile = server->dir_ / "pwfile";
    {
      std::ofstream out(pwfile);
      out << password << "\n";
    }
    WEIR_RETURN_IF_ERROR(ChownTree(pwfile, as));
    initdb.push_back("--auth=scram-sha-256");
    initdb.push_back("--pwfile=" + pwfile.string());
  }
  {
    WEIR_ASSIGN_OR_RETURN(pid_t pid, Spawn(initdb, as, log, /*die_with_parent=*/false));
    int status = 0;
    ::waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      std::string why = ReadLog(log);
      std::filesystem::remove_all(server->dir_, ec);
      return Internal("postgresql: initdb failed:\n" + why);
    }
  }
  server->port_ = FreePort();
  std::vector<std::string> postgres = {(bin / "postgres").string(),
                                       "-D",
                                       data.string(),
                                       "-k",
                                       server->dir_.string(),
                                       "-p",
                                       std::to_string(server->port_),
                                       "-h",
                                       "",
                                       "-F",
                                       "-c",
                                       "max_connections=200",
                                       "-c",
                                       "full_page_writes=off",
                                       "-c",
                                       "synchronous_commit=off"};
  WEIR_ASSIGN_OR_RETURN(server->pid_, Spawn(postgres, as, log, die_with_parent));

  // Ready when a connection succeeds; a server that exited is reported with its log at once.
  const std::string ping = "host=" + server->dir_.string() +
                           " port=" + std::to_string(server->port_) + " dbname=postgres user=weir";
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  for (;;) {
    if (PQping(ping.c_str()) == PQPING_OK) break;
    int status = 0;
    if (::waitpid(server->pid_, &status, WNOHANG) == server->pid_) {
      server->pid_ = -1;
      return Internal("postgresql: the server exited while starting:\n" + ReadLog(log));
    }
    if (std::chrono::steady_clock::now() > deadline) {
      return DeadlineExceeded("postgresql: not accepting connections after 60 s:\n" + ReadLog(log));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return server;
}

PostgresServer::~PostgresServer() {
  if (!owned_) return;
  if (pid_ > 0) {
    ::kill(pid_, SIGINT);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    int status = 0;
    pid_t done = 0;
    while ((done = ::waitpid(pid_, &status, WNOHANG)) == 0 &&
           std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    if (done == 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, &status, 0);
    }
  }
  std::error_code ec;
  if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
}

Result<std::string> PostgresServer::Query(const std::string& url, const std::string& sql) {
  std::vector<const char*> keys = {"dbname", "password", nullptr};
  std::vector<const char*> values = {url.c_str(), password_.c_str(), nullptr};
  if (password_.empty()) keys[1] = nullptr;
  PGconn* c = PQconnectdbParams(keys.data(), values.data(), 1);
  if (PQstatus(c) != CONNECTION_OK) {
    std::string why = PQerrorMessage(c);
    PQfinish(c);
    return Unavailable("postgresql: " + why);
  }
  PGresult* r = PQexec(c, sql.c_str());
  const ExecStatusType st = PQresultStatus(r);
  std::string out;
  Status s = Status::Ok();
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
    s = Internal(std::string("postgresql: ") + PQresultErrorMessage(r));
  } else if (st == PGRES_TUPLES_OK && PQntuples(r) > 0) {
    out = PQgetvalue(r, 0, 0);
  }
  PQclear(r);
  PQfinish(c);
  if (!s.ok()) return s;
  return out;
}

Result<std::string> PostgresServer::CreateDatabase() {
  // CREATE DATABASE copies a template (seconds on a busy machine); a schema costs milliseconds.
  std::string name;
  bool first = false;
  {
    std::lock_guard lock(mu_);
    first = next_database_ == 0;
    name = "w" + std::to_string(::getpid()) + "_" + std::to_string(next_database_++);
  }
  if (first) {
    // Several test processes may share the server: the first one creates the database.
    Status s = Query(Url("postgres"), "CREATE DATABASE weir").status();
    if (!s.ok() && s.message().find("already exists") == std::string::npos) return s;
  }
  WEIR_RETURN_IF_ERROR(Query(Url("weir"), "CREATE SCHEMA " + name).status());
  return Url("weir") + "&options=-csearch_path%3D" + name;
}

namespace {
std::mutex shared_mu;
std::unique_ptr<PostgresServer> shared_server;  // GUARDED_BY(shared_mu)
std::string shared_error;                       // GUARDED_BY(shared_mu)
bool shared_tried = false;                      // GUARDED_BY(shared_mu)
}  // namespace

PostgresServer* SharedPostgres() {
  std::lock_guard lock(shared_mu);
  if (!shared_tried) {
    shared_tried = true;
    if (const char* state = std::getenv("WEIR_TEST_PG_STATE"); state != nullptr && *state) {
      // "<socket dir>\n<port>\n<pid>\n", written by weir_test_postgres start.
      std::ifstream in(state);
      std::string dir;
      int port = 0;
      if (std::getline(in, dir) && dir.rfind("ERROR ", 0) == 0) {
        shared_error = dir.substr(6);
      } else if (in >> port && port > 0) {
        shared_server = PostgresServer::Attach(dir, port);
      } else {
        shared_error = std::string("postgresql: cannot read the fixture's state file ") + state +
                       " (did the test postgres_server_start fail?)";
      }
      return shared_server.get();
    }
    auto s = PostgresServer::Start();
    if (s.ok()) {
      shared_server = std::move(*s);
    } else {
      shared_error = s.status().message();
    }
  }
  return shared_server.get();
}

void StopSharedPostgres() {
  std::lock_guard lock(shared_mu);
  shared_server.reset();
}

std::string SharedPostgresError() {
  std::lock_guard lock(shared_mu);
  return shared_error;
}

}  // namespace weir::store::testing
