// Private to src/store/postgres: what the files of PostgresStore (postgres_store.cc and
// postgres_{rows,events,search,nodes}.cc) share: row readers, WHERE clauses, search documents.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "store/postgres/connection.h"
#include "store/postgres/postgres_store.h"
#include "store/sqlite/codec.h"  // the store's JSON encodings and search documents, shared
#include "store/tables.h"        // Tables(kind): the entity and tag tables of a kind, shared

namespace weir::store::postgres {

using model::ConfigEntity;
using model::JobRecord;
using model::JobStatus;
using model::Kind;
using sqlite::DecodeConfigBody;
using sqlite::DecodeJobRequest;
using sqlite::DecodeJobState;
using sqlite::DocOf;
using sqlite::EncodeConfigBody;
using sqlite::EncodeJobRequest;
using sqlite::EncodeJobState;
using sqlite::SearchKindOf;

// `v` sorted, without repeats.
std::vector<std::string> Unique(std::vector<std::string> v);

// WHERE clauses whose values are parameters of `params` (shared with the rest of the statement).
class Where {
 public:
  explicit Where(Params* params) : p_(params) {}

  // A value containing '%' is a LIKE match (case-sensitive, no escape character: only '%' and
  // '_' are special), otherwise equality.
  void Text(std::string_view column, const std::optional<std::string>& value) {
    if (!value) return;
    if (value->find('%') != std::string::npos) {
      Add(std::string(column) + " LIKE " + p_->Next(*value) + " ESCAPE ''");
    } else {
      Equals(column, *value);
    }
  }
  void Equals(std::string_view column, const std::string& value) {
    Add(std::string(column) + " = " + p_->Next(value));
  }
  void In(std::string_view column, const std::vector<std::string>& values) {
    if (values.empty()) return;
    Add(std::string(column) + " IN (" + List(Unique(values)) + ")");
  }
  void AllTags(std::string_view id_expr, std::string_view tag_table, std::string_view fk,
               const std::vector<std::string>& tags) {
    if (tags.empty()) return;
    const std::vector<std::string> unique = Unique(tags);
    Add(std::string(id_expr) + " IN (SELECT " + std::string(fk) + " FROM " +
        std::string(tag_table) + " WHERE tag IN (" + List(unique) + ") GROUP BY " +
        std::string(fk) + " HAVING COUNT(*) = " + std::to_string(unique.size()) + ")");
  }
  void AtLeast(std::string_view column, const std::optional<int64_t>& v) {
    if (v) Add(std::string(column) + " >= " + p_->Next(*v));
  }
  void AtMost(std::string_view column, const std::optional<int64_t>& v) {
    if (v) Add(std::string(column) + " <= " + p_->Next(*v));
  }
  void Before(std::string_view column, const std::optional<int64_t>& v) {
    if (v) Add(std::string(column) + " < " + p_->Next(*v));
  }
  // Byte-exact prefix (the column is COLLATE "C"; no pattern characters).
  void Prefix(std::string_view column, const std::optional<std::string>& prefix) {
    if (!prefix || prefix->empty()) return;
    Add("substr(convert_to(" + std::string(column) + ", 'UTF8'), 1, " +
        p_->Next(static_cast<int64_t>(prefix->size())) + ") = convert_to(" + p_->Next(*prefix) +
        ", 'UTF8')");
  }

  std::string Sql() const {
    std::string s;
    for (size_t i = 0; i < clauses_.size(); ++i) s += (i == 0 ? " WHERE " : " AND ") + clauses_[i];
    return s;
  }

 private:
  void Add(std::string c) { clauses_.push_back(std::move(c)); }
  std::string List(const std::vector<std::string>& values) {
    std::string s;
    for (const auto& v : values) s += (s.empty() ? "" : ", ") + p_->Next(v);
    return s;
  }

  Params* p_;
  std::vector<std::string> clauses_;
};

// kInvalidArgument for a negative page or a size below 1.
Status CheckPage(const PageRequest& page);

// The columns ReadEntity reads, each prefixed with "<alias>." unless `alias` is empty.
std::string EntityColumns(std::string_view alias);

// Reads the entity of `row` whose columns (EntityColumns) start at `first`.
Status ReadEntity(const Rows& q, int row, int first, Kind kind, ConfigEntity* e);
Result<std::vector<ConfigEntity>> ReadEntities(const Rows& q, Kind kind);

constexpr const char* kJobColumns =
    "id, status, created, updated, started, finished, cluster_name, cluster_id, command_name, "
    "command_id, request, state";

// Reads the job of `row` (columns kJobColumns).
Status ReadJob(const Rows& q, int row, JobRecord* r);
Result<std::vector<JobRecord>> ReadJobs(const Rows& q);

// Stores (inserts or replaces) / deletes the search document of an entity or job.
Status PutDoc(Connection& c, const SearchDocument& d);
Status DeleteDoc(Connection& c, SearchKind kind, const std::string& id);

}  // namespace weir::store::postgres
