// bench/slurm_bench.sh's private Slurm: starts the test fixture's single-node cluster
// (src/exec/testing/slurm_cluster.h), prints `SLURM_CONF=<path>` and `SLURM_NODE=<name>` on
// stdout, then keeps it up until its stdin closes, and stops exactly what it started.
#include <iostream>
#include <string>

#include "exec/testing/slurm_cluster.h"

int main() {
  std::string why;
  auto cluster = weir::exec::testing::SlurmCluster::Start(&why);
  if (!cluster) {
    std::cerr << "slurm_up: " << why << "\n";
    return 1;
  }
  std::cout << "SLURM_CONF=" << cluster->conf().string() << "\n"
            << "SLURM_NODE=" << cluster->node() << std::endl;
  std::string line;
  while (std::getline(std::cin, line)) {
  }
  cluster->Stop();
  return 0;
}
