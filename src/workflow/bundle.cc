#include "workflow/bundle.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <boost/json.hpp>
#include <set>
#include <system_error>

#include "blob/sha256.h"
#include "common/fs.h"
#include "common/ids.h"
#include "workflow/project.h"

namespace weir::workflow {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;

constexpr size_t kMaxManifestBytes = 8 << 20;

void AppendString(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out += '"';
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          out += "\\u00";
          out += kHex[c >> 4];
          out += kHex[c & 15];
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += '"';
}

// Writes {"k1":v1,...} with keys in the order given, which callers keep sorted.
class ObjectWriter {
 public:
  explicit ObjectWriter(std::string& out) : out_(out) { out_ += '{'; }
  ~ObjectWriter() { out_ += '}'; }
  std::string& Key(std::string_view k) {
    if (!first_) out_ += ',';
    first_ = false;
    AppendString(out_, k);
    out_ += ':';
    return out_;
  }
  void Str(std::string_view k, std::string_view v) { AppendString(Key(k), v); }
  void Int(std::string_view k, int64_t v) { Key(k) += std::to_string(v); }
  void Bool(std::string_view k, bool v) { Key(k) += v ? "true" : "false"; }

 private:
  std::string& out_;
  bool first_ = true;
};

Result<std::string> GetString(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr || !v->is_string()) {
    return InvalidArgument("bundle manifest: '" + std::string(key) + "' must be a string");
  }
  return std::string(v->as_string());
}

Result<int64_t> GetInt(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr || !(v->is_int64() || v->is_uint64())) {
    return InvalidArgument("bundle manifest: '" + std::string(key) + "' must be an integer");
  }
  return v->is_int64() ? v->as_int64() : static_cast<int64_t>(v->as_uint64());
}

Result<const json::array*> GetArray(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr || !v->is_array()) {
    return InvalidArgument("bundle manifest: '" + std::string(key) + "' must be a list");
  }
  return &v->as_array();
}

Status FsyncDir(const fs::path& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus("open " + dir.string(), errno);
  ::fsync(fd);
  ::close(fd);
  return Status::Ok();
}

// Checks a bundle folder's content against its manifest.
Result<BundleManifest> VerifyDir(const fs::path& dir, std::string_view expected_id) {
  WEIR_ASSIGN_OR_RETURN(std::string text, ReadFile(dir / "manifest.json"));
  if (blob::Sha256Hex(text) != expected_id) {
    return Internal("bundle " + dir.string() + ": manifest.json does not hash to the bundle id");
  }
  WEIR_ASSIGN_OR_RETURN(BundleManifest m, ParseManifest(text));
  if (CanonicalJson(m) != text) {
    return Internal("bundle " + dir.string() + ": manifest.json is not in canonical form");
  }
  WEIR_ASSIGN_OR_RETURN(std::string definition, ReadFile(dir / "definition.yaml"));
  if (definition != m.definition) {
    return Internal("bundle " + dir.string() + ": definition.yaml differs from the manifest");
  }
  for (const BundleFile& f : m.files) {
    Result<std::string> hash = blob::Sha256File(dir / "files" / f.sha256);
    if (!hash) return Internal("bundle " + dir.string() + ": file " + f.path + " is missing");
    if (*hash != f.sha256) {
      return Internal("bundle " + dir.string() + ": file " + f.path + " is corrupt (hash " + *hash +
                      ")");
    }
  }
  return m;
}

}  // namespace

BundleManifest MakeManifest(std::string workflow_id, std::string environment, std::string owner,
                            std::string repo, std::string branch, std::string commit, bool dirty,
                            std::string workflow_file, const RenderResult& render) {
  BundleManifest m;
  m.workflow_id = std::move(workflow_id);
  m.environment = std::move(environment);
  m.owner = std::move(owner);
  m.repo = std::move(repo);
  m.branch = std::move(branch);
  m.commit = std::move(commit);
  m.dirty = dirty;
  m.workflow_file = std::move(workflow_file);
  m.definition = render.text;
  m.definition_sha256 = blob::Sha256Hex(m.definition);
  for (const assets::AssetRecord& a : render.assets) {
    m.assets.push_back({a.uuid, a.sha256, a.uri, DependencyFileName(a)});
  }
  for (const FileRef& f : render.files) m.files.push_back({f.path, f.sha256, f.size, f.uri});
  Normalize(m);
  return m;
}

