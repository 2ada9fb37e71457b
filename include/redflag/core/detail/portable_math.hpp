#pragma once

// exp2 that gives the same double on every architecture and compiler.
//
// The C library's exp2 is not: glibc's is accurate to about 0.5 ulp but not
// correctly rounded, and its x86-64 and aarch64 builds round some arguments
// differently (2^-0x1.eaade37ca7becp-1 is 0x1.077f33b7fade8p-1 on x86-64 and
// 0x1.077f33b7fade7p-1, the correctly rounded value, on aarch64), so an
// IsolationForest scored a row differently on the two. redflag's anomaly
// scores go through portable_exp2 instead (docs/determinism.md).
//
// It uses only IEEE operations, each rounded once as the standard specifies
// (+, -, *, scaling by a power of two, and std::fma or Dekker's product for the
// exact error of a product), and a table of 2^(j/64) as double-double
// values, so it is deterministic; it carries about 2^-70 relative error
// before the final rounding, so it is also correctly rounded except for
// arguments whose 2^x lies within about 2^-17 ulp of a rounding boundary.
// It costs about four times glibc's exp2 (x86-64: some 30 ns against 7 to 11),
// once per scored row.

#include <bit>
#include <cmath>
#include <concepts>
#include <cstdint>
#include <limits>

