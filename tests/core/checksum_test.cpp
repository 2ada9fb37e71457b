#include <redflag/core/checksum.hpp>

#include <doctest/doctest.h>

#include <cstdint>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace {

std::uint64_t xxh64(std::string_view text, std::uint64_t seed = 0) {
  return redflag::detail::Xxh64::hash(std::span<const char>(text.data(), text.size()), seed);
}

std::string byte_range(int count) {
  std::string bytes;
  for (int i = 0; i < count; ++i) bytes.push_back(static_cast<char>(i));
  return bytes;
}

}  // namespace

// Expected values come from the reference implementation (libxxhash 0.8.1,
// XXH64(data, length, seed)); together they exercise every code path: the
// short-input start, 32-byte stripes, and the 8-, 4- and 1-byte tails.
TEST_CASE("XXH64 known vectors") {
  CHECK(xxh64("") == 0xEF46DB3751D8E999ULL);
  CHECK(xxh64("abc") == 0x44BC2CF5AD770999ULL);
  CHECK(xxh64("a") == 0xD24EC4F1A98C6E5BULL);
  CHECK(xxh64("abcd") == 0xDE0327B0D25D92CCULL);
  CHECK(xxh64("abcdefgh") == 0x3AD351775B4634B7ULL);
  CHECK(xxh64("Hello, world") == 0x303A3D777420B4D7ULL);  // 8 + 4
  // 39 bytes: one stripe, then 4- and 1-byte tails.
  CHECK(xxh64("Nobody inspects the spammish repetition") == 0xFBCEA83C8A378BF1ULL);
  // 43 bytes: one stripe, then an 8-byte tail and single bytes.
  CHECK(xxh64("The quick brown fox jumps over the lazy dog") == 0x0B242D361FDA71BCULL);
  CHECK(xxh64(std::string(32, '\xff')) == 0xFF10223616C08787ULL);  // exactly one stripe, signed chars
  CHECK(xxh64(byte_range(101)) == 0xE99038495F85381EULL);          // three stripes, 4 + 1 tail
}

TEST_CASE("XXH64 known vectors with a seed") {
  CHECK(xxh64("", 1) == 0xD5AFBA1336A3BE4BULL);
  CHECK(xxh64("abc", 1) == 0xBEA9CA8199328908ULL);
  CHECK(xxh64("The quick brown fox jumps over the lazy dog", 1) == 0xDF5091B6DAD2C6DBULL);
  CHECK(xxh64(byte_range(64), 12345) == 0xA2B41F40CF4D9630ULL);
  CHECK(xxh64(byte_range(101), 0xFFFFFFFFFFFFFFFFULL) == 0x49B1A7087BCDB7BEULL);
}

TEST_CASE("every single bit flip changes the hash") {
  for (const int length : {1, 7, 31, 32, 33, 100}) {
    const std::string original = byte_range(length);
    const std::uint64_t reference = xxh64(original);
    for (std::size_t bit = 0; bit < original.size() * 8; ++bit) {
      std::string flipped = original;
      flipped[bit / 8] = static_cast<char>(flipped[bit / 8] ^ (1 << (bit % 8)));
      INFO("length " << length << ", bit " << bit);
      CHECK(xxh64(flipped) != reference);
    }
  }
}

TEST_CASE("length matters: prefixes, extensions and zero padding hash differently") {
  std::set<std::uint64_t> hashes;
  std::string zeros;
  for (int length = 0; length <= 80; ++length) {
    hashes.insert(xxh64(zeros));
    zeros.push_back('\0');
  }
  CHECK(hashes.size() == 81);
  CHECK(xxh64("abc") != xxh64(std::string_view("abc\0", 4)));
  CHECK(xxh64("model") != xxh64("model "));
}

TEST_CASE("the seed changes the hash and the hash is deterministic") {
  const std::string text = byte_range(57);
  CHECK(xxh64(text, 0) != xxh64(text, 1));
  CHECK(xxh64(text, 7) == xxh64(text, 7));
  // Only the viewed bytes count, wherever they sit in memory.
  const std::string padded = "xx" + text + "yy";
  CHECK(redflag::detail::Xxh64::hash(std::span<const char>(padded.data() + 2, text.size())) == xxh64(text));
}
