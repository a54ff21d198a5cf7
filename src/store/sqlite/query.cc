#include "store/sqlite/query.h"

#include <algorithm>

#include "store/sqlite/sqlite_store.h"

namespace weir::store::sqlite {

std::string LikeToGlob(std::string_view like) {
  std::string out;
  out.reserve(like.size() + 8);
  for (char c : like) {
    switch (c) {
      case '%':
        out += '*';
        break;
      case '_':
        out += '?';
        break;
      // GLOB's own wildcards become one-character sets, which match themselves literally.
      case '*':
        out += "[*]";
        break;
      case '?':
        out += "[?]";
        break;
      case '[':
        out += "[[]";
        break;
      default:
        out += c;
    }
  }
  return out;
}

void Where::Text(std::string_view column, const std::optional<std::string>& value) {
  if (!value) return;
  if (value->find('%') != std::string::npos) {
    clauses_.push_back(std::string(column) + " GLOB ?");
    params_.emplace_back(LikeToGlob(*value));
  } else {
    Equals(column, *value);
  }
}

void Where::Equals(std::string_view column, std::string value) {
  clauses_.push_back(std::string(column) + " = ?");
  params_.emplace_back(std::move(value));
}

namespace {
std::string Placeholders(size_t n) {
  std::string s;
  for (size_t i = 0; i < n; ++i) s += i == 0 ? "?" : ",?";
  return s;
}
}  // namespace

void Where::In(std::string_view column, const std::vector<std::string>& values) {
  if (values.empty()) return;
  std::vector<std::string> unique = Unique(values);
  if (unique.size() == 1) {
    Equals(column, unique[0]);
    return;
  }
  clauses_.push_back(std::string(column) + " IN (" + Placeholders(unique.size()) + ")");
  for (auto& v : unique) params_.emplace_back(std::move(v));
}

void Where::AllTags(std::string_view id_expr, std::string_view tag_table, std::string_view fk,
                    const std::vector<std::string>& tags) {
  if (tags.empty()) return;
  std::vector<std::string> unique = Unique(tags);
  std::string c = std::string(id_expr) + " IN (SELECT " + std::string(fk) + " FROM " +
                  std::string(tag_table) + " WHERE tag IN (" + Placeholders(unique.size()) +
                  ") GROUP BY " + std::string(fk) +
                  " HAVING COUNT(*) = " + std::to_string(unique.size()) + ")";
  clauses_.push_back(std::move(c));
  for (auto& t : unique) params_.emplace_back(std::move(t));
}

void Where::AtLeast(std::string_view column, const std::optional<TimePoint>& t) {
  if (!t) return;
  clauses_.push_back(std::string(column) + " >= ?");
  params_.emplace_back(ToEpochMillis(*t));
}

void Where::Before(std::string_view column, const std::optional<TimePoint>& t) {
  if (!t) return;
  clauses_.push_back(std::string(column) + " < ?");
  params_.emplace_back(ToEpochMillis(*t));
}

void Where::IntAtLeast(std::string_view column, const std::optional<int64_t>& v) {
  if (!v) return;
  clauses_.push_back(std::string(column) + " >= ?");
  params_.emplace_back(*v);
}

void Where::IntAtMost(std::string_view column, const std::optional<int64_t>& v) {
  if (!v) return;
  clauses_.push_back(std::string(column) + " <= ?");
  params_.emplace_back(*v);
}

void Where::Prefix(std::string_view column, const std::optional<std::string>& prefix) {
  if (!prefix || prefix->empty()) return;
  // Byte-exact: substr of a BLOB counts bytes (of TEXT, characters); LIKE would ignore case and
  // GLOB would need escaping.
  clauses_.push_back("substr(CAST(" + std::string(column) + " AS BLOB), 1, ?) = CAST(? AS BLOB)");
  params_.emplace_back(static_cast<int64_t>(prefix->size()));
  params_.emplace_back(*prefix);
}

std::string Where::Sql() const {
  std::string s;
  for (size_t i = 0; i < clauses_.size(); ++i) {
    s += i == 0 ? " WHERE " : " AND ";
    s += clauses_[i];
  }
  return s;
}

void Where::BindTo(Stmt& stmt) const {
  for (const auto& p : params_) {
    if (const auto* i = std::get_if<int64_t>(&p)) {
      stmt.Bind(*i);
    } else {
      stmt.Bind(std::get<std::string>(p));
    }
  }
}

Result<std::string> OrderBy(const std::vector<SortKey>& keys, const std::vector<SortField>& allowed,
                            std::string_view default_column) {
  std::string sql = " ORDER BY ";
  std::vector<std::string_view> used;
  for (const SortKey& k : keys) {
    auto it = std::find_if(allowed.begin(), allowed.end(),
                           [&](const SortField& f) { return f.wire == k.field; });
    if (it == allowed.end()) {
      std::string names;
      for (const auto& f : allowed) {
        if (!names.empty()) names += ", ";
        names += f.wire;
      }
      return InvalidArgument("sort: unknown field '" + k.field + "'; use one of " + names);
    }
    // A repeated field adds nothing: the first occurrence already decides.
    if (std::find(used.begin(), used.end(), it->column) != used.end()) continue;
    used.push_back(it->column);
    if (used.size() > 1) sql += ", ";
    sql += std::string(it->column) + (k.ascending ? " ASC" : " DESC");
  }
  if (used.empty()) {
    used.push_back(default_column);
    sql += std::string(default_column) + " DESC";
  }
  if (std::find(used.begin(), used.end(), "id") == used.end()) sql += ", id ASC";
  return sql;
}

Status CheckPage(const PageRequest& page) {
  if (page.page < 0) return InvalidArgument("page: must be 0 or more");
  if (page.size < 1) return InvalidArgument("size: must be at least 1");
  return Status::Ok();
}

std::vector<std::string> Unique(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
  return v;
}

}  // namespace weir::store::sqlite
