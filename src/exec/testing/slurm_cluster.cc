#include "exec/testing/slurm_cluster.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

extern char** environ;

namespace weir::exec::testing {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

// Two distinct free loopback ports (bound together, then released).
Result<std::pair<int, int>> FreePorts() {
  int fds[2] = {-1, -1};
  int ports[2] = {0, 0};
  for (int i = 0; i < 2; ++i) {
    fds[i] = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (fds[i] < 0 || ::bind(fds[i], reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        ::getsockname(fds[i], reinterpret_cast<sockaddr*>(&a), &len) != 0) {
      for (int fd : fds) {
        if (fd >= 0) ::close(fd);
      }
      return Internal(std::string("free port: ") + strerror(errno));
    }
    ports[i] = ntohs(a.sin_port);
  }
  for (int fd : fds) ::close(fd);
  return std::make_pair(ports[0], ports[1]);
}

bool Alive(pid_t pid) {
  if (pid <= 0) return false;
  int st;
  return ::waitpid(pid, &st, WNOHANG) == 0;  // our child: 0 while it runs
}

}  // namespace

Result<ToolOutput> SlurmCluster::Tool(const std::vector<std::string>& argv) const {
  return RunTool(argv, {ConfEnv()}, 10s);
}

Result<pid_t> SlurmCluster::Spawn(const std::vector<std::string>& argv,
                                  const std::string& log_name) {
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  const std::string log = (dir_ / "log" / log_name).string();
  posix_spawn_file_actions_addopen(&fa, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setflags(&attr,
                           POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) env.emplace_back(*e);
  env.push_back(ConfEnv());
  std::vector<char*> cargv, cenv;
  for (const std::string& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);
  for (const std::string& e : env) cenv.push_back(const_cast<char*>(e.c_str()));
  cenv.push_back(nullptr);
  pid_t pid = 0;
  int rc = ::posix_spawnp(&pid, argv[0].c_str(), &fa, &attr, cargv.data(), cenv.data());
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) return FailedPrecondition(argv[0] + ": " + strerror(rc));
  return pid;
}

std::unique_ptr<SlurmCluster> SlurmCluster::Start(std::string* why) {
  for (const char* tool : {"munged", "mungekey", "slurmctld", "slurmd", "sinfo", "sbatch"}) {
    auto r = RunTool({"sh", "-c", std::string("command -v ") + tool}, {}, 10s);
    if (!r.ok() || r->exit_code != 0) {
      *why = std::string(tool) + " is not installed (Debian: slurm-wlm munge; `make deps`)";
      return nullptr;
    }
  }
  std::unique_ptr<SlurmCluster> c(new SlurmCluster());
  char tmpl[] = "/tmp/weir-slurm-XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) {
    *why = std::string("mkdtemp: ") + strerror(errno);
    return nullptr;
  }
  c->dir_ = tmpl;
  ::chmod(tmpl, 0755);
  for (const char* sub : {"munge", "state", "spool", "log"}) {
    fs::create_directories(c->dir_ / sub);
    fs::permissions(c->dir_ / sub, fs::perms(0755));
  }
  auto fail = [&](std::string reason) -> std::unique_ptr<SlurmCluster> {
    *why = reason + " (logs in " + (c->dir_ / "log").string() + ")";
    c->Stop();
    return nullptr;
  };
  const fs::path key = c->dir_ / "munge" / "munge.key";
  const fs::path sock = c->dir_ / "munge" / "munge.sock";
  auto k = RunTool({"mungekey", "--create", "--keyfile=" + key.string()}, {}, 30s);
  if (!k.ok() || k->exit_code != 0) {
    return fail("mungekey: " + (k.ok() ? k->err : k.status().message()));
  }
  ::chmod(key.c_str(), 0400);
  auto m = c->Spawn(
      {"munged", "-F", "--force", "--socket=" + sock.string(), "--key-file=" + key.string(),
       "--pid-file=" + (c->dir_ / "munge" / "munged.pid").string(),
       "--log-file=" + (c->dir_ / "log" / "munged.log").string(),
       "--seed-file=" + (c->dir_ / "munge" / "munged.seed").string()},
      "munged.out");
  if (!m.ok()) return fail(m.status().message());
  c->munged_ = *m;
  for (auto deadline = std::chrono::steady_clock::now() + 10s; !fs::exists(sock);) {
    if (!Alive(c->munged_)) return fail("munged exited");
    if (std::chrono::steady_clock::now() > deadline) return fail("munged socket did not appear");
    std::this_thread::sleep_for(20ms);
  }

