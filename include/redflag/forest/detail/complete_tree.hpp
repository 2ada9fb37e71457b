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
// On x86-64 CPUs with AVX-512 (checked at run time), `leaves` and
// `add_leaves` walk 64 rows at a time in vector registers: the row values
// are gathered, and the splits of a tree's top six (double: 63 slots) or
// seven (float: 127 slots) levels come from registers by permutes instead of
// gathers. Every walk sends a row exactly where the node walk does
// (numeric splits, x <= value going left, NaN left), so results never depend
// on which walk ran.

#include <redflag/core/types.hpp>
#include <redflag/forest/detail/tree_node.hpp>

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

// Leaf: what a leaf's bottom slot holds; std::uint32_t (an index: leaves()
// writes each row's) or double (a value: add_leaves() adds each row's onto a
// running sum, in vector registers when the walk is).
template <Scalar T, class Leaf = std::uint32_t>
class CompleteTrees {
  static_assert(std::is_same_v<Leaf, std::uint32_t> || std::is_same_v<Leaf, double>);

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
    // Slot 0 of each tree is unused; the vector walk reads slots 0-127 (and
    // a feature gather two bytes past a slot) whatever the tree's size, hence
    // the padding at the end.
    value_.assign(slot_offsets_.back() + table_slots, std::numeric_limits<T>::infinity());
    feature_.assign(slot_offsets_.back() + table_slots, 0);
    bottom_.assign(slot_offsets_.back(), Leaf{});
    depth_ = depth;
    for (std::size_t t = 0; t < n_trees; ++t) {
      const std::size_t width = std::size_t{1} << depth[t];
      T* value = value_.data() + slot_offsets_[t];
      std::uint16_t* feature = feature_.data() + slot_offsets_[t];
      Leaf* bottom = bottom_.data() + slot_offsets_[t];
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
  void walk(std::size_t t, const T* rows, const std::uint32_t (&offset)[W], Leaf (&payload)[W]) const {
    const T* value = value_.data() + slot_offsets_[t];
    const std::uint16_t* feature = feature_.data() + slot_offsets_[t];
    std::uint32_t at[W];
    for (std::size_t w = 0; w < W; ++w) at[w] = 1;
    for (std::int32_t level = 0; level < depth_[t]; ++level) {
      for (std::size_t w = 0; w < W; ++w) {
        at[w] = 2 * at[w] + static_cast<std::uint32_t>(rows[offset[w] + feature[at[w]]] > value[at[w]]);
      }
    }
    const Leaf* bottom = bottom_.data() + slot_offsets_[t];
    const auto width = std::uint32_t{1} << depth_[t];
    for (std::size_t w = 0; w < W; ++w) payload[w] = bottom[at[w] - width];
  }

  // payload[r] = the leaf of each of the `count` rows at X (`stride` values
  // apart) in tree t. stride * 16 must fit an int32 (the vector walk's lane
  // offsets).
  void leaves(std::size_t t, const T* X, std::size_t stride, std::size_t count,
              std::uint32_t* payload) const requires std::is_same_v<Leaf, std::uint32_t> {
    visit_leaves<false>(t, X, stride, count, payload);
  }

  // sum[r] += the leaf value of each of the `count` rows at X in tree t.
  void add_leaves(std::size_t t, const T* X, std::size_t stride, std::size_t count,
                  double* sum) const requires std::is_same_v<Leaf, double> {
    visit_leaves<true>(t, X, stride, count, sum);
  }

  [[nodiscard]] std::size_t memory_usage() const {
    return value_.capacity() * sizeof(T) + feature_.capacity() * sizeof(std::uint16_t) +
           bottom_.capacity() * sizeof(Leaf) + slot_offsets_.capacity() * sizeof(std::size_t) +
           depth_.capacity() * sizeof(std::int32_t);
  }

 private:
  static constexpr std::size_t table_slots = 128;  // the top levels' slots the vector walk loads

  // out[r] = (or += when Add) each row's leaf in tree t.
  template <bool Add>
  void visit_leaves(std::size_t t, const T* X, std::size_t stride, std::size_t count,
                    std::conditional_t<Add, double, std::uint32_t>* out) const {
    std::size_t r = 0;
#ifdef REDFLAG_COMPLETE_TREE_AVX512
    if (count >= vector_rows && vectorised()) {
      r = count - count % vector_rows;
      vector_leaves(t, X, stride, r, out);
    }
#endif
    constexpr std::size_t wide = 16;
    for (; r < count; r += wide) {
      const std::size_t width = std::min(wide, count - r);
      std::uint32_t offset[wide];
      Leaf reached[wide];
      for (std::size_t w = 0; w < wide; ++w) {
        offset[w] = static_cast<std::uint32_t>(std::min(w, width - 1) * stride);  // a short group repeats its last row
      }
      walk(t, X + r * stride, offset, reached);
      for (std::size_t w = 0; w < width; ++w) {
        if constexpr (Add) {
          out[r + w] += reached[w];
        } else {
          out[r + w] = reached[w];
        }
      }
    }
  }

#ifdef REDFLAG_COMPLETE_TREE_AVX512
  // The features of 16 slots as 32-bit lanes.
  __attribute__((target("avx512f,avx512vl"))) static __m512i sixteen_features(const std::uint16_t* feature) {
    return _mm512_maskz_cvtepu16_epi32(0xffff, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(feature)));
  }