bool IsPlainFileName(std::string_view name) {
  if (name.empty() || name.size() > 255 || name == "." || name == "..") return false;
  return std::none_of(name.begin(), name.end(), [](char c) {
    return c == '/' || c == '\\' || static_cast<unsigned char>(c) < 0x20 || c == 0x7f;
  });
}

std::string DependencyFileName(const assets::AssetRecord& record) {
  if (IsPlainFileName(record.file_name)) return record.file_name;
  if (!record.extension.empty()) {
    std::string name = record.id.ns + "." + record.extension;
    if (IsPlainFileName(name)) return name;
  }
  return "";
}

void Normalize(BundleManifest& m) {
  auto by_asset = [](const BundleAsset& a, const BundleAsset& b) {
    return std::tie(a.uuid, a.sha256, a.uri, a.file_name) <
           std::tie(b.uuid, b.sha256, b.uri, b.file_name);
  };
  std::sort(m.assets.begin(), m.assets.end(), by_asset);
  m.assets.erase(std::unique(m.assets.begin(), m.assets.end()), m.assets.end());
  auto by_file = [](const BundleFile& a, const BundleFile& b) {
    return std::tie(a.path, a.sha256, a.size, a.uri) < std::tie(b.path, b.sha256, b.size, b.uri);
  };
  std::sort(m.files.begin(), m.files.end(), by_file);
  m.files.erase(std::unique(m.files.begin(), m.files.end()), m.files.end());
}

Status ValidateManifest(const BundleManifest& m) {
  const std::string ctx = "bundle manifest";
  if (m.format != kBundleFormatVersion) {
    return InvalidArgument(ctx + ": format " + std::to_string(m.format) + " is not supported (" +
                           std::to_string(kBundleFormatVersion) + " is)");
  }
  for (auto [field, value] :
       {std::pair<const char*, const std::string*>{"workflow_id", &m.workflow_id},
        {"owner", &m.owner},
        {"repo", &m.repo},
        {"branch", &m.branch},
        {"workflow_file", &m.workflow_file}}) {
    if (value->empty()) return InvalidArgument(ctx + ": '" + field + "' must not be empty");
  }
  WEIR_RETURN_IF_ERROR(ValidateEnvironmentName(m.environment).WithContext(ctx));
  if (m.commit.size() != 40 || !std::all_of(m.commit.begin(), m.commit.end(), [](char c) {
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
      })) {
    return InvalidArgument(ctx + ": 'commit' must be 40 lower-case hex digits");
  }
  if (blob::Sha256Hex(m.definition) != m.definition_sha256) {
    return InvalidArgument(ctx + ": 'definition_sha256' does not match the definition");
  }
  std::set<std::string> seen;
  for (const BundleAsset& a : m.assets) {
    if (!blob::IsSha256Hex(a.sha256)) {
      return InvalidArgument(ctx + ": asset '" + a.uuid + "': sha256 must be 64 hex digits");
    }
    if (a.uri.empty()) return InvalidArgument(ctx + ": asset '" + a.uuid + "': uri is empty");
    if (!a.file_name.empty() && !IsPlainFileName(a.file_name)) {
      return InvalidArgument(ctx + ": asset '" + a.uuid + "': file_name '" + a.file_name +
                             "' is not a plain file name");
    }
    if (!seen.insert(a.uuid).second) {
      return InvalidArgument(ctx + ": asset '" + a.uuid + "' is listed twice");
    }
  }
  seen.clear();
  for (const BundleFile& f : m.files) {
    if (std::string e = CheckRelativePath(f.path); !e.empty()) {
      return InvalidArgument(ctx + ": file '" + f.path + "': " + e);
    }
    if (!blob::IsSha256Hex(f.sha256)) {
      return InvalidArgument(ctx + ": file '" + f.path + "': sha256 must be 64 hex digits");
    }
    if (f.size < 0) return InvalidArgument(ctx + ": file '" + f.path + "': negative size");
    if (!seen.insert(f.path).second) {
      return InvalidArgument(ctx + ": file '" + f.path + "' is listed twice");
    }
  }
  return Status::Ok();
}

