// PostgresStore: the helpers its files share (postgres_store_internal.h).
#include <algorithm>

#include "store/postgres/postgres_store_internal.h"
#include "store/postgres/text_search.h"

namespace weir::store::postgres {

namespace {

std::optional<TimePoint> OptTime(const Rows& q, int row, int col) {
  if (q.IsNull(row, col)) return std::nullopt;
  return FromEpochMillis(q.Int(row, col));
}

}  // namespace

std::vector<std::string> Unique(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
  return v;
}

Status CheckPage(const PageRequest& page) {
  if (page.page < 0) return InvalidArgument("page: must be 0 or more");
  if (page.size < 1) return InvalidArgument("size: must be at least 1");
  return Status::Ok();
}

std::string EntityColumns(std::string_view alias) {
  std::string a = alias.empty() ? "" : std::string(alias) + ".";
  return a + "id, " + a + "name, " + a + "user_name, " + a + "version, " + a + "status, " + a +
         "type, " + a + "created, " + a + "updated, " + a + "body";
}

Status ReadEntity(const Rows& q, int row, int first, Kind kind, ConfigEntity* e) {
  e->kind = kind;
  e->id = q.String(row, first + 0);
  e->name = q.String(row, first + 1);
  e->user = q.String(row, first + 2);
  e->version = q.String(row, first + 3);
  e->status = q.String(row, first + 4);
  e->type = q.OptString(row, first + 5);
  e->created = FromEpochMillis(q.Int(row, first + 6));
  e->updated = FromEpochMillis(q.Int(row, first + 7));
  return DecodeConfigBody(q.Text(row, first + 8), e);
}

Result<std::vector<ConfigEntity>> ReadEntities(const Rows& q, Kind kind) {
  std::vector<ConfigEntity> out(static_cast<size_t>(q.size()));
  for (int i = 0; i < q.size(); ++i) {
    WEIR_RETURN_IF_ERROR(ReadEntity(q, i, 0, kind, &out[static_cast<size_t>(i)]));
  }
  return out;
}

Status ReadJob(const Rows& q, int row, JobRecord* r) {
  r->id = q.String(row, 0);
  Result<JobStatus> status = model::ParseJobStatus(q.Text(row, 1));
  if (!status) {
    return Internal("job '" + r->id + "': stored status '" + q.String(row, 1) + "' is unknown");
  }
  r->job.status = *status;
  r->created = FromEpochMillis(q.Int(row, 2));
  r->updated = FromEpochMillis(q.Int(row, 3));
  r->job.started = OptTime(q, row, 4);
  r->job.finished = OptTime(q, row, 5);
  r->job.cluster_name = q.String(row, 6);
  r->job.cluster_id = q.String(row, 7);
  r->job.command_name = q.String(row, 8);
  r->job.command_id = q.String(row, 9);
  WEIR_RETURN_IF_ERROR(DecodeJobRequest(q.Text(row, 10), r->id, &r->request));
  return DecodeJobState(q.Text(row, 11), r);
}

Result<std::vector<JobRecord>> ReadJobs(const Rows& q) {
  std::vector<JobRecord> out(static_cast<size_t>(q.size()));
  for (int i = 0; i < q.size(); ++i) {
    WEIR_RETURN_IF_ERROR(ReadJob(q, i, &out[static_cast<size_t>(i)]));
  }
  return out;
}

// ---- search documents and events -------------------------------------------------------------

Status PutDoc(Connection& c, const SearchDocument& d) {
  Params p;
  p.Add(SearchKindName(d.kind)).Add(d.id).Add(d.name).Add(d.status).Add(sqlite::JoinTags(d.tags));
  p.Add(d.text).Add(TsVectorLiteral(d));
  return c
      .Exec(
          "INSERT INTO search_docs(kind, ref, name, status, tags, text, doc)"
          " VALUES ($1, $2, $3, $4, $5, $6, $7::tsvector) ON CONFLICT (kind, ref) DO UPDATE SET"
          " name = excluded.name, status = excluded.status, tags = excluded.tags,"
          " text = excluded.text, doc = excluded.doc",
          p)
      .status();
}

Status DeleteDoc(Connection& c, SearchKind kind, const std::string& id) {
  Params p;
  p.Add(SearchKindName(kind)).Add(id);
  return c.Exec("DELETE FROM search_docs WHERE kind = $1 AND ref = $2", p).status();
}

}  // namespace weir::store::postgres
