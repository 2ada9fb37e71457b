#pragma once

// The complete-tree walk (forest/detail/complete_tree.hpp) for AVX-512 over
// a block of rows stored column by column, for rows of few columns.
//
// The row-major walk (complete_tree_avx512.hpp) gathers each row's value at
// every level. Gathers cost about 0.4 ns an element on AMD EPYC (Zen 4 and
// 5), which holds that walk to 4-5 ns per row and tree there. Here a
// column's values for 16 rows are one load, and each lane's value is picked
// out of such loads by blends:
//
//  - at the upper levels (few slots), one load per slot of the level,
//    blended by the bits of the lane's slot: 2^k - 1 blends at level k;
//  - deeper, one load per column, blended by the bits of the lane's split
//    column: d - 1 blends, the columns and split values of the slots coming
//    from permutes of the tree's tables rather than gathers.
//
// Blends and permutes are cheap where gathers are not, so this walk pays up
// to column_walk_max_columns columns. Lanes compare the same values as every
// other walk (x > value, false for NaN), so rows reach the same leaves.

#include <redflag/simd/detail/complete_tree_view.hpp>

#if REDFLAG_SIMD_X86
#include <immintrin.h>

#include <bit>
#include <cstddef>
#include <cstdint>
#include <type_traits>

// Helpers are forced inline: passed through memory, as an out-of-line call
// would pass them, the walk's vectors lose most of its speed.
#define REDFLAG_COLUMN_WALK_TARGET __attribute__((target("avx512f,avx512vl,avx512dq,avx512bw"), always_inline))
#define REDFLAG_COLUMN_WALK_KERNEL __attribute__((target("avx512f,avx512vl,avx512dq,avx512bw")))

namespace redflag::simd::detail {

// Past this many columns, the blends a level costs more than a gather.
inline constexpr std::size_t column_walk_max_columns = 32;
// Rows the column walk takes at once (4 groups of 16, side by side).
inline constexpr std::size_t column_walk_rows = 64;

// The columns a block of d columns is padded to (zero columns, which no
// split reads): 8, 16 or 32, so that picking by column is a fixed tree of
// blends with no branch; past 32, which the walk does not take, d.
[[nodiscard]] constexpr std::size_t column_walk_padded_columns(std::size_t columns) {
  return columns <= 8 ? 8 : columns <= 16 ? 16 : columns <= 32 ? 32 : columns;
}

// 16 rows' values in vector registers, and what the walk does with them.
template <class T>
struct Lanes16;

template <>
struct Lanes16<float> {
  __m512 all;

  REDFLAG_COLUMN_WALK_TARGET inline static Lanes16 load(const float* at) { return {_mm512_load_ps(at)}; }
  // b where `pick_b` has a lane's bit set, else a.
  REDFLAG_COLUMN_WALK_TARGET inline static Lanes16 blend(__mmask16 pick_b, Lanes16 a, Lanes16 b) {
    return {_mm512_mask_blend_ps(pick_b, a.all, b.all)};
  }
  // Lanes where value < x: x > value, false for NaN.
  REDFLAG_COLUMN_WALK_TARGET inline static __mmask16 goes_right(Lanes16 value, Lanes16 x) {
    return _mm512_cmp_ps_mask(value.all, x.all, _CMP_LT_OQ);
  }
  // The split values of the slots `at` (16 lanes) of level Level (slots
  // 2^Level to 2^(Level + 1) - 1): permutes of tables of 16 and 32 slots,
  // blended by the slot's bits 5 and 6; gathers past level 7.
  template <int Level>
  REDFLAG_COLUMN_WALK_TARGET inline static Lanes16 split_values(const float* value, __m512i at) {
    constexpr __mmask16 all = 0xffff;
    if constexpr (Level <= 3) {
      return {_mm512_maskz_permutexvar_ps(all, at, _mm512_loadu_ps(value))};
    } else if constexpr (Level == 4) {
      return {_mm512_maskz_permutexvar_ps(all, at, _mm512_loadu_ps(value + 16))};
    } else if constexpr (Level <= 7) {
      const float* first = value + (1 << Level);
      const auto table = [&](int part) REDFLAG_COLUMN_WALK_TARGET {
        return _mm512_permutex2var_ps(_mm512_loadu_ps(first + 32 * part), at, _mm512_loadu_ps(first + 32 * part + 16));
      };
      if constexpr (Level == 5) {
        return {table(0)};
      } else {
        const __mmask16 bit_5 = _mm512_test_epi32_mask(at, _mm512_set1_epi32(32));
        const __m512 low = _mm512_mask_blend_ps(bit_5, table(0), table(1));
        if constexpr (Level == 6) {
          return {low};
        } else {
          const __m512 high = _mm512_mask_blend_ps(bit_5, table(2), table(3));
          return {_mm512_mask_blend_ps(_mm512_test_epi32_mask(at, _mm512_set1_epi32(64)), low, high)};
        }
      }
    } else {
      return {_mm512_mask_i32gather_ps(_mm512_setzero_ps(), all, at, value, 4)};
    }
  }
};

template <>
struct Lanes16<double> {
  __m512d low, high;  // lanes 0-7, 8-15

