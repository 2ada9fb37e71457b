#pragma once

// Random: redflag's one source of randomness. A small value type whose every
// output is defined by redflag's own code (no std:: distributions, which
// differ between standard libraries), so a seed gives the same numbers on
// every platform, compiler and thread count.
//
// Parallel work never shares a generator: each unit of work (tree, fold,
// chunk) gets Random::stream(seed, unit_index), which depends only on the
// seed and the index — never on which thread runs it or in what order.

#include <redflag/core/detail/portable_math.hpp>
#include <redflag/core/error.hpp>
#include <redflag/core/types.hpp>
#include <redflag/core/validation.hpp>

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <concepts>
#include <cstdint>
#include <iterator>
#include <limits>
#include <ranges>
#include <string>
#include <utility>
#include <vector>

namespace redflag {

namespace detail {

// SplitMix64 (Steele, Lea & Flood, "Fast splittable pseudorandom number
// generators", 2014) with Stafford's "Mix13" finaliser. The finaliser is a
// bijection on 64-bit words with full avalanche, which is why it is also used
// to hash (seed, stream) pairs below.
inline constexpr std::uint64_t splitmix64_increment = 0x9e3779b97f4a7c15ULL;

constexpr std::uint64_t mix64(std::uint64_t z) noexcept {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

constexpr std::uint64_t splitmix64_next(std::uint64_t& counter) noexcept {
  counter += splitmix64_increment;
  return mix64(counter);
}

constexpr std::uint64_t rotl64(std::uint64_t x, int k) noexcept { return (x << k) | (x >> (64 - k)); }

// High 64 bits of the 128-bit product a * b (low 64 bits into `low`), from
// 32-bit halves for compilers without a 128-bit integer.
constexpr std::uint64_t mul_high64_portable(std::uint64_t a, std::uint64_t b, std::uint64_t& low) noexcept {
  const std::uint64_t a_lo = a & 0xffffffffULL, a_hi = a >> 32;
  const std::uint64_t b_lo = b & 0xffffffffULL, b_hi = b >> 32;
  const std::uint64_t lo_lo = a_lo * b_lo;
  const std::uint64_t hi_lo = a_hi * b_lo;
  const std::uint64_t lo_hi = a_lo * b_hi;
  const std::uint64_t hi_hi = a_hi * b_hi;
  const std::uint64_t cross = (lo_lo >> 32) + (hi_lo & 0xffffffffULL) + lo_hi;
  low = (cross << 32) | (lo_lo & 0xffffffffULL);
  return hi_hi + (hi_lo >> 32) + (cross >> 32);
}

constexpr std::uint64_t mul_high64(std::uint64_t a, std::uint64_t b, std::uint64_t& low) noexcept {
#if defined(__SIZEOF_INT128__)
  __extension__ using uint128 = unsigned __int128;
  const uint128 product = static_cast<uint128>(a) * b;
  low = static_cast<std::uint64_t>(product);
  return static_cast<std::uint64_t>(product >> 64);
#else
  return mul_high64_portable(a, b, low);
#endif
}

// Distinct salts keep stream() and split() children away from Random(seed).
inline constexpr std::uint64_t stream_salt = 0x6a09e667f3bcc909ULL;  // frac(sqrt(2))
inline constexpr std::uint64_t split_salt = 0xbb67ae8584caa73bULL;   // frac(sqrt(3))

}  // namespace detail

class Random {
 public:
  // std::uniform_random_bit_generator, so Random also works with <algorithm>
  // and <random> (their results are then library-specific, of course).
  using result_type = std::uint64_t;
  static constexpr result_type min() noexcept { return 0; }
  static constexpr result_type max() noexcept { return std::numeric_limits<result_type>::max(); }

  // The 256-bit xoshiro state is filled from SplitMix64 run from `seed`, as
  // Blackman & Vigna recommend; this never yields the forbidden all-zero state.
  explicit constexpr Random(std::uint64_t seed) noexcept {
    std::uint64_t counter = seed;
    for (auto& word : state_) word = detail::splitmix64_next(counter);
  }

  // Seed 0. Not explicit, so a Random member does not block `Params{}`-style
  // aggregate initialisation of the struct holding it.
  constexpr Random() noexcept : Random(0) {}

  // Generator for unit of work `stream_index` under `seed`. The child's seed is
  // a hash of (seed, stream_index) — not a jump sequence — so stream i is the
  // same whichever thread asks for it and whatever was drawn before. Streams
  // of one seed have distinct seeds (the hash is a bijection in the index).
  [[nodiscard]] static constexpr Random stream(std::uint64_t seed, std::uint64_t stream_index) noexcept {
    return Random(detail::mix64(detail::mix64(seed ^ detail::stream_salt) ^
                                detail::mix64(stream_index + detail::splitmix64_increment)));
  }

