// The PostgreSQL SchedulerStore (store/scheduler_store.h): the tables wf_* of schema migration 3
// (schema.cc), over one connection of its own (the scheduler uses its store from one thread at a
// time, and a transaction spans several calls). Several weir processes may share the database: a
// write transaction (Begin) holds a transaction-scoped advisory lock, so scheduler transactions
// of every process run one at a time, as SQLite's BEGIN IMMEDIATE makes them; fire marks are
// unique rows (INSERT ... ON CONFLICT DO NOTHING).
//
// A lost connection is kUnavailable; the next call outside a transaction reconnects.
#pragma once

#include <memory>
#include <string>

#include "common/result.h"
#include "store/scheduler_store.h"

namespace weir::store::postgres {

// Connects to `url` (password apart, "" for none) and migrates the schema (open.h). kUnavailable
// naming the redacted URL when the server cannot be reached; kFailedPrecondition for a database
// newer than this build.
Result<std::unique_ptr<SchedulerStore>> OpenSchedulerStore(const std::string& url,
                                                           const std::string& password,
                                                           int connect_timeout_s = 10);

}  // namespace weir::store::postgres
