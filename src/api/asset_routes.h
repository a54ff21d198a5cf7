// HTTP routes of the versioned asset registry, under /api/weir/v1/assets (docs/api.md "Assets"):
//
//   POST /api/weir/v1/assets?type=&namespace=&owner=&repo=&branch=&commit=[&dirty=&file=
//        &extension=&uuid=&publisher=]        body: the raw bytes (streamed to disk)
//        Content-Length required (the declared size; 411 without it, 413 over the limit before
//        any byte is read); X-Weir-Sha256 optional (verified). 201 + Location + the record.
//   GET  /api/weir/v1/assets?type=&namespace=&branch=&owner=&repo=&page=&size=
//        {"assets": [records, newest first], "page": {size, totalElements, totalPages, number}}
//   GET  /api/weir/v1/assets/{uuid}            the record
//   GET  /api/weir/v1/assets/{uuid}/content    the bytes (X-Weir-Sha256, ETag = sha256)
//   GET  /api/weir/v1/assets:resolve?ref=REF   the record REF resolves to; 404 whose message
//        lists what exists ("…; existing: branch 'main' (builds 1..4)")
//   GET  /api/weir/v1/assets:suggest?ref=REF   {"suggestions": [...]}
//
// Errors (Genie's error body via ErrorResponse): 400 bad or missing field, unknown query
// parameter, invalid UTF-8, size or hash mismatch; 403 namespace owned by another repository, or
// (with authentication) a namespace the principal does not own (assets.namespace_owners);
// 404; 409 explicit uuid already published; 411; 412 namespace of another type or a build that
// is not the next; 413 body over the limit.
//
// Threading: handlers run on the server's I/O threads and call the registry (thread-safe). A
// publish hashes and copies the spooled body into the blob store inside the handler, so it
// occupies its thread for as long as that takes (about a second per GiB on local disks).
#pragma once

#include <cstdint>
#include <memory>

#include "api/access.h"
#include "api/http.h"
#include "assets/registry.h"

namespace weir::api {

struct AssetRouteOptions {
  uint64_t max_upload_bytes = uint64_t{2} << 30;  // 2 GiB
  // Namespace owners (access.h); null: the default policy (anyone publishes). Applies only to
  // requests with a principal, whose name then becomes the publisher.
  std::shared_ptr<const AccessPolicy> access;
};

// Registers the asset endpoints on `router`; the handlers share ownership of `registry`.
void RegisterAssetRoutes(Router& router, std::shared_ptr<assets::AssetRegistry> registry,
                         AssetRouteOptions options = {});

}  // namespace weir::api