  // A child generator seeded from this one's next output; advances *this by one
  // draw. Deterministic in call order, so only use it on one thread — use
  // stream() to hand generators to parallel work.
  [[nodiscard]] constexpr Random split() noexcept { return Random(detail::mix64(next_u64() ^ detail::split_salt)); }

  // xoshiro256** 1.0 (Blackman & Vigna, "Scrambled linear pseudorandom number
  // generators", 2018/2021): period 2^256 - 1, passes BigCrush and PractRand.
  constexpr std::uint64_t next_u64() noexcept {
    const std::uint64_t result = detail::rotl64(state_[1] * 5, 7) * 9;
    const std::uint64_t t = state_[1] << 17;
    state_[2] ^= state_[0];
    state_[3] ^= state_[1];
    state_[1] ^= state_[2];
    state_[0] ^= state_[3];
    state_[2] ^= t;
    state_[3] = detail::rotl64(state_[3], 45);
    return result;
  }

  constexpr result_type operator()() noexcept { return next_u64(); }

  // Uniform in [0, 1) on the grid k * 2^-53 (double) or k * 2^-24 (float): the
  // top bits of one draw, so every representable grid point is equally likely
  // and 1 is never returned.
  template <Scalar T = double>
  constexpr T uniform() noexcept {
    if constexpr (std::same_as<T, double>) {
      return static_cast<double>(next_u64() >> 11) * 0x1.0p-53;
    } else {
      return static_cast<float>(next_u64() >> 40) * 0x1.0p-24f;
    }
  }

  // Uniform in [a, b). Needs finite a < b with b - a finite.
  template <Scalar T>
  T uniform(T a, T b) {
    constexpr std::string_view where = "Random::uniform";
    detail::require_parameter(std::isfinite(a), where, "a", "finite", a);
    detail::require_parameter(std::isfinite(b), where, "b", "finite", b);
    if (!(a < b) || !std::isfinite(b - a)) {
      detail::raise<invalid_argument>(where, "a must be less than b with a finite b - a, got a = " +
                                                 detail::format_number(a) + ", b = " + detail::format_number(b));
    }
    const T value = a + detail::unfused_mul(b - a, uniform<T>());
    // a + (b - a) * u can round up to b; keep the interval half-open.
    return value < b ? value : std::nextafter(b, a);
  }

  // Unbiased integer in [0, n), n > 0: Lemire's multiply-shift with rejection
  // ("Fast random integer generation in an interval", 2019). Costs one draw
  // except with probability < n / 2^64.
  template <std::integral I>
    requires(!std::same_as<I, bool>)
  I uniform_int(I n) {
    detail::require_parameter(n > 0, "Random::uniform_int", "n", "positive", n);
    return static_cast<I>(bounded(static_cast<std::uint64_t>(n)));
  }

  // Unbiased integer in [low, high), low < high.
  template <std::integral I>
    requires(!std::same_as<I, bool>)
  I uniform_int(I low, I high) {
    if (!(low < high)) {
      detail::raise<invalid_argument>(
          "Random::uniform_int",
          "low must be less than high, got low = " + std::to_string(low) + ", high = " + std::to_string(high));
    }
    // Two's-complement arithmetic in uint64 handles any signed range exactly.
    const std::uint64_t span = static_cast<std::uint64_t>(high) - static_cast<std::uint64_t>(low);
    return static_cast<I>(static_cast<std::uint64_t>(low) + bounded(span));
  }

  // true with probability p, p in [0, 1]. p = 0 is never true, p = 1 always.
  bool bernoulli(double p) {
    detail::require_parameter(p >= 0.0 && p <= 1.0, "Random::bernoulli", "p", "in [0, 1]", p);
    return uniform() < p;
  }

  // Standard normal by Marsaglia's polar method (Marsaglia & Bray, 1964). Each
  // accepted pair yields two values; the second is kept for the next call.
  // Uses std::log and std::sqrt, so unlike the uniform and integer outputs the
  // last bit may differ between C libraries (never between thread counts).
  template <Scalar T = double>
  T normal() {
    if (has_spare_) {
      has_spare_ = false;
      return static_cast<T>(spare_);
    }
    double u = 0.0, v = 0.0, s = 0.0;
    do {
      u = 2.0 * uniform() - 1.0;
      v = 2.0 * uniform() - 1.0;
      s = detail::unfused_mul(u, u) + detail::unfused_mul(v, v);
    } while (s >= 1.0 || s == 0.0);
    const double factor = std::sqrt(-2.0 * std::log(s) / s);
    spare_ = v * factor;
    has_spare_ = true;
    return static_cast<T>(u * factor);
  }

