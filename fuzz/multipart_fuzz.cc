// Fuzz target: the multipart/form-data submission path of POST /api/v3/jobs (api/job_routes.h):
// MultipartBoundary over the Content-Type, ParseMultipart over the body, SanitizeAttachmentName
// over each file name, ParseJobRequest over the `request` part; and the Range and Accept headers
// of the output route (ParseRange, PrefersHtml, GuessContentType).
// Input: line 1 the Content-Type, line 2 a Range/Accept header value, the rest the body.
// Invariants: every part's data lies inside the body; a sanitized attachment name is a single
// path component (no '/', not "." or "..", no control characters, ≤255 bytes); a partial range
// lies inside the file.
#include <string>

#include "api/job_codec.h"
#include "api/job_routes.h"
#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace weir;
  if (size > 64 * 1024) return 0;
  auto [content_type, rest] = fuzz::SplitOnce(fuzz::AsText(data, size), "\n");
  auto [header, body] = fuzz::SplitOnce(rest, "\n");

  api::RangeAnswer range = api::ParseRange(header, body.size());
  if (range.kind == api::RangeAnswer::kPartial) {
    FUZZ_CHECK(range.length > 0 && range.offset < body.size() &&
                   range.length <= body.size() - range.offset,
               "range outside the file: " + std::string(header));
  } else if (range.kind == api::RangeAnswer::kWhole) {
    FUZZ_CHECK(range.offset == 0 && range.length == body.size(), "whole range is not whole");
  }
  (void)api::PrefersHtml(header);

  auto boundary = api::MultipartBoundary(content_type);
  if (!boundary.ok()) return 0;
  auto parts = api::ParseMultipart(body, *boundary);
  if (!parts.ok()) return 0;
  for (const api::MultipartPart& p : *parts) {
    FUZZ_CHECK(
        p.data.data() >= body.data() && p.data.data() + p.data.size() <= body.data() + body.size(),
        "part data outside the body");
    FUZZ_CHECK(!p.name.empty(), "part without a name");
    if (p.name == "request") (void)api::ParseJobRequest(p.data);
    if (!p.filename) continue;
    auto name = api::SanitizeAttachmentName(*p.filename);
    if (!name.ok()) continue;
    const std::string& n = *name;
    FUZZ_CHECK(!n.empty() && n != "." && n != ".." && n.size() <= 255,
               "unsafe attachment name: " + n);
    for (unsigned char c : n) {
      FUZZ_CHECK(c != '/' && c != '\\' && c >= 0x20 && c != 0x7f, "unsafe attachment name: " + n);
    }
    (void)api::GuessContentType(n, p.data.substr(0, 512));
  }
  return 0;
}
