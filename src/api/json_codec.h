// JSON on the wire: the Genie v3 mapping of configuration resources (applications, commands,
// clusters), and the helpers every route file shares — strict body parsing with errors that
// name the field, HAL links, Genie's search pages, RFC 6902 JSON Patch.
//
// Error codes (what the routes answer, see HttpStatusFor):
//   kInvalidArgument (400)     malformed JSON, invalid UTF-8, a field of the wrong type, an
//                              unknown enum value, a malformed patch or query parameter
//   kFailedPrecondition (412)  a well-typed value that breaks a constraint (blank name, too long,
//                              missing status, bad id), a patch whose path is absent or whose
//                              `test` fails — Genie's "precondition" answers
// Messages read "<field>: <what is wrong and what is allowed>".
//
// Pure functions over values; thread-safe.
#pragma once

#include <boost/json.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "api/http.h"
#include "common/result.h"
#include "model/config.h"
#include "store/store.h"

namespace weir::api {

namespace json = boost::json;

inline constexpr std::string_view kHalJson = "application/hal+json";
inline constexpr std::string_view kJsonType = "application/json";

// ---------------------------------------------------------------------------------------------
// Responses

// Serializes `v` into a response with the given status and content type.
HttpResponse JsonResponse(int status, const json::value& v, std::string_view content_type = kJsonType);

// ---------------------------------------------------------------------------------------------
// Parsing request bodies

// Parses JSON text. kInvalidArgument "<what>: invalid JSON (...)" for empty text, syntax
// errors, invalid UTF-8 or nesting deeper than 64.
Result<json::value> ParseJson(std::string_view text, std::string_view what = "request body");
// ParseJson(req.body, "request body").
Result<json::value> ParseJsonBody(const HttpRequest& req);

// Typed field readers over an object: absent and null read as nullopt/empty; any other wrong
// type is kInvalidArgument naming `field` ("tags: must be an array of strings").
Result<std::optional<std::string>> OptionalString(const json::object& o, std::string_view field);
Result<std::optional<int64_t>> OptionalInt(const json::object& o, std::string_view field);
Result<std::optional<bool>> OptionalBool(const json::object& o, std::string_view field);
// A JSON array of strings (null: empty).
Result<std::vector<std::string>> StringArray(const json::value& v, std::string_view field);
Result<std::vector<std::string>> OptionalStringArray(const json::object& o, std::string_view field);

// ---------------------------------------------------------------------------------------------
// HAL links
//
// Genie renders links two ways: a single resource or a search page carries a HAL object
//   "_links": {"self": {"href": "..."}, "commands": {"href": "...{?status}", "templated": true}}
// while an endpoint answering a bare JSON array renders each item's links as a list
//   "links": [{"rel": "self", "href": "..."}, ...]

struct Link {
  std::string rel;
  std::string href;
  bool templated = false;
};

// {"href": href} plus "templated": true when templated.
json::object HalLink(std::string_view href, bool templated = false);
// The HAL `_links` object of `links`, in order.
json::object HalLinks(const std::vector<Link>& links);
// The list form: [{"rel": ..., "href": ...}, ...] (no "templated" member, as Genie does).
json::array ListLinks(const std::vector<Link>& links);
// base_url + "/api/v3/" + collection + "/" + percent-encoded id.
std::string ResourceUrl(std::string_view base_url, std::string_view collection,
                        std::string_view id);

// ---------------------------------------------------------------------------------------------
// Configuration resources (applications, commands, clusters)

enum class LinkStyle { kNone, kHal, kList };

// The Genie links of a configuration resource: Application self, commands{?status}; Command
// self, applications, clusters{?status}; Cluster self, commands{?status}.
std::vector<Link> ConfigLinks(const model::ConfigEntity& e, std::string_view base_url);
// The resource's JSON in Genie's field order (id, created, updated, version, user, name,
// description, metadata, tags, configs, dependencies, setupFile, status, then type /
// executable, checkDelay, memory), dates ISO-8601 ms UTC, absent optionals as null; with
// kHal a trailing "_links", with kList a trailing "links".
json::object ConfigToJson(const model::ConfigEntity& e, std::string_view base_url = {},
                          LinkStyle style = LinkStyle::kNone);
// Reads a request body's resource of `kind`. Type errors and unknown status values are
// kInvalidArgument; a missing status is kFailedPrecondition. `created`, `updated` and `_links`
// are ignored, unknown members too. Does not check lengths or blanks: see ValidateConfig.
Result<model::ConfigEntity> ConfigFromJson(model::Kind kind, const json::value& v);
// model::Validate plus Genie's size limits on setupFile, configs, dependencies (≤1024), type
// and executable (≤255); every failure is kFailedPrecondition naming the field.
Status ValidateConfig(const model::ConfigEntity& e);

// ---------------------------------------------------------------------------------------------
// Search pages (Genie/Spring paging)

struct PageQuery {
  store::PageRequest request;
  std::string sort_text;  // the sort as it goes into page links: "updated,desc" by default
};

// Reads `page` (0-based, default 0), `size` (default `default_size`, at most 1000) and the
// repeatable `sort` ("field[,field...][,asc|desc]", default direction asc). kInvalidArgument
// naming the parameter for non-numbers or out-of-range values. Field names are not checked
// here (the store answers kInvalidArgument for unknown ones).
Result<PageQuery> ParsePageQuery(const HttpRequest& req, int default_size,
                                 std::string_view default_sort);

// A Genie search answer:
//   {"_embedded": {"<list_name>": items},
//    "_links": {"self": {"href": base+path+"?<given filters>{&<other filters>}", "templated": true},
//               "first"/"prev"/"next"/"last": {"href": ...?<filters>&page=N&size=S&sort=...}},
//    "page": {"size": S, "totalElements": T, "totalPages": P, "number": N}}
// `filter_names` are the search's filter parameters in Genie's order; the filters the request
// gave are echoed in request order. first/last appear when there are several pages, prev/next
// when such a page exists. `_embedded` is always present (an empty list when nothing matched).
json::object SearchPage(const HttpRequest& req, std::string_view list_name, json::array items,
                        int64_t total_elements, const PageQuery& page,
                        const std::vector<std::string>& filter_names);

// Reads an epoch-milliseconds query parameter (absent: nullopt). kInvalidArgument naming it.
Result<std::optional<TimePoint>> QueryEpochMillis(const HttpRequest& req, std::string_view name);

// ---------------------------------------------------------------------------------------------
// JSON Patch (RFC 6902) with JSON Pointer (RFC 6901)

// Bounds of one patch: its number of operations, and the serialized size of the document after
// every operation (checked as it is applied, so an amplifying `copy` stops before it copies).
inline constexpr size_t kMaxPatchOps = 1000;
inline constexpr size_t kMaxPatchedDocumentBytes = 1 << 20;

// Applies `patch` (an array of {op, path, from?, value?} with op add, remove, replace, move,
// copy, test) to a copy of `doc`. A malformed patch is kInvalidArgument; a path that does not
// exist, an index out of range or a failed `test` is kFailedPrecondition; more than
// `max_ops` operations, or a document that would grow over `max_bytes` serialized, is
// kPayloadTooLarge naming the limit ("json patch: result is larger than 1048576 bytes ...").
// All or nothing.
Result<json::value> ApplyJsonPatch(const json::value& doc, const json::value& patch,
                                   size_t max_ops = kMaxPatchOps,
                                   size_t max_bytes = kMaxPatchedDocumentBytes);

// The number of bytes json::serialize writes for `v`, or any number above `limit` once the walk
// has seen more than `limit` bytes (it stops there: O(min(size, limit))).
size_t JsonSizeUpTo(const json::value& v, size_t limit);

}  // namespace weir::api
