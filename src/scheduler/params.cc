#include "scheduler/params.h"

#include <functional>
#include <set>
#include <vector>

#include "common/strings.h"

namespace weir::scheduler {
namespace {

// Calls `on_ref(name)` for each `${NAME}` and appends everything else (with `$${` unescaped)
// to `out`; on_ref returns the replacement or nullopt to keep the reference as written.
template <typename F>
Status Expand(std::string_view text, std::string& out, F on_ref) {
  size_t i = 0;
  while (i < text.size()) {
    size_t dollar = text.find('$', i);
    if (dollar == std::string_view::npos) {
      out.append(text.substr(i));
      break;
    }
    out.append(text.substr(i, dollar - i));
    std::string_view rest = text.substr(dollar);
    if (StartsWith(rest, "$${")) {
      out.append("${");
      i = dollar + 3;
      continue;
    }
    if (StartsWith(rest, "${")) {
      size_t close = rest.find('}');
      if (close != std::string_view::npos) {
        std::string name(rest.substr(2, close - 2));
        Result<std::optional<std::string>> value = on_ref(name);
        if (!value.ok()) return value.status();
        if (value->has_value()) {
          out.append(**value);
        } else {
          out.append(rest.substr(0, close + 1));
        }
        i = dollar + close + 1;
        continue;
      }
    }
    out.push_back('$');
    i = dollar + 1;
  }
  return Status::Ok();
}

}  // namespace

Result<Params> ResolveParams(const Params& defaults, const Params& environment,
                             const Params& overrides, const Params& builtins) {
  Params raw = defaults;
  for (const auto& [k, v] : environment) raw[k] = v;
  for (const auto& [k, v] : overrides) raw[k] = v;
  for (const auto& [k, v] : builtins) raw.erase(k);

  Params done = builtins;
  std::vector<std::string> stack;  // names being expanded, for the cycle message
  std::function<Result<std::optional<std::string>>(const std::string&)> value_of =
      [&](const std::string& name) -> Result<std::optional<std::string>> {
    if (auto it = done.find(name); it != done.end()) return std::optional<std::string>(it->second);
    auto it = raw.find(name);
    if (it == raw.end()) return std::optional<std::string>();
    for (size_t k = 0; k < stack.size(); ++k) {
      if (stack[k] == name) {
        std::vector<std::string> cycle(stack.begin() + static_cast<long>(k), stack.end());
        cycle.push_back(name);
        return InvalidArgument("params: reference cycle " + Join(cycle, " -> ") +
                               "; make one of these values literal");
      }
    }
    stack.push_back(name);
    std::string out;
    Status s = Expand(it->second, out, value_of);
    stack.pop_back();
    if (!s.ok()) return s;
    done[name] = out;
    return std::optional<std::string>(out);
  };
  for (const auto& [name, value] : raw) {
    Result<std::optional<std::string>> r = value_of(name);
    if (!r.ok()) return r.status();
  }
  return done;
}

std::string Substitute(std::string_view text, const Params& params) {
  std::string out;
  out.reserve(text.size());
  Status s = Expand(text, out, [&](const std::string& name) -> Result<std::optional<std::string>> {
    auto it = params.find(name);
    if (it == params.end()) return std::optional<std::string>();
    return std::optional<std::string>(it->second);
  });
  (void)s;  // the lookup never fails
  return out;
}

}  // namespace weir::scheduler
