#pragma once

// What the vector walks of a complete tree (forest/detail/complete_tree.hpp)
// read: one tree's slots in the implicit layout (children of slot i are 2i
// and 2i + 1, slot 0 unused), padded so that a kernel may load the first
// complete_tree_table_slots slots and read a few bytes past any slot.

#include <cstddef>
#include <cstdint>
#include <type_traits>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define REDFLAG_SIMD_X86 1
#else
#define REDFLAG_SIMD_X86 0
#endif

namespace redflag::simd::detail {

// Rows a vector walk takes at once (64 doubles or floats in flight).
inline constexpr std::size_t complete_tree_rows = 64;
// Slots a kernel may load whatever the tree's size, as tables of the top levels.
inline constexpr std::size_t complete_tree_table_slots = 128;

template <class T, class Leaf>
struct CompleteTreeView {
  const T* value;                // split value per slot (+inf below a leaf)
  const std::uint16_t* feature;  // split column per slot
  const Leaf* bottom;            // per bottom slot: a leaf-table index or a value
  std::int32_t depth;            // 2^depth bottom slots
};

// What a walk writes per row: the leaf's index, or a running sum it adds to.
template <class Leaf>
using Out = std::conditional_t<std::is_same_v<Leaf, double>, double, std::uint32_t>;

}  // namespace redflag::simd::detail
