#include "assets/registry.h"

#include <sys/stat.h>

#include <mutex>
#include <utility>

#include "blob/sha256.h"
#include "common/strings.h"
#include "store/sqlite/sqlite_asset_store.h"

namespace weir::assets {
namespace {

// Scanned for the wording of a failed resolution and for suggestions.
constexpr int64_t kNearbyVersions = 5000;

std::string Quote(std::string_view s) { return "'" + std::string(s) + "'"; }

Status ValidateExtension(std::string_view ext) {
  if (ext.empty()) return Status::Ok();
  bool ok = ext.size() <= 20 && ext.front() != '.' && ext.back() != '.' &&
            ext.find("..") == std::string_view::npos;
  for (char c : ext) {
    ok = ok && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                c == '_' || c == '-' || c == '.');
  }
  if (!ok) {
    return InvalidArgument("extension: at most 20 letters, digits, '_', '-' or inner '.', got " +
                           (IsValidUtf8(ext) ? Quote(ext) : std::string("invalid UTF-8")));
  }
  return Status::Ok();
}

Status ValidateFileName(std::string_view name) {
  if (name.size() > 255) return InvalidArgument("file name: at most 255 bytes");
  if (!IsValidUtf8(name)) return InvalidArgument("file name: must be valid UTF-8");
  for (unsigned char c : name) {
    if (c < 0x20 || c == 0x7f || c == '/' || c == '\\') {
      return InvalidArgument("file name: " + Quote(name) +
                             " must be a plain name without '/', '\\' or control characters");
    }
  }
  if (name == "." || name == "..") return InvalidArgument("file name: must not be '.' or '..'");
  return Status::Ok();
}

std::string ExtensionOf(std::string_view file_name) {
  size_t dot = file_name.rfind('.');
  if (dot == std::string_view::npos || dot == 0 || dot + 1 == file_name.size()) return {};
  std::string ext(file_name.substr(dot + 1));
  return ValidateExtension(ext).ok() ? ext : std::string();
}

// Whether `id` may be published into the namespace owned by `owner` (nullopt: unclaimed).
Status CheckOwner(const std::optional<store::AssetNamespaceRow>& owner, const AssetVersionId& id) {
  if (!owner) return Status::Ok();
  if (owner->owner != id.owner || owner->repo != id.repo) {
    return PermissionDenied("namespace " + Quote(id.ns) + ": owned by repository " +
                            Quote(owner->owner + "/" + owner->repo) + ", not " +
                            Quote(id.owner + "/" + id.repo) + "; choose another namespace");
  }
  if (owner->type != id.type) {
    return FailedPrecondition("namespace " + Quote(id.ns) + ": holds assets of type " +
                              Quote(owner->type) + ", not " + Quote(id.type) +
                              "; use that type or another namespace");
  }
  return Status::Ok();
}

}  // namespace

struct AssetRegistry::Impl {
  std::shared_ptr<store::AssetStore> rows;
  std::shared_ptr<blob::BlobStore> blobs;
  Clock* clock = nullptr;
  PublishListener on_publish;
  std::mutex publish_mu;

  AssetRecord Record(store::AssetVersionRow row) const {
    AssetRecord r;
    r.id = AssetVersionId{std::move(row.type),
                          std::move(row.ns),
                          std::move(row.owner),
                          std::move(row.repo),
                          std::move(row.branch),
                          std::move(row.commit),
                          row.build};
    r.uuid = std::move(row.uuid);
    r.sha256 = std::move(row.sha256);
    r.size = row.size;
    r.created = row.created;
    r.file_name = std::move(row.file_name);
    r.extension = std::move(row.extension);
    r.dirty = row.dirty;
    r.publisher = std::move(row.publisher);
    r.uri = blobs->Uri(r.sha256);
    r.path = LayoutPath(r.id, r.extension);
    return r;
  }

  std::vector<AssetRecord> Records(std::vector<store::AssetVersionRow> rows_in) const {
    std::vector<AssetRecord> out;
    out.reserve(rows_in.size());
    for (auto& row : rows_in) out.push_back(Record(std::move(row)));
    return out;
  }
};