std::string CanonicalJson(const BundleManifest& in) {
  BundleManifest m = in;
  Normalize(m);
  std::string out;
  out.reserve(m.definition.size() + 512 + 256 * (m.assets.size() + m.files.size()));
  {
    ObjectWriter w(out);  // keys in byte order
    {
      std::string& s = w.Key("assets");
      s += '[';
      for (size_t i = 0; i < m.assets.size(); ++i) {
        if (i > 0) s += ',';
        ObjectWriter a(s);
        if (!m.assets[i].file_name.empty()) a.Str("file_name", m.assets[i].file_name);
        a.Str("sha256", m.assets[i].sha256);
        a.Str("uri", m.assets[i].uri);
        a.Str("uuid", m.assets[i].uuid);
      }
      s += ']';
    }
    w.Str("branch", m.branch);
    w.Str("commit", m.commit);
    w.Str("definition", m.definition);
    w.Str("definition_sha256", m.definition_sha256);
    w.Bool("dirty", m.dirty);
    w.Str("environment", m.environment);
    {
      std::string& s = w.Key("files");
      s += '[';
      for (size_t i = 0; i < m.files.size(); ++i) {
        if (i > 0) s += ',';
        ObjectWriter f(s);
        f.Str("path", m.files[i].path);
        f.Str("sha256", m.files[i].sha256);
        f.Int("size", m.files[i].size);
        f.Str("uri", m.files[i].uri);
      }
      s += ']';
    }
    w.Int("format", m.format);
    w.Str("owner", m.owner);
    w.Str("repo", m.repo);
    w.Str("workflow_file", m.workflow_file);
    w.Str("workflow_id", m.workflow_id);
  }
  return out;
}

std::string BundleId(const BundleManifest& m) { return blob::Sha256Hex(CanonicalJson(m)); }

