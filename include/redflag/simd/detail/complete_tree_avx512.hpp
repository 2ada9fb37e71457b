#pragma once

// The complete-tree walk (forest/detail/complete_tree.hpp) for AVX-512: 64
// rows a round, 8 vectors of 8 doubles or 4 vectors of 16 floats, so that
// enough gathers are in flight to hide their latency. The splits of a
// tree's top six (double: slots 1-63) or seven (float: slots 1-127) levels
// come from registers by permutes instead of gathers.

#include <redflag/simd/detail/complete_tree_view.hpp>

#if REDFLAG_SIMD_X86
#include <immintrin.h>

#include <cstddef>
#include <cstdint>
#include <type_traits>

namespace redflag::simd::detail {

// The features of 16 slots as 32-bit lanes.
__attribute__((target("avx512f,avx512vl,avx512dq,avx512bw"))) inline __m512i sixteen_features(
    const std::uint16_t* feature) {
  return _mm512_maskz_cvtepu16_epi32(0xffff, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(feature)));
}

// 64 rows a round: 8 vectors of 8 doubles or 4 vectors of 16 floats, so
// that enough gathers are in flight to hide their latency. Levels 0-5
// (double) or 0-6 (float) take their split values and features from
// registers (permutes of the slots 1-63 or 1-127 loaded once per tree),
// deeper levels gather them.
template <class T, class Leaf>
__attribute__((target("avx512f,avx512vl,avx512dq,avx512bw"))) void complete_tree_leaves_avx512(
    const CompleteTreeView<T, Leaf>& tree, const T* X, std::size_t stride, std::size_t count, Out<Leaf>* out) {
  const T* value = tree.value;
  const std::uint16_t* feature = tree.feature;
  const Leaf* bottom = tree.bottom;
  const std::int32_t depth = tree.depth;
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
    for (std::size_t r = 0; r < count; r += complete_tree_rows) {
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
          const __m512d x = _mm512_mask_i32gather_pd(_mm512_setzero_pd(), all_8, _mm256_add_epi32(lane, split_feature),
                                                     X + (r + 8 * v) * stride, 8);
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
    for (std::size_t r = 0; r < count; r += complete_tree_rows) {
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
          const __m512 x = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), all_16, _mm512_add_epi32(lane, split_feature),
                                                    X + (r + 16 * v) * stride, 4);
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

}  // namespace redflag::simd::detail

#endif
