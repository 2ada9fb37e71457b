#pragma once

// SequenceGate: applies each input of a partition at most once, by its
// sequence number in the source (a stream's message sequence, a log offset
// + 1), so that inputs delivered again — after a restart from a checkpoint,
// or a broker's redelivery — change nothing.
//
//   gate.apply(message.sequence, [&] { verdict = process(message); });
//
// The gate remembers only the last sequence it applied: apply(s, fn) runs fn
// and advances to s when s is above it, and otherwise runs nothing and says
// so. Sequences may have gaps (a partition's messages in a shared stream are
// increasing, not contiguous), but must arrive in increasing order: an input
// below one already applied is taken for a duplicate and never applied.
// Sequences start at 1; 0 means "nothing applied yet".
//
// The gate is a value (one uint64): it dedupes across a restart only if it is
// restored together with the state it guards, as PartitionCheckpoint does
// (stream/checkpoint.hpp). Not synchronised: one thread applies a partition's
// inputs. docs/scale-out.md states the guarantee it gives a host.

#include <redflag/core/error.hpp>

#include <concepts>
#include <cstdint>
#include <functional>

namespace redflag {

enum class SequenceStatus : std::uint8_t {
  applied,          // above the last applied sequence: fn ran and the gate moved to it
  already_applied,  // at or below it: fn did not run, nothing changed
};

class SequenceGate {
 public:
  SequenceGate() = default;
  // A gate that has applied everything up to `last_applied` (from a checkpoint).
  explicit SequenceGate(std::uint64_t last_applied) noexcept : last_applied_(last_applied) {}

  [[nodiscard]] std::uint64_t last_applied() const noexcept { return last_applied_; }

  // Runs fn() for the input at `sequence` unless the gate has applied it
  // already. If fn throws, the gate does not advance: the input counts as not
  // applied and is applied again when it is delivered again (so fn should
  // change nothing when it throws). Throws invalid_argument for sequence 0.
  template <class Apply>
    requires std::invocable<Apply&> SequenceStatus apply(std::uint64_t sequence, Apply&& fn) {
      if (sequence == 0) {
        detail::raise<invalid_argument>("SequenceGate::apply", "sequence numbers start at 1, got 0");
      }
      if (sequence <= last_applied_) return SequenceStatus::already_applied;
      std::invoke(fn);
      last_applied_ = sequence;
      return SequenceStatus::applied;
    }

  friend bool operator==(const SequenceGate&, const SequenceGate&) = default;

 private:
  std::uint64_t last_applied_ = 0;
};

}  // namespace redflag