Result<BundleManifest> ParseManifest(std::string_view text) {
  if (text.size() > kMaxManifestBytes) {
    return InvalidArgument("bundle manifest: larger than " + std::to_string(kMaxManifestBytes) +
                           " bytes");
  }
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec || !v.is_object()) {
    return InvalidArgument("bundle manifest: not a JSON object" +
                           (ec ? ": " + ec.message() : std::string()));
  }
  const json::object& o = v.as_object();
  static const std::set<std::string> kKeys = {
      "assets", "branch", "commit", "definition", "definition_sha256", "dirty",      "environment",
      "files",  "format", "owner",  "repo",       "workflow_file",     "workflow_id"};
  for (const auto& kv : o) {
    if (!kKeys.count(std::string(kv.key()))) {
      return InvalidArgument("bundle manifest: unknown key '" + std::string(kv.key()) + "'");
    }
  }
  BundleManifest m;
  WEIR_ASSIGN_OR_RETURN(int64_t format, GetInt(o, "format"));
  m.format = static_cast<int>(format);
  WEIR_ASSIGN_OR_RETURN(m.workflow_id, GetString(o, "workflow_id"));
  WEIR_ASSIGN_OR_RETURN(m.environment, GetString(o, "environment"));
  WEIR_ASSIGN_OR_RETURN(m.owner, GetString(o, "owner"));
  WEIR_ASSIGN_OR_RETURN(m.repo, GetString(o, "repo"));
  WEIR_ASSIGN_OR_RETURN(m.branch, GetString(o, "branch"));
  WEIR_ASSIGN_OR_RETURN(m.commit, GetString(o, "commit"));
  WEIR_ASSIGN_OR_RETURN(m.workflow_file, GetString(o, "workflow_file"));
  WEIR_ASSIGN_OR_RETURN(m.definition, GetString(o, "definition"));
  WEIR_ASSIGN_OR_RETURN(m.definition_sha256, GetString(o, "definition_sha256"));
  const json::value* dirty = o.if_contains("dirty");
  if (dirty == nullptr || !dirty->is_bool()) {
    return InvalidArgument("bundle manifest: 'dirty' must be true or false");
  }
  m.dirty = dirty->as_bool();
  WEIR_ASSIGN_OR_RETURN(const json::array* assets, GetArray(o, "assets"));
  for (const json::value& item : *assets) {
    if (!item.is_object()) return InvalidArgument("bundle manifest: assets[] must be objects");
    BundleAsset a;
    WEIR_ASSIGN_OR_RETURN(a.uuid, GetString(item.as_object(), "uuid"));
    WEIR_ASSIGN_OR_RETURN(a.sha256, GetString(item.as_object(), "sha256"));
    WEIR_ASSIGN_OR_RETURN(a.uri, GetString(item.as_object(), "uri"));
    if (item.as_object().contains("file_name")) {
      WEIR_ASSIGN_OR_RETURN(a.file_name, GetString(item.as_object(), "file_name"));
    }
    m.assets.push_back(std::move(a));
  }
  WEIR_ASSIGN_OR_RETURN(const json::array* files, GetArray(o, "files"));
  for (const json::value& item : *files) {
    if (!item.is_object()) return InvalidArgument("bundle manifest: files[] must be objects");
    BundleFile f;
    WEIR_ASSIGN_OR_RETURN(f.path, GetString(item.as_object(), "path"));
    WEIR_ASSIGN_OR_RETURN(f.sha256, GetString(item.as_object(), "sha256"));
    WEIR_ASSIGN_OR_RETURN(f.size, GetInt(item.as_object(), "size"));
    WEIR_ASSIGN_OR_RETURN(f.uri, GetString(item.as_object(), "uri"));
    m.files.push_back(std::move(f));
  }
  Normalize(m);
  WEIR_RETURN_IF_ERROR(ValidateManifest(m));
  return m;
}

FileContent RepositoryFileContent(fs::path root) {
  return [root = std::move(root)](const BundleFile& f) -> Result<std::string> {
    WEIR_ASSIGN_OR_RETURN(fs::path real, ResolveInside(root, f.path));
    return ReadFile(real);
  };
}

Result<fs::path> WriteBundleDir(const fs::path& parent, const BundleManifest& in,
                                const FileContent& content) {
  BundleManifest m = in;
  Normalize(m);
  WEIR_RETURN_IF_ERROR(ValidateManifest(m));
  const std::string manifest = CanonicalJson(m);
  const std::string id = blob::Sha256Hex(manifest);
  const fs::path final_dir = parent / id;
  std::error_code ec;
  if (fs::exists(final_dir, ec)) {
    // Same id, same content: verify what is there and reuse it.
    WEIR_ASSIGN_OR_RETURN(BundleManifest existing, VerifyDir(final_dir, id));
    (void)existing;
    return final_dir;
  }
  WEIR_RETURN_IF_ERROR(MakeDirs(parent));
  const fs::path tmp = parent / (".tmp-" + id.substr(0, 16) + "-" + NewUuid());
  auto cleanup = [&] {
    std::error_code ignored;
    fs::remove_all(tmp, ignored);
  };
  Status st = [&]() -> Status {
    WEIR_RETURN_IF_ERROR(MakeDirs(tmp / "files"));
    for (const BundleFile& f : m.files) {
      WEIR_ASSIGN_OR_RETURN(std::string bytes, content(f));
      if (blob::Sha256Hex(bytes) != f.sha256) {
        return InvalidArgument("bundle: file '" + f.path +
                               "' changed since it was rendered; render and deploy again");
      }
      WEIR_RETURN_IF_ERROR(WriteFileAtomic(tmp / "files" / f.sha256, bytes));
    }
    WEIR_RETURN_IF_ERROR(WriteFileAtomic(tmp / "definition.yaml", m.definition));
    WEIR_RETURN_IF_ERROR(WriteFileAtomic(tmp / "manifest.json", manifest));
    WEIR_ASSIGN_OR_RETURN(BundleManifest verified, VerifyDir(tmp, id));
    (void)verified;
    WEIR_RETURN_IF_ERROR(FsyncDir(tmp));
    return Status::Ok();
  }();
  if (!st.ok()) {
    cleanup();
    return st;
  }
  fs::rename(tmp, final_dir, ec);
  if (ec) {
    cleanup();
    // Another writer won the race with the same content.
    if (fs::exists(final_dir)) {
      WEIR_ASSIGN_OR_RETURN(BundleManifest existing, VerifyDir(final_dir, id));
      (void)existing;
      return final_dir;
    }
    return ErrnoStatus("bundle: rename to " + final_dir.string(), ec.value());
  }
  WEIR_RETURN_IF_ERROR(FsyncDir(parent));
  return final_dir;
}

