#pragma once

// partition_of(key, n): which of n partitions an entity's inputs go to, so
// that every input of one entity reaches the one worker that holds its state.
//
// It is the 32-bit FNV-1a hash of the key's bytes modulo n: exactly what a
// NATS server computes for the subject mapping `{{partition(n,1)}}` (the
// wildcard token's bytes hashed with Go's hash/fnv New32a, then % n), so a
// host can tell, without asking the broker, which partition a key's messages
// land on. docs/scale-out.md says when that holds (the key must be the
// subject token itself).

#include <redflag/core/error.hpp>

#include <cstdint>
#include <string_view>

namespace redflag {

namespace detail {

// FNV-1a, 32-bit (Fowler, Noll and Vo), over bytes taken as unsigned: a char
// above 0x7F must hash as the byte the broker sees, not as a negative value.
constexpr std::uint32_t fnv1a_32(std::string_view bytes) noexcept {
  constexpr std::uint32_t offset_basis = 2166136261u;
  constexpr std::uint32_t prime = 16777619u;
  std::uint32_t hash = offset_basis;
  for (const char c : bytes) {
    hash ^= static_cast<unsigned char>(c);
    hash *= prime;  // unsigned: wraps modulo 2^32, as the algorithm requires
  }
  return hash;
}

}  // namespace detail

// The partition, in [0, partitions), of the entity `key`. Throws
// invalid_argument for zero partitions.
constexpr std::uint32_t partition_of(std::string_view key, std::uint32_t partitions) {
  if (partitions == 0) detail::raise<invalid_argument>("partition_of", "partitions must be at least 1, got 0");
  return detail::fnv1a_32(key) % partitions;
}

}  // namespace redflag
