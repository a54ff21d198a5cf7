// JSON encodings of the parts of a stored value that are not search columns. Private to the
// store (Boost.JSON stays behind this header). Keys are camelCase like the wire, but the format
// is the store's own: it changes only together with a schema migration.
//
// Decoders fill only the fields their encoder wrote and leave the others untouched; a malformed
// document is kInternal naming the value ("job 'x'"; the stored value is damaged, the caller
// cannot fix it). The name is built only on failure: decoding sits on the GetJob fast path.
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"
#include "model/config.h"
#include "model/job.h"
#include "store/store.h"

namespace weir::store::sqlite {

// description, metadata, tags, setupFile, configs, dependencies, executable, checkDelay, memory.
std::string EncodeConfigBody(const model::ConfigEntity& e);
// REQUIRES: e->kind and e->id set (they name the entity in errors).
Status DecodeConfigBody(std::string_view json, model::ConfigEntity* e);

// The whole request.
std::string EncodeJobRequest(const model::JobRequest& r);
Status DecodeJobRequest(std::string_view json, std::string_view job_id, model::JobRequest* r);

// The parts of a record's state that are not columns: statusMsg, archiveLocation,
// applicationIds, the execution and the metadata.
std::string EncodeJobState(const model::JobRecord& r);
// REQUIRES: r->id set.
Status DecodeJobState(std::string_view json, model::JobRecord* r);

// ---- search documents (store.h SearchDocument), the same in every backend ----------------------

SearchKind SearchKindOf(model::Kind kind);
// Appends `part` to a space-separated text (nothing when `part` is empty).
void AddText(std::string* text, std::string_view part);
// The tags as one space-separated text.
std::string JoinTags(const std::vector<std::string>& tags);
// What store.h SearchDocument says an entity's and a job's documents hold.
SearchDocument DocOf(const model::ConfigEntity& e);
SearchDocument DocOf(const model::JobRecord& r);

}  // namespace weir::store::sqlite
