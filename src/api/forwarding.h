// Forwarding of job requests to the node that owns the job (docs/scaling.md), as Genie does:
// only a job's output and its kill go to its owner; everything else is answered from the shared
// database by any node.
//
// A request is forwarded when forwarding is on (a node id is set), it carries no
// Genie-Forwarded-From header (a forwarded request is never forwarded again: no loops), and the
// job's execution.host_name names another node. It goes to that node's advertised URL (its row in
// the NodeStore) with the same method, target and body, every request header but the hop-by-hop
// ones (Authorization included), and Genie-Forwarded-From set to the original request's URL.
// The owner's status, body and content headers are the answer. When the owner cannot be reached
// (connection refused, connect_timeout or read_timeout passed) the caller handles the request
// itself (output from the archive; a kill answered 202 and logged).
//
// Thread-safe: each forward uses its own connection.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "api/http.h"
#include "common/clock.h"
#include "model/job.h"
#include "store/store.h"

namespace weir::api {

inline constexpr std::string_view kForwardedFromHeader = "Genie-Forwarded-From";

struct ForwardingOptions {
  std::string node_id;  // this node; "" turns forwarding off
  std::shared_ptr<store::NodeStore> nodes;
  Millis connect_timeout{2000};  // forwarding.connect_timeout_ms
  Millis read_timeout{10000};    // forwarding.read_timeout_ms: the whole forwarded exchange
};

class JobForwarder {
 public:
  explicit JobForwarder(ForwardingOptions options) : options_(std::move(options)) {}

  // The advertised URL of the node `req` for job `r` belongs to (see above), or nullopt to answer
  // here: forwarding off, the request already forwarded, the job this node's or unplaced, its
  // host not a node of the cluster (a local-mode runner's machine, a record of an older weir),
  // or, with `active_only` (a kill), the job already final.
  std::optional<std::string> OwnerUrl(const HttpRequest& req, const model::JobRecord& r,
                                      bool active_only) const;
  // Sends `req` to `owner_url`. nullopt when the owner cannot be reached (logged).
  std::optional<HttpResponse> Forward(const HttpRequest& req, const model::JobRecord& r,
                                      const std::string& owner_url) const;

  const ForwardingOptions& options() const { return options_; }

 private:
  ForwardingOptions options_;
};

}  // namespace weir::api
