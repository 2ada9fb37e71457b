#pragma once

// XXH64 (Yann Collet, xxHash specification v0.8) over a byte range. Model
// files carry it so a flipped bit or a truncated copy is reported instead of
// being loaded; it is not a defence against deliberate tampering.

#include <bit>
#include <cstdint>
#include <cstring>
#include <span>

namespace redflag::detail {

class Xxh64 {
 public:
  static std::uint64_t hash(std::span<const char> bytes, std::uint64_t seed = 0) {
    const char* cursor = bytes.data();
    const char* const end = cursor + bytes.size();
    std::uint64_t hash_value = 0;
    if (bytes.size() >= 32) {
      std::uint64_t lanes[4] = {seed + prime1 + prime2, seed + prime2, seed, seed - prime1};
      for (; end - cursor >= 32; cursor += 32) {
        for (int lane = 0; lane < 4; ++lane) lanes[lane] = round(lanes[lane], read64(cursor + 8 * lane));
      }
      hash_value = std::rotl(lanes[0], 1) + std::rotl(lanes[1], 7) + std::rotl(lanes[2], 12) + std::rotl(lanes[3], 18);
      for (const std::uint64_t lane : lanes) hash_value = merge_round(hash_value, lane);
    } else {
      hash_value = seed + prime5;
    }
    hash_value += static_cast<std::uint64_t>(bytes.size());
    for (; end - cursor >= 8; cursor += 8) {
      hash_value ^= round(0, read64(cursor));
      hash_value = std::rotl(hash_value, 27) * prime1 + prime4;
    }
    if (end - cursor >= 4) {
      hash_value ^= static_cast<std::uint64_t>(read32(cursor)) * prime1;
      hash_value = std::rotl(hash_value, 23) * prime2 + prime3;
      cursor += 4;
    }
    for (; cursor < end; ++cursor) {
      hash_value ^= static_cast<std::uint64_t>(static_cast<unsigned char>(*cursor)) * prime5;
      hash_value = std::rotl(hash_value, 11) * prime1;
    }
    hash_value ^= hash_value >> 33;
    hash_value *= prime2;
    hash_value ^= hash_value >> 29;
    hash_value *= prime3;
    hash_value ^= hash_value >> 32;
    return hash_value;
  }

 private:
  static constexpr std::uint64_t prime1 = 0x9E3779B185EBCA87ULL;
  static constexpr std::uint64_t prime2 = 0xC2B2AE3D27D4EB4FULL;
  static constexpr std::uint64_t prime3 = 0x165667B19E3779F9ULL;
  static constexpr std::uint64_t prime4 = 0x85EBCA77C2B2AE63ULL;
  static constexpr std::uint64_t prime5 = 0x27D4EB2F165667C5ULL;

  static std::uint64_t round(std::uint64_t accumulator, std::uint64_t input) {
    accumulator += input * prime2;
    return std::rotl(accumulator, 31) * prime1;
  }
  static std::uint64_t merge_round(std::uint64_t accumulator, std::uint64_t lane) {
    accumulator ^= round(0, lane);
    return accumulator * prime1 + prime4;
  }
  // The specification reads little-endian words.
  static std::uint64_t read64(const char* at) {
    std::uint64_t word = 0;
    std::memcpy(&word, at, sizeof word);
    if constexpr (std::endian::native == std::endian::big) word = byteswap(word);
    return word;
  }
  static std::uint32_t read32(const char* at) {
    std::uint32_t word = 0;
    std::memcpy(&word, at, sizeof word);
    if constexpr (std::endian::native == std::endian::big) {
      word = static_cast<std::uint32_t>(byteswap(static_cast<std::uint64_t>(word)) >> 32);
    }
    return word;
  }
  static std::uint64_t byteswap(std::uint64_t word) {
    std::uint64_t swapped = 0;
    for (int i = 0; i < 8; ++i) swapped = (swapped << 8) | ((word >> (8 * i)) & 0xFF);
    return swapped;
  }
};

}  // namespace redflag::detail
