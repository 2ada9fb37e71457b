#pragma once

// The cluster modes of redflag_transactions (worker, trainer, publish,
// collect, setup, stream-info, inject, broker-rate), compiled in their own
// translation unit (cluster_modes.cpp, or cluster_unavailable.cpp when the
// build found no libnats), so that main.cpp neither includes nats.c nor
// compiles the workers' code.

#include <cmath>
#include <cstddef>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace transactions_example {

// A bad option or option value.
struct usage_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Option `name`'s value `text` as a Number (non-negative; whole for an
// integer type, and within its range), or `fallback` when it is absent.
template <class Number>
Number option_number(std::string_view name, const std::optional<std::string>& text, Number fallback) {
  if (!text) return fallback;
  try {
    std::size_t used = 0;
    const double value = std::stod(*text, &used);
    const bool whole = std::is_floating_point_v<Number> || value == std::floor(value);
    if (used != text->size() || !(value >= 0) || !whole ||
        value > static_cast<double>(std::numeric_limits<Number>::max())) {
      throw std::invalid_argument("");
    }
    return static_cast<Number>(value);
  } catch (const std::logic_error&) {
    const std::string expected =
        std::is_floating_point_v<Number>
            ? "a non-negative number"
            : "a whole number in [0, " + std::to_string(std::numeric_limits<Number>::max()) + "]";
    throw usage_error(std::string(name) + " expects " + expected + ", got '" + *text + "'");
  }
}

// A mode's command line as CLI11 parsed it.
struct ClusterArguments {
  std::optional<std::string> positional;
  std::vector<std::pair<std::string, std::string>> options;  // --name value, as typed
  std::vector<std::string> flags;
};

// The modes, with each one's options and help (for main.cpp's CLI11 set-up).
struct ClusterModeHelp {
  std::string name, description;
  std::optional<std::string> positional;  // its help, if the mode takes FILE
  std::vector<std::pair<std::string, std::string>> options;
};
inline std::vector<ClusterModeHelp> cluster_modes() {
  const std::vector<std::pair<std::string, std::string>> common = {
      {"--servers URLS", "NATS servers, comma-separated; default nats://127.0.0.1:4222"},
      {"--partitions N", "input partitions; default 8"},
      {"--replicas N", "replicas of the streams this mode creates if missing; default 1"},
      {"--duplicates SECONDS", "the streams' de-duplication window; default 600"}};
  const auto with = [&](std::vector<std::pair<std::string, std::string>> own) {
    own.insert(own.end(), common.begin(), common.end());
    return own;
  };
  const std::pair<std::string, std::string> rules = {"--rules FILE",
                                                     "the rules, as a JSON configuration; default: the built-in rules"};
  const std::pair<std::string, std::string> lease = {"--lease SECONDS",
                                                     "a lease expires after this long without renewal; default 10"};
  const std::pair<std::string, std::string> status = {
      "--status-seconds S", "one JSON status line on stderr every S seconds (0: none); default 5"};
  const std::pair<std::string, std::string> idle = {
      "--exit-when-idle S", "stop after S seconds with nothing to do (for measurements); default: never"};
  return {
      {"worker",
       "process a share of the input's partitions: state, features, the model in force, verdicts (needs libnats)",
       std::nullopt,
       with({{"--id NAME", "this worker's name; default worker-<pid>"},
             rules,
             lease,
             {"--batch N", "inputs per fetch; default 256"},
             {"--checkpoint-every N", "inputs between checkpoints; default 1000"},
             {"--checkpoint-seconds S", "seconds between checkpoints; default 5"},
             status,
             idle})},
      {"trainer", "retrain the model for all partitions, in input order, as the single process does (needs libnats)",
       std::nullopt, with({{"--id NAME", "this trainer's name; default trainer-<pid>"}, rules, lease, status, idle})},
      {"publish", "publish FILE's transactions to the input stream, partitioned by user (needs libnats)",
       "transactions as JSON lines; default: the bundled stream",
       with({{"--rate N",
              "transactions per second, each one stored before the next (0: as fast as possible, "
              "in asynchronous windows); default 0"}})},
      {"collect", "read the verdicts in input order into a JSON-lines file (needs libnats)", std::nullopt,
       with({{"--out FILE", "the verdicts in input order; default: none"},
             {"--expect N", "inputs to wait for; default: the input stream's last sequence"},
             {"--timeout SECONDS", "give up waiting after this long; default 60"},
             {"--compare FILE", "count the verdicts that differ from FILE's lines (a single-process --out)"},
             {"--label TEXT", "the summary line's label; default collect"}})},
      {"setup", "create the streams (needs libnats)", std::nullopt, with({})},
      {"stream-info", "print a stream's leader and last sequence as JSON (needs libnats)", std::nullopt,
       with({{"--stream NAME", "the stream; default TX"}})},
      {"inject", "for tests: corrupt-checkpoint (--partition N) or bad-model (--apply-from S) (needs libnats)",
       "what to inject: corrupt-checkpoint or bad-model",
       with({{"--partition N", "the partition whose newest checkpoint to corrupt; default 0"},
             {"--apply-from S", "the input sequence the bad model claims to apply from; default 1"}})},
      {"broker-rate",
       "JetStream's own rate: read the input as a worker does and publish one message per input, no redflag work "
       "(needs libnats)",
       std::nullopt, with({{"--batch N", "inputs per fetch; default 256"}})},
  };
}

// Runs `mode`; returns its exit status. Throws usage_error for a
// bad option value and std::runtime_error for a failure (in a build without
// libnats: that the mode is unavailable).
int run_cluster_mode(const std::string& mode, const ClusterArguments& args);

}  // namespace transactions_example