namespace redflag::detail {

// a * b rounded on its own, never contracted with an addition that uses it
// into a fused multiply-add. g++ in GNU mode (-std=gnu++20, the default)
// contracts a * b + c, even across statements, wherever the target has a
// fused instruction (aarch64; x86-64 with -mfma or -march=native), so a sum
// of products would round differently there than on a target without one.
// Use it where a result must be the same double on every machine.
template <std::floating_point F>
F unfused_mul(F a, F b) {
#if defined(__clang__)
#pragma clang fp contract(off)
  return a * b;
#elif defined(__GNUC__) && defined(__has_builtin)
#if __has_builtin(__builtin_assoc_barrier)
  return __builtin_assoc_barrier(a * b);  // g++ >= 12: the barrier keeps the product out of any fused operation
#else
  volatile F product = a * b;
  return product;
#endif
#else
  return a * b;
#endif
}

namespace exp2_detail {

struct DoubleDouble {
  double hi;
  double lo;
};

// a * b = hi + lo exactly (no overflow or underflow here).
inline DoubleDouble exact_product(double a, double b) {
  const double hi = unfused_mul(a, b);
#if defined(FP_FAST_FMA)
  return {hi, std::fma(a, b, -hi)};
#else
  // Dekker's product: Veltkamp splits into 26-bit halves, whose products are exact.
  constexpr double split = 134217729.0;  // 2^27 + 1
  const double ca = unfused_mul(split, a);
  const double a_hi = ca - (ca - a);
  const double a_lo = a - a_hi;
  const double cb = unfused_mul(split, b);
  const double b_hi = cb - (cb - b);
  const double b_lo = b - b_hi;
  const double lo =
      (((unfused_mul(a_hi, b_hi) - hi) + unfused_mul(a_hi, b_lo)) + unfused_mul(a_lo, b_hi)) + unfused_mul(a_lo, b_lo);
  return {hi, lo};
#endif
}

// a + b = hi + lo exactly (Knuth's two-sum).
inline DoubleDouble exact_sum(double a, double b) {
  const double hi = a + b;
  const double b_part = hi - a;
  return {hi, (a - (hi - b_part)) + (b - b_part)};
}

// 2^(j/64) = hi + lo for j = 0..63, hi the nearest double (mpmath, 300 bits).
inline constexpr DoubleDouble powers[64] = {
    {0x1.0000000000000p+0, 0x0p+0},
    {0x1.02c9a3e778061p+0, -0x1.19083535b085dp-56},
    {0x1.059b0d3158574p+0, 0x1.d73e2a475b465p-55},
    {0x1.0874518759bc8p+0, 0x1.186be4bb284ffp-57},
    {0x1.0b5586cf9890fp+0, 0x1.8a62e4adc610bp-54},
    {0x1.0e3ec32d3d1a2p+0, 0x1.03a1727c57b53p-59},
    {0x1.11301d0125b51p+0, -0x1.6c51039449b3ap-54},
    {0x1.1429aaea92de0p+0, -0x1.32fbf9af1369ep-54},
    {0x1.172b83c7d517bp+0, -0x1.19041b9d78a76p-55},
    {0x1.1a35beb6fcb75p+0, 0x1.e5b4c7b4968e4p-55},
    {0x1.1d4873168b9aap+0, 0x1.e016e00a2643cp-54},
    {0x1.2063b88628cd6p+0, 0x1.dc775814a8495p-55},
    {0x1.2387a6e756238p+0, 0x1.9b07eb6c70573p-54},
    {0x1.26b4565e27cddp+0, 0x1.2bd339940e9d9p-55},
    {0x1.29e9df51fdee1p+0, 0x1.612e8afad1255p-55},
    {0x1.2d285a6e4030bp+0, 0x1.0024754db41d5p-54},
    {0x1.306fe0a31b715p+0, 0x1.6f46ad23182e4p-55},
    {0x1.33c08b26416ffp+0, 0x1.32721843659a6p-54},
    {0x1.371a7373aa9cbp+0, -0x1.63aeabf42eae2p-54},
    {0x1.3a7db34e59ff7p+0, -0x1.5e436d661f5e3p-56},
    {0x1.3dea64c123422p+0, 0x1.ada0911f09ebcp-55},
    {0x1.4160a21f72e2ap+0, -0x1.ef3691c309278p-58},
    {0x1.44e086061892dp+0, 0x1.89b7a04ef80d0p-59},
    {0x1.486a2b5c13cd0p+0, 0x1.3c1a3b69062f0p-56},
    {0x1.4bfdad5362a27p+0, 0x1.d4397afec42e2p-56},
    {0x1.4f9b2769d2ca7p+0, -0x1.4b309d25957e3p-54},
    {0x1.5342b569d4f82p+0, -0x1.07abe1db13cadp-55},
    {0x1.56f4736b527dap+0, 0x1.9bb2c011d93adp-54},
    {0x1.5ab07dd485429p+0, 0x1.6324c054647adp-54},
    {0x1.5e76f15ad2148p+0, 0x1.ba6f93080e65ep-54},
    {0x1.6247eb03a5585p+0, -0x1.383c17e40b497p-54},
    {0x1.6623882552225p+0, -0x1.bb60987591c34p-54},
    {0x1.6a09e667f3bcdp+0, -0x1.bdd3413b26456p-54},
    {0x1.6dfb23c651a2fp+0, -0x1.bbe3a683c88abp-57},
    {0x1.71f75e8ec5f74p+0, -0x1.16e4786887a99p-55},
    {0x1.75feb564267c9p+0, -0x1.0245957316dd3p-54},
    {0x1.7a11473eb0187p+0, -0x1.41577ee04992fp-55},
    {0x1.7e2f336cf4e62p+0, 0x1.05d02ba15797ep-56},
    {0x1.82589994cce13p+0, -0x1.d4c1dd41532d8p-54},
    {0x1.868d99b4492edp+0, -0x1.fc6f89bd4f6bap-54},
    {0x1.8ace5422aa0dbp+0, 0x1.6e9f156864b27p-54},
    {0x1.8f1ae99157736p+0, 0x1.5cc13a2e3976cp-55},
    {0x1.93737b0cdc5e5p+0, -0x1.75fc781b57ebcp-57},
    {0x1.97d829fde4e50p+0, -0x1.d185b7c1b85d1p-54},
    {0x1.9c49182a3f090p+0, 0x1.c7c46b071f2bep-56},
    {0x1.a0c667b5de565p+0, -0x1.359495d1cd533p-54},
    {0x1.a5503b23e255dp+0, -0x1.d2f6edb8d41e1p-54},
    {0x1.a9e6b5579fdbfp+0, 0x1.0fac90ef7fd31p-54},
    {0x1.ae89f995ad3adp+0, 0x1.7a1cd345dcc81p-54},
    {0x1.b33a2b84f15fbp+0, -0x1.2805e3084d708p-57},
    {0x1.b7f76f2fb5e47p+0, -0x1.5584f7e54ac3bp-56},
    {0x1.bcc1e904bc1d2p+0, 0x1.23dd07a2d9e84p-55},
    {0x1.c199bdd85529cp+0, 0x1.11065895048ddp-55},
    {0x1.c67f12e57d14bp+0, 0x1.2884dff483cadp-54},
    {0x1.cb720dcef9069p+0, 0x1.503cbd1e949dbp-56},
    {0x1.d072d4a07897cp+0, -0x1.cbc3743797a9cp-54},
    {0x1.d5818dcfba487p+0, 0x1.2ed02d75b3707p-55},
    {0x1.da9e603db3285p+0, 0x1.c2300696db532p-54},
    {0x1.dfc97337b9b5fp+0, -0x1.1a5cd4f184b5cp-54},
    {0x1.e502ee78b3ff6p+0, 0x1.39e8980a9cc8fp-55},
    {0x1.ea4afa2a490dap+0, -0x1.e9c23179c2893p-54},
    {0x1.efa1bee615a27p+0, 0x1.dc7f486a4b6b0p-54},
    {0x1.f50765b6e4540p+0, 0x1.9d3e12dd8a18bp-54},
    {0x1.fa7c1819e90d8p+0, 0x1.74853f3a5931ep-55},
};

}  // namespace exp2_detail

// 2^x. NaN for NaN, +inf from 1024 up, 0 below -1100.
inline double portable_exp2(double x) {
  using namespace exp2_detail;
  if (std::isnan(x)) return x;
  if (x >= 1024.0) return std::numeric_limits<double>::infinity();
  if (x < -1100.0) return 0.0;
  // x = k / 64 + r, |r| <= 1/128, r exact (k / 64 is a multiple of x's ulp).
  // Rounded to an integer by adding and subtracting 1.5 * 2^52 (|x * 64| < 2^17).
  constexpr double shifter = 0x1.8p52;
  const double k_real = (x * 64.0 + shifter) - shifter;
  const double r = x - k_real / 64.0;
  const int k = static_cast<int>(k_real);
  const int j = k & 63;        // k = 64 e + j, 0 <= j < 64
  const int e = (k - j) / 64;  // exact division
  // t = r ln 2 = t.hi + t.lo.
  constexpr double ln2_hi = 0x1.62e42fefa39efp-1;
  constexpr double ln2_lo = 0x1.abc9e3b39803fp-56;
  const DoubleDouble rl = exact_product(r, ln2_hi);
  const DoubleDouble t = exact_sum(rl.hi, rl.lo + unfused_mul(r, ln2_lo));
  // exp(t) - 1 = t + t^2 / 2 + t^3 q(t), |t| < 2^-7.5; q's terms up to t^4
  // (the next one, t^8 / 8!, is below 2^-75).
  const DoubleDouble square = exact_product(t.hi, t.hi);
  const double square_lo = square.lo + unfused_mul(2.0 * t.hi, t.lo);
  double q = 0x1.a01a01a01a01ap-13;                  // 1/5040
  q = unfused_mul(q, t.hi) + 0x1.6c16c16c16c17p-10;  // 1/720
  q = unfused_mul(q, t.hi) + 0x1.1111111111111p-7;   // 1/120
  q = unfused_mul(q, t.hi) + 0x1.5555555555555p-5;   // 1/24
  q = unfused_mul(q, t.hi) + 0x1.5555555555555p-3;   // 1/6
  const double cubic = unfused_mul(unfused_mul(square.hi, t.hi), q);
  // exp(t) - 1 = m.hi + m.lo
  const DoubleDouble lead = exact_sum(t.hi, 0.5 * square.hi);
  const DoubleDouble m = exact_sum(lead.hi, lead.lo + (t.lo + (0.5 * square_lo + cubic)));
  // 2^(j/64) exp(t) = P.hi + (P.hi m.hi + P.lo + P.hi m.lo + P.lo m.hi)
  const DoubleDouble& power = powers[j];
  const DoubleDouble pm = exact_product(power.hi, m.hi);
  const double small = power.lo + ((pm.lo + unfused_mul(power.lo, m.hi)) + unfused_mul(power.hi, m.lo));
  const DoubleDouble h = exact_sum(power.hi, pm.hi);
  const double mantissa = h.hi + (h.lo + small);
  if (e < -1021) return std::ldexp(mantissa, e);  // a subnormal result, rounded once by ldexp
  return mantissa * std::bit_cast<double>(static_cast<std::uint64_t>(e + 1023) << 52);  // exact
}

}  // namespace redflag::detail
