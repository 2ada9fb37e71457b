#pragma once

// The complete-tree walk (forest/detail/complete_tree.hpp) for AVX-512 over
// rows given as split ranks (forest/detail/split_ranks.hpp): each value
// replaced by the number of the forest's split values for its column below
// it, and each slot's split value by its index among them, so that
// x > value exactly when index < rank. Ranks are 16-bit: a vector holds 32
// rows where it held 16 floats or 8 doubles, whatever the model's scalar.
//
// The row-major walk (complete_tree_avx512.hpp) gathers each row's value at
// every level. Gathers cost about 0.4 ns an element on AMD EPYC (Zen 4 and
// 5), which holds that walk to 4-6 ns per row and tree there. Here a rank
// column's values for 32 rows are one aligned load (the block is stored
// column by column), and each lane's value is picked out of such loads by
// blends:
//
//  - at the upper levels (few slots), one load per slot of the level,
//    blended by the bits of the lane's slot: 2^k - 1 blends at level k;
//  - deeper, one load per column, blended by the bits of the lane's split
//    column (the block's columns padded to 4, 8, 12, 16, 24 or 32), the columns and
//    split indices of the slots coming from 16-bit permutes of the tree's
//    tables down to level 8, gathers deeper.
//
// Blends and permutes are cheap where gathers are not, so this walk pays up
// to rank_walk_max_columns columns.

#include <redflag/simd/detail/complete_tree_view.hpp>

#include <cstddef>
#include <cstdint>

// Sanitizer builds pad every block to 32 columns: one walk to instrument
// rather than six (each a few hundred unrolled loads) keeps their compile
// time near the other builds'. The walks differ only in their compile-time
// column count.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define REDFLAG_RANK_WALK_ONE_WIDTH 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define REDFLAG_RANK_WALK_ONE_WIDTH 1
#endif
#endif

namespace redflag::simd::detail {

// Past this many columns, the blends a level takes cost more than a gather.
inline constexpr std::size_t rank_walk_max_columns = 32;
// Rows the walk takes at once: 4 vectors of 32, side by side.
inline constexpr std::size_t rank_walk_rows = 128;
// A slot's split index when no row goes right there (the slots below a
// leaf): above every rank.
inline constexpr std::uint16_t never_right = 0xffff;

// The columns a block of d columns is padded to (columns of rank 0, which no
// split reads): 4, 8, 12, 16, 24 or 32, so that picking by column is a
// fixed tree of blends with no branch; past 32, which the walk does not
// take, d.
[[nodiscard]] constexpr std::size_t rank_walk_padded_columns(std::size_t columns) {
#if defined(REDFLAG_RANK_WALK_ONE_WIDTH)
  constexpr std::size_t widths[] = {32};
#else
  constexpr std::size_t widths[] = {4, 8, 12, 16, 24, 32};
#endif
  for (const std::size_t padded : widths) {
    if (columns <= padded) return padded;
  }
  return columns;
}

// One tree as the rank walk reads it (slots numbered from 1, children of
// slot i at 2i and 2i + 1), its tables padded so that a permute may read 64
// entries from any table start and a gather a few bytes past any slot.
template <class Leaf>
struct RankTreeView {
  const std::uint16_t* split;    // split index per slot (never_right below a leaf)
  const std::uint16_t* feature;  // split column per slot
  const Leaf* bottom;            // per bottom slot: a leaf-table index or a value
  std::int32_t depth;            // 2^depth bottom slots
  // Or, for a tree of depth <= 8 whose bottom slots hold at most 32
  // distinct values: each bottom slot's value as an index into those
  // values, so that leaves are looked up by permutes rather than gathers
  // (an 8-lane gather costs about 5.6 ns on AMD EPYC). Null otherwise.
  const std::uint16_t* leaf_index = nullptr;  // per bottom slot, padded to 64 entries
  const double* leaf_value = nullptr;         // 32 values
};

}  // namespace redflag::simd::detail

#if REDFLAG_SIMD_X86
#include <immintrin.h>

#include <bit>
#include <type_traits>

