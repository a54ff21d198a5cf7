// SqliteStore: the row readers its files share (sqlite_store_internal.h).
#include "store/sqlite/sqlite_store_internal.h"

namespace weir::store::sqlite {

namespace {

std::optional<TimePoint> OptTime(const Stmt& q, int col) {
  if (q.IsNull(col)) return std::nullopt;
  return FromEpochMillis(q.Int(col));
}

}  // namespace

// The columns every entity query selects, in the order ReadEntity expects, qualified by `alias`.
std::string EntityColumns(std::string_view alias) {
  std::string a = alias.empty() ? "" : std::string(alias) + ".";
  return a + "id, " + a + "name, " + a + "user, " + a + "version, " + a + "status, " + a +
         "type, " + a + "created, " + a + "updated, " + a + "body";
}

Status ReadEntity(const Stmt& q, int first, Kind kind, ConfigEntity* e) {
  e->kind = kind;
  e->id = q.String(first + 0);
  e->name = q.String(first + 1);
  e->user = q.String(first + 2);
  e->version = q.String(first + 3);
  e->status = q.String(first + 4);
  e->type = q.OptString(first + 5);
  e->created = FromEpochMillis(q.Int(first + 6));
  e->updated = FromEpochMillis(q.Int(first + 7));
  return DecodeConfigBody(q.Text(first + 8), e);
}

Result<std::vector<ConfigEntity>> ReadEntities(Stmt& q, Kind kind) {
  std::vector<ConfigEntity> out;
  while (true) {
    WEIR_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) break;
    ConfigEntity e;
    WEIR_RETURN_IF_ERROR(ReadEntity(q, 0, kind, &e));
    out.push_back(std::move(e));
  }
  return out;
}

Status ReadJob(const Stmt& q, JobRecord* r) {
  r->id = q.String(0);
  Result<JobStatus> status = model::ParseJobStatus(q.Text(1));
  if (!status)
    return Internal("job '" + r->id + "': stored status '" + q.String(1) + "' is unknown");
  r->job.status = *status;
  r->created = FromEpochMillis(q.Int(2));
  r->updated = FromEpochMillis(q.Int(3));
  r->job.started = OptTime(q, 4);
  r->job.finished = OptTime(q, 5);
  r->job.cluster_name = q.String(6);
  r->job.cluster_id = q.String(7);
  r->job.command_name = q.String(8);
  r->job.command_id = q.String(9);
  WEIR_RETURN_IF_ERROR(DecodeJobRequest(q.Text(10), r->id, &r->request));
  return DecodeJobState(q.Text(11), r);
}

Result<std::vector<JobRecord>> ReadJobs(Stmt& q) {
  std::vector<JobRecord> out;
  while (true) {
    WEIR_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) break;
    JobRecord r;
    WEIR_RETURN_IF_ERROR(ReadJob(q, &r));
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace weir::store::sqlite
