// The JSON form of an asset version, shared by the HTTP routes, the HTTP catalog and the CLI:
//   {"uuid": "dataflow.jar.etl.user.repo.main.39206ee8.3", "type": "jar", "namespace": "etl",
//    "owner": "user", "repo": "repo", "branch": "main", "commit": "39206ee8", "build": 3,
//    "sha256": "…", "size": 1234, "uri": "file:///…", "path": "assets/jar/etl/…/3.jar",
//    "fileName": "etl.jar", "extension": "jar", "dirty": false, "publisher": "alice",
//    "created": "2024-01-01T00:00:00.000Z"}
// Pure functions, thread-safe. Parsing errors are kInvalidArgument naming the field.
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <string>
#include <string_view>

#include "assets/catalog.h"
#include "common/result.h"

namespace weir::assets {

boost::json::object RecordToJsonObject(const AssetRecord& r);
std::string RecordToJson(const AssetRecord& r);
Result<AssetRecord> RecordFromJson(const boost::json::value& v);
Result<AssetRecord> RecordFromJsonText(std::string_view text);

}  // namespace weir::assets
