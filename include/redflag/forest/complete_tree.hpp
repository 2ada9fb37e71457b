#pragma once

// A scoring copy of shallow trees in the implicit layout of a complete binary
// tree, numbered from 1: the children of slot i are slots 2i and 2i + 1, so a
// step is
//
//   at = 2 * at + (x[feature[at]] > value[at])
//
// with no child index to load: two loads from the tree and one from the row
// a level, where the node layout (tree_node.hpp) needs four. A leaf above
// the tree's depth is padded down to it: the slots beneath it hold +inf, so
// every row (NaN included) goes left until the bottom, whose slot names the
// leaf. The copy costs 2^depth slots a tree, so it is built only for trees
// no deeper than max_depth; deeper forests keep the node walk.
//
// On x86-64 CPUs with AVX-512 (checked at run time), `leaves` walks 64 rows
// at a time in vector registers: the row values are gathered, and the splits
// of a tree's top five levels (31 slots) come from registers by permutes
// instead of gathers. Every walk sends a row exactly where the node walk does
// (numeric splits, x <= value going left, NaN left), so results never depend
// on which walk ran.

#include <redflag/core/types.hpp>
#include <redflag/forest/tree_node.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <type_traits>
#include <utility>
#include <vector>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define REDFLAG_COMPLETE_TREE_AVX512 1
#endif

namespace redflag::detail::forest {

template <Scalar T>
class CompleteTrees {
 public:
  // 2^12 slots a tree at most: 40-56 KB, about what the node layout holds for
  // a full tree of that depth.
  static constexpr std::int32_t max_depth = 12;
  // Rows a vector walk takes at once (64 doubles or floats in flight).
  static constexpr std::size_t vector_rows = 64;

  CompleteTrees() = default;

  // From numeric trees in the node layout (tree t = nodes [offsets[t],
  // offsets[t + 1]), root first, depth[t] its deepest leaf); payload(node)
  // is what a leaf's bottom slot holds (a leaf-table row, say). Empty when a
  // tree is deeper than max_depth.
  template <class Payload>
  CompleteTrees(const std::vector<TreeNode<T>>& nodes, const std::vector<std::int32_t>& offsets,
                const std::vector<std::int32_t>& depth, Payload payload) {
    for (const std::int32_t d : depth) {
      if (d > max_depth) return;
    }
    const std::size_t n_trees = depth.size();
    slot_offsets_.assign(n_trees + 1, 0);
    for (std::size_t t = 0; t < n_trees; ++t) slot_offsets_[t + 1] = slot_offsets_[t] + (std::size_t{1} << depth[t]);
    // Slot 0 of each tree is unused; the vector walk reads slots 0-31 (and a
    // feature gather two bytes past a slot) whatever the tree's size, hence
    // the padding at the end.
    value_.assign(slot_offsets_.back() + table_slots, std::numeric_limits<T>::infinity());
    feature_.assign(slot_offsets_.back() + table_slots, 0);
    bottom_.assign(slot_offsets_.back(), 0);
    depth_ = depth;
    for (std::size_t t = 0; t < n_trees; ++t) {
      const std::size_t width = std::size_t{1} << depth[t];
      T* value = value_.data() + slot_offsets_[t];
      std::uint16_t* feature = feature_.data() + slot_offsets_[t];
      std::uint32_t* bottom = bottom_.data() + slot_offsets_[t];
      // (node, slot) pairs; a padded leaf carries on down its left spine.
      std::vector<std::pair<std::int32_t, std::size_t>> pending{{offsets[t], 1}};
      while (!pending.empty()) {
        const auto [at, slot] = pending.back();
        pending.pop_back();
        const TreeNode<T>& node = nodes[static_cast<std::size_t>(at)];
        if (slot >= width) {
          bottom[slot - width] = payload(at);
        } else if (node.kind == NodeKind::leaf) {
          pending.emplace_back(at, 2 * slot);
        } else {
          value[slot] = node.value;
          feature[slot] = node.feature;
          pending.emplace_back(node.left, 2 * slot);
          pending.emplace_back(node.left + 1, 2 * slot + 1);
        }
      }
    }
  }

  [[nodiscard]] bool empty() const { return depth_.empty(); }

  // Whether `leaves` walks rows in vector registers on this CPU.
  [[nodiscard]] static bool vectorised() {
#ifdef REDFLAG_COMPLETE_TREE_AVX512
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl");
#else
    return false;
#endif
  }

