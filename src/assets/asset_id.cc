#include "assets/asset_id.h"

#include <cctype>
#include <charconv>
#include <vector>

#include "common/strings.h"

namespace weir::assets {
namespace {

constexpr std::string_view kPrefix = "dataflow.";
constexpr std::string_view kHex = "0123456789ABCDEF";

bool IsSafeChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-';
}

bool IsHex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return c - 'A' + 10;
}

std::string Quote(std::string_view s) { return "'" + std::string(s) + "'"; }

// Parses a build number: decimal digits only, no sign or leading zero, 1..2^62.
Result<int64_t> ParseBuild(std::string_view s, std::string_view context) {
  if (s.empty() || s.size() > 18 || s[0] == '0') {
    return InvalidArgument(std::string(context) +
                           ": build must be a number >= 1 without leading "
                           "zeros, got " +
                           Quote(s));
  }
  for (char c : s) {
    if (c < '0' || c > '9') {
      return InvalidArgument(std::string(context) + ": build must be a number >= 1, got " +
                             Quote(s));
    }
  }
  int64_t v = 0;
  std::from_chars(s.data(), s.data() + s.size(), v);
  return v;
}

// Decodes the '@' form's branch: percent escapes "%XX" are decoded when they are canonical
// (as EncodeBranch writes them), anything else is taken literally.
std::string DecodeLenient(std::string_view b) {
  if (b.find('%') == std::string_view::npos) return std::string(b);
  auto decoded = DecodeBranch(b);
  return decoded.ok() ? *decoded : std::string(b);
}

}  // namespace

Status ValidateComponent(std::string_view field, std::string_view value) {
  if (value.empty()) {
    return InvalidArgument(std::string(field) + ": must not be empty");
  }
  if (value.size() > kMaxComponentLength) {
    return InvalidArgument(std::string(field) + ": at most " + std::to_string(kMaxComponentLength) +
                           " characters, got " + std::to_string(value.size()));
  }
  for (char c : value) {
    if (!IsSafeChar(c)) {
      std::string shown = IsValidUtf8(value) ? Quote(value) : std::string("the value");
      return InvalidArgument(std::string(field) + ": " + shown +
                             " may contain only letters, digits, '_' and '-'");
    }
  }
  return Status::Ok();
}

Status ValidateBranch(std::string_view branch) {
  if (branch.empty()) return InvalidArgument("branch: must not be empty");
  if (branch.size() > kMaxBranchLength) {
    return InvalidArgument("branch: at most " + std::to_string(kMaxBranchLength) + " bytes, got " +
                           std::to_string(branch.size()));
  }
  if (!IsValidUtf8(branch)) return InvalidArgument("branch: must be valid UTF-8");
  for (unsigned char c : branch) {
    if (c < 0x20 || c == 0x7f || c == ' ') {
      return InvalidArgument("branch: " + Quote(branch) +
                             " must not contain spaces or control characters");
    }
  }
  return Status::Ok();
}

Result<std::string> ShortCommit(std::string_view commit) {
  if (commit.size() < 8 || commit.size() > 40) {
    return InvalidArgument("commit: must be 8 to 40 hex digits, got " +
                           std::to_string(commit.size()) + " characters");
  }
  std::string out;
  for (char c : commit) {
    if (!IsHex(c)) return InvalidArgument("commit: must be hex digits, got " + Quote(commit));
  }
  for (char c : commit.substr(0, 8)) out.push_back(static_cast<char>(std::tolower(c)));
  return out;
}

Status ValidateId(const AssetVersionId& id) {
  WEIR_RETURN_IF_ERROR(ValidateComponent("type", id.type));
  WEIR_RETURN_IF_ERROR(ValidateComponent("namespace", id.ns));
  WEIR_RETURN_IF_ERROR(ValidateComponent("owner", id.owner));
  WEIR_RETURN_IF_ERROR(ValidateComponent("repo", id.repo));
  WEIR_RETURN_IF_ERROR(ValidateBranch(id.branch));
  if (id.commit.size() != 8) {
    return InvalidArgument("commit: must be exactly 8 lower-case hex digits, got " +
                           Quote(id.commit));
  }
  for (char c : id.commit) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
      return InvalidArgument("commit: must be exactly 8 lower-case hex digits, got " +
                             Quote(id.commit));
    }
  }
  if (id.build < 1) {
    return InvalidArgument("build: must be >= 1, got " + std::to_string(id.build));
  }
  return Status::Ok();
}

std::string EncodeBranch(std::string_view branch) {
  std::string out;
  out.reserve(branch.size());
  for (char c : branch) {
    if (IsSafeChar(c)) {
      out.push_back(c);
    } else {
      auto b = static_cast<unsigned char>(c);
      out.push_back('%');
      out.push_back(kHex[b >> 4]);
      out.push_back(kHex[b & 0xf]);
    }
  }
  return out;
}

Result<std::string> DecodeBranch(std::string_view encoded) {
  std::string out;
  for (size_t i = 0; i < encoded.size(); ++i) {
    char c = encoded[i];
    if (IsSafeChar(c)) {
      out.push_back(c);
      continue;
    }
    if (c != '%') {
      return InvalidArgument("branch: " + Quote(encoded) + ": character '" + std::string(1, c) +
                             "' must be percent-encoded");
    }
    if (i + 2 >= encoded.size()) {
      return InvalidArgument("branch: " + Quote(encoded) + ": truncated percent escape");
    }
    char h = encoded[i + 1], l = encoded[i + 2];
    auto upper_hex = [](char x) { return (x >= '0' && x <= '9') || (x >= 'A' && x <= 'F'); };
    if (!upper_hex(h) || !upper_hex(l)) {
      return InvalidArgument("branch: " + Quote(encoded) +
                             ": percent escapes must be two upper-case hex digits");
    }
    char decoded = static_cast<char>(HexValue(h) * 16 + HexValue(l));
    if (IsSafeChar(decoded)) {
      return InvalidArgument("branch: " + Quote(encoded) + ": '" + std::string(1, decoded) +
                             "' must not be percent-encoded");
    }
    out.push_back(decoded);
    i += 2;
  }
  WEIR_RETURN_IF_ERROR(ValidateBranch(out));
  return out;
}

