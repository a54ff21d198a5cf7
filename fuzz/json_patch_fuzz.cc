// Fuzz target: JSON Patch (RFC 6902) as PATCH /api/v3/<configs>/{id} applies it (ApplyJsonPatch,
// then ConfigFromJson over the result).
// Input: a JSON Patch array, applied to an application's GET body; or an object
// {"doc": <document>, "patch": <patch>} to patch any document.
// Invariants: applying is deterministic; a patch of only `test` operations that succeeds leaves
// the document unchanged; the input document is never modified.
#include <boost/json.hpp>

#include "api/json_codec.h"
#include "fuzz_util.h"

namespace {

const boost::json::value& SampleDocument() {
  static const boost::json::value* doc = new boost::json::value(boost::json::parse(R"({
    "id": "spark-3", "created": "2026-01-01T00:00:00.000Z", "updated": "2026-01-01T00:00:00.000Z",
    "version": "3.5.1", "user": "admin", "name": "spark", "description": null,
    "metadata": {"owner": "data", "levels": [1, 2, {"x": "y"}], "a/b": {"m~n": true}},
    "tags": ["genie.id:spark-3", "genie.name:spark", "type:spark"],
    "configs": ["file:///etc/spark/spark-defaults.conf"], "dependencies": [],
    "setupFile": null, "status": "ACTIVE", "type": "spark"})"));
  return *doc;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace weir;
  namespace json = boost::json;
  if (size > 16 * 1024) return 0;
  auto input = api::ParseJson(fuzz::AsText(data, size));
  if (!input.ok()) return 0;
  json::value doc = SampleDocument();
  json::value patch = *input;
  if (input->is_object()) {
    const json::object& o = input->get_object();
    auto d = o.find("doc");
    auto p = o.find("patch");
    if (d == o.end() || p == o.end()) return 0;
    doc = d->value();
    patch = p->value();
  }
  const json::value before = doc;
  auto first = api::ApplyJsonPatch(doc, patch);
  FUZZ_CHECK(doc == before, "ApplyJsonPatch modified its input document");
  auto second = api::ApplyJsonPatch(doc, patch);
  FUZZ_CHECK(first.ok() == second.ok(), "ApplyJsonPatch is not deterministic");
  if (!first.ok()) {
    FUZZ_CHECK(first.status().code() == second.status().code() &&
                   first.status().message() == second.status().message(),
               "ApplyJsonPatch is not deterministic: " + first.status().message());
    return 0;
  }
  FUZZ_CHECK(*first == *second, "ApplyJsonPatch is not deterministic");
  bool only_tests = patch.is_array();
  for (const auto& op : patch.get_array()) {
    const json::object* o = op.if_object();
    if (!o) {
      only_tests = false;
      break;
    }
    auto it = o->find("op");
    only_tests = only_tests && it != o->end() && it->value() == "test";
  }
  if (only_tests) FUZZ_CHECK(*first == doc, "a patch of tests changed the document");
  // What the route does next with the patched document.
  for (auto kind : {model::Kind::kApplication, model::Kind::kCommand, model::Kind::kCluster}) {
    auto e = api::ConfigFromJson(kind, *first);
    if (e.ok()) (void)api::ValidateConfig(*e);
  }
  return 0;
}