  auto ports = FreePorts();
  if (!ports.ok()) return fail(ports.status().message());
  auto hw = RunTool({"slurmd", "-C"}, {}, 30s);
  if (!hw.ok() || hw->exit_code != 0) return fail("slurmd -C failed");
  // "NodeName=vm CPUs=2 Boards=1 ... RealMemory=N" (first line): the node and its hardware.
  std::string line = hw->out.substr(0, hw->out.find('\n'));
  size_t sp = line.find(' ');
  if (line.rfind("NodeName=", 0) != 0 || sp == std::string::npos) {
    return fail("unexpected `slurmd -C` output: " + line);
  }
  c->node_ = line.substr(9, sp - 9);
  const std::string hardware = line.substr(sp + 1);
  const std::string d = c->dir_.string();
  std::string cluster_name = "weir";
  for (char ch : c->dir_.filename().string()) {
    if (std::isalnum(static_cast<unsigned char>(ch))) {
      cluster_name += static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    }
  }
  std::ostringstream conf;
  conf << "ClusterName=" << cluster_name << "\n"
       << "SlurmctldHost=" << c->node_ << "(127.0.0.1)\n"
       << "SlurmctldPort=" << ports->first << "\n"
       << "SlurmdPort=" << ports->second << "\n"
       << "AuthType=auth/munge\nCredType=cred/munge\n"
       << "AuthInfo=socket=" << sock.string() << "\n"
       << "SlurmUser=root\nSlurmdUser=root\n"
       << "StateSaveLocation=" << d << "/state\n"
       << "SlurmdSpoolDir=" << d << "/spool\n"
       << "SlurmctldPidFile=" << d << "/slurmctld.pid\n"
       << "SlurmdPidFile=" << d << "/slurmd.pid\n"
       << "SlurmctldLogFile=" << d << "/log/slurmctld.log\n"
       << "SlurmdLogFile=" << d << "/log/slurmd.log\n"
       << "ProctrackType=proctrack/linuxproc\nTaskPlugin=task/none\n"
       << "JobAcctGatherType=jobacct_gather/none\n"
       << "AccountingStorageType=accounting_storage/none\n"
       << "SelectType=select/cons_tres\nSelectTypeParameters=CR_Core\n"
       << "SchedulerParameters=batch_sched_delay=0\n"
       << "JobCompType=jobcomp/filetxt\n"
       << "JobCompLoc=" << d << "/jobcomp.log\n"
       << "MinJobAge=300\nKillWait=5\nReturnToService=2\nMailProg=/bin/true\n"
       // A dead slurmd is declared down (its jobs NODE_FAIL) in ~10-15 s, not 5 minutes.
       << "SlurmdTimeout=10\n"
       << "PlugStackConfig=" << d << "/plugstack.conf\n"
       << "NodeName=" << c->node_ << " NodeAddr=127.0.0.1 " << hardware << " State=UNKNOWN\n"
       << "PartitionName=debug Nodes=" << c->node_
       << " Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE:8\n";
  std::ofstream(c->dir_ / "slurm.conf") << conf.str();
  std::ofstream(c->dir_ / "plugstack.conf") << "";

