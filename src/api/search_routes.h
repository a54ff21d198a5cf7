// Full-text search over jobs, configuration entities and workflows (store.h SearchIndex):
//
//   GET /api/weir/v1/search?q=WORDS[&kind=job,cluster,...][&page=0][&size=10]
//
// `q` is split on white space into terms; every term must match (a term matches as a phrase of
// its words, the last one a prefix: "sched:s" finds the tag "sched:sla"). `kind` (repeated or
// comma-separated: job, application, command, cluster, workflow) narrows the kinds; `page` is
// 0-based, `size` 1..100. The answer is one object:
//   {"query": "...", "hits": [{"kind", "id", "name", "status", "score", "href",
//                              "highlights": {"name", "snippet"}}...],
//    "page": {"size", "totalElements", "totalPages", "number"}}
// ordered as SearchIndex says (exact name first, then relevance). In `highlights`, matched words
// are between "<mark>" and "</mark>" (store::kSearchMarkOpen/Close) and a snippet that leaves
// text out shows "..." there. A query with no word, over 1024 bytes or 32 words, with control
// characters or invalid UTF-8, or an unknown parameter or kind answers 400; no query text is
// ever read as search syntax, so none answers 5xx.
//
// Workflows are indexed from the scheduler: IndexWorkflow after each deploy, activation,
// rollback, pause, resume or undeploy (the workflow routes call it), and IndexAllWorkflows at
// start-up (the documents are rebuilt from the scheduler's tables, whatever the index held).
//
// Thread-safe (the index and the scheduler are).
#pragma once

#include <memory>
#include <string_view>

#include "api/http.h"
#include "common/result.h"
#include "store/store.h"

namespace weir::scheduler {
class Scheduler;
}

namespace weir::api {

// A null `index` (a store without full-text search): the route answers 501.
void RegisterSearchRoutes(Router& router, std::shared_ptr<store::SearchIndex> index);

// The search document of a deployed workflow: name = the deployed id; text = the active (else
// latest) version's description, job ids, job names, command tags and arguments; status
// ACTIVE, PAUSED or UNDEPLOYED. kNotFound for an unknown id.
Result<store::SearchDocument> WorkflowSearchDocument(scheduler::Scheduler& scheduler,
                                                     std::string_view deployed_id);
// Puts WorkflowSearchDocument(deployed_id) into the index.
Status IndexWorkflow(scheduler::Scheduler& scheduler, store::SearchIndex& index,
                     std::string_view deployed_id);
// Replaces every workflow document by those of the scheduler's deployed workflows.
Status IndexAllWorkflows(scheduler::Scheduler& scheduler, store::SearchIndex& index);

}  // namespace weir::api
