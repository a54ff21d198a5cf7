#include "cli/match_explain.h"

#include <boost/json.hpp>

namespace weir::cli {

namespace json = boost::json;

std::optional<std::string> FormatMatchExplanation(std::string_view body) {
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  if (ec || !v.is_object()) return std::nullopt;
  const json::object& o = v.as_object();
  const json::value* detail = o.if_contains("detail");
  if (detail == nullptr || !detail->is_object()) return std::nullopt;
  const json::value* reasons = detail->as_object().if_contains("reasons");
  if (reasons == nullptr || !reasons->is_array() || reasons->as_array().empty()) {
    return std::nullopt;
  }
  std::string out = "No cluster/command combination found for the given criteria:";
  for (const json::value& r : reasons->as_array()) {
    if (!r.is_string()) continue;
    out += "\n  - ";
    out += std::string_view(r.as_string());
  }
  out += "\nSee the tags and statuses with `weir cluster list` and `weir command list`.";
  return out;
}

Status ExplainSubmitError(const client::Response& r, const Status& error) {
  if (r.status != 412) return error;
  std::optional<std::string> text = FormatMatchExplanation(r.body);
  if (!text) return error;
  return Status(error.code(), "job submit: " + *text);
}

}  // namespace weir::cli
