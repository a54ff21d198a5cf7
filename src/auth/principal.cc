#include <algorithm>

#include "auth/auth.h"

namespace weir::auth {

bool Principal::HasRole(std::string_view role) const {
  return std::find(roles.begin(), roles.end(), role) != roles.end();
}

}  // namespace weir::auth
