// The lease rule both store backends apply in NodeStore::AcquireLease (store.h), so that SQLite
// and PostgreSQL hand the leader's lease over in exactly the same cases.
#pragma once

#include <string>

#include "store/store.h"

namespace weir::store {

// Applied to the lease as read inside the backend's transaction: when `l` is free, expired at
// `now`, or held by `node`, it becomes `node`'s until now + ttl (a new holder gets the next
// fencing token and acquired = now) and true says to write it back; otherwise `l` is left as it
// is and false is returned.
bool TakeOrRenewLease(LeaseRecord& l, const std::string& node, TimePoint now, Millis ttl);

}  // namespace weir::store
