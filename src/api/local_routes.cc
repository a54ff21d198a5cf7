// Local-mode routes (local_routes.h): the prepared folder out, the runner's reports and output in.
#include "api/local_routes.h"

#include <sys/stat.h>
#include <unistd.h>

#include <string>
#include <utility>

#include "api/json_codec.h"
#include "archive/job_archive.h"
#include "common/fs.h"
#include "common/ids.h"
#include "model/job.h"

namespace weir::api {

namespace {

namespace fs = std::filesystem;

class LocalRoutes {
 public:
  LocalRoutes(service::JobService& service, std::shared_ptr<store::JobStore> jobs,
              LocalRouteOptions options)
      : service_(service), jobs_(std::move(jobs)), options_(std::move(options)) {
    if (options_.spool_dir.empty()) options_.spool_dir = fs::temp_directory_path();
  }

  HttpResponse Folder(HttpRequest& req) {
    auto rec = Authorized(req);
    if (!rec) return ErrorResponse(rec.status(), req);
    if (rec->job.status != model::JobStatus::kInit ||
        rec->job.status_msg != service::kMsgPreparedLocal) {
      return ErrorResponse(FailedPrecondition("job '" + rec->id + "': its folder is served once " +
                                              "prepared and until its runner starts it; it is " +
                                              std::string(model::JobStatusName(rec->job.status)) +
                                              ": " + rec->job.status_msg),
                           req);
    }
    const fs::path tmp = options_.spool_dir / ("local-folder-" + NewUuid() + ".tar.gz");
    auto written = archive::WriteTarGz(service_.JobDirectory(rec->id), {}, tmp);
    if (!written) {
      std::error_code ec;
      fs::remove(tmp, ec);
      return ErrorResponse(written.status().WithContext("job '" + rec->id + "': pack folder"), req);
    }
    struct stat st;
    auto handle = OpenRegularFile(tmp, true, &st);
    std::error_code ec;
    fs::remove(tmp, ec);  // the open descriptor keeps the bytes until they are sent
    if (!handle) return ErrorResponse(handle.status(), req);
    HttpResponse resp;
    resp.status = 200;
    resp.SetHeader("Content-Type", "application/gzip");
    resp.SetHeader("Content-Disposition",
                   "attachment; filename=\"" + IdFileName(rec->id) + ".tar.gz\"");
    resp.file = FileBody{tmp, 0, static_cast<uint64_t>(st.st_size), *handle};
    return resp;
  }

  HttpResponse Start(HttpRequest& req) {
    auto rec = Authorized(req);
    if (!rec) return ErrorResponse(rec.status(), req);
    auto body = ParseJsonBody(req);
    if (!body) return ErrorResponse(body.status(), req);
    if (!body->is_object()) {
      return ErrorResponse(InvalidArgument("request body: must be a JSON object"), req);
    }
    auto host = OptionalString(body->as_object(), "host");
    if (!host) return ErrorResponse(host.status(), req);
    auto pid = OptionalInt(body->as_object(), "pid");
    if (!pid) return ErrorResponse(pid.status(), req);
    if (*pid && (**pid <= 0 || **pid > (1LL << 30))) {
      return ErrorResponse(InvalidArgument("pid: must be a process id (1 to 2^30)"), req);
    }
    auto started =
        service_.LocalRunStarted(rec->id, host->value_or(""), static_cast<int>(pid->value_or(0)));
    if (!started) return ErrorResponse(started.status(), req);
    return StateResponse(*started);
  }

  HttpResponse Heartbeat(HttpRequest& req) {
    auto rec = Authorized(req);
    if (!rec) return ErrorResponse(rec.status(), req);
    Status st = service_.LocalRunHeartbeat(rec->id);
    if (!st.ok()) return ErrorResponse(st, req);
    return HttpResponse::Empty(204);
  }

