#include <redflag/stream/sequence_gate.hpp>

#include <doctest/doctest.h>

#include <cstdint>
#include <stdexcept>
#include <vector>

using redflag::SequenceGate;
using redflag::SequenceStatus;

TEST_CASE("SequenceGate applies increasing sequences, gaps included, and skips the rest") {
  SequenceGate gate;
  CHECK(gate.last_applied() == 0);
  std::vector<std::uint64_t> ran;
  auto deliver = [&](std::uint64_t sequence) { return gate.apply(sequence, [&] { ran.push_back(sequence); }); };
  CHECK(deliver(1) == SequenceStatus::applied);
  CHECK(deliver(4) == SequenceStatus::applied);  // 2 and 3 belong to other partitions
  CHECK(deliver(4) == SequenceStatus::already_applied);
  CHECK(deliver(2) == SequenceStatus::already_applied);  // below one already applied: taken for a duplicate
  CHECK(deliver(9) == SequenceStatus::applied);
  CHECK(ran == std::vector<std::uint64_t>{1, 4, 9});
  CHECK(gate.last_applied() == 9);
}

TEST_CASE("SequenceGate restored at a sequence skips everything up to it") {
  SequenceGate gate(100);
  int runs = 0;
  for (std::uint64_t s = 1; s <= 100; ++s) CHECK(gate.apply(s, [&] { ++runs; }) == SequenceStatus::already_applied);
  CHECK(runs == 0);
  CHECK(gate == SequenceGate(100));
  CHECK(gate.apply(101, [&] { ++runs; }) == SequenceStatus::applied);
  CHECK(runs == 1);
  CHECK(gate.last_applied() == 101);
}

TEST_CASE("SequenceGate does not advance when the input's processing throws") {
  SequenceGate gate(3);
  CHECK_THROWS_AS(gate.apply(5, [] { throw std::runtime_error("broker down"); }), std::runtime_error);
  CHECK(gate.last_applied() == 3);
  bool ran = false;
  CHECK(gate.apply(5, [&] { ran = true; }) == SequenceStatus::applied);  // delivered again, applied then
  CHECK(ran);
}

TEST_CASE("SequenceGate refuses sequence 0, which would otherwise pass for already applied") {
  SequenceGate gate;
  bool ran = false;
  CHECK_THROWS_WITH_AS(gate.apply(0, [&] { ran = true; }),
                       "redflag::SequenceGate::apply: sequence numbers start at 1, got 0", redflag::invalid_argument);
  CHECK_FALSE(ran);
  CHECK(gate.last_applied() == 0);
}
