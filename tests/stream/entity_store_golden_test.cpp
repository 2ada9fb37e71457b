// The entity store's snapshot format, pinned: tests/stream/golden/entity_store_v1.bin
// was written before EntityEvent's fields became
// record-independent (value, counterparty, place); the bytes did not change
// with them. To regenerate after a deliberate format change (bump
// EntityStore::format_version, keep reading the old one or refuse it with a
// clear message): run this test with REDFLAG_WRITE_GOLDEN=1 and commit the file.

#include <redflag/core/serialization.hpp>
#include <redflag/stream/entity_store.hpp>

#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

namespace {

const std::string golden_store_file = std::string(REDFLAG_SOURCE_DIR) + "/tests/stream/golden/entity_store_v1.bin";

std::string bytes_of(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// 120 events of 7 users, the ones the golden file holds.
redflag::EntityStore golden_events_store() {
  redflag::EntityStore store({.max_entities = 64, .shards = 4});
  const std::int64_t t0 = 1'704'067'200'000;  // 2024-01-01 00:00 UTC
  for (int i = 0; i < 120; ++i) {
    const std::string id = "user" + std::to_string(i % 7);
    redflag::EntityEvent e;
    e.entity = id;
    e.time_ms = t0 + i * 37'000LL;
    e.value = 10.0 + (i * 13) % 97;
    e.counterparty = 1 + static_cast<std::uint64_t>(i % 5);
    e.place = 1 + static_cast<std::uint64_t>(i % 3);
    e.local_hour = (i / 4) % 24;
    e.local_weekday = (i / 30) % 7;
    store.observe(e);
  }
  return store;
}

}  // namespace

TEST_CASE("The golden entity store snapshot loads, holds the events' state and saves to the same bytes") {
  const redflag::EntityStore fresh = golden_events_store();
  const std::string scratch = std::string(REDFLAG_TEST_SCRATCH_DIR) + "/entity_store_golden.bin";
  redflag::save(fresh, scratch);
  if (std::getenv("REDFLAG_WRITE_GOLDEN") != nullptr) {
    std::filesystem::copy_file(scratch, golden_store_file, std::filesystem::copy_options::overwrite_existing);
  }
  REQUIRE(std::filesystem::exists(golden_store_file));
  CHECK(bytes_of(scratch) == bytes_of(golden_store_file));

  const auto loaded = redflag::load<redflag::EntityStore>(golden_store_file);
  CHECK(loaded.size() == 7);
  for (int u = 0; u < 7; ++u) {
    const std::string id = "user" + std::to_string(u);
    REQUIRE(loaded.find(id));
    CHECK(*loaded.find(id) == *fresh.find(id));
  }
  CHECK(loaded.find("user0")->profile.count() == 18);
  redflag::save(loaded, scratch);
  CHECK(bytes_of(scratch) == bytes_of(golden_store_file));
}
