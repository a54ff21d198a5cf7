#include "store/lease.h"

namespace weir::store {

bool TakeOrRenewLease(LeaseRecord& l, const std::string& node, TimePoint now, Millis ttl) {
  const bool renew = l.holder == node && l.expires > now;
  if (!renew && !l.holder.empty() && l.expires > now) return false;  // another node holds it
  if (!renew) {
    l.holder = node;
    ++l.token;
    l.acquired = now;
  }
  l.expires = now + ttl;
  return true;
}

}  // namespace weir::store