  auto ctld = c->Spawn({"slurmctld", "-D", "-f", c->conf().string()}, "slurmctld.out");
  if (!ctld.ok()) return fail(ctld.status().message());
  c->slurmctld_ = *ctld;
  auto slurmd = c->Spawn({"slurmd", "-D", "-f", c->conf().string()}, "slurmd.out");
  if (!slurmd.ok()) return fail(slurmd.status().message());
  c->slurmd_ = *slurmd;
  if (Status st = c->WaitIdle(60s); !st.ok()) return fail(st.message());
  return c;
}

Status SlurmCluster::WaitIdle(std::chrono::seconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    auto r = Tool({"sinfo", "-h", "-n", node_, "-o", "%t"});
    if (r.ok() && r->exit_code == 0 && r->out == "idle\n") return Status::Ok();
    for (pid_t p : {munged_, slurmctld_, slurmd_}) {
      if (p > 0 && !Alive(p))
        return Internal("a Slurm daemon (pid " + std::to_string(p) + ") died");
    }
    if (std::chrono::steady_clock::now() > deadline) {
      return DeadlineExceeded("node " + node_ + " not idle after " +
                              std::to_string(timeout.count()) + " s");
    }
    std::this_thread::sleep_for(100ms);
  }
}

void SlurmCluster::StopPid(pid_t& pid, int sig) {
  if (pid <= 0) return;
  ::kill(pid, sig);
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (Alive(pid)) {
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(pid, SIGKILL);
      while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
      }
      break;
    }
    std::this_thread::sleep_for(20ms);
  }
  pid = -1;
}

Status SlurmCluster::StopController() {
  StopPid(slurmctld_, SIGTERM);
  return Status::Ok();
}

Status SlurmCluster::StartController() {
  if (slurmctld_ > 0) return FailedPrecondition("slurmctld is running");
  auto ctld = Spawn({"slurmctld", "-D", "-f", conf().string()}, "slurmctld.out");
  if (!ctld.ok()) return ctld.status();
  slurmctld_ = *ctld;
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (std::chrono::steady_clock::now() < deadline) {
    auto r = Tool({"squeue", "-h"});
    if (r.ok() && r->exit_code == 0) return Status::Ok();
    std::this_thread::sleep_for(100ms);
  }
  return DeadlineExceeded("slurmctld did not answer after its restart");
}

Status SlurmCluster::KillNodeDaemon() {
  StopPid(slurmd_, SIGKILL);
  return Status::Ok();
}

Status SlurmCluster::StartNodeDaemon() {
  if (slurmd_ > 0) return FailedPrecondition("slurmd is running");
  auto slurmd = Spawn({"slurmd", "-D", "-f", conf().string()}, "slurmd.out");
  if (!slurmd.ok()) return slurmd.status();
  slurmd_ = *slurmd;
  return WaitIdle(60s);
}

void SlurmCluster::Stop() {
  if (stopped_) return;
  stopped_ = true;
  if (slurmctld_ > 0 && slurmd_ > 0) {
    // Jobs first: their processes would outlive slurmd.
    auto ids = Tool({"squeue", "-h", "-o", "%i"});
    if (ids.ok() && ids->exit_code == 0 && !ids->out.empty()) {
      std::vector<std::string> argv = {"scancel"};
      std::istringstream in(ids->out);
      for (std::string id; in >> id;) argv.push_back(id);
      (void)Tool(argv);
      const auto deadline = std::chrono::steady_clock::now() + 10s;
      while (std::chrono::steady_clock::now() < deadline) {
        auto r = Tool({"squeue", "-h", "-t", "R,CG", "-o", "%i"});
        if (!r.ok() || r->exit_code != 0 || r->out.empty()) break;
        std::this_thread::sleep_for(100ms);
      }
    }
  }
  StopPid(slurmd_, SIGTERM);
  StopPid(slurmctld_, SIGTERM);
  StopPid(munged_, SIGTERM);
  if (!dir_.empty() && std::getenv("WEIR_KEEP_SLURM") == nullptr) {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
}

SlurmCluster::~SlurmCluster() { Stop(); }

}  // namespace weir::exec::testing
