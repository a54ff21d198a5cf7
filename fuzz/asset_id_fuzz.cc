// Fuzz target: asset version UUIDs and asset references (assets/asset_id.h), which arrive in
// URLs (GET /api/weir/v1/assets/{uuid}), in publish requests and inside ${...} of workflow files.
// Input: the text, tried as a UUID, as a reference and as a branch name.
// Invariants: ParseUuid accepts only FormatUuid's canonical text (parse then format gives the
// input back); a reference's ToString parses again to the same reference; EncodeBranch and
// DecodeBranch are inverses; LayoutPath's segments are safe path segments (non-empty, not "."
// or "..").
#include <string>

#include "assets/asset_id.h"
#include "fuzz_util.h"

namespace {

void CheckLayout(const weir::assets::AssetVersionId& id) {
  for (std::string_view ext : {"", "jar", "tar.gz"}) {
    std::string path = weir::assets::LayoutPath(id, ext);
    size_t start = 0;
    while (true) {
      size_t slash = path.find('/', start);
      std::string seg = path.substr(start, slash == std::string::npos ? slash : slash - start);
      FUZZ_CHECK(!seg.empty() && seg != "." && seg != ".." && seg.find('\\') == std::string::npos,
                 "unsafe layout path: " + path);
      if (slash == std::string::npos) break;
      start = slash + 1;
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace weir;
  if (size > 4096) return 0;
  const std::string_view text = fuzz::AsText(data, size);

  auto uuid = assets::ParseUuid(text);
  if (uuid.ok()) {
    FUZZ_CHECK(assets::ValidateId(*uuid).ok(), "parsed id does not validate: " + std::string(text));
    FUZZ_CHECK(assets::FormatUuid(*uuid) == text, "not canonical: " + std::string(text));
    CheckLayout(*uuid);
  }

  if (assets::IsFileRef(text)) FUZZ_CHECK(!assets::ParseRef(text).ok(), "file ref parsed");
  auto ref = assets::ParseRef(text);
  if (ref.ok()) {
    std::string canonical = ref->ToString();
    auto again = assets::ParseRef(canonical);
    FUZZ_CHECK(again.ok(), "ToString does not parse: " + canonical);
    FUZZ_CHECK(*again == *ref, "ToString parses to another reference: " + canonical);
    FUZZ_CHECK(again->ToString() == canonical, "ToString is not stable: " + canonical);
    if (ref->form == assets::RefForm::kExact) {
      FUZZ_CHECK(assets::FormatUuid(ref->exact) == canonical, "exact ref is not its UUID");
    }
  }

  if (assets::ValidateBranch(text).ok()) {
    std::string encoded = assets::EncodeBranch(text);
    auto decoded = assets::DecodeBranch(encoded);
    FUZZ_CHECK(decoded.ok() && *decoded == text, "branch round trip: " + std::string(text));
    for (char c : encoded) FUZZ_CHECK(c != '/' && c != '.', "encoded branch: " + encoded);
  }
  auto decoded = assets::DecodeBranch(text);
  if (decoded.ok()) {
    FUZZ_CHECK(assets::EncodeBranch(*decoded) == text, "non-canonical encoding accepted");
  }
  return 0;
}
