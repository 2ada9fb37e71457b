#pragma once

// ModelHandle<Model>: the model scoring threads use, replaceable while they
// score. Readers take a snapshot — a shared pointer to one complete, immutable
// (version, model) pair — and score with it for as long as they like; a
// promoter publishes a new pair at any time. A snapshot never changes under a
// reader, and the model it points to lives until the last snapshot of it is
// dropped, so no request is ever scored by a half-replaced model.
//
// Why not std::atomic<std::shared_ptr>: libstdc++ 12 implements it with a lock
// bit hidden in the reference-count pointer, which ThreadSanitizer cannot see
// and reports as a data race. ModelHandle uses an RCU-style scheme built from
// plain atomics instead:
//
//   - a 64-bit generation counter names the current slot (generation % 2);
//   - a reader loads the generation, pins that slot (an atomic reader count),
//     checks that the generation is unchanged, copies the slot's shared
//     pointer and unpins; if a publish slipped in between, it retries;
//   - a publisher fills the other slot once its pinned readers (only ever
//     caught in the middle of copying a pointer) have left, then advances
//     the generation.
//
// Every step is sequentially consistent, so either the publisher sees a
// reader's pin and waits, or the reader sees the new generation and retries
// (the classic Dekker argument). Readers never block and never take a lock;
// a reader retries only when a publish completed meanwhile, so some reader
// always makes progress (lock-free). Publishers are serialised by a mutex and
// may wait, briefly, for readers still copying from the slot being reused.
//
// Memory: the handle keeps the current and the previous pair alive, plus
// whatever snapshots readers still hold.

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>
#include <utility>

namespace redflag {

// One complete model and the registry version it was published as.
template <class Model>
struct ModelSnapshot {
  std::uint64_t version = 0;
  Model model;
};

template <class Model>
class ModelHandle {
 public:
  using Snapshot = std::shared_ptr<const ModelSnapshot<Model>>;

  // Empty: snapshot() returns nullptr until the first publish.
  ModelHandle() = default;
  ModelHandle(Model model, std::uint64_t version) { publish(std::move(model), version); }

  // Readers hold addresses of the slots: the handle stays where it is.
  ModelHandle(const ModelHandle&) = delete;
  ModelHandle& operator=(const ModelHandle&) = delete;

  // The current (version, model) pair, or nullptr before the first publish.
  // Lock-free; safe from any number of threads, concurrently with publish.
  [[nodiscard]] Snapshot snapshot() const noexcept {
    for (;;) {
      const std::uint64_t generation = generation_.load();
      const Slot& slot = slots_[generation % slot_count];
      slot.readers.fetch_add(1);
      if (generation_.load() == generation) {
        Snapshot current = slot.value;
        slot.readers.fetch_sub(1);
        return current;
      }
      slot.readers.fetch_sub(1);
    }
  }

  // Makes `model` current as `version`. Scoring threads pick it up with their
  // next snapshot(); snapshots taken before keep the model they have.
  void publish(Model model, std::uint64_t version) {
    publish(std::make_shared<const ModelSnapshot<Model>>(ModelSnapshot<Model>{version, std::move(model)}));
  }

  // Publishes an existing pair (nullptr empties the handle).
  void publish(Snapshot next) {
    Snapshot replaced;
    {
      const std::lock_guard lock(publish_mutex_);
      const std::uint64_t generation = generation_.load() + 1;
      Slot& slot = slots_[generation % slot_count];
      // Readers pinned here hold a stale generation and will retry; wait
      // until none is still copying the pointer we are about to replace.
      while (slot.readers.load() != 0) std::this_thread::yield();
      replaced = std::exchange(slot.value, std::move(next));
      generation_.store(generation);
    }
    // `replaced` (two publishes old) may be the last owner of a large model:
    // free it outside the lock.
  }

  // Version of the current model, 0 when empty.
  [[nodiscard]] std::uint64_t version() const noexcept {
    const Snapshot current = snapshot();
    return current ? current->version : 0;
  }

 private:
  static constexpr std::size_t slot_count = 2;

  // Own cache line each, so readers pinning one slot do not slow the other.
  struct alignas(64) Slot {
    mutable std::atomic<std::uint64_t> readers{0};
    Snapshot value;
  };

  std::array<Slot, slot_count> slots_{};
  std::atomic<std::uint64_t> generation_{0};
  std::mutex publish_mutex_;
};

}  // namespace redflag
