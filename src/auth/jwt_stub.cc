// Placeholder until the JWT authenticator (branch s-jwt) is merged: the coordinator deletes this
// file at that merge. Configuring auth.jwt with this build fails at start, naming the setting.
#include "auth/auth.h"

namespace weir::auth {

Result<std::unique_ptr<Authenticator>> NewJwtAuthenticator(JwtConfig, const Clock&) {
  return Status(StatusCode::kUnimplemented,
                "auth.jwt: JWT verification is not built into this weir yet");
}

}  // namespace weir::auth
