#include "assets/asset_json.h"

#include <boost/json.hpp>

#include "common/time_format.h"

namespace weir::assets {
namespace json = boost::json;

json::object RecordToJsonObject(const AssetRecord& r) {
  json::object o;
  o["uuid"] = r.uuid;
  o["type"] = r.id.type;
  o["namespace"] = r.id.ns;
  o["owner"] = r.id.owner;
  o["repo"] = r.id.repo;
  o["branch"] = r.id.branch;
  o["commit"] = r.id.commit;
  o["build"] = r.id.build;
  o["sha256"] = r.sha256;
  o["size"] = r.size;
  o["uri"] = r.uri;
  o["path"] = r.path;
  o["fileName"] = r.file_name;
  o["extension"] = r.extension;
  o["dirty"] = r.dirty;
  o["publisher"] = r.publisher;
  o["created"] = FormatIso8601(r.created);
  return o;
}

std::string RecordToJson(const AssetRecord& r) { return json::serialize(RecordToJsonObject(r)); }

Result<AssetRecord> RecordFromJson(const json::value& v) {
  if (!v.is_object()) return InvalidArgument("asset record: expected a JSON object");
  const json::object& o = v.as_object();
  auto str = [&](const char* key, std::string& out, bool required) -> Status {
    const json::value* f = o.if_contains(key);
    if (f == nullptr || f->is_null()) {
      return required ? InvalidArgument(std::string("asset record: field '") + key + "' missing")
                      : Status::Ok();
    }
    if (!f->is_string()) {
      return InvalidArgument(std::string("asset record: field '") + key + "' must be a string");
    }
    out = std::string(f->as_string());
    return Status::Ok();
  };
  auto num = [&](const char* key, int64_t& out) -> Status {
    const json::value* f = o.if_contains(key);
    if (f == nullptr || !(f->is_int64() || f->is_uint64())) {
      return InvalidArgument(std::string("asset record: field '") + key + "' must be an integer");
    }
    out = f->is_int64() ? f->as_int64() : static_cast<int64_t>(f->as_uint64());
    return Status::Ok();
  };
  AssetRecord r;
  WEIR_RETURN_IF_ERROR(str("uuid", r.uuid, true));
  auto id = ParseUuid(r.uuid);
  if (!id.ok()) return id.status().WithContext("asset record");
  r.id = *id;
  WEIR_RETURN_IF_ERROR(str("sha256", r.sha256, true));
  WEIR_RETURN_IF_ERROR(num("size", r.size));
  WEIR_RETURN_IF_ERROR(str("uri", r.uri, true));
  WEIR_RETURN_IF_ERROR(str("path", r.path, false));
  WEIR_RETURN_IF_ERROR(str("fileName", r.file_name, false));
  WEIR_RETURN_IF_ERROR(str("extension", r.extension, false));
  WEIR_RETURN_IF_ERROR(str("publisher", r.publisher, false));
  if (const json::value* d = o.if_contains("dirty"); d != nullptr && d->is_bool()) {
    r.dirty = d->as_bool();
  }
  std::string created;
  WEIR_RETURN_IF_ERROR(str("created", created, false));
  if (!created.empty()) {
    auto t = ParseIso8601(created);
    if (!t.ok()) return t.status().WithContext("asset record: field 'created'");
    r.created = *t;
  }
  if (r.path.empty()) r.path = LayoutPath(r.id, r.extension);
  return r;
}

Result<AssetRecord> RecordFromJsonText(std::string_view text) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec) return InvalidArgument("asset record: invalid JSON: " + ec.message());
  return RecordFromJson(v);
}

}  // namespace weir::assets
