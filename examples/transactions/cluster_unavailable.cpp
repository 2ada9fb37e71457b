// The cluster modes in a build without libnats (the NATS C client): each
// says so. Install libnats-dev and configure again to build them.

#include "cluster_modes.hpp"

#include <stdexcept>

namespace transactions_example {

int run_cluster_mode(const std::string& mode, const ClusterArguments&) {
  throw std::runtime_error(mode + " is not available: this build found no libnats (apt install libnats-dev)");
}

}  // namespace transactions_example
