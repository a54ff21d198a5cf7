// The process figures of GET /metrics, read from /proc/self at each render: resident memory,
// open and maximum descriptors, threads. Linux only; a figure that cannot be read keeps its
// last value.
#pragma once

#include "metrics/weir_metrics.h"

namespace weir::metrics {

void CollectProcessMetrics(WeirMetrics& m);

}  // namespace weir::metrics