  REDFLAG_COLUMN_WALK_TARGET inline static Lanes16 load(const double* at) {
    return {_mm512_load_pd(at), _mm512_load_pd(at + 8)};
  }
  REDFLAG_COLUMN_WALK_TARGET inline static Lanes16 blend(__mmask16 pick_b, Lanes16 a, Lanes16 b) {
    return {_mm512_mask_blend_pd(static_cast<__mmask8>(pick_b), a.low, b.low),
            _mm512_mask_blend_pd(static_cast<__mmask8>(pick_b >> 8), a.high, b.high)};
  }
  REDFLAG_COLUMN_WALK_TARGET inline static __mmask16 goes_right(Lanes16 value, Lanes16 x) {
    const __mmask8 low = _mm512_cmp_pd_mask(value.low, x.low, _CMP_LT_OQ);
    const __mmask8 high = _mm512_cmp_pd_mask(value.high, x.high, _CMP_LT_OQ);
    return static_cast<__mmask16>(low | (high << 8));
  }
  // Permutes of tables of 8 and 16 slots, blended by bits 4 and 5, up to
  // level 6; gathers deeper.
  template <int Level>
  REDFLAG_COLUMN_WALK_TARGET inline static Lanes16 split_values(const double* value, __m512i at) {
    constexpr __mmask8 all = 0xff;
    const __m256i at_low = _mm512_maskz_extracti64x4_epi64(all, at, 0);
    const __m256i at_high = _mm512_maskz_extracti64x4_epi64(all, at, 1);
    if constexpr (Level >= 7) {
      return {_mm512_mask_i32gather_pd(_mm512_setzero_pd(), all, at_low, value, 8),
              _mm512_mask_i32gather_pd(_mm512_setzero_pd(), all, at_high, value, 8)};
    } else {
      const __m512i low = _mm512_maskz_cvtepu32_epi64(all, at_low);
      const __m512i high = _mm512_maskz_cvtepu32_epi64(all, at_high);
      if constexpr (Level <= 3) {
        const __m512d table = _mm512_loadu_pd(Level <= 2 ? value : value + 8);
        return {_mm512_maskz_permutexvar_pd(all, low, table), _mm512_maskz_permutexvar_pd(all, high, table)};
      } else {
        const double* first = value + (1 << Level);
        const auto table = [&](int part) REDFLAG_COLUMN_WALK_TARGET {
          const __m512d a = _mm512_loadu_pd(first + 16 * part);
          const __m512d b = _mm512_loadu_pd(first + 16 * part + 8);
          return Lanes16{_mm512_permutex2var_pd(a, low, b), _mm512_permutex2var_pd(a, high, b)};
        };
        if constexpr (Level == 4) {
          return table(0);
        } else {
          const __mmask16 bit_4 = _mm512_test_epi32_mask(at, _mm512_set1_epi32(16));
          const Lanes16 first_half = blend(bit_4, table(0), table(1));
          if constexpr (Level == 5) {
            return first_half;
          } else {
            const Lanes16 second_half = blend(bit_4, table(2), table(3));
            return blend(_mm512_test_epi32_mask(at, _mm512_set1_epi32(32)), first_half, second_half);
          }
        }
      }
    }
  }
};

// 64 slots' columns from `first` on, permuted by each lane's slot: a lane's
// index word is the slot's low 16 bits (of which the permute reads six); its
// other word indexes slot 0 of the table and is masked off by the caller.
REDFLAG_COLUMN_WALK_TARGET inline __m512i permute_64_columns(const std::uint16_t* first, __m512i at) {
  return _mm512_permutex2var_epi16(_mm512_loadu_si512(first), at, _mm512_loadu_si512(first + 32));
}

// The split columns of the slots `at` of level Level, as 32-bit lanes:
// 16-bit permutes of tables of 64 slots up to level 7, gathers deeper.
template <int Level>
REDFLAG_COLUMN_WALK_TARGET inline __m512i split_columns(const std::uint16_t* feature, __m512i at) {
  const __m512i low_16 = _mm512_set1_epi32(0xffff);
  if constexpr (Level >= 8) {
    return _mm512_and_si512(_mm512_mask_i32gather_epi32(_mm512_setzero_si512(), 0xffff, at, feature, 2), low_16);
  } else if constexpr (Level <= 6) {
    return _mm512_and_si512(permute_64_columns(feature + (Level <= 5 ? 0 : 64), at), low_16);
  } else {
    const __mmask16 bit_6 = _mm512_test_epi32_mask(at, _mm512_set1_epi32(64));
    return _mm512_and_si512(
        _mm512_mask_blend_epi32(bit_6, permute_64_columns(feature + 128, at), permute_64_columns(feature + 192, at)),
        low_16);
  }
}

// Level K: the value of each lane's slot's column, from one load per slot
// (slot 2^K + j reads the column at node_column[j]), blended by slot bits.
template <class T, int K>
REDFLAG_COLUMN_WALK_TARGET inline Lanes16<T> pick_by_slot(__m512i at, const T* const* node_column, std::size_t row) {
  Lanes16<T> part[1 << K];
#pragma GCC unroll 16
  for (int j = 0; j < (1 << K); ++j) part[j] = Lanes16<T>::load(node_column[j] + row);
#pragma GCC unroll 4
  for (int b = 0; b < K; ++b) {
    const __mmask16 bit = _mm512_test_epi32_mask(at, _mm512_set1_epi32(1 << b));
#pragma GCC unroll 8
    for (int m = 0; m < (1 << (K - 1 - b)); ++m) part[m] = Lanes16<T>::blend(bit, part[2 * m], part[2 * m + 1]);
  }
  return part[0];
}

// Each lane's value of its column `column`, from one load per column of the
// 2^Bits (padded) columns, blended by the column's bits.
template <class T, int Bits>
REDFLAG_COLUMN_WALK_TARGET inline Lanes16<T> pick_by_column(__m512i column, const T* row, std::size_t pitch) {
  Lanes16<T> part[1 << (Bits - 1)];
  const __mmask16 bit_0 = _mm512_test_epi32_mask(column, _mm512_set1_epi32(1));
#pragma GCC unroll 16
  for (std::size_t m = 0; m < (std::size_t{1} << (Bits - 1)); ++m) {
    part[m] =
        Lanes16<T>::blend(bit_0, Lanes16<T>::load(row + 2 * m * pitch), Lanes16<T>::load(row + (2 * m + 1) * pitch));
  }
#pragma GCC unroll 4
  for (int b = 1; b < Bits; ++b) {
    const __mmask16 bit = _mm512_test_epi32_mask(column, _mm512_set1_epi32(1 << b));
#pragma GCC unroll 8
    for (std::size_t m = 0; m < (std::size_t{1} << (Bits - 1 - b)); ++m) {
      part[m] = Lanes16<T>::blend(bit, part[2 * m], part[2 * m + 1]);
    }
  }
  return part[0];
}

// The walk for blocks of 2^Bits (padded) columns.
template <class T, class Leaf, int Bits>
REDFLAG_COLUMN_WALK_KERNEL void complete_tree_leaves_columns(const CompleteTreeView<T, Leaf>& tree, const T* columns,
                                                             std::size_t pitch, std::size_t count, Out<Leaf>* out) {
  constexpr int groups = static_cast<int>(column_walk_rows / 16);
  const int depth = tree.depth;
  // Levels picked by slot while their 2^k - 1 blends cost no more than
  // picking by column (its blends, bit tests and the column permute).
  constexpr int by_column_cost = (1 << Bits) - 1 + Bits + 2;
  int slot_levels = 0;
  while (slot_levels < 5 && slot_levels < depth && (1 << slot_levels) - 1 <= by_column_cost) ++slot_levels;
  const T* node_column[32];
  for (int slot = 1; slot < (1 << slot_levels); ++slot) node_column[slot] = columns + tree.feature[slot] * pitch;
  const __m512i one = _mm512_set1_epi32(1);
  for (std::size_t r = 0; r < count; r += column_walk_rows) {
    __m512i at[groups];
    for (int g = 0; g < groups; ++g) at[g] = one;
    // One level for the groups side by side, each lane taking the value
    // `pick(g)` of its group g.
    const auto step = [&]<int Level>(auto pick) REDFLAG_COLUMN_WALK_TARGET {
#pragma GCC unroll 4
      for (int g = 0; g < groups; ++g) {
        const Lanes16<T> x = pick(g);
        const __mmask16 right = Lanes16<T>::goes_right(Lanes16<T>::template split_values<Level>(tree.value, at[g]), x);
        const __m512i twice = _mm512_add_epi32(at[g], at[g]);
        at[g] = _mm512_mask_add_epi32(twice, right, twice, one);
      }
    };
    const auto level_step = [&]<int Level>() REDFLAG_COLUMN_WALK_TARGET {
      if constexpr (Level <= 4) {
        if (Level < slot_levels) {
          step.template operator()<Level>([&](int g) REDFLAG_COLUMN_WALK_TARGET {
            return pick_by_slot<T, Level>(at[g], node_column + (1 << Level), r + 16 * static_cast<std::size_t>(g));
          });
          return;
        }
      }
      step.template operator()<Level>([&](int g) REDFLAG_COLUMN_WALK_TARGET {
        return pick_by_column<T, Bits>(split_columns<Level>(tree.feature, at[g]),
                                       columns + r + 16 * static_cast<std::size_t>(g), pitch);
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
        default: level_step.template operator()<8>(); break;  // gathers, any level past 7
      }
    }
    const __m512i width = _mm512_set1_epi32(std::int32_t{1} << depth);
    for (int g = 0; g < groups; ++g) {
      const __m512i slot = _mm512_sub_epi32(at[g], width);
      Out<Leaf>* lanes = out + r + 16 * static_cast<std::size_t>(g);
      if constexpr (std::is_same_v<Leaf, double>) {
        constexpr __mmask8 all = 0xff;
        const __m512d low = _mm512_mask_i32gather_pd(_mm512_setzero_pd(), all,
                                                     _mm512_maskz_extracti64x4_epi64(all, slot, 0), tree.bottom, 8);
        const __m512d high = _mm512_mask_i32gather_pd(_mm512_setzero_pd(), all,
                                                      _mm512_maskz_extracti64x4_epi64(all, slot, 1), tree.bottom, 8);
        _mm512_storeu_pd(lanes, _mm512_add_pd(_mm512_loadu_pd(lanes), low));
        _mm512_storeu_pd(lanes + 8, _mm512_add_pd(_mm512_loadu_pd(lanes + 8), high));
      } else {
        _mm512_storeu_si512(lanes, _mm512_mask_i32gather_epi32(_mm512_setzero_si512(), 0xffff, slot, tree.bottom, 4));
      }
    }
  }
}

// out[r] (+)= the leaf of each of the `count` rows (a multiple of
// column_walk_rows) of a block stored column by column: column f of row r at
// columns[f * pitch + r] (64-byte aligned, pitch a multiple of 64 values),
// padded to column_walk_padded_columns(d) columns.
template <class T, class Leaf>
void complete_tree_leaves_columns_avx512(const CompleteTreeView<T, Leaf>& tree, const T* columns, std::size_t pitch,
                                         std::size_t padded_columns, std::size_t count, Out<Leaf>* out) {
  switch (padded_columns) {
    case 8: complete_tree_leaves_columns<T, Leaf, 3>(tree, columns, pitch, count, out); break;
    case 16: complete_tree_leaves_columns<T, Leaf, 4>(tree, columns, pitch, count, out); break;
    default: complete_tree_leaves_columns<T, Leaf, 5>(tree, columns, pitch, count, out); break;
  }
}

}  // namespace redflag::simd::detail

#undef REDFLAG_COLUMN_WALK_TARGET
#undef REDFLAG_COLUMN_WALK_KERNEL

#endif
