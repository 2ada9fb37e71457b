#include <redflag/core/serialization.hpp>
#include <redflag/stream/checkpoint.hpp>
#include <redflag/stream/partition.hpp>
#include <redflag/transactions/transaction_features.hpp>
#include <redflag/transactions/transaction_simulator.hpp>

#include <doctest/doctest.h>

#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <iterator>
#include <map>
#include <span>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>

using redflag::PartitionCheckpoint;
using redflag::PartitionPosition;
using redflag::SequenceStatus;

static_assert(redflag::SerializableModel<PartitionCheckpoint>);

namespace {

// The worker under test holds partition 1 of 4 of a shared stream in which
// the simulator's transaction i has sequence i + 1: its own sequences are
// increasing with gaps, as a partition's subjects in one broker stream are.
constexpr std::uint32_t worker_partition = 1;
constexpr std::uint32_t worker_partitions = 4;

const redflag::SimulatedStream& shared_stream() {
  static const redflag::SimulatedStream stream =
      redflag::TransactionSimulator({.users = 200, .transactions = 6'000, .fraud_rate = 0.02, .seed = 11}).generate();
  return stream;
}

bool in_worker_partition(std::uint64_t sequence) {
  return redflag::partition_of(shared_stream().transactions[sequence - 1].entity, worker_partitions) ==
         worker_partition;
}

// A transaction's ten feature rows as their bits, so that equal means bit for bit.
using RowBits = std::array<std::uint64_t, 10>;
using RowsBySequence = std::map<std::uint64_t, RowBits>;

// Delivers the worker's inputs among sequences [from, to] to `state`; the
// rows of the inputs it applies go to `rows`. Returns how many it skipped.
std::size_t deliver_partition(PartitionCheckpoint& state, std::uint64_t from, std::uint64_t to, RowsBySequence& rows) {
  auto features = redflag::make_transaction_features();
  std::size_t skipped = 0;
  for (std::uint64_t sequence = from; sequence <= to; ++sequence) {
    if (!in_worker_partition(sequence)) continue;
    const redflag::Transaction& txn = shared_stream().transactions[sequence - 1];
    std::array<double, 10> row{};
    const SequenceStatus status = state.apply(sequence, [&](redflag::EntityStore& store) {
      const redflag::EntityEvent event = redflag::to_entity_event(txn);
      store.observe(event, [&](const redflag::EntityState& before) {
        features.write_row(redflag::TransactionContext{txn, event, before}, std::span<double>(row));
      });
    });
    if (status == SequenceStatus::applied) {
      rows[sequence] = std::bit_cast<RowBits>(row);
    } else {
      ++skipped;
    }
  }
  return skipped;
}

std::string checkpoint_bytes(const PartitionCheckpoint& state,
                             redflag::Format format = redflag::Format::portable_binary) {
  std::ostringstream out(std::ios::binary);
  redflag::save(state, out, format);
  return std::move(out).str();
}

PartitionCheckpoint restore_checkpoint(const std::string& bytes) {
  std::istringstream in(bytes, std::ios::binary);
  return redflag::load<PartitionCheckpoint>(in, "checkpoint p1");
}

// The worker's state after the inputs up to the middle of the shared stream.
PartitionCheckpoint half_way_checkpoint() {
  PartitionCheckpoint state({.partition = worker_partition, .partitions = worker_partitions});
  RowsBySequence rows;
  deliver_partition(state, 1, shared_stream().transactions.size() / 2, rows);
  return state;
}

}  // namespace

TEST_CASE("PartitionCheckpoint restored mid-stream and replayed from the start gives every later input its result") {
  const std::uint64_t last = shared_stream().transactions.size();
  PartitionCheckpoint straight({.partition = worker_partition, .partitions = worker_partitions});
  RowsBySequence straight_rows;
  CHECK(deliver_partition(straight, 1, last, straight_rows) == 0);
  REQUIRE(straight_rows.size() > 500);
  CHECK(straight.position().sequence == straight_rows.rbegin()->first);

  // A worker checkpoints half-way, goes on, and dies: what it did after the
  // checkpoint is lost.
  PartitionCheckpoint crashed({.partition = worker_partition, .partitions = worker_partitions});
  RowsBySequence crashed_rows;
  deliver_partition(crashed, 1, last / 2, crashed_rows);
  const std::string saved = checkpoint_bytes(crashed);
  const std::uint64_t covered = crashed.position().sequence;
  deliver_partition(crashed, last / 2 + 1, 3 * last / 4, crashed_rows);
  for (const auto& [sequence, row] : crashed_rows) CHECK(straight_rows.at(sequence) == row);

  // Its successor restores the checkpoint and is delivered the whole
  // partition again.
  PartitionCheckpoint restored = restore_checkpoint(saved);
  restored.require_partition(worker_partition, worker_partitions);
  CHECK(restored.position() == PartitionPosition{worker_partition, worker_partitions, covered});
  RowsBySequence replayed_rows;
  const std::size_t skipped = deliver_partition(restored, 1, last, replayed_rows);
  CHECK(skipped == static_cast<std::size_t>(std::distance(straight_rows.begin(), straight_rows.upper_bound(covered))));
  REQUIRE_FALSE(replayed_rows.empty());
  CHECK(replayed_rows.begin()->first > covered);
  CHECK(replayed_rows.size() + skipped == straight_rows.size());
  std::size_t differing = 0;
  for (const auto& [sequence, row] : replayed_rows) differing += straight_rows.at(sequence) != row ? 1 : 0;
  CHECK(differing == 0);
  CHECK(restored.position() == straight.position());
  CHECK(checkpoint_bytes(restored) == checkpoint_bytes(straight));
}

TEST_CASE("PartitionCheckpoint: inputs at or below the checkpoint's sequence change nothing") {
  PartitionCheckpoint state = half_way_checkpoint();
  const std::string before = checkpoint_bytes(state);
  const std::uint64_t covered = state.position().sequence;
  REQUIRE(covered > 0);
  int ran = 0;
  for (std::uint64_t sequence = 1; sequence <= covered; ++sequence) {
    // Whatever the update would do, it does not run.
    CHECK(state.apply(sequence, [&](redflag::EntityStore& store) {
      ++ran;
      store.observe(redflag::EntityEvent{.entity = "intruder", .time_ms = 1'700'006'400'000, .value = 1.0});
    }) == SequenceStatus::already_applied);
  }
  CHECK(ran == 0);
  CHECK(checkpoint_bytes(state) == before);
}

TEST_CASE("PartitionCheckpoint leaves the sequence unapplied when its update throws") {
  PartitionCheckpoint state({.partition = 0, .partitions = 2});
  CHECK(state.apply(3, [](redflag::EntityStore& store) {
    store.observe(redflag::EntityEvent{.entity = "a", .time_ms = 1'700'006'400'000, .value = 5.0});
  }) == SequenceStatus::applied);
  const std::string before = checkpoint_bytes(state);
  // EntityStore::observe changes nothing when its visitor throws: the update is all or nothing.
  CHECK_THROWS_AS(state.apply(8,
                              [](redflag::EntityStore& store) {
                                store.observe(
                                    redflag::EntityEvent{.entity = "b", .time_ms = 1'700'006'460'000, .value = 7.0},
                                    [](const redflag::EntityState&) { throw std::runtime_error("scoring failed"); });
                              }),
                  std::runtime_error);
  CHECK(state.position().sequence == 3);
  CHECK(checkpoint_bytes(state) == before);
  CHECK_THROWS_AS(state.apply(0, [](redflag::EntityStore&) {}), redflag::invalid_argument);
}

TEST_CASE("PartitionCheckpoint saves and loads the same bytes through files, streams and JSON") {
  const PartitionCheckpoint state = half_way_checkpoint();
  const std::string bytes = checkpoint_bytes(state);
  const auto path = std::filesystem::path(REDFLAG_TEST_SCRATCH_DIR) / "partition_checkpoint.rfm";
  redflag::save(state, path);
  const auto from_file = redflag::load<PartitionCheckpoint>(path);
  CHECK(from_file.position() == state.position());
  CHECK(from_file.store().size() == state.store().size());
  CHECK(checkpoint_bytes(from_file) == bytes);
  CHECK(checkpoint_bytes(restore_checkpoint(checkpoint_bytes(state, redflag::Format::json))) == bytes);

  std::istringstream in(bytes, std::ios::binary);
  const redflag::ModelInfo info = redflag::read_info(in);
  CHECK(info.model_type == "PartitionCheckpoint");
  CHECK(info.model_format_version == 1);
}

TEST_CASE("PartitionCheckpoint load rejects corrupted, truncated and mistyped bytes, naming the source") {
  const std::string bytes = checkpoint_bytes(half_way_checkpoint());
  std::string flipped = bytes;
  flipped[bytes.size() - 100] ^= 0x04;
  CHECK_THROWS_WITH_AS(restore_checkpoint(flipped),
                       "redflag::load: checkpoint p1: payload checksum mismatch (file corrupted)",
                       redflag::serialization_error);
  flipped = bytes;
  flipped[20] ^= 0x01;  // in the header
  CHECK_THROWS_WITH_AS(restore_checkpoint(flipped),
                       "redflag::load: checkpoint p1: header checksum mismatch (file corrupted)",
                       redflag::serialization_error);
  CHECK_THROWS_WITH_AS(restore_checkpoint(""), "redflag::load: checkpoint p1: file is empty",
                       redflag::serialization_error);
  for (const std::size_t length :
       {std::size_t{8}, std::size_t{15}, std::size_t{40}, bytes.size() / 2, bytes.size() - 1}) {
    CAPTURE(length);
    CHECK_THROWS_WITH_AS(restore_checkpoint(bytes.substr(0, length)), doctest::Contains("truncated"),
                         redflag::serialization_error);
  }
  CHECK_THROWS_WITH_AS(restore_checkpoint(bytes + "x"), doctest::Contains("(trailing bytes)"),
                       redflag::serialization_error);

  std::istringstream as_store(bytes, std::ios::binary);
  CHECK_THROWS_WITH_AS(redflag::load<redflag::EntityStore>(as_store, "checkpoint p1"),
                       "redflag::load: checkpoint p1: file holds a 'PartitionCheckpoint', expected 'EntityStore'",
                       redflag::serialization_error);
}

TEST_CASE("PartitionCheckpoint load rejects a position or store version that cannot be, even with a valid envelope") {
  const std::string json = checkpoint_bytes(half_way_checkpoint(), redflag::Format::json);
  auto edited = [&](const std::string& from, const std::string& to) {
    const std::size_t at = json.find(from);
    REQUIRE(at != std::string::npos);
    return std::string(json).replace(at, from.size(), to);
  };
  CHECK_THROWS_WITH_AS(restore_checkpoint(edited("\"partition\": 1,", "\"partition\": 9,")),
                       doctest::Contains("partition 9 of 4: the partition must be below the partition count"),
                       redflag::serialization_error);
  CHECK_THROWS_WITH_AS(restore_checkpoint(edited("\"partitions\": 4,", "\"partitions\": 0,")),
                       doctest::Contains("partition 1 of 0"), redflag::serialization_error);
  CHECK_THROWS_WITH_AS(restore_checkpoint(edited("\"store_format_version\": 1,", "\"store_format_version\": 2,")),
                       doctest::Contains("EntityStore (in a PartitionCheckpoint) format version 2 is newer"),
                       redflag::serialization_error);
  // A position that can be but is not the one saved: the checksum catches it.
  CHECK_THROWS_WITH_AS(restore_checkpoint(edited("\"partition\": 1,", "\"partition\": 2,")),
                       doctest::Contains("checksum mismatch"), redflag::serialization_error);
}

TEST_CASE("PartitionCheckpoint refuses to resume as another partition or partition count") {
  const PartitionCheckpoint restored = restore_checkpoint(checkpoint_bytes(half_way_checkpoint()));
  CHECK_NOTHROW(restored.require_partition(1, 4));
  CHECK_THROWS_WITH_AS(restored.require_partition(2, 4),
                       "redflag::PartitionCheckpoint::require_partition: the checkpoint holds partition 1 of 4, "
                       "expected partition 2 of 4",
                       redflag::serialization_error);
  CHECK_THROWS_WITH_AS(restored.require_partition(1, 8), doctest::Contains("expected partition 1 of 8"),
                       redflag::serialization_error);
  CHECK_THROWS_WITH_AS(PartitionCheckpoint({.partition = 4, .partitions = 4}),
                       "redflag::PartitionCheckpoint::PartitionCheckpoint: partition 4 of 4: the partition must be "
                       "below the partition count",
                       redflag::invalid_argument);
  CHECK_THROWS_AS(PartitionCheckpoint({.partition = 0, .partitions = 0}), redflag::invalid_argument);
  CHECK(PartitionCheckpoint().position() == PartitionPosition{0, 1, 0});
}
