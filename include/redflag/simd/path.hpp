#pragma once

// Which instruction-set path redflag's kernels take.
//
// Kernels with vector code (the forest walks, the TransformerAutoencoder's
// matrix products, attention and layer norm) are compiled for every path
// into any build, whatever its flags, and choose one at run time: the best
// the CPU and the operating system support, unless a path is forced.
//
//   REDFLAG_SIMD=scalar|avx2|avx512   in the environment, read at first use
//   redflag::simd::ScopedPath         in code, for tests and measurements
//
// A forced path that is unknown or that the CPU lacks is an error
// (redflag::invalid_argument) at the first call that would use it, never an
// illegal instruction. Every path gives bit-identical results: the forest
// walks compare the same values, and the floating-point kernels perform the
// same operations in the same order on every path (fused multiply-adds,
// fixed reduction trees), so a model fitted with one path scores the same
// with any other, on any CPU.

#include <redflag/core/error.hpp>

#include <array>
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

namespace redflag::simd {

enum class Path : std::uint8_t { scalar = 0, avx2 = 1, avx512 = 2 };

inline constexpr std::array<Path, 3> all_paths{Path::scalar, Path::avx2, Path::avx512};

[[nodiscard]] constexpr std::string_view name(Path path) {
  switch (path) {
    case Path::avx2: return "avx2";
    case Path::avx512: return "avx512";
    case Path::scalar: break;
  }
  return "scalar";
}

[[nodiscard]] constexpr std::optional<Path> parse_path(std::string_view text) {
  for (const Path path : all_paths) {
    if (text == name(path)) return path;
  }
  return std::nullopt;
}

// Whether this CPU (and the operating system, which must save the wider
// registers) can run a path. avx2 also requires FMA; avx512 requires the
// F, VL, DQ and BW subsets (every AVX-512 server CPU has them).
[[nodiscard]] inline bool supported(Path path) {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  // __builtin_cpu_supports consults XCR0 as well as CPUID: a feature the
  // OS does not enable reads as absent.
  switch (path) {
    case Path::scalar: return true;
    case Path::avx2: return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case Path::avx512:
      return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("avx512f") &&
             __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") &&
             __builtin_cpu_supports("avx512bw");
  }
  return false;
#else
  return path == Path::scalar;
#endif
}

// The widest path this CPU supports.
[[nodiscard]] inline Path best_supported() {
  static const Path best = supported(Path::avx512) ? Path::avx512 : supported(Path::avx2) ? Path::avx2 : Path::scalar;
  return best;
}

namespace detail {

inline constexpr std::uint8_t not_forced = 0xff;

// The path forced in code (ScopedPath), or not_forced. Process-wide by
// nature: the CPU is.
inline std::atomic<std::uint8_t>& forced_in_code() {
  static std::atomic<std::uint8_t> forced{not_forced};
  return forced;
}

inline void require_supported(Path path, std::string_view how) {
  if (!supported(path)) {
    throw invalid_argument(redflag::detail::message(
        "simd", std::string(how) + " forces the " + std::string(name(path)) +
                    " path, which this CPU lacks (it supports " + std::string(name(best_supported())) + " at best)"));
  }
}

// REDFLAG_SIMD, checked once. An unknown or unsupported value is kept as an
// error message and thrown at every use, so no kernel ever runs on it.
struct EnvironmentChoice {
  std::optional<Path> path;
  std::string error;
};

inline EnvironmentChoice read_environment() {
  const char* value = std::getenv("REDFLAG_SIMD");
  if (value == nullptr || *value == '\0') return {};
  const std::optional<Path> path = parse_path(value);
  if (!path) {
    return {std::nullopt, redflag::detail::message("simd", "REDFLAG_SIMD=" + std::string(value) +
                                                               " names no path; use scalar, avx2 or avx512")};
  }
  try {
    require_supported(*path, "REDFLAG_SIMD=" + std::string(value));
  } catch (const invalid_argument& e) {
    return {std::nullopt, e.what()};
  }
  return {path, {}};
}

inline const EnvironmentChoice& environment_choice() {
  static const EnvironmentChoice choice = read_environment();
  return choice;
}

}  // namespace detail

// The path kernels take now: forced in code, else forced by REDFLAG_SIMD,
// else the best the CPU supports. Throws invalid_argument when REDFLAG_SIMD
// is unknown or names a path this CPU lacks.
[[nodiscard]] inline Path active() {
  const std::uint8_t forced = detail::forced_in_code().load(std::memory_order_relaxed);
  if (forced != detail::not_forced) return static_cast<Path>(forced);
  const detail::EnvironmentChoice& environment = detail::environment_choice();
  if (!environment.error.empty()) throw invalid_argument(environment.error);
  return environment.path.value_or(best_supported());
}

// The path a kernel written for the paths up to `widest` takes: the active
// path, or `widest` when the active one is wider.
[[nodiscard]] inline Path kernel_path(Path widest) {
  const Path path = active();
  return path > widest ? widest : path;
}

// Forces a path for the lifetime of the object (tests, measurements), for
// every thread; restores the previous choice on destruction. Throws
// invalid_argument when the CPU lacks the path. Not meant to be changed
// while other threads score.
class ScopedPath {
 public:
  explicit ScopedPath(Path path) : previous_(detail::forced_in_code().load()) {
    detail::require_supported(path, "ScopedPath");
    detail::forced_in_code().store(static_cast<std::uint8_t>(path));
  }
  ScopedPath(const ScopedPath&) = delete;
  ScopedPath& operator=(const ScopedPath&) = delete;
  ~ScopedPath() { detail::forced_in_code().store(previous_); }

 private:
  std::uint8_t previous_;
};

}  // namespace redflag::simd
