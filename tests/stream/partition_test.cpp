#include <redflag/stream/partition.hpp>

#include <doctest/doctest.h>

#include <array>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

// Reference values of 32-bit FNV-1a (offset basis 2166136261, prime
// 16777619), the hash NATS subject mapping's partition() takes.
TEST_CASE("FNV-1a 32 gives the published hashes, bytes above 0x7F taken as unsigned") {
  static_assert(redflag::detail::fnv1a_32("") == 0x811c9dc5u);
  CHECK(redflag::detail::fnv1a_32("a") == 0xe40c292cu);
  CHECK(redflag::detail::fnv1a_32("b") == 0xe70c2de5u);
  CHECK(redflag::detail::fnv1a_32("foo") == 0xa9f37ed7u);
  CHECK(redflag::detail::fnv1a_32("foobar") == 0xbf9cf968u);
  CHECK(redflag::detail::fnv1a_32("\xff") == 0x7a0b824eu);
  CHECK(redflag::detail::fnv1a_32(std::string_view("a\0b", 3)) != redflag::detail::fnv1a_32("ab"));
}

TEST_CASE("partition_of is the key's FNV-1a 32 hash modulo the partition count") {
  static_assert(redflag::partition_of("foobar", 7) == 0xbf9cf968u % 7);
  for (const std::string_view key : {"", "a", "b", "foo", "foobar", "user-42", "\xff"}) {
    CAPTURE(key);
    const std::uint32_t hash = redflag::detail::fnv1a_32(key);
    for (const std::uint32_t n : {1u, 2u, 3u, 4u, 7u, 16u, 1000u, std::numeric_limits<std::uint32_t>::max()}) {
      CHECK(redflag::partition_of(key, n) == hash % n);
    }
  }
  CHECK(redflag::partition_of("", 4) == 1);
  CHECK(redflag::partition_of("a", 7) == 5);
  CHECK(redflag::partition_of("user-42", 4) == 3);
  CHECK(redflag::partition_of("anything", 1) == 0);
}

TEST_CASE("partition_of spreads keys over every partition") {
  std::array<int, 8> counts{};
  for (int i = 0; i < 8'000; ++i) ++counts[redflag::partition_of("user" + std::to_string(i), 8)];
  for (const int count : counts) CHECK(count > 800);  // 1,000 each on average
}

TEST_CASE("partition_of refuses zero partitions") {
  CHECK_THROWS_WITH_AS(redflag::partition_of("a", 0), "redflag::partition_of: partitions must be at least 1, got 0",
                       redflag::invalid_argument);
}
