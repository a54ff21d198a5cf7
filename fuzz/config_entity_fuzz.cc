// Fuzz target: the configuration entity codec (api/json_codec.h), the JSON bodies of
// POST/PUT /api/v3/applications|commands|clusters.
// Input: one letter naming the kind (A application, C command, L cluster), then the body.
// Invariants: what parses, written with ConfigToJson (the GET answer) and read again, is the same
// entity; ValidateConfig and the HAL writer accept anything the parser accepted.
#include <boost/json.hpp>

#include "api/json_codec.h"
#include "common/clock.h"
#include "fuzz_util.h"
#include "model/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace weir;
  if (size < 1 || size > 64 * 1024) return 0;
  model::Kind kind;
  switch (data[0]) {
    case 'A':
      kind = model::Kind::kApplication;
      break;
    case 'C':
      kind = model::Kind::kCommand;
      break;
    case 'L':
      kind = model::Kind::kCluster;
      break;
    default:
      return 0;
  }
  auto doc = api::ParseJson(fuzz::AsText(data + 1, size - 1));
  if (!doc.ok()) return 0;
  auto entity = api::ConfigFromJson(kind, *doc);
  if (!entity.ok()) return 0;
  (void)api::ValidateConfig(*entity);
  (void)model::Validate(*entity);
  entity->created = FromEpochMillis(1767225600000);
  entity->updated = entity->created;

  std::string written = boost::json::serialize(api::ConfigToJson(*entity));
  auto reparsed = api::ParseJson(written);
  FUZZ_CHECK(reparsed.ok(), "written entity is not JSON: " + written);
  auto again = api::ConfigFromJson(kind, *reparsed);
  FUZZ_CHECK(again.ok(), "written entity does not parse: " + written);
  again->created = entity->created;  // the codec ignores dates on input
  again->updated = entity->updated;
  FUZZ_CHECK(*again == *entity, "round trip changed the entity: " + written);

  (void)boost::json::serialize(
      api::ConfigToJson(*entity, "http://localhost:8080", api::LinkStyle::kHal));
  (void)boost::json::serialize(
      api::ConfigToJson(*entity, "http://localhost:8080", api::LinkStyle::kList));
  return 0;
}
