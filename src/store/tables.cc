#include "store/tables.h"

namespace weir::store {

KindTables Tables(model::Kind kind) {
  switch (kind) {
    case model::Kind::kApplication:
      return {"applications", "application_tags"};
    case model::Kind::kCommand:
      return {"commands", "command_tags"};
    case model::Kind::kCluster:
      return {"clusters", "cluster_tags"};
  }
  return {"applications", "application_tags"};
}

}  // namespace weir::store
