// Building the WHERE and ORDER BY clauses of the searches. Private to src/store/sqlite/.
// Values are always bound as parameters, never spliced into SQL; only column and table names,
// which come from fixed tables in the store, appear in the text.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "common/clock.h"
#include "common/result.h"
#include "store/sqlite/database.h"
#include "store/store.h"

namespace weir::store::sqlite {

class Where {
 public:
  // A string filter: a value containing '%' is a LIKE match (via GLOB), otherwise equality.
  void Text(std::string_view column, const std::optional<std::string>& value);
  void Equals(std::string_view column, std::string value);
  // column IN (values); nothing when `values` is empty (= any).
  void In(std::string_view column, const std::vector<std::string>& values);
  // `id_expr` names an entity having every tag in `tags` (rows of `tag_table`(`fk`, tag)).
  void AllTags(std::string_view id_expr, std::string_view tag_table, std::string_view fk,
               const std::vector<std::string>& tags);
  void AtLeast(std::string_view column, const std::optional<TimePoint>& t);   // inclusive
  void Before(std::string_view column, const std::optional<TimePoint>& t);    // exclusive
  void IntAtLeast(std::string_view column, const std::optional<int64_t>& v);  // inclusive
  void IntAtMost(std::string_view column, const std::optional<int64_t>& v);   // inclusive
  // The column starts with `prefix`, taken literally (no pattern characters).
  void Prefix(std::string_view column, const std::optional<std::string>& prefix);

  // " WHERE a AND b", or "" when there is no condition.
  std::string Sql() const;
  void BindTo(Stmt& stmt) const;

 private:
  std::vector<std::string> clauses_;
  std::vector<std::variant<int64_t, std::string>> params_;
};

// One allowed sort field: its wire name and its column.
struct SortField {
  std::string_view wire;
  std::string_view column;
};

// " ORDER BY …" for `keys` (default `default_column` desc when empty), always ending with `id`
// ascending as the tie-breaker so paging is stable. kInvalidArgument naming the allowed fields
// for an unknown one.
Result<std::string> OrderBy(const std::vector<SortKey>& keys, const std::vector<SortField>& allowed,
                            std::string_view default_column);

// kInvalidArgument for page < 0 or size < 1.
Status CheckPage(const PageRequest& page);

// Sorted and deduplicated copy.
std::vector<std::string> Unique(std::vector<std::string> v);

}  // namespace weir::store::sqlite
