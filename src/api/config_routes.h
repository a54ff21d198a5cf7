// HTTP routes of the configuration resources (Genie v3): /api/v3/applications, /commands and
// /clusters with their searches, sub-collections (configs, dependencies, tags), ordered links
// (a command's applications, a cluster's commands) and reverse lookups.
//
// Behaviour follows ../shared/spec/genie-v3-api.md: create 201 + Location (empty body); PUT,
// PATCH (RFC 6902), DELETE and sub-collection writes 204; resources and searches answer
// application/hal+json, configs/dependencies/tags application/json, link lists a JSON array
// whose items carry "links" instead of "_links". Errors: malformed JSON, wrong types, unknown
// status values or bad query parameters 400; unknown id 404; duplicate id 409; validation
// failures, unknown linked ids and deleting a linked application 412. Every route takes bodies
// up to 1 MiB (413 beyond).
//
// Threading: handlers may run concurrently; read-modify-write sequences (sub-collections, links,
// PATCH) are serialised inside the routes so concurrent additions are not lost.
#pragma once

#include <memory>

#include "api/http.h"
#include "common/clock.h"
#include "store/store.h"

namespace weir::api {

// Registers every configuration endpoint on `router`. `store` and `clock` must outlive it.
void RegisterConfigRoutes(Router& router, std::shared_ptr<store::ConfigStore> store, Clock& clock);

}  // namespace weir::api
