// Client side of the asset API (/api/weir/v1/assets, see docs/api.md): publishing, reading and
// resolving through a weir server's HTTP API, for the CLI and `weir project deploy`.
//
// Every function takes a client::HttpClient, which is not thread-safe: callers use one client
// per thread. NewHttpCatalog's catalog serialises its own calls and may be shared by threads;
// the client must outlive it. Errors follow the server's status (404 → kNotFound, 409 →
// kAlreadyExists, 403 → kPermissionDenied, 412 → kFailedPrecondition, 413 → kResourceExhausted,
// other 4xx → kInvalidArgument, 5xx → kInternal) with the server's message; transport failures
// are kUnavailable / kDeadlineExceeded naming the server.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "assets/catalog.h"
#include "assets/registry.h"
#include "client/http_client.h"

namespace weir::assets {

inline constexpr std::string_view kAssetsApi = "/api/weir/v1/assets";

// Uploads `file` as a new version (streamed from disk, with its SHA-256 computed first and sent
// as X-Weir-Sha256 so the server verifies it) and returns the server's record. `request.size`
// and `request.sha256` are filled from the file when empty.
Result<AssetRecord> PublishViaHttp(client::HttpClient& client, const PublishRequest& request,
                                   const std::filesystem::path& file);
Result<AssetRecord> GetViaHttp(client::HttpClient& client, std::string_view uuid);
Result<ListPage> ListViaHttp(client::HttpClient& client, const ListQuery& query);
// Downloads the bytes of `record` to `dest` (whole or untouched) and checks size and SHA-256
// against the record (kInternal on a mismatch; `dest` is removed then).
Status DownloadViaHttp(client::HttpClient& client, const AssetRecord& record,
                       const std::filesystem::path& dest);

// An AssetCatalog answered by a server (GET …/assets:resolve and …/assets:suggest).
std::unique_ptr<AssetCatalog> NewHttpCatalog(client::HttpClient& client);

// Status for a non-2xx response of the asset API (the mapping above).
Status AssetApiStatus(const client::Response& response);

}  // namespace weir::assets
