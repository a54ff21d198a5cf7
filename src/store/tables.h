// The tables a configuration entity's rows live in, by kind: the same names on every backend
// (each backend's schema.cc creates them). Private to src/store/ and its backends.
#pragma once

#include "model/config.h"

namespace weir::store {

struct KindTables {
  const char* table;      // "applications": one row per entity, keyed by id
  const char* tag_table;  // "application_tags": (entity_id, tag) rows, one per tag
};

// The entity table and tag table of `kind`. Never null; a Kind outside the enum (never made by
// the model) gets the applications' tables.
KindTables Tables(model::Kind kind);

}  // namespace weir::store