std::string FormatUuid(const AssetVersionId& id) {
  std::string out(kPrefix);
  out += id.type;
  out += '.';
  out += id.ns;
  out += '.';
  out += id.owner;
  out += '.';
  out += id.repo;
  out += '.';
  out += EncodeBranch(id.branch);
  out += '.';
  out += id.commit;
  out += '.';
  out += std::to_string(id.build);
  return out;
}

Result<AssetVersionId> ParseUuid(std::string_view uuid) {
  const std::string context =
      "asset uuid " +
      (IsValidUtf8(uuid) && uuid.size() <= 1024 ? Quote(uuid) : std::string("(unprintable)"));
  if (!StartsWith(uuid, kPrefix)) {
    return InvalidArgument(context + ": must start with 'dataflow.'");
  }
  std::vector<std::string> parts = Split(uuid, '.');
  if (parts.size() != 8) {
    return InvalidArgument(context +
                           ": expected 8 dot-separated fields "
                           "dataflow.<type>.<namespace>.<owner>.<repo>.<branch>.<commit>.<build>, "
                           "got " +
                           std::to_string(parts.size()));
  }
  AssetVersionId id;
  id.type = parts[1];
  id.ns = parts[2];
  id.owner = parts[3];
  id.repo = parts[4];
  auto branch = DecodeBranch(parts[5]);
  if (!branch.ok()) return branch.status().WithContext(context);
  id.branch = *branch;
  id.commit = parts[6];
  auto build = ParseBuild(parts[7], context);
  if (!build.ok()) return build.status();
  id.build = *build;
  Status s = ValidateId(id);
  if (!s.ok()) return s.WithContext(context);
  return id;
}

std::string LayoutPath(const AssetVersionId& id, std::string_view ext) {
  std::string out = "assets/" + id.type + "/" + id.ns + "/" + id.owner + "/" + id.repo + "/" +
                    EncodeBranch(id.branch) + "/" + id.commit + "/" + std::to_string(id.build);
  if (!ext.empty()) {
    out += '.';
    out += ext;
  }
  return out;
}

std::string AssetRef::ToString() const {
  switch (form) {
    case RefForm::kLatest:
      return std::string(kPrefix) + type + "." + ns;
    case RefForm::kLatestOnBranch:
      return std::string(kPrefix) + type + "." + ns + "@" + branch;
    case RefForm::kBuildOnBranch:
      return std::string(kPrefix) + type + "." + ns + "@" + branch + "#" + std::to_string(build);
    case RefForm::kExact:
      return FormatUuid(exact);
  }
  return {};
}

bool IsFileRef(std::string_view text) { return StartsWith(text, "dataflow.file:"); }

bool LooksLikeAssetRef(std::string_view text) {
  return StartsWith(text, kPrefix) && !IsFileRef(text);
}

Result<AssetRef> ParseRef(std::string_view text) {
  const std::string context =
      "asset reference " +
      (IsValidUtf8(text) && text.size() <= 1024 ? Quote(text) : std::string("(unprintable)"));
  if (IsFileRef(text)) {
    return InvalidArgument(context + ": a file reference, not an asset reference");
  }
  if (!StartsWith(text, kPrefix)) {
    return InvalidArgument(context + ": must start with 'dataflow.'");
  }
  AssetRef ref;
  size_t at = text.find('@');
  if (at == std::string_view::npos) {
    std::vector<std::string> parts = Split(text, '.');
    if (parts.size() == 8) {
      auto id = ParseUuid(text);
      if (!id.ok()) return id.status();
      ref.form = RefForm::kExact;
      ref.exact = *id;
      ref.type = id->type;
      ref.ns = id->ns;
      ref.branch = id->branch;
      ref.build = id->build;
      return ref;
    }
    if (parts.size() != 3) {
      return InvalidArgument(context +
                             ": expected dataflow.<type>.<namespace>[@<branch>[#<build>]] "
                             "or a full asset uuid dataflow.<type>.<namespace>.<owner>.<repo>."
                             "<branch>.<commit>.<build>");
    }
    ref.form = RefForm::kLatest;
    ref.type = parts[1];
    ref.ns = parts[2];
  } else {
    std::vector<std::string> parts = Split(text.substr(0, at), '.');
    if (parts.size() != 3) {
      return InvalidArgument(context + ": expected dataflow.<type>.<namespace>@<branch>[#<build>]");
    }
    ref.type = parts[1];
    ref.ns = parts[2];
    std::string_view rest = text.substr(at + 1);
    size_t hash = rest.rfind('#');
    std::string_view branch = rest;
    ref.form = RefForm::kLatestOnBranch;
    if (hash != std::string_view::npos) {
      auto build = ParseBuild(rest.substr(hash + 1), context);
      if (!build.ok()) return build.status();
      ref.build = *build;
      ref.form = RefForm::kBuildOnBranch;
      branch = rest.substr(0, hash);
    }
    ref.branch = DecodeLenient(branch);
    Status s = ValidateBranch(ref.branch);
    if (!s.ok()) return s.WithContext(context);
  }
  Status s = ValidateComponent("type", ref.type);
  if (s.ok()) s = ValidateComponent("namespace", ref.ns);
  if (!s.ok()) return s.WithContext(context);
  return ref;
}

}  // namespace weir::assets