  // payload[w] = the payload of the leaf that row w (starting at
  // rows + offset[w]) reaches in tree t. The W rows walk side by side, so
  // their loads overlap; 32-bit offsets from one base rather than W pointers
  // leave the walk's state small enough for registers.
  template <std::size_t W>
  void walk(std::size_t t, const T* rows, const std::uint32_t (&offset)[W], std::uint32_t (&payload)[W]) const {
    const T* value = value_.data() + slot_offsets_[t];
    const std::uint16_t* feature = feature_.data() + slot_offsets_[t];
    std::uint32_t at[W];
    for (std::size_t w = 0; w < W; ++w) at[w] = 1;
    for (std::int32_t level = 0; level < depth_[t]; ++level) {
      for (std::size_t w = 0; w < W; ++w) {
        at[w] = 2 * at[w] + static_cast<std::uint32_t>(rows[offset[w] + feature[at[w]]] > value[at[w]]);
      }
    }
    const std::uint32_t* bottom = bottom_.data() + slot_offsets_[t];
    const auto width = std::uint32_t{1} << depth_[t];
    for (std::size_t w = 0; w < W; ++w) payload[w] = bottom[at[w] - width];
  }

  // payload[r] for each of the `count` rows at X (`stride` values apart) in
  // tree t. stride * 16 must fit an int32 (the vector walk's lane offsets).
  void leaves(std::size_t t, const T* X, std::size_t stride, std::size_t count, std::uint32_t* payload) const {
    std::size_t r = 0;
#ifdef REDFLAG_COMPLETE_TREE_AVX512
    if (count >= vector_rows && vectorised()) {
      r = count - count % vector_rows;
      vector_leaves(t, X, stride, r, payload);
    }
#endif
    constexpr std::size_t wide = 16;
    for (; r < count; r += wide) {
      const std::size_t width = std::min(wide, count - r);
      std::uint32_t offset[wide];
      std::uint32_t reached[wide];
      for (std::size_t w = 0; w < wide; ++w) {
        offset[w] = static_cast<std::uint32_t>(std::min(w, width - 1) * stride);  // a short group repeats its last row
      }
      walk(t, X + r * stride, offset, reached);
      std::copy_n(reached, width, payload + r);
    }
  }

  [[nodiscard]] std::size_t memory_usage() const {
    return value_.capacity() * sizeof(T) + feature_.capacity() * sizeof(std::uint16_t) +
           bottom_.capacity() * sizeof(std::uint32_t) + slot_offsets_.capacity() * sizeof(std::size_t) +
           depth_.capacity() * sizeof(std::int32_t);
  }