  // Normal with the given mean and standard deviation (finite, stddev >= 0).
  template <Scalar T>
  T normal(T mean, T stddev) {
    constexpr std::string_view where = "Random::normal";
    detail::require_parameter(std::isfinite(mean), where, "mean", "finite", mean);
    detail::require_parameter(std::isfinite(stddev) && stddev >= 0, where, "stddev", "finite and >= 0", stddev);
    return mean + detail::unfused_mul(stddev, normal<T>());
  }

  // Uniformly random permutation in place: Fisher–Yates as given by
  // Durstenfeld (1964), walking from the back. Works on std::vector,
  // std::span, std::array and other sized random-access ranges.
  template <std::ranges::random_access_range R>
    requires std::ranges::sized_range<R> && std::permutable<std::ranges::iterator_t<R>>
  void shuffle(R&& values) {
    const auto first = std::ranges::begin(values);
    using Difference = std::iter_difference_t<std::ranges::iterator_t<R>>;
    const auto size = static_cast<std::uint64_t>(std::ranges::size(values));
    for (std::uint64_t i = size; i > 1; --i) {
      const std::uint64_t j = bounded(i);
      std::ranges::iter_swap(first + static_cast<Difference>(i - 1), first + static_cast<Difference>(j));
    }
  }

  // k distinct indices from [0, n), each k-subset equally likely, returned in
  // random order (every ordering equally likely; sort them if you need a set).
  // This is a partial Fisher–Yates shuffle of the virtual array 0..n-1; when k
  // is small next to n the swapped cells live in a hash map (O(k) memory), and
  // both representations give the same output for the same generator state.
  std::vector<Index> sample_without_replacement(Index n, Index k) {
    constexpr std::string_view where = "Random::sample_without_replacement";
    detail::require_parameter(n >= 0, where, "n", ">= 0", n);
    if (k < 0 || k > n) {
      detail::raise<invalid_argument>(where,
                                      "k must be in [0, n] = [0, " + std::to_string(n) + "], got " + std::to_string(k));
    }
    std::vector<Index> sample(static_cast<std::size_t>(k));
    if (k == 0) return sample;
    if (k >= n / 8) {
      std::vector<Index> cells(static_cast<std::size_t>(n));
      for (Index i = 0; i < n; ++i) cells[static_cast<std::size_t>(i)] = i;
      for (Index i = 0; i < k; ++i) {
        const Index j = i + static_cast<Index>(bounded(static_cast<std::uint64_t>(n - i)));
        std::swap(cells[static_cast<std::size_t>(i)], cells[static_cast<std::size_t>(j)]);
        sample[static_cast<std::size_t>(i)] = cells[static_cast<std::size_t>(i)];
      }
      return sample;
    }
    // The moved cells in an open-addressing table (linear probing, one
    // allocation, k entries in at least 4k slots). Only lookups touch it,
    // never iteration, so its hashing cannot affect the result.
    const std::size_t capacity = std::bit_ceil(std::max<std::size_t>(16, 4 * static_cast<std::size_t>(k)));
    const int shift = 64 - std::countr_zero(capacity);
    constexpr Index vacant = -1;
    std::vector<std::pair<Index, Index>> moved(capacity, {vacant, 0});
    const auto slot = [&moved, capacity, shift](Index key) -> std::pair<Index, Index>& {
      // Fibonacci hashing: the top bits of key * 2^64 / phi.
      std::size_t at = static_cast<std::size_t>((static_cast<std::uint64_t>(key) * 0x9E3779B97F4A7C15ull) >> shift);
      while (moved[at].first != vacant && moved[at].first != key) at = (at + 1) & (capacity - 1);
      return moved[at];
    };
    const auto cell = [&slot](Index i) {
      const auto& found = slot(i);
      return found.first == i ? found.second : i;
    };
    for (Index i = 0; i < k; ++i) {
      const Index j = i + static_cast<Index>(bounded(static_cast<std::uint64_t>(n - i)));
      const Index at_j = cell(j);
      const Index at_i = cell(i);
      slot(j) = {j, at_i};
      sample[static_cast<std::size_t>(i)] = at_j;
    }
    return sample;
  }

  // Same state and pending normal value: the two generators will agree forever.
  friend bool operator==(const Random&, const Random&) = default;

 private:
  // Lemire's method on unsigned 64-bit ranges, n >= 1.
  constexpr std::uint64_t bounded(std::uint64_t n) noexcept {
    std::uint64_t low = 0;
    std::uint64_t high = detail::mul_high64(next_u64(), n, low);
    if (low < n) {
      const std::uint64_t threshold = (0 - n) % n;  // 2^64 mod n
      while (low < threshold) high = detail::mul_high64(next_u64(), n, low);
    }
    return high;
  }

  std::array<std::uint64_t, 4> state_{};
  double spare_ = 0.0;
  bool has_spare_ = false;
};

static_assert(std::uniform_random_bit_generator<Random>);

}  // namespace redflag
