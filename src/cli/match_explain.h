// The CLI side of an explained 412 no-match (docs/api.md, "Explained match failures"): the
// server's body carries "detail": {"reasons": [...], "clusterCriterias": [...],
// "commandCriteria": {...}, "notLinked": [...]}; this turns it into lines a user reads.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "client/http_client.h"
#include "common/status.h"

namespace weir::cli {

// The explanation of a 412 body with a "detail" member, e.g.
//   No cluster/command combination found for the given criteria:
//     - clusterCriterias[0] [sched:adhok] matched no UP cluster: no cluster has the tag
//       'sched:adhok' (nearest: 'sched:adhoc')
//   See the tags with `weir cluster list` and `weir command list`.
// nullopt for any other body (not JSON, no detail, no reasons).
std::optional<std::string> FormatMatchExplanation(std::string_view body);

// `error` (ToStatus of `r`, with its context) with its message replaced by the explanation when
// `r` is an explained 412; otherwise `error` as it is. The code is kept (exit codes depend on it).
Status ExplainSubmitError(const client::Response& r, const Status& error);

}  // namespace weir::cli
