#include "exec/setup_step.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <map>
#include <set>
#include <string>
#include <utility>

#include "common/fs.h"
#include "common/ids.h"
#include "exec/job_dir.h"

namespace weir::exec {

namespace fs = std::filesystem;

namespace {

// Names the layout owns at the top of the job directory.
const std::set<std::string, std::less<>>& ReservedJobDirNames() {
  static const std::set<std::string, std::less<>> names = {
      "run", "stdout", "stderr", "genie", "initFailureDetails.txt"};
  return names;
}

// Tracks which file names a folder already received, so that two different URIs never land on
// the same file. `Claim` returns false (and no error) when the same URI was already fetched.
class NameClaims {
 public:
  explicit NameClaims(std::string folder) : folder_(std::move(folder)) {}

  Result<bool> Claim(const std::string& name, const std::string& source) {
    auto [it, inserted] = claims_.emplace(name, source);
    if (inserted) return true;
    if (it->second == source) return false;
    return InvalidArgument(folder_ + ": '" + it->second + "' and '" + source +
                           "' would both be named '" + name + "': rename one of them");
  }

 private:
  std::string folder_;
  std::map<std::string, std::string> claims_;
};

Status WriteWhole(const fs::path& path, std::string_view data, mode_t mode) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) return ErrnoStatus("write " + path.string(), errno);
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      ::close(fd);
      return ErrnoStatus("write " + path.string(), err);
    }
    off += static_cast<size_t>(n);
  }
  // The mode given to open() is filtered by the umask; the run script must be executable.
  if (::fchmod(fd, mode) != 0 || ::close(fd) != 0) {
    return ErrnoStatus("write " + path.string(), errno);
  }
  return Status::Ok();
}

// Whether a URI comes from admin-made configuration or from the job request (see Fetcher).
enum class Origin { kAdmin, kJobRequest };

// Fetches `uri` into `folder` under its local name, refusing reserved names and collisions.
Status FetchInto(Fetcher& fetcher, const std::string& uri, const fs::path& folder,
                 NameClaims& claims, const std::set<std::string, std::less<>>& reserved,
                 std::string_view what, Origin origin = Origin::kAdmin) {
  Result<std::string> name = LocalFileName(uri);
  if (!name) return name.status().WithContext(what);
  if (reserved.count(*name) > 0) {
    return InvalidArgument(std::string(what) + ": '" + uri + "' would be named '" + *name +
                           "', a name the job directory reserves: rename the file");
  }
  WEIR_ASSIGN_OR_RETURN(bool fresh, claims.Claim(*name, uri));
  if (!fresh) return Status::Ok();
  const fs::path dest = folder / *name;
  Status fetched =
      origin == Origin::kJobRequest ? fetcher.FetchForJob(uri, dest) : fetcher.Fetch(uri, dest);
  return fetched.WithContext(what);
}

class CreateLayoutStep final : public SetupStep {
 public:
  std::string_view Name() const override { return "create layout"; }
  Status Run(SetupContext& c) override {
    std::error_code ec;
    if (fs::exists(paths::GenieDir(c.job_dir), ec)) {
      return AlreadyExists("job directory " + c.job_dir.string() +
                           ": already set up (remove it or use a new job id)");
    }
    return MakeDirs(paths::GenieLog(c.job_dir).parent_path());
  }
};

// The files of one configuration entity in genie/<kind>/<id>/.
Status FetchEntityFiles(SetupContext& c, const model::ConfigEntity& e) {
  std::string what = std::string(model::KindName(e.kind)) + " '" + e.id + "'";
  // EntityDir names the folder through IdFileName: an entity stored by an older version under
  // an id that breaks today's rule still gets a folder inside the job directory.
  fs::path dir = paths::EntityDir(c.job_dir, e.kind, e.id);
  // Folders only when they receive files: set-up runs for every job, and each create costs
  // ~0.6 ms of kernel CPU on the target machine's ext4 (0.01 ms on tmpfs).
  if (!e.setup_file && e.configs.empty() && e.dependencies.empty()) return Status::Ok();
  WEIR_RETURN_IF_ERROR(MakeDirs(dir));
  if (!e.configs.empty()) WEIR_RETURN_IF_ERROR(MakeDirs(dir / "config"));
  if (!e.dependencies.empty()) WEIR_RETURN_IF_ERROR(MakeDirs(dir / "dependencies"));
  static const std::set<std::string, std::less<>> kReserved = {"config", "dependencies"};
  static const std::set<std::string, std::less<>> kNone;
  if (e.setup_file) {
    NameClaims claims(what + " setup file");
    WEIR_RETURN_IF_ERROR(
        FetchInto(c.fetcher, *e.setup_file, dir, claims, kReserved, what + ": setup file"));
  }
  NameClaims config_claims(what + " configs");
  for (const std::string& uri : e.configs) {
    WEIR_RETURN_IF_ERROR(
        FetchInto(c.fetcher, uri, dir / "config", config_claims, kNone, what + ": config"));
  }
  NameClaims dep_claims(what + " dependencies");
  for (const std::string& uri : e.dependencies) {
    WEIR_RETURN_IF_ERROR(FetchInto(c.fetcher, uri, dir / "dependencies", dep_claims, kNone,
                                   what + ": dependency"));
  }
  return Status::Ok();
}

class ClusterFilesStep final : public SetupStep {
 public:
  std::string_view Name() const override { return "cluster files"; }
  Status Run(SetupContext& c) override { return FetchEntityFiles(c, c.spec.cluster); }
};