  HttpResponse Output(HttpRequest& req) {
    auto rec = Authorized(req);
    if (!rec) return ErrorResponse(rec.status(), req);
    // Only while the runner runs it (this also counts as a sign of life).
    Status alive = service_.LocalRunHeartbeat(rec->id);
    if (!alive.ok()) return ErrorResponse(alive, req);
    fs::path body_file = req.body_file;
    if (body_file.empty()) {
      body_file = options_.spool_dir / ("local-output-" + NewUuid() + ".tar.gz");
      if (Status st = WriteFileAtomic(body_file, req.body); !st.ok()) {
        return ErrorResponse(st, req);
      }
    }
    Status st = archive::ExtractTarGz(body_file, service_.JobDirectory(rec->id));
    if (req.body_file.empty()) {
      std::error_code ec;
      fs::remove(body_file, ec);
    }
    if (!st.ok()) return ErrorResponse(st.WithContext("job '" + rec->id + "': output"), req);
    return HttpResponse::Empty(204);
  }

  HttpResponse End(HttpRequest& req) {
    auto rec = Authorized(req);
    if (!rec) return ErrorResponse(rec.status(), req);
    auto body = ParseJsonBody(req);
    if (!body) return ErrorResponse(body.status(), req);
    if (!body->is_object()) {
      return ErrorResponse(InvalidArgument("request body: must be a JSON object"), req);
    }
    const json::object& o = body->as_object();
    auto code = OptionalInt(o, "exitCode");
    if (!code) return ErrorResponse(code.status(), req);
    if (!*code || **code < 0 || **code > 1000) {
      return ErrorResponse(InvalidArgument("exitCode: required, 0 to 1000"), req);
    }
    service::LocalRunEnd end;
    end.exit_code = static_cast<int>(**code);
    auto out = OptionalInt(o, "stdoutSize");
    if (!out) return ErrorResponse(out.status(), req);
    auto err = OptionalInt(o, "stderrSize");
    if (!err) return ErrorResponse(err.status(), req);
    end.stdout_size = *out;
    end.stderr_size = *err;
    auto ended = service_.LocalRunEnded(rec->id, end);
    if (!ended) return ErrorResponse(ended.status(), req);
    return StateResponse(*ended);
  }

 private:
  // The job, when the caller may act on it (its owner or an admin, as for a kill).
  Result<model::JobRecord> Authorized(const HttpRequest& req) {
    auto rec = jobs_->GetJob(req.Param("id"));
    if (!rec) return rec.status();
    if (Authenticated(req)) {
      static const AccessPolicy kOpen;
      const AccessPolicy& policy = options_.access ? *options_.access : kOpen;
      WEIR_RETURN_IF_ERROR(CheckJobAccess(req, policy, rec->id, rec->request.user, false));
    }
    return rec;
  }

  HttpResponse StateResponse(const model::JobRecord& rec) const {
    json::object o;
    o["id"] = rec.id;
    o["status"] = std::string(model::JobStatusName(rec.job.status));
    o["statusMsg"] = rec.job.status_msg;
    o["heartbeatIntervalMs"] = static_cast<int64_t>(options_.heartbeat_interval.count());
    return JsonResponse(200, o);
  }

  service::JobService& service_;
  std::shared_ptr<store::JobStore> jobs_;
  LocalRouteOptions options_;
};

}  // namespace

void RegisterLocalRoutes(Router& router, service::JobService& service,
                         std::shared_ptr<store::JobStore> jobs, LocalRouteOptions options) {
  RouteOptions upload;
  upload.max_body_bytes = options.max_upload_bytes;
  upload.spool_body_to_file = true;
  auto routes = std::make_shared<LocalRoutes>(service, std::move(jobs), std::move(options));
  auto bind = [routes](HttpResponse (LocalRoutes::*method)(HttpRequest&)) {
    return [routes, method](HttpRequest& req) { return ((*routes).*method)(req); };
  };
  const std::string base = "/api/weir/v1/jobs/{id}/local";
  router.Add("GET", base + "/folder", bind(&LocalRoutes::Folder));
  router.Add("POST", base + "/start", bind(&LocalRoutes::Start));
  router.Add("POST", base + "/heartbeat", bind(&LocalRoutes::Heartbeat));
  router.Add("PUT", base + "/output", bind(&LocalRoutes::Output), upload);
  router.Add("POST", base + "/end", bind(&LocalRoutes::End));
}

}  // namespace weir::api
