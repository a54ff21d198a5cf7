// Time formats of the wire contract: UTC ISO-8601 with milliseconds ("2021-02-01T19:22:39.455Z")
// and ISO-8601 durations ("PT0.143S", "PT1H2M3.004S").
#pragma once

#include <string>
#include <string_view>

#include "common/clock.h"
#include "common/result.h"

namespace weir {

std::string FormatIso8601(TimePoint t);
// Accepts "YYYY-MM-DDTHH:MM:SS[.fff]Z" and "+HH:MM" offsets.
Result<TimePoint> ParseIso8601(std::string_view s);
// HTTP's IMF-fixdate (RFC 9110 §5.6.7), as in Last-Modified: "Sun, 06 Nov 1994 08:49:37 GMT".
Result<TimePoint> ParseHttpDate(std::string_view s);
// ISO-8601 duration with millisecond precision: 0 → "PT0S", 143 ms → "PT0.143S".
std::string FormatIsoDuration(Millis d);

}  // namespace weir