 private:
  static constexpr std::size_t table_slots = 64;  // the top levels' slots the vector walk loads, with room

#ifdef REDFLAG_COMPLETE_TREE_AVX512
  // 64 rows a round: 8 vectors of 8 doubles or 4 vectors of 16 floats, so
  // that enough gathers are in flight to hide their latency. Levels 0-4 take
  // their split values and features from registers (permutes of the slots
  // 1-31 loaded once per tree), deeper levels gather them.
  __attribute__((target("avx512f,avx512vl"))) void vector_leaves(std::size_t t, const T* X, std::size_t stride,
                                                                 std::size_t count, std::uint32_t* payload) const {
    const T* value = value_.data() + slot_offsets_[t];
    const std::uint16_t* feature = feature_.data() + slot_offsets_[t];
    const std::uint32_t* bottom = bottom_.data() + slot_offsets_[t];
    const std::int32_t depth = depth_[t];
    // The masked forms with a zero source: GCC 12 warns that the unmasked
    // ones read an uninitialised register.
    constexpr __mmask8 all_8 = 0xff;
    constexpr __mmask16 all_16 = 0xffff;
    if constexpr (std::is_same_v<T, double>) {
      constexpr int vectors = 8;
      const auto* packed = reinterpret_cast<const __m128i*>(feature);  // 8 features each
      const __m256i feature_0 = _mm256_cvtepu16_epi32(_mm_loadu_si128(packed));
      const __m256i feature_1 = _mm256_cvtepu16_epi32(_mm_loadu_si128(packed + 1));
      const __m256i feature_2 = _mm256_cvtepu16_epi32(_mm_loadu_si128(packed + 2));
      const __m256i feature_3 = _mm256_cvtepu16_epi32(_mm_loadu_si128(packed + 3));
      const __m256i low_16 = _mm256_set1_epi32(0xffff);
      const __m256i width = _mm256_set1_epi32(std::int32_t{1} << depth);
      const __m512d value_0 = _mm512_loadu_pd(value);
      const __m512d value_1 = _mm512_loadu_pd(value + 8);
      const __m512d value_2 = _mm512_loadu_pd(value + 16);
      const __m512d value_3 = _mm512_loadu_pd(value + 24);
      const __m256i lane = _mm256_mullo_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), _mm256_set1_epi32(static_cast<std::int32_t>(stride)));
      const __m256i one = _mm256_set1_epi32(1);
      for (std::size_t r = 0; r < count; r += vector_rows) {
        __m256i at[vectors];
        for (int v = 0; v < vectors; ++v) at[v] = one;
        for (std::int32_t level = 0; level < depth; ++level) {
          for (int v = 0; v < vectors; ++v) {
            __m256i split_feature;
            __m512d split_value;
            if (level < 5) {
              const __m512i index_64 = _mm512_maskz_cvtepu32_epi64(all_8, at[v]);
              split_feature = level < 4 ? _mm256_permutex2var_epi32(feature_0, at[v], feature_1)
                                        : _mm256_permutex2var_epi32(feature_2, at[v], feature_3);
              split_value = level < 3    ? _mm512_maskz_permutexvar_pd(all_8, index_64, value_0)
                            : level == 3 ? _mm512_maskz_permutexvar_pd(all_8, index_64, value_1)
                                         : _mm512_permutex2var_pd(value_2, index_64, value_3);
            } else {
              split_feature = _mm256_and_si256(_mm256_i32gather_epi32(reinterpret_cast<const int*>(feature), at[v], 2), low_16);
              split_value = _mm512_mask_i32gather_pd(_mm512_setzero_pd(), all_8, at[v], value, 8);
            }
            const __m512d x =
                _mm512_mask_i32gather_pd(_mm512_setzero_pd(), all_8, _mm256_add_epi32(lane, split_feature), X + (r + 8 * v) * stride, 8);
            const __mmask8 right = _mm512_cmp_pd_mask(split_value, x, _CMP_LT_OQ);  // x > value, false for NaN
            const __m256i twice = _mm256_add_epi32(at[v], at[v]);
            at[v] = _mm256_mask_add_epi32(twice, right, twice, one);
          }
        }
        for (int v = 0; v < vectors; ++v) {
          const __m256i leaf = _mm256_i32gather_epi32(reinterpret_cast<const int*>(bottom),
                                                      _mm256_sub_epi32(at[v], width), 4);
          _mm256_storeu_si256(reinterpret_cast<__m256i*>(payload + r + 8 * v), leaf);
        }
      }
    } else {
      constexpr int vectors = 4;
      const auto* packed = reinterpret_cast<const __m256i*>(feature);  // 16 features each
      const __m512i feature_low = _mm512_maskz_cvtepu16_epi32(all_16, _mm256_loadu_si256(packed));
      const __m512i feature_high = _mm512_maskz_cvtepu16_epi32(all_16, _mm256_loadu_si256(packed + 1));
      const __m512i low_16 = _mm512_set1_epi32(0xffff);
      const __m512i width = _mm512_set1_epi32(std::int32_t{1} << depth);
      const __m512 value_0 = _mm512_loadu_ps(value);
      const __m512 value_1 = _mm512_loadu_ps(value + 16);
      const __m512i lane = _mm512_mullo_epi32(
          _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15), _mm512_set1_epi32(static_cast<std::int32_t>(stride)));
      const __m512i one = _mm512_set1_epi32(1);
      for (std::size_t r = 0; r < count; r += vector_rows) {
        __m512i at[vectors];
        for (int v = 0; v < vectors; ++v) at[v] = one;
        for (std::int32_t level = 0; level < depth; ++level) {
          for (int v = 0; v < vectors; ++v) {
            __m512i split_feature;
            __m512 split_value;
            if (level < 5) {
              split_feature = _mm512_maskz_permutexvar_epi32(all_16, at[v], level < 4 ? feature_low : feature_high);
              split_value = level < 4 ? _mm512_maskz_permutexvar_ps(all_16, at[v], value_0) : _mm512_maskz_permutexvar_ps(all_16, at[v], value_1);
            } else {
              split_feature = _mm512_and_si512(_mm512_mask_i32gather_epi32(_mm512_setzero_si512(), all_16, at[v], feature, 2), low_16);
              split_value = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), all_16, at[v], value, 4);
            }
            const __m512 x = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), all_16, _mm512_add_epi32(lane, split_feature), X + (r + 16 * v) * stride, 4);
            const __mmask16 right = _mm512_cmp_ps_mask(split_value, x, _CMP_LT_OQ);  // x > value, false for NaN
            const __m512i twice = _mm512_add_epi32(at[v], at[v]);
            at[v] = _mm512_mask_add_epi32(twice, right, twice, one);
          }
        }
        for (int v = 0; v < vectors; ++v) {
          const __m512i leaf = _mm512_mask_i32gather_epi32(_mm512_setzero_si512(), all_16, _mm512_sub_epi32(at[v], width), bottom, 4);
          _mm512_storeu_si512(payload + r + 16 * v, leaf);
        }
      }
    }
  }

#endif

  std::vector<T> value_;
  std::vector<std::uint16_t> feature_;
  std::vector<std::uint32_t> bottom_;
  std::vector<std::size_t> slot_offsets_;  // per tree (2^depth slots, slot 0 unused), plus the end
  std::vector<std::int32_t> depth_;
};

}  // namespace redflag::detail::forest
