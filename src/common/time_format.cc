#include "common/time_format.h"

#include <cstdio>
#include <ctime>

namespace weir {

std::string FormatIso8601(TimePoint t) {
  int64_t ms = ToEpochMillis(t);
  int64_t secs = ms >= 0 ? ms / 1000 : (ms - 999) / 1000;
  int millis = static_cast<int>(ms - secs * 1000);
  std::time_t tt = static_cast<std::time_t>(secs);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, millis);
  return buf;
}

Result<TimePoint> ParseIso8601(std::string_view s) {
  std::string str(s);
  int y, mo, d, h, mi, sec;
  int consumed = 0;
  if (std::sscanf(str.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec,
                  &consumed) != 6 ||
      consumed != 19) {
    return InvalidArgument("time '" + str +
                           "': expected ISO-8601 such as 2021-02-01T19:22:39.455Z");
  }
  std::tm tm{};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = sec;
  int64_t secs = static_cast<int64_t>(timegm(&tm));
  int64_t millis = 0;
  size_t i = 19;
  if (i < str.size() && str[i] == '.') {
    ++i;
    int digits = 0;
    while (i < str.size() && str[i] >= '0' && str[i] <= '9') {
      if (digits < 3) millis = millis * 10 + (str[i] - '0');
      ++digits;
      ++i;
    }
    if (digits == 0) return InvalidArgument("time '" + str + "': empty fraction");
    for (int k = digits; k < 3; ++k) millis *= 10;
  }
  int64_t offset = 0;
  if (i < str.size() && (str[i] == 'Z' || str[i] == 'z')) {
    ++i;
  } else if (i < str.size() && (str[i] == '+' || str[i] == '-')) {
    int oh = 0, om = 0;
    if (std::sscanf(str.c_str() + i + 1, "%2d:%2d", &oh, &om) != 2) {
      return InvalidArgument("time '" + str + "': bad UTC offset");
    }
    offset = (oh * 3600 + om * 60) * (str[i] == '+' ? 1 : -1);
    i += 6;
  }
  if (i != str.size()) return InvalidArgument("time '" + str + "': trailing characters");
  return FromEpochMillis((secs - offset) * 1000 + millis);
}

Result<TimePoint> ParseHttpDate(std::string_view s) {
  static constexpr std::string_view kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                 "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  const std::string str(s);
  auto bad = [&] {
    return InvalidArgument("time '" + str + "': expected an HTTP date such as " +
                           "Sun, 06 Nov 1994 08:49:37 GMT");
  };
  char day[4] = {}, month[4] = {}, zone[4] = {};
  int d, y, h, mi, sec;
  int consumed = 0;
  if (std::sscanf(str.c_str(), "%3[A-Za-z], %2d %3[A-Za-z] %4d %2d:%2d:%2d %3[A-Z]%n", day, &d,
                  month, &y, &h, &mi, &sec, zone, &consumed) != 8 ||
      static_cast<size_t>(consumed) != str.size() || std::string_view(zone) != "GMT") {
    return bad();
  }
  int mo = -1;
  for (int i = 0; i < 12; ++i) {
    if (kMonths[i] == month) mo = i;
  }
  if (mo < 0 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60) return bad();
  std::tm tm{};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = sec;
  return FromEpochMillis(static_cast<int64_t>(timegm(&tm)) * 1000);
}

std::string FormatIsoDuration(Millis d) {
  int64_t ms = d.count();
  if (ms < 0) ms = 0;
  int64_t h = ms / 3600000, m = (ms / 60000) % 60, s = (ms / 1000) % 60, f = ms % 1000;
  std::string out = "PT";
  if (h) out += std::to_string(h) + "H";
  if (m) out += std::to_string(m) + "M";
  if (s || f || (!h && !m)) {
    out += std::to_string(s);
    if (f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, ".%03lld", static_cast<long long>(f));
      std::string frac(buf);
      while (frac.back() == '0') frac.pop_back();
      out += frac;
    }
    out += "S";
  }
  return out;
}

}  // namespace weir