class ApplicationFilesStep final : public SetupStep {
 public:
  std::string_view Name() const override { return "application files"; }
  Status Run(SetupContext& c) override {
    for (const model::ConfigEntity& app : c.spec.applications) {
      WEIR_RETURN_IF_ERROR(FetchEntityFiles(c, app));
    }
    return Status::Ok();
  }
};

class CommandFilesStep final : public SetupStep {
 public:
  std::string_view Name() const override { return "command files"; }
  Status Run(SetupContext& c) override { return FetchEntityFiles(c, c.spec.command); }
};

}  // namespace

std::vector<std::pair<std::string, std::string>> JobUris(const model::JobRequest& r) {
  std::vector<std::pair<std::string, std::string>> out;  // (field, uri)
  if (r.setup_file) out.emplace_back("setupFile", *r.setup_file);
  for (size_t i = 0; i < r.configs.size(); ++i) {
    out.emplace_back("configs[" + std::to_string(i) + "]", r.configs[i]);
  }
  for (size_t i = 0; i < r.dependencies.size(); ++i) {
    out.emplace_back("dependencies[" + std::to_string(i) + "]", r.dependencies[i]);
  }
  return out;
}

Status CheckJobRequestUris(const model::JobRequest& request, const Fetcher& fetcher) {
  for (const auto& [field, uri] : JobUris(request)) {
    Status s = fetcher.CheckJobUri(uri);
    if (!s.ok()) return InvalidArgument(field + ": " + s.message());
  }
  return Status::Ok();
}

namespace {

class JobFilesStep final : public SetupStep {
 public:
  std::string_view Name() const override { return "job files"; }
  Status Run(SetupContext& c) override {
    NameClaims claims("job directory");
    for (const auto& [what, uri] : JobUris(c.spec.record.request)) {
      WEIR_RETURN_IF_ERROR(FetchInto(c.fetcher, uri, c.job_dir, claims, ReservedJobDirNames(), what,
                                     Origin::kJobRequest));
    }
    return Status::Ok();
  }
};

class AttachmentsStep final : public SetupStep {
 public:
  std::string_view Name() const override { return "attachments"; }
  Status Run(SetupContext& c) override {
    // Names the job's own files took (the previous step).
    std::set<std::string, std::less<>> taken;
    for (const auto& [what, uri] : JobUris(c.spec.record.request)) {
      Result<std::string> name = LocalFileName(uri);
      if (name) taken.insert(*name);
    }
    for (const Attachment& a : c.spec.attachments) {
      std::string what = "attachment '" + a.name + "'";
      if (a.name.empty() || a.name == "." || a.name == ".." ||
          a.name.find('/') != std::string::npos || a.name.find('\0') != std::string::npos) {
        return InvalidArgument(what + ": not a plain file name");
      }
      if (ReservedJobDirNames().count(a.name) > 0) {
        return InvalidArgument(what + ": the job directory reserves this name: rename the file");
      }
      if (!taken.insert(a.name).second) {
        return InvalidArgument(what + ": another attachment or job file has this name");
      }
      WEIR_RETURN_IF_ERROR(Link(a.staged_path, c.job_dir / a.name).WithContext(what));
    }
    return Status::Ok();
  }

 private:
  // A hard link costs no space and leaves the staged file for a set-up done again after a crash.
  static Status Link(const fs::path& from, const fs::path& to) {
    if (::link(from.c_str(), to.c_str()) == 0) return Status::Ok();
    if (errno != EXDEV && errno != EPERM && errno != EMLINK) {
      return ErrnoStatus("link " + from.string(), errno);
    }
    std::error_code ec;
    fs::copy_file(from, to, fs::copy_options::overwrite_existing, ec);
    if (ec) return ErrnoStatus("copy " + from.string(), ec.value());
    return Status::Ok();
  }
};

class RunScriptStep final : public SetupStep {
 public:
  std::string_view Name() const override { return "run script"; }
  Status Run(SetupContext& c) override {
    return WriteWhole(paths::RunScript(c.job_dir), GenerateRunScript(c.spec, c.job_dir), 0755);
  }
};

}  // namespace

std::vector<std::unique_ptr<SetupStep>> DefaultSetupSteps() {
  std::vector<std::unique_ptr<SetupStep>> steps;
  steps.push_back(std::make_unique<CreateLayoutStep>());
  steps.push_back(std::make_unique<ClusterFilesStep>());
  steps.push_back(std::make_unique<ApplicationFilesStep>());
  steps.push_back(std::make_unique<CommandFilesStep>());
  steps.push_back(std::make_unique<JobFilesStep>());
  steps.push_back(std::make_unique<AttachmentsStep>());
  steps.push_back(std::make_unique<RunScriptStep>());
  return steps;
}

Status RunSetupSteps(const std::vector<std::unique_ptr<SetupStep>>& steps, SetupContext& context) {
  for (const std::unique_ptr<SetupStep>& step : steps) {
    Status s = step->Run(context);
    if (s.ok()) continue;
    std::string message = "set-up step '" + std::string(step->Name()) + "': " + s.message();
    // A directory set up before belongs to an earlier attempt: leave it as it is. Otherwise best
    // effort (when the layout itself could not be made there is nowhere to write).
    bool foreign = s.code() == StatusCode::kAlreadyExists && step == steps.front();
    if (!foreign) {
      (void)WriteWhole(paths::InitFailureFile(context.job_dir),
                       "Job set-up failed.\n" + message + "\n", 0644);
    }
    return Status(s.code(), message);
  }
  return Status::Ok();
}

}  // namespace weir::exec