Result<BundleManifest> ReadBundleDir(const fs::path& dir) {
  std::string id = dir.filename().string();
  if (!blob::IsSha256Hex(id)) {
    return InvalidArgument("bundle " + dir.string() + ": folder name is not a bundle id");
  }
  return VerifyDir(dir, id);
}

Result<std::string> PutBundleBlobs(blob::BlobStore& store, const BundleManifest& in,
                                   const FileContent& content) {
  BundleManifest m = in;
  Normalize(m);
  WEIR_RETURN_IF_ERROR(ValidateManifest(m));
  for (const BundleFile& f : m.files) {
    WEIR_ASSIGN_OR_RETURN(std::string bytes, content(f));
    Result<blob::BlobInfo> put = store.PutBytes(bytes, f.sha256);
    if (!put) return put.status().WithContext("bundle: file '" + f.path + "'");
  }
  const std::string manifest = CanonicalJson(m);
  const std::string id = blob::Sha256Hex(manifest);
  WEIR_ASSIGN_OR_RETURN(blob::BlobInfo info, store.PutBytes(manifest, id));
  return info.key;
}

Result<BundleManifest> VerifyBundleBlobs(blob::BlobStore& store, std::string_view bundle_id) {
  WEIR_RETURN_IF_ERROR(blob::ValidateKey(bundle_id).WithContext("bundle id"));
  Result<std::unique_ptr<blob::BlobReader>> reader = store.Open(bundle_id);
  if (!reader) {
    if (reader.status().code() == StatusCode::kNotFound) {
      return FailedPrecondition("bundle " + std::string(bundle_id) + ": manifest not stored");
    }
    return reader.status();
  }
  if ((*reader)->size() > static_cast<int64_t>(kMaxManifestBytes)) {
    return InvalidArgument("bundle " + std::string(bundle_id) + ": manifest too large");
  }
  std::string text;
  char buf[65536];
  while (true) {
    WEIR_ASSIGN_OR_RETURN(size_t n, (*reader)->Read(buf, sizeof buf));
    if (n == 0) break;
    text.append(buf, n);
  }
  if (blob::Sha256Hex(text) != bundle_id) {
    return Internal("bundle " + std::string(bundle_id) + ": stored manifest is corrupt");
  }
  WEIR_ASSIGN_OR_RETURN(BundleManifest m, ParseManifest(text));
  for (const BundleFile& f : m.files) {
    Result<blob::BlobInfo> info = store.Stat(f.sha256);
    if (!info) {
      return FailedPrecondition("bundle " + std::string(bundle_id) + ": file '" + f.path + "' (" +
                                f.sha256 + ") is not stored");
    }
    if (info->size != f.size) {
      return FailedPrecondition("bundle " + std::string(bundle_id) + ": file '" + f.path +
                                "' has size " + std::to_string(info->size) + ", manifest says " +
                                std::to_string(f.size));
    }
  }
  return m;
}

}  // namespace weir::workflow