// Helpers are forced inline: passed through memory, as an out-of-line call
// would pass them, the walk's vectors lose most of its speed.
#define REDFLAG_RANK_WALK_INLINE __attribute__((target("avx512f,avx512vl,avx512dq,avx512bw"), always_inline))
#define REDFLAG_RANK_WALK_KERNEL __attribute__((target("avx512f,avx512vl,avx512dq,avx512bw")))

namespace redflag::simd::detail {

// 64 slots' entries of a table from `first` on, permuted by each lane's slot
// (its low six bits).
REDFLAG_RANK_WALK_INLINE inline __m512i permute_64_slots(const std::uint16_t* first, __m512i at) {
  return _mm512_permutex2var_epi16(_mm512_loadu_si512(first), at, _mm512_loadu_si512(first + 32));
}

REDFLAG_RANK_WALK_INLINE inline __mmask32 bit_set(__m512i lanes, int bit) {
  return _mm512_test_epi16_mask(lanes, _mm512_set1_epi16(static_cast<short>(1 << bit)));
}

// The entries of a per-slot table for the slots `at` of level Level
// (2^Level to 2^(Level + 1) - 1): permutes of 64-slot tables blended by the
// slot's bits 6 and 7 down to level 8, gathers deeper.
template <int Level>
REDFLAG_RANK_WALK_INLINE inline __m512i slot_entries(const std::uint16_t* table, __m512i at) {
  if constexpr (Level <= 5) {
    return permute_64_slots(table, at);
  } else if constexpr (Level == 6) {
    return permute_64_slots(table + 64, at);
  } else if constexpr (Level == 7) {
    return _mm512_mask_blend_epi16(bit_set(at, 6), permute_64_slots(table + 128, at),
                                   permute_64_slots(table + 192, at));
  } else if constexpr (Level == 8) {
    const __mmask32 bit_6 = bit_set(at, 6);
    const __m512i low =
        _mm512_mask_blend_epi16(bit_6, permute_64_slots(table + 256, at), permute_64_slots(table + 320, at));
    const __m512i high =
        _mm512_mask_blend_epi16(bit_6, permute_64_slots(table + 384, at), permute_64_slots(table + 448, at));
    return _mm512_mask_blend_epi16(bit_set(at, 7), low, high);
  } else {
    // Two gathers of 16 32-bit words, whose low halves are the entries.
    const auto* words = reinterpret_cast<const int*>(table);
    // (Halves and quarters are template arguments: an extract's lane must be
    // a constant even where the compiler does not unroll, as at -Og.)
    const auto gather = [&]<int Half>() REDFLAG_RANK_WALK_INLINE {
      const __m512i slots = _mm512_maskz_cvtepu16_epi32(0xffff, _mm512_maskz_extracti64x4_epi64(0xff, at, Half));
      return _mm512_mask_i32gather_epi32(_mm512_setzero_si512(), 0xffff, slots, words, 2);
    };
    const __m512i low_halves = _mm512_set_epi16(62, 60, 58, 56, 54, 52, 50, 48, 46, 44, 42, 40, 38, 36, 34, 32, 30, 28,
                                                26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
    return _mm512_permutex2var_epi16(gather.template operator()<0>(), low_halves, gather.template operator()<1>());
  }
}

// Level K: each lane's rank in the column of its slot, from one load per
// slot of the level (slot 2^K + j reads the column at slot_column[j]),
// blended by the slot's bits.
template <int K>
REDFLAG_RANK_WALK_INLINE inline __m512i pick_by_slot(__m512i at, const std::uint16_t* const* slot_column,
                                                     std::size_t row) {
  __m512i part[1 << K];
#pragma GCC unroll 16
  for (int j = 0; j < (1 << K); ++j) part[j] = _mm512_load_si512(slot_column[j] + row);
#pragma GCC unroll 4
  for (int b = 0; b < K; ++b) {
    const __mmask32 bit = bit_set(at, b);
#pragma GCC unroll 8
    for (int m = 0; m < (1 << (K - 1 - b)); ++m) part[m] = _mm512_mask_blend_epi16(bit, part[2 * m], part[2 * m + 1]);
  }
  return part[0];
}

// part[0] = part[c] for each lane's c (< Count, bits from Bit up given by
// `column`): a tree of Count - 1 blends, an odd one out passed up a level
// as it is (no lane has a bit set that would take it past the last part).
template <int Count, int Bit>
REDFLAG_RANK_WALK_INLINE inline void blend_down(__m512i* part, __m512i column) {
  if constexpr (Count > 1) {
    const __mmask32 bit = bit_set(column, Bit);
#pragma GCC unroll 16
    for (int m = 0; m < Count / 2; ++m) part[m] = _mm512_mask_blend_epi16(bit, part[2 * m], part[2 * m + 1]);
    if constexpr (Count % 2 == 1) part[Count / 2] = part[Count - 1];
    blend_down<(Count + 1) / 2, Bit + 1>(part, column);
  }
}

// Each lane's rank in its column `column`, from one load per column of the
// Columns (padded) columns, blended by the column's bits.
template <int Columns>
REDFLAG_RANK_WALK_INLINE inline __m512i pick_by_column(__m512i column, const std::uint16_t* row, std::size_t pitch) {
  __m512i part[Columns];
#pragma GCC unroll 32
  for (int f = 0; f < Columns; ++f) part[f] = _mm512_load_si512(row + static_cast<std::size_t>(f) * pitch);
  blend_down<Columns, 0>(part, column);
  return part[0];
}

// out[r] += the leaf value of each of 32 rows whose bottom slots are `slot`,
// through the tree's table of at most 32 distinct leaf values.
REDFLAG_RANK_WALK_INLINE inline void add_indexed_leaves(__m512i slot, const RankTreeView<double>& tree, double* out) {
  const std::uint16_t* index_table = tree.leaf_index;
  __m512i index;
  if (tree.depth <= 6) {
    index = permute_64_slots(index_table, slot);
  } else if (tree.depth == 7) {
    index = _mm512_mask_blend_epi16(bit_set(slot, 6), permute_64_slots(index_table, slot),
                                    permute_64_slots(index_table + 64, slot));
  } else {
    const __mmask32 bit_6 = bit_set(slot, 6);
    const __m512i low =
        _mm512_mask_blend_epi16(bit_6, permute_64_slots(index_table, slot), permute_64_slots(index_table + 64, slot));
    const __m512i high = _mm512_mask_blend_epi16(bit_6, permute_64_slots(index_table + 128, slot),
                                                 permute_64_slots(index_table + 192, slot));
    index = _mm512_mask_blend_epi16(bit_set(slot, 7), low, high);
  }
  const __m512d value_0 = _mm512_loadu_pd(tree.leaf_value), value_8 = _mm512_loadu_pd(tree.leaf_value + 8);
  const __m512d value_16 = _mm512_loadu_pd(tree.leaf_value + 16), value_24 = _mm512_loadu_pd(tree.leaf_value + 24);
  const auto add_quarter = [&]<int Quarter>() REDFLAG_RANK_WALK_INLINE {
    const __m512i lanes = _mm512_maskz_cvtepu16_epi64(0xff, _mm512_maskz_extracti32x4_epi32(0xf, index, Quarter));
    const __m512d low = _mm512_permutex2var_pd(value_0, lanes, value_8);
    const __m512d high = _mm512_permutex2var_pd(value_16, lanes, value_24);
    const __m512d value = _mm512_mask_blend_pd(_mm512_test_epi64_mask(lanes, _mm512_set1_epi64(16)), low, high);
    double* sum = out + 8 * Quarter;
    _mm512_storeu_pd(sum, _mm512_add_pd(_mm512_loadu_pd(sum), value));
  };
  add_quarter.template operator()<0>();
  add_quarter.template operator()<1>();
  add_quarter.template operator()<2>();
  add_quarter.template operator()<3>();
}

// out[r] (+)= the leaf of each of 32 rows whose bottom slots are `slot`.
template <class Leaf>
REDFLAG_RANK_WALK_INLINE inline void write_leaves(__m512i slot, const Leaf* bottom, Out<Leaf>* out) {
  const auto write_half = [&]<int Half>() REDFLAG_RANK_WALK_INLINE {
    const __m512i index = _mm512_maskz_cvtepu16_epi32(0xffff, _mm512_maskz_extracti64x4_epi64(0xff, slot, Half));
    Out<Leaf>* lanes = out + 16 * Half;
    if constexpr (std::is_same_v<Leaf, double>) {
      const __m512d low = _mm512_mask_i32gather_pd(_mm512_setzero_pd(), 0xff,
                                                   _mm512_maskz_extracti64x4_epi64(0xff, index, 0), bottom, 8);
      const __m512d high = _mm512_mask_i32gather_pd(_mm512_setzero_pd(), 0xff,
                                                    _mm512_maskz_extracti64x4_epi64(0xff, index, 1), bottom, 8);
      _mm512_storeu_pd(lanes, _mm512_add_pd(_mm512_loadu_pd(lanes), low));
      _mm512_storeu_pd(lanes + 8, _mm512_add_pd(_mm512_loadu_pd(lanes + 8), high));
    } else {
      _mm512_storeu_si512(lanes, _mm512_mask_i32gather_epi32(_mm512_setzero_si512(), 0xffff, index, bottom, 4));
    }
  };
  write_half.template operator()<0>();
  write_half.template operator()<1>();
}

// The walk for blocks of Columns (padded) rank columns.
template <class Leaf, int Columns>
REDFLAG_RANK_WALK_KERNEL void complete_tree_leaves_ranks(const RankTreeView<Leaf>& tree, const std::uint16_t* ranks,
                                                         std::size_t pitch, std::size_t count, Out<Leaf>* out) {
  constexpr int groups = static_cast<int>(rank_walk_rows / 32);
  const int depth = tree.depth;
  // Levels picked by slot while their 2^k - 1 blends cost no more than
  // picking by column (its blends, bit tests and the column permute).
  // Level k by slot: 2^k loads, 2^k - 1 blends, k bit tests; by column:
  // Columns loads, Columns - 1 blends, its bit tests and a permute.
  constexpr int column_bits = std::bit_width(static_cast<unsigned>(Columns - 1));
  constexpr int by_column_cost = 2 * Columns - 1 + column_bits + 1;
  int slot_levels = 0;
  while (slot_levels < 5 && slot_levels < depth && (2 << slot_levels) - 1 + slot_levels <= by_column_cost) {
    ++slot_levels;
  }
  const std::uint16_t* slot_column[32];
  for (int slot = 1; slot < (1 << slot_levels); ++slot) slot_column[slot] = ranks + tree.feature[slot] * pitch;
  const __m512i one = _mm512_set1_epi16(1);
  for (std::size_t r = 0; r < count; r += rank_walk_rows) {
    __m512i at[groups];
    for (int g = 0; g < groups; ++g) at[g] = one;
    const auto row = [r](int g) REDFLAG_RANK_WALK_INLINE { return r + 32 * static_cast<std::size_t>(g); };
    // One level for the groups side by side, each lane taking the rank
    // `pick(g)` of its group g: right where the slot's split index < rank.
    const auto step = [&]<int Level>(auto pick) REDFLAG_RANK_WALK_INLINE {
#pragma GCC unroll 4
      for (int g = 0; g < groups; ++g) {
        const __mmask32 right = _mm512_cmplt_epu16_mask(slot_entries<Level>(tree.split, at[g]), pick(g));
        const __m512i twice = _mm512_add_epi16(at[g], at[g]);
        at[g] = _mm512_mask_add_epi16(twice, right, twice, one);
      }
    };
    const auto level_step = [&]<int Level>() REDFLAG_RANK_WALK_INLINE {
      if constexpr (Level <= 4) {
        if (Level < slot_levels) {
          step.template operator()<Level>([&](int g) REDFLAG_RANK_WALK_INLINE {
            return pick_by_slot<Level>(at[g], slot_column + (1 << Level), row(g));
          });
          return;
        }
      }
      step.template operator()<Level>([&](int g) REDFLAG_RANK_WALK_INLINE {
        return pick_by_column<Columns>(slot_entries<Level>(tree.feature, at[g]), ranks + row(g), pitch);
      });
    };
    for (int level = 0; level < depth; ++level) {
      switch (level) {
        case 0: level_step.template operator()<0>(); break;
        case 1: level_step.template operator()<1>(); break;
        case 2: level_step.template operator()<2>(); break;
        case 3: level_step.template operator()<3>(); break;
        case 4: level_step.template operator()<4>(); break;
        case 5: level_step.template operator()<5>(); break;
        case 6: level_step.template operator()<6>(); break;
        case 7: level_step.template operator()<7>(); break;
        case 8: level_step.template operator()<8>(); break;
        default: level_step.template operator()<9>(); break;  // gathers, any level past 8
      }
    }
    const __m512i width = _mm512_set1_epi16(static_cast<short>(1 << depth));
    for (int g = 0; g < groups; ++g) {
      const __m512i slot = _mm512_sub_epi16(at[g], width);
      if constexpr (std::is_same_v<Leaf, double>) {
        if (tree.leaf_index != nullptr) {
          add_indexed_leaves(slot, tree, out + row(g));
          continue;
        }
      }
      write_leaves(slot, tree.bottom, out + row(g));
    }
  }
}

// out[r] (+)= the leaf of each of the `count` rows (a multiple of
// rank_walk_rows) of a block of ranks stored column by column: column f of
// row r at ranks[f * pitch + r] (64-byte aligned, pitch a multiple of 32),
// padded to rank_walk_padded_columns(d) columns.
template <class Leaf>
void complete_tree_leaves_ranks_avx512(const RankTreeView<Leaf>& tree, const std::uint16_t* ranks, std::size_t pitch,
                                       std::size_t padded_columns, std::size_t count, Out<Leaf>* out) {
#if defined(REDFLAG_RANK_WALK_ONE_WIDTH)
  static_cast<void>(padded_columns);
  complete_tree_leaves_ranks<Leaf, 32>(tree, ranks, pitch, count, out);
#else
  switch (padded_columns) {
    case 4: complete_tree_leaves_ranks<Leaf, 4>(tree, ranks, pitch, count, out); break;
    case 8: complete_tree_leaves_ranks<Leaf, 8>(tree, ranks, pitch, count, out); break;
    case 12: complete_tree_leaves_ranks<Leaf, 12>(tree, ranks, pitch, count, out); break;
    case 16: complete_tree_leaves_ranks<Leaf, 16>(tree, ranks, pitch, count, out); break;
    case 24: complete_tree_leaves_ranks<Leaf, 24>(tree, ranks, pitch, count, out); break;
    default: complete_tree_leaves_ranks<Leaf, 32>(tree, ranks, pitch, count, out); break;
  }
#endif
}

// ranks[r] = the number of a column's split values below x[r * stride], for
// `rows` values, by a search tree of `levels` levels (split_ranks.hpp):
// level l's keys at keys + offset[l], top level first, 16 keys a node, one
// compare of a vector (float) or two (double) a level.
template <class T>
REDFLAG_RANK_WALK_KERNEL void split_ranks_avx512(const T* keys, const std::size_t* offset, int levels, const T* x,
                                                 std::size_t stride, std::size_t rows, std::uint16_t* ranks) {
  for (std::size_t r = 0; r < rows; ++r) {
    const T value = x[r * stride];
    std::size_t node = 0;
    for (int l = 0; l < levels; ++l) {
      const T* key = keys + offset[l] + node * 16;
      unsigned below;
      if constexpr (std::is_same_v<T, float>) {
        below = _mm512_cmp_ps_mask(_mm512_loadu_ps(key), _mm512_set1_ps(value), _CMP_LT_OQ);
      } else {
        const __m512d v = _mm512_set1_pd(value);
        below = _mm512_cmp_pd_mask(_mm512_loadu_pd(key), v, _CMP_LT_OQ) |
                (unsigned{_mm512_cmp_pd_mask(_mm512_loadu_pd(key + 8), v, _CMP_LT_OQ)} << 8);
      }
      node = node * 16 + static_cast<std::size_t>(__builtin_popcount(below));
    }
    ranks[r] = static_cast<std::uint16_t>(node);
  }
}

}  // namespace redflag::simd::detail

#undef REDFLAG_RANK_WALK_INLINE
#undef REDFLAG_RANK_WALK_KERNEL

#endif

#undef REDFLAG_RANK_WALK_ONE_WIDTH
