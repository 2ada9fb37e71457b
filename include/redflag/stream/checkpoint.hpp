#pragma once

// PartitionCheckpoint: one partition's state — its EntityStore — together
// with the position in the source that state covers: the partition, the
// partition count and the last input sequence applied to it. A partitioned
// worker keeps it as its live state and applies every input through it:
//
//   redflag::PartitionCheckpoint state({.partition = 2, .partitions = 8});
//   state.apply(message.sequence, [&](redflag::EntityStore& store) { ... });  // once per sequence
//   redflag::save(state, out);  // a path, or a std::ostringstream: bytes in memory
//   auto restored = redflag::load<redflag::PartitionCheckpoint>(in, "partition 2");
//   restored.require_partition(2, 8);  // a checkpoint of another partition is an error
//
// apply(sequence, update) runs update(store) through a SequenceGate
// (stream/sequence_gate.hpp), so the store holds exactly the inputs up to
// position().sequence and an input at or below it changes nothing. The store
// and the position are saved, restored and checked as one: after restoring a
// checkpoint at sequence S and delivering the partition again in its original
// order, from any point up to S + 1, every input above S meets the state it
// met the first time (docs/scale-out.md states what that guarantees).
//
// Format (inside redflag's versioned, checksummed envelope, model type
// "PartitionCheckpoint", format version 1; see core/serialization.hpp):
//   u32 partition | u32 partitions | u64 sequence | u32 EntityStore format version | the EntityStore
// The store keeps its own format version, so a later EntityStore format
// still reads the stores of older checkpoints.

#include <redflag/core/error.hpp>
#include <redflag/core/schema.hpp>
#include <redflag/core/serialization.hpp>
#include <redflag/stream/entity_store.hpp>
#include <redflag/stream/sequence_gate.hpp>

#include <cereal/cereal.hpp>

#include <concepts>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>

namespace redflag {

// Where a partition's state stands in its source.
struct PartitionPosition {
  std::uint32_t partition = 0;   // this partition, in [0, partitions)
  std::uint32_t partitions = 1;  // how many partitions the source is split into
  std::uint64_t sequence = 0;    // the last input sequence applied to the state; 0: none

  friend bool operator==(const PartitionPosition&, const PartitionPosition&) = default;
};

class PartitionCheckpoint {
 public:
  using scalar_type = double;
  static constexpr std::string_view model_type = "PartitionCheckpoint";
  static constexpr std::uint32_t format_version = 1;

  // Partition 0 of 1, nothing applied, an empty store with default parameters.
  PartitionCheckpoint() = default;
  // The state of `position.partition` after the inputs up to
  // `position.sequence`, held in `store`. Throws invalid_argument unless
  // partition < partitions.
  explicit PartitionCheckpoint(const PartitionPosition& position, EntityStore store = EntityStore())
      : partition_(position.partition),
        partitions_(position.partitions),
        gate_(position.sequence),
        store_(std::move(store)) {
    validate(position, "PartitionCheckpoint::PartitionCheckpoint");
  }

  [[nodiscard]] PartitionPosition position() const { return {partition_, partitions_, gate_.last_applied()}; }
  [[nodiscard]] const EntityStore& store() const { return store_; }
  // The store has no input columns; the empty schema satisfies SerializableModel.
  [[nodiscard]] const Schema& schema() const { return store_.schema(); }

  // Runs update(store) for the input at `sequence` unless the checkpoint
  // covers it already (SequenceGate::apply: sequences above the last applied
  // one run and advance it, others change nothing; sequence 0 is an
  // invalid_argument). If update throws, the sequence stays unapplied.
  template <class Update>
    requires std::invocable<Update&, EntityStore&> SequenceStatus apply(std::uint64_t sequence, Update&& update) {
      return gate_.apply(sequence, [&] { std::invoke(update, store_); });
    }

  // Throws serialization_error unless this is the state of `partition` of
  // `partitions`: a restored checkpoint of another partition, or of another
  // partition count (whose entities are spread differently), must not be
  // resumed in its place.
  void require_partition(std::uint32_t partition, std::uint32_t partitions) const {
    if (partition == partition_ && partitions == partitions_) return;
    detail::raise<serialization_error>("PartitionCheckpoint::require_partition",
                                       "the checkpoint holds partition " + describe(partition_, partitions_) +
                                           ", expected partition " + describe(partition, partitions));
  }

  template <class Archive>
  void serialize(Archive& archive, std::uint32_t version) {
    detail::check_format_version(model_type, version, format_version);
    if constexpr (Archive::is_loading::value) {
      load_from(archive);
    } else {
      save_to(archive);
    }
  }

 private:
  static void validate(const PartitionPosition& position, std::string_view where) {
    if (position.partition >= position.partitions) {
      detail::raise<invalid_argument>(where, "partition " + describe(position.partition, position.partitions) +
                                                 ": the partition must be below the partition count");
    }
  }

  static std::string describe(std::uint32_t partition, std::uint32_t partitions) {
    return std::to_string(partition) + " of " + std::to_string(partitions);
  }

  template <class Archive>
  void save_to(Archive& archive) {
    std::uint64_t sequence = gate_.last_applied();
    std::uint32_t store_version = EntityStore::format_version;
    detail::VersionedModel<EntityStore> store{store_, store_version};
    archive(cereal::make_nvp("partition", partition_), cereal::make_nvp("partitions", partitions_),
            cereal::make_nvp("sequence", sequence), cereal::make_nvp("store_format_version", store_version),
            cereal::make_nvp("store", store));
  }

  // Reads into locals and replaces *this only once everything is read and checked.
  template <class Archive>
  void load_from(Archive& archive) {
    PartitionPosition position;
    std::uint32_t store_version = 0;
    archive(cereal::make_nvp("partition", position.partition), cereal::make_nvp("partitions", position.partitions),
            cereal::make_nvp("sequence", position.sequence), cereal::make_nvp("store_format_version", store_version));
    try {
      validate(position, "PartitionCheckpoint::serialize");
    } catch (const invalid_argument& failure) {
      throw serialization_error(failure.what());
    }
    detail::check_format_version("EntityStore (in a PartitionCheckpoint)", store_version, EntityStore::format_version);
    EntityStore store;
    detail::VersionedModel<EntityStore> versioned{store, store_version};
    archive(cereal::make_nvp("store", versioned));
    *this = PartitionCheckpoint(position, std::move(store));
  }

  std::uint32_t partition_ = 0;
  std::uint32_t partitions_ = 1;
  SequenceGate gate_;
  EntityStore store_;
};

}  // namespace redflag
