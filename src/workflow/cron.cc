#include "workflow/cron.h"

#include <string>
#include <vector>

#include "common/strings.h"

namespace weir::workflow {
namespace {

struct Field {
  const char* name;
  int min;
  int max;
  const char* const* names;  // names for min.., or nullptr
};

const char* const kMonthNames[] = {"jan", "feb", "mar", "apr", "may", "jun",  "jul",
                                   "aug", "sep", "oct", "nov", "dec", nullptr};
const char* const kDayNames[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat", nullptr};

const Field kFields[5] = {{"minute", 0, 59, nullptr},
                          {"hour", 0, 23, nullptr},
                          {"day of month", 1, 31, nullptr},
                          {"month", 1, 12, kMonthNames},
                          {"day of week", 0, 7, kDayNames}};

// A number or (for month and weekday) a three-letter name.
bool ParseValue(const Field& f, std::string_view s, int* out) {
  long long v = 0;
  if (!s.empty() && s[0] != '-' && s[0] != '+' && ParseInt64(s, &v)) {
    *out = static_cast<int>(v > 1000 ? 1000 : v);
    return true;
  }
  if (f.names != nullptr) {
    std::string lower = ToLower(s);
    for (int i = 0; f.names[i] != nullptr; ++i) {
      if (lower == f.names[i]) {
        *out = f.min + i;
        return true;
      }
    }
  }
  return false;
}

// Parses one field into `bits` (indexed by value); returns an error detail or "".
std::string ParseField(const Field& f, std::string_view text, std::vector<bool>& bits, bool* star) {
  *star = false;
  bits.assign(f.max + 1, false);
  for (const std::string& item : Split(text, ',')) {
    if (item.empty()) return "empty list item in '" + std::string(text) + "'";
    std::string_view range = item;
    int step = 1;
    if (size_t slash = item.find('/'); slash != std::string::npos) {
      long long s = 0;
      std::string_view step_text = std::string_view(item).substr(slash + 1);
      if (!ParseInt64(step_text, &s) || s < 1 || s > f.max) {
        return "step '" + std::string(step_text) + "' must be a number from 1 to " +
               std::to_string(f.max);
      }
      step = static_cast<int>(s);
      range = std::string_view(item).substr(0, slash);
    }
    int lo = 0, hi = 0;
    if (range == "*") {
      lo = f.min;
      hi = f.max == 7 ? 6 : f.max;
      if (step == 1 && text == item) *star = true;
    } else if (size_t dash = range.find('-'); dash != std::string_view::npos && dash > 0) {
      if (!ParseValue(f, range.substr(0, dash), &lo) ||
          !ParseValue(f, range.substr(dash + 1), &hi)) {
        return "'" + std::string(range) + "' is not a range of values";
      }
      if (f.max == 7 && hi == 0 && lo > 0) hi = 7;  // MON-SUN: a range may end on Sunday
    } else {
      if (!ParseValue(f, range, &lo)) return "'" + std::string(range) + "' is not a value";
      hi = item.find('/') == std::string::npos ? lo : (f.max == 7 ? 6 : f.max);
    }
    for (int v : {lo, hi}) {
      if (v < f.min || v > f.max) {
        return std::to_string(v) + " is out of range " + std::to_string(f.min) + "-" +
               std::to_string(f.max);
      }
    }
    if (lo > hi) return "range '" + std::string(range) + "' goes backwards";
    for (int v = lo; v <= hi; v += step) bits[v] = true;
  }
  return "";
}

}  // namespace

Result<CronSpec> ParseCron(std::string_view expr_in) {
  std::string_view expr = Trim(expr_in);
  std::string context = "schedule '" + std::string(expr) + "'";
  std::string text(expr);
  if (!expr.empty() && expr[0] == '@') {
    std::string macro = ToLower(expr);
    if (macro == "@hourly")
      text = "0 * * * *";
    else if (macro == "@daily")
      text = "0 0 * * *";
    else if (macro == "@weekly")
      text = "0 0 * * 0";
    else if (macro == "@monthly")
      text = "0 0 1 * *";
    else
      return InvalidArgument(context + ": unknown macro; use @hourly, @daily, @weekly or @monthly");
  }
  std::vector<std::string> parts;
  for (std::string& p : Split(text, ' ')) {
    for (std::string& q : Split(p, '\t')) {
      if (!q.empty()) parts.push_back(std::move(q));
    }
  }
  if (parts.size() != 5) {
    return InvalidArgument(context +
                           ": needs 5 fields (minute hour day-of-month month "
                           "day-of-week), found " +
                           std::to_string(parts.size()));
  }
  CronSpec spec;
  std::vector<bool> bits;
  bool stars[5];
  for (int i = 0; i < 5; ++i) {
    std::string err = ParseField(kFields[i], parts[i], bits, &stars[i]);
    if (!err.empty()) return InvalidArgument(context + ": " + kFields[i].name + ": " + err);
    for (size_t v = 0; v < bits.size(); ++v) {
      if (!bits[v]) continue;
      switch (i) {
        case 0:
          spec.minutes.set(v);
          break;
        case 1:
          spec.hours.set(v);
          break;
        case 2:
          spec.days_of_month.set(v);
          break;
        case 3:
          spec.months.set(v);
          break;
        case 4:
          spec.days_of_week.set(v % 7);
          break;
      }
    }
  }
  spec.day_of_month_star = stars[2];
  spec.day_of_week_star = stars[4];
  // With only the day of month restricted, some chosen month must have one of the chosen days
  // ("0 0 30 2 *" would never fire). February counts 29 days: leap years come.
  if (!spec.day_of_month_star && spec.day_of_week_star) {
    static constexpr int kDays[13] = {0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool fires = false;
    for (int m = 1; m <= 12 && !fires; ++m) {
      for (int d = 1; d <= kDays[m] && !fires; ++d) {
        fires = spec.months[m] && spec.days_of_month[d];
      }
    }
    if (!fires) {
      return InvalidArgument(context + ": never fires (no chosen month has the chosen days)");
    }
  }
  return spec;
}

}  // namespace weir::workflow