AssetRegistry::AssetRegistry(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
AssetRegistry::~AssetRegistry() = default;

blob::BlobStore& AssetRegistry::blobs() { return *impl_->blobs; }

Result<std::unique_ptr<AssetRegistry>> AssetRegistry::Open(std::shared_ptr<store::AssetStore> rows,
                                                           std::shared_ptr<blob::BlobStore> blobs,
                                                           Clock& clock,
                                                           PublishListener on_publish) {
  if (!rows) return InvalidArgument("asset registry: an asset store is required");
  if (!blobs) return InvalidArgument("asset registry: a blob store is required");
  auto impl = std::make_unique<Impl>();
  impl->rows = std::move(rows);
  impl->blobs = std::move(blobs);
  impl->clock = &clock;
  impl->on_publish = std::move(on_publish);
  return std::unique_ptr<AssetRegistry>(new AssetRegistry(std::move(impl)));
}

Result<std::unique_ptr<AssetRegistry>> AssetRegistry::Open(const std::string& db_path,
                                                           std::shared_ptr<blob::BlobStore> blobs,
                                                           Clock& clock, int busy_timeout_ms,
                                                           PublishListener on_publish) {
  if (!blobs) return InvalidArgument("asset registry: a blob store is required");
  auto rows = store::sqlite::SqliteAssetStore::Open(db_path, busy_timeout_ms);
  if (!rows.ok()) return rows.status().WithContext("asset registry");
  return Open(std::move(*rows), std::move(blobs), clock, std::move(on_publish));
}

Result<AssetRecord> AssetRegistry::Publish(const PublishRequest& req,
                                           const std::filesystem::path& content) {
  // 1. The request alone.
  AssetVersionId id{req.type, req.ns, req.owner, req.repo, req.branch, "", 0};
  bool explicit_build = !req.uuid.empty();
  if (explicit_build) {
    WEIR_ASSIGN_OR_RETURN(AssetVersionId given, ParseUuid(req.uuid));
    auto agree = [&](std::string_view field, std::string& mine, const std::string& theirs) {
      if (mine.empty()) mine = theirs;
      return mine == theirs ? Status::Ok()
                            : InvalidArgument(std::string(field) + ": " + Quote(mine) +
                                              " disagrees with the uuid's " + Quote(theirs));
    };
    WEIR_RETURN_IF_ERROR(agree("type", id.type, given.type));
    WEIR_RETURN_IF_ERROR(agree("namespace", id.ns, given.ns));
    WEIR_RETURN_IF_ERROR(agree("owner", id.owner, given.owner));
    WEIR_RETURN_IF_ERROR(agree("repo", id.repo, given.repo));
    WEIR_RETURN_IF_ERROR(agree("branch", id.branch, given.branch));
    if (!req.commit.empty()) {
      WEIR_ASSIGN_OR_RETURN(std::string c, ShortCommit(req.commit));
      if (c != given.commit) {
        return InvalidArgument("commit: " + Quote(c) + " disagrees with the uuid's " +
                               Quote(given.commit));
      }
    }
    id.commit = given.commit;
    id.build = given.build;
  } else {
    WEIR_RETURN_IF_ERROR(ValidateComponent("type", id.type));
    WEIR_RETURN_IF_ERROR(ValidateComponent("namespace", id.ns));
    WEIR_RETURN_IF_ERROR(ValidateComponent("owner", id.owner));
    WEIR_RETURN_IF_ERROR(ValidateComponent("repo", id.repo));
    WEIR_RETURN_IF_ERROR(ValidateBranch(id.branch));
    if (req.commit.empty()) return InvalidArgument("commit: must be set (8 to 40 hex digits)");
    WEIR_ASSIGN_OR_RETURN(id.commit, ShortCommit(req.commit));
    id.build = 1;  // placeholder for validation; the real build is assigned at insert
  }
  WEIR_RETURN_IF_ERROR(ValidateId(id));
  WEIR_RETURN_IF_ERROR(ValidateFileName(req.file_name));
  std::string ext = req.extension.empty() ? ExtensionOf(req.file_name) : req.extension;
  WEIR_RETURN_IF_ERROR(ValidateExtension(ext));
  if (req.publisher.size() > 255 || !IsValidUtf8(req.publisher)) {
    return InvalidArgument("publisher: at most 255 bytes of valid UTF-8");
  }
  std::optional<std::string> expected;
  if (!req.sha256.empty()) {
    std::string lower = ToLower(req.sha256);
    if (!blob::IsSha256Hex(lower)) {
      return InvalidArgument("sha256: must be 64 hex digits");
    }
    expected = lower;
  }

  // 2. Fail fast on namespace ownership before reading a large upload (checked again below).
  {
    WEIR_ASSIGN_OR_RETURN(std::optional<store::AssetNamespaceRow> owner,
                          impl_->rows->GetNamespace(id.ns));
    WEIR_RETURN_IF_ERROR(CheckOwner(owner, id));
    if (explicit_build) {
      auto existing = impl_->rows->GetVersion(FormatUuid(id));
      if (existing.ok()) {
        return AlreadyExists("asset " + Quote(FormatUuid(id)) +
                             ": already published; versions are immutable, publish without a "
                             "uuid to get the next build");
      }
      if (existing.status().code() != StatusCode::kNotFound) return existing.status();
    }
  }

  // 3. The bytes: size, hash, durable storage.
  struct stat st;
  if (::stat(content.c_str(), &st) != 0) {
    return Internal("asset publish: uploaded content '" + content.string() + "' is missing");
  }
  if (req.size >= 0 && st.st_size != req.size) {
    return InvalidArgument("size: declared " + std::to_string(req.size) + " bytes, received " +
                           std::to_string(st.st_size));
  }
  WEIR_ASSIGN_OR_RETURN(blob::BlobInfo blob, impl_->blobs->PutFile(content, expected));

  // 4. The row, in one store transaction: ownership again (another publish may have claimed the
  // namespace meanwhile), then the build.
  store::AssetVersionRow row;
  row.type = id.type;
  row.ns = id.ns;
  row.owner = id.owner;
  row.repo = id.repo;
  row.branch = id.branch;
  row.commit = id.commit;
  row.sha256 = blob.key;
  row.size = blob.size;
  row.file_name = req.file_name;
  row.extension = ext;
  row.dirty = req.dirty;
  row.publisher = req.publisher;
  Clock& clock = *impl_->clock;
  auto decide = [&](const std::optional<store::AssetNamespaceRow>& owner,
                    store::AssetVersionRow& r) -> Status {
    WEIR_RETURN_IF_ERROR(CheckOwner(owner, id));
    const int64_t next = r.build;
    if (explicit_build) {
      std::string uuid = FormatUuid(id);
      if (id.build < next) {
        return AlreadyExists("asset " + Quote(uuid) +
                             ": already published; versions are immutable, publish without a "
                             "uuid to get build " +
                             std::to_string(next));
      }
      if (id.build > next) {
        return FailedPrecondition("asset " + Quote(uuid) +
                                  ": builds are consecutive; the next build on branch " +
                                  Quote(id.branch) + " is " + std::to_string(next));
      }
    }
    AssetVersionId assigned = id;
    assigned.build = next;
    r.uuid = FormatUuid(assigned);
    r.created = clock.Now();
    return Status::Ok();
  };
  // Under publish_mu from the store's transaction to the listener: listeners hear of versions in
  // commit order.
  std::lock_guard<std::mutex> lock(impl_->publish_mu);
  WEIR_ASSIGN_OR_RETURN(store::AssetVersionRow stored, impl_->rows->PublishVersion(row, decide));
  AssetRecord published = impl_->Record(std::move(stored));
  if (impl_->on_publish) impl_->on_publish(published);
  return published;
}

Result<AssetRecord> AssetRegistry::Get(std::string_view uuid) {
  auto parsed = ParseUuid(uuid);
  if (!parsed.ok()) return parsed.status();
  auto row = impl_->rows->GetVersion(uuid);
  if (!row.ok()) {
    if (row.status().code() == StatusCode::kNotFound) {
      return NotFound("asset " + Quote(uuid) + ": not found");
    }
    return row.status();
  }
  return impl_->Record(std::move(*row));
}

Result<ListPage> AssetRegistry::List(const ListQuery& query) {
  if (query.page < 0) return InvalidArgument("page: must be >= 0");
  if (query.size < 1 || query.size > 1000) return InvalidArgument("size: must be 1..1000");
  store::AssetVersionFilter filter{query.type, query.ns, query.branch, query.owner, query.repo};
  WEIR_ASSIGN_OR_RETURN(store::Page<store::AssetVersionRow> rows,
                        impl_->rows->ListVersions(filter, query.page, query.size));
  ListPage page;
  page.page = query.page;
  page.size = query.size;
  page.total = rows.total;
  page.records = impl_->Records(std::move(rows.items));
  return page;
}

Result<AssetRecord> AssetRegistry::Resolve(const AssetRef& ref) {
  Result<store::AssetVersionRow> found = Status(StatusCode::kInternal, "unreachable");
  switch (ref.form) {
    case RefForm::kLatest:
      found = impl_->rows->NewestVersion(ref.type, ref.ns);
      break;
    case RefForm::kLatestOnBranch:
      found = impl_->rows->NewestOnBranch(ref.type, ref.ns, ref.branch);
      break;
    case RefForm::kBuildOnBranch:
      found = impl_->rows->VersionOnBranch(ref.type, ref.ns, ref.branch, ref.build);
      break;
    case RefForm::kExact:
      found = impl_->rows->GetVersion(FormatUuid(ref.exact));
      break;
  }
  if (found.ok()) return impl_->Record(std::move(*found));
  if (found.status().code() != StatusCode::kNotFound) return found.status();
  // Not found: let the list rules word the message from what exists in the namespace.
  WEIR_ASSIGN_OR_RETURN(std::vector<store::AssetVersionRow> nearby,
                        impl_->rows->VersionsNear(ref.type, ref.ns, false, kNearbyVersions));
  auto r = ResolveInList(impl_->Records(std::move(nearby)), ref);
  if (r.ok()) return NotFound("asset " + Quote(ref.ToString()) + ": not found");
  return r.status();
}

std::vector<std::string> AssetRegistry::Suggestions(const AssetRef& ref) {
  // The referenced namespace's versions, the same namespace under other types, and one row per
  // other namespace of the same type.
  auto rows = impl_->rows->VersionsNear(ref.type, ref.ns, true, kNearbyVersions);
  if (!rows.ok()) return {};
  return SuggestInList(impl_->Records(std::move(*rows)), ref);
}

}  // namespace weir::assets