  // 64 rows a round: 8 vectors of 8 doubles or 4 vectors of 16 floats, so
  // that enough gathers are in flight to hide their latency. Levels 0-5
  // (double) or 0-6 (float) take their split values and features from
  // registers (permutes of the slots 1-63 or 1-127 loaded once per tree),
  // deeper levels gather them.
  template <class Out>
  __attribute__((target("avx512f,avx512vl"))) void vector_leaves(std::size_t t, const T* X, std::size_t stride,
                                                                 std::size_t count, Out* out) const {
    const T* value = value_.data() + slot_offsets_[t];
    const std::uint16_t* feature = feature_.data() + slot_offsets_[t];
    const Leaf* bottom = bottom_.data() + slot_offsets_[t];
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
      const __m256i feature_4 = _mm256_cvtepu16_epi32(_mm_loadu_si128(packed + 4));
      const __m256i feature_5 = _mm256_cvtepu16_epi32(_mm_loadu_si128(packed + 5));
      const __m256i feature_6 = _mm256_cvtepu16_epi32(_mm_loadu_si128(packed + 6));
      const __m256i feature_7 = _mm256_cvtepu16_epi32(_mm_loadu_si128(packed + 7));
      const __m512d value_4 = _mm512_loadu_pd(value + 32);
      const __m512d value_5 = _mm512_loadu_pd(value + 40);
      const __m512d value_6 = _mm512_loadu_pd(value + 48);
      const __m512d value_7 = _mm512_loadu_pd(value + 56);
      const __m256i bit_4 = _mm256_set1_epi32(16);
      const __m256i lane = _mm256_mullo_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
                                              _mm256_set1_epi32(static_cast<std::int32_t>(stride)));
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
            } else if (level == 5) {  // slots 32-63: pairs of tables of 8, picked by bit 4
              const __m512i index_64 = _mm512_maskz_cvtepu32_epi64(all_8, at[v]);
              const __mmask8 upper = _mm256_test_epi32_mask(at[v], bit_4);
              split_feature = _mm256_mask_blend_epi32(upper, _mm256_permutex2var_epi32(feature_4, at[v], feature_5),
                                                      _mm256_permutex2var_epi32(feature_6, at[v], feature_7));
              split_value = _mm512_mask_blend_pd(upper, _mm512_permutex2var_pd(value_4, index_64, value_5),
                                                 _mm512_permutex2var_pd(value_6, index_64, value_7));
            } else {
              split_feature =
                  _mm256_and_si256(_mm256_i32gather_epi32(reinterpret_cast<const int*>(feature), at[v], 2), low_16);
              split_value = _mm512_mask_i32gather_pd(_mm512_setzero_pd(), all_8, at[v], value, 8);
            }
            const __m512d x = _mm512_mask_i32gather_pd(
                _mm512_setzero_pd(), all_8, _mm256_add_epi32(lane, split_feature), X + (r + 8 * v) * stride, 8);
            const __mmask8 right = _mm512_cmp_pd_mask(split_value, x, _CMP_LT_OQ);  // x > value, false for NaN
            const __m256i twice = _mm256_add_epi32(at[v], at[v]);
            at[v] = _mm256_mask_add_epi32(twice, right, twice, one);
          }
        }
        for (int v = 0; v < vectors; ++v) {
          const __m256i slot = _mm256_sub_epi32(at[v], width);
          if constexpr (std::is_same_v<Leaf, double>) {
            double* sum = out + r + 8 * v;
            _mm512_storeu_pd(sum, _mm512_add_pd(_mm512_loadu_pd(sum),
                                                _mm512_mask_i32gather_pd(_mm512_setzero_pd(), all_8, slot, bottom, 8)));
          } else {
            _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + r + 8 * v),
                                _mm256_i32gather_epi32(reinterpret_cast<const int*>(bottom), slot, 4));
          }
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
      const __m512i feature_32 = sixteen_features(feature + 32), feature_48 = sixteen_features(feature + 48);
      const __m512i feature_64 = sixteen_features(feature + 64), feature_80 = sixteen_features(feature + 80);
      const __m512i feature_96 = sixteen_features(feature + 96), feature_112 = sixteen_features(feature + 112);
      const __m512 value_32 = _mm512_loadu_ps(value + 32), value_48 = _mm512_loadu_ps(value + 48);
      const __m512 value_64 = _mm512_loadu_ps(value + 64), value_80 = _mm512_loadu_ps(value + 80);
      const __m512 value_96 = _mm512_loadu_ps(value + 96), value_112 = _mm512_loadu_ps(value + 112);
      const __m512i bit_5 = _mm512_set1_epi32(32);
      const __m512i lane = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                                              _mm512_set1_epi32(static_cast<std::int32_t>(stride)));
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
              split_value = level < 4 ? _mm512_maskz_permutexvar_ps(all_16, at[v], value_0)
                                      : _mm512_maskz_permutexvar_ps(all_16, at[v], value_1);
            } else if (level == 5) {  // slots 32-63: two tables of 16
              split_feature = _mm512_permutex2var_epi32(feature_32, at[v], feature_48);
              split_value = _mm512_permutex2var_ps(value_32, at[v], value_48);
            } else if (level == 6) {  // slots 64-127: four tables of 16, pairs picked by bit 5
              const __mmask16 upper = _mm512_test_epi32_mask(at[v], bit_5);
              split_feature = _mm512_mask_blend_epi32(upper, _mm512_permutex2var_epi32(feature_64, at[v], feature_80),
                                                      _mm512_permutex2var_epi32(feature_96, at[v], feature_112));
              split_value = _mm512_mask_blend_ps(upper, _mm512_permutex2var_ps(value_64, at[v], value_80),
                                                 _mm512_permutex2var_ps(value_96, at[v], value_112));
            } else {
              split_feature = _mm512_and_si512(
                  _mm512_mask_i32gather_epi32(_mm512_setzero_si512(), all_16, at[v], feature, 2), low_16);
              split_value = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), all_16, at[v], value, 4);
            }
            const __m512 x = _mm512_mask_i32gather_ps(
                _mm512_setzero_ps(), all_16, _mm512_add_epi32(lane, split_feature), X + (r + 16 * v) * stride, 4);
            const __mmask16 right = _mm512_cmp_ps_mask(split_value, x, _CMP_LT_OQ);  // x > value, false for NaN
            const __m512i twice = _mm512_add_epi32(at[v], at[v]);
            at[v] = _mm512_mask_add_epi32(twice, right, twice, one);
          }
        }
        for (int v = 0; v < vectors; ++v) {
          const __m512i slot = _mm512_sub_epi32(at[v], width);
          if constexpr (std::is_same_v<Leaf, double>) {
            double* sum = out + r + 16 * v;
            const __m256i low = _mm512_maskz_extracti64x4_epi64(all_8, slot, 0);
            const __m256i high = _mm512_maskz_extracti64x4_epi64(all_8, slot, 1);
            _mm512_storeu_pd(sum, _mm512_add_pd(_mm512_loadu_pd(sum),
                                                _mm512_mask_i32gather_pd(_mm512_setzero_pd(), all_8, low, bottom, 8)));
            _mm512_storeu_pd(sum + 8,
                             _mm512_add_pd(_mm512_loadu_pd(sum + 8),
                                           _mm512_mask_i32gather_pd(_mm512_setzero_pd(), all_8, high, bottom, 8)));
          } else {
            _mm512_storeu_si512(out + r + 16 * v,
                                _mm512_mask_i32gather_epi32(_mm512_setzero_si512(), all_16, slot, bottom, 4));
          }
        }
      }
    }
  }

#endif

  std::vector<T> value_;
  std::vector<std::uint16_t> feature_;
  std::vector<Leaf> bottom_;
  std::vector<std::size_t> slot_offsets_;  // per tree (2^depth slots, slot 0 unused), plus the end
  std::vector<std::int32_t> depth_;
};

}  // namespace redflag::detail::forest
