// The TransformerAutoencoder's kernels, written once for every path:
// nn_kernels.hpp includes this file once per path, with REDFLAG_NN_NS naming
// the namespace and REDFLAG_NN_TARGET the target attribute of its
// functions, and instantiates them with that path's operations
// (nn_vectors.hpp). No include guard, on purpose.
//
// Every output value is computed by the same sequence of IEEE operations
// on every path; only how many values a register holds differs:
//   * products: one fused multiply-add after another over the inner
//     dimension, in order, per output element (vectorised over the output's
//     columns);
//   * softmax: maxima, sums and dot products over the keys are per query,
//     in key order (the queries are the vector lanes), and exp is the one
//     polynomial below;
//   * sums along a row (layer norm, squared errors): 8 partial sums, value
//     i going to partial i mod 8 in order, combined by a fixed tree.

#if !defined(REDFLAG_NN_NS) || !defined(REDFLAG_NN_TARGET)
#error "nn_kernels_body.hpp is included by nn_kernels.hpp only"
#endif

namespace redflag::simd::detail::REDFLAG_NN_NS {

using std::ptrdiff_t;
using Start = GemmStart;

// exp(x) for x <= 0 (and NaN, which propagates): x = n ln 2 + r with n the
// nearest integer to x log2(e), exp(r) by a polynomial, times 2^n. Inputs
// below ExpConstants::lowest give exp(lowest).
template <class V>
REDFLAG_NN_TARGET REDFLAG_NN_INLINE typename V::reg exp_nonpositive(typename V::reg x) {
  using T = typename V::T;
  using C = ExpConstants<T>;
  x = V::max(V::set1(C::lowest), x);
  const typename V::reg t = V::fma(x, V::set1(C::log2e), V::set1(C::magic));
  const typename V::reg n = V::sub(t, V::set1(C::magic));
  typename V::reg r = V::fnma(n, V::set1(C::ln2_hi), x);
  r = V::fnma(n, V::set1(C::ln2_lo), r);
  typename V::reg p = V::set1(C::poly[0]);
  for (int i = 1; i <= C::degree; ++i) p = V::fma(p, r, V::set1(C::poly[i]));
  const typename V::reg rr = V::mul(r, r);
  typename V::reg y = V::fma(p, rr, r);
  y = V::add(y, V::set1(T(1)));
  return V::opaque(V::mul(y, V::pow2(t)));
}

// C[i, j] (i < MR, j < NV * lanes) = start; then for p < K:
// C = fma(A(i, p), B[p, j], C) with A(i, p) = a[i * a_row + p * a_col].
// The start is a template argument so that the accumulators live in
// registers from the first load to the last store (with a run-time choice
// GCC kept them on the stack around the loop, which cost as much as the
// loop itself for the attention's products over the 8 values of a head).
// Row and Col are ptrdiff_t or Unit (a stride of 1 known at compile time).
template <class V, int MR, int NV, Start S, class Row, class Col>
REDFLAG_NN_TARGET REDFLAG_NN_INLINE void gemm_tile_body(ptrdiff_t K, const typename V::T* a, Row a_row, Col a_col,
                                                        const typename V::T* b, ptrdiff_t ldb, typename V::T* c,
                                                        ptrdiff_t ldc, const typename V::T* bias) {
  using reg = typename V::reg;
  constexpr int W = V::lanes;
  reg acc[MR][NV];
  REDFLAG_NN_UNROLL
  for (int r = 0; r < MR; ++r) {
    REDFLAG_NN_UNROLL
    for (int v = 0; v < NV; ++v) {
      if constexpr (S == Start::bias) {
        acc[r][v] = V::load(bias + v * W);
      } else if constexpr (S == Start::accumulate) {
        acc[r][v] = V::load(c + r * ldc + v * W);
      } else {
        acc[r][v] = V::zero();
      }
    }
  }
  for (ptrdiff_t p = 0; p < K; ++p) {
    const typename V::T* ap = a + p * a_col;
    const typename V::T* bp = b + p * ldb;
    reg bv[NV];
    REDFLAG_NN_UNROLL
    for (int v = 0; v < NV; ++v) bv[v] = V::load(bp + v * W);
    REDFLAG_NN_UNROLL
    for (int r = 0; r < MR; ++r) {
      const reg av = V::set1(ap[r * a_row]);
      REDFLAG_NN_UNROLL
      for (int v = 0; v < NV; ++v) acc[r][v] = V::fma(av, bv[v], acc[r][v]);
    }
  }
  REDFLAG_NN_UNROLL
  for (int r = 0; r < MR; ++r) {
    REDFLAG_NN_UNROLL
    for (int v = 0; v < NV; ++v) V::store(c + r * ldc + v * W, acc[r][v]);
  }
}

using Unit = std::integral_constant<ptrdiff_t, 1>;

// One copy of the tile per layout of A (row-major, transposed, other), each
// with its accumulators in registers throughout: left to itself, GCC
// versions the loop on the strides and keeps the accumulators on the stack
// between the copies.
template <class V, int MR, int NV, Start S>
REDFLAG_NN_TARGET void gemm_tile(ptrdiff_t K, const typename V::T* a, ptrdiff_t a_row, ptrdiff_t a_col,
                                 const typename V::T* b, ptrdiff_t ldb, typename V::T* c, ptrdiff_t ldc,
                                 const typename V::T* bias) {
  if (a_col == 1) {
    gemm_tile_body<V, MR, NV, S>(K, a, a_row, Unit{}, b, ldb, c, ldc, bias);
  } else if (a_row == 1) {
    gemm_tile_body<V, MR, NV, S>(K, a, Unit{}, a_col, b, ldb, c, ldc, bias);
  } else {
    gemm_tile_body<V, MR, NV, S>(K, a, a_row, a_col, b, ldb, c, ldc, bias);
  }
}

template <class V, int NV, int R, Start S>
REDFLAG_NN_TARGET void gemm_row_rest(ptrdiff_t rows, ptrdiff_t K, const typename V::T* a, ptrdiff_t a_row,
                                     ptrdiff_t a_col, const typename V::T* b, ptrdiff_t ldb, typename V::T* c,
                                     ptrdiff_t ldc, const typename V::T* bias) {
  if constexpr (R > 0) {
    if (rows == R) {
      gemm_tile<V, R, NV, S>(K, a, a_row, a_col, b, ldb, c, ldc, bias);
    } else {
      gemm_row_rest<V, NV, R - 1, S>(rows, K, a, a_row, a_col, b, ldb, c, ldc, bias);
    }
  }
}

// Columns [0, NV * lanes) of every row. Tiles of one register per row take
// twice the rows (the products whose B is a head's 8 columns): one load of
// B per 12 broadcasts of A rather than per 6.
template <class V, int NV, Start S>
REDFLAG_NN_TARGET void gemm_rows(ptrdiff_t M, ptrdiff_t K, const typename V::T* a, ptrdiff_t a_row, ptrdiff_t a_col,
                                 const typename V::T* b, ptrdiff_t ldb, typename V::T* c, ptrdiff_t ldc,
                                 const typename V::T* bias) {
  constexpr int MR = NV == 1 && V::lanes > 1 ? 2 * V::tile_rows : V::tile_rows;
  ptrdiff_t i = 0;
  for (; i + MR <= M; i += MR) {
    gemm_tile<V, MR, NV, S>(K, a + i * a_row, a_row, a_col, b, ldb, c + i * ldc, ldc, bias);
  }
  if (i < M) gemm_row_rest<V, NV, MR - 1, S>(M - i, K, a + i * a_row, a_row, a_col, b, ldb, c + i * ldc, ldc, bias);
}

// Columns [j0, N) one value at a time (fewer columns than a register holds).
template <class T>
REDFLAG_NN_TARGET void gemm_columns(ptrdiff_t M, ptrdiff_t j0, ptrdiff_t N, ptrdiff_t K, const T* a, ptrdiff_t a_row,
                                    ptrdiff_t a_col, const T* b, ptrdiff_t ldb, T* c, ptrdiff_t ldc, const T* bias,
                                    Start start) {
  for (ptrdiff_t i = 0; i < M; ++i) {
    for (ptrdiff_t j = j0; j < N; ++j) {
      T acc = start == Start::bias ? bias[j] : start == Start::accumulate ? c[i * ldc + j] : T(0);
      for (ptrdiff_t p = 0; p < K; ++p) acc = std::fma(a[i * a_row + p * a_col], b[p * ldb + j], acc);
      c[i * ldc + j] = acc;
    }
  }
}

template <class V, Start S>
REDFLAG_NN_TARGET void gemm_from(ptrdiff_t& j, ptrdiff_t M, ptrdiff_t N, ptrdiff_t K, const typename V::T* a,
                                 ptrdiff_t a_row, ptrdiff_t a_col, const typename V::T* b, ptrdiff_t ldb,
                                 typename V::T* c, ptrdiff_t ldc, const typename V::T* bias) {
  constexpr ptrdiff_t W = V::lanes;
  constexpr ptrdiff_t NV = V::tile_vectors;
  for (; j + NV * W <= N; j += NV * W) {
    gemm_rows<V, NV, S>(M, K, a, a_row, a_col, b + j, ldb, c + j, ldc, bias + j);
  }
  for (; j + W <= N; j += W) {
    gemm_rows<V, 1, S>(M, K, a, a_row, a_col, b + j, ldb, c + j, ldc, bias + j);
  }
}

// gemm below with the start fixed.
template <class V, Start S>
REDFLAG_NN_TARGET void gemm_start(ptrdiff_t M, ptrdiff_t N, ptrdiff_t K, const typename V::T* a, ptrdiff_t a_row,
                                  ptrdiff_t a_col, const typename V::T* b, ptrdiff_t ldb, typename V::T* c,
                                  ptrdiff_t ldc, const typename V::T* bias) {
  // Blocks of rows, all columns of a block before the next: the block's rows
  // of A stay in the level-1 cache while every column panel of B passes.
  // Only the loop order changes: every C[i, j] is the same chain of fused
  // multiply-adds.
  constexpr ptrdiff_t block_rows = 8 * V::tile_rows;
  for (ptrdiff_t i = 0; i < M; i += block_rows) {
    const ptrdiff_t rows = M - i < block_rows ? M - i : block_rows;
    const typename V::T* ai = a + i * a_row;
    typename V::T* ci = c + i * ldc;
    ptrdiff_t j = 0;
    gemm_from<V, S>(j, rows, N, K, ai, a_row, a_col, b, ldb, ci, ldc, bias);
    if constexpr (requires { typename V::half; }) {
      gemm_from<typename V::half, S>(j, rows, N, K, ai, a_row, a_col, b, ldb, ci, ldc, bias);
    }
    if (j < N) gemm_columns(rows, j, N, K, ai, a_row, a_col, b, ldb, ci, ldc, bias, S);
  }
}

// C (M x N, row stride ldc) = start + A B, A(i, p) = a[i * a_row + p * a_col],
// B row-major K x N (row stride ldb); start is 0, bias[j] or C itself.
template <class V>
REDFLAG_NN_TARGET void gemm(ptrdiff_t M, ptrdiff_t N, ptrdiff_t K, const typename V::T* a, ptrdiff_t a_row,
                            ptrdiff_t a_col, const typename V::T* b, ptrdiff_t ldb, typename V::T* c, ptrdiff_t ldc,
                            const typename V::T* bias, Start start) {
  if (M <= 0 || N <= 0) return;
  // Read only with Start::bias; a valid row of N values otherwise, so no path ever offsets a null pointer.
  if (start != Start::bias) bias = c;
  switch (start) {
    case Start::zero: return gemm_start<V, Start::zero>(M, N, K, a, a_row, a_col, b, ldb, c, ldc, bias);
    case Start::bias: return gemm_start<V, Start::bias>(M, N, K, a, a_row, a_col, b, ldb, c, ldc, bias);
    case Start::accumulate: return gemm_start<V, Start::accumulate>(M, N, K, a, a_row, a_col, b, ldb, c, ldc, bias);
  }
}

// Softmax down each column of S (rows x cols, row stride ld; cols a multiple
// of the lanes): P[r, j] = exp(S[r, j] - max_r S[r, j]) / sum_r exp(...).
template <class V>
REDFLAG_NN_TARGET void softmax_columns(typename V::T* s, ptrdiff_t rows, ptrdiff_t cols, ptrdiff_t ld) {
  using reg = typename V::reg;
  for (ptrdiff_t j = 0; j < cols; j += V::lanes) {
    typename V::T* column = s + j;
    reg m = V::load(column);
    for (ptrdiff_t r = 1; r < rows; ++r) m = V::max(V::load(column + r * ld), m);
    reg sum = V::zero();
    for (ptrdiff_t r = 0; r < rows; ++r) {
      const reg e = exp_nonpositive<V>(V::sub(V::load(column + r * ld), m));
      V::store(column + r * ld, e);
      sum = V::add(sum, e);
    }
    const reg inverse = V::div(V::set1(typename V::T(1)), sum);
    for (ptrdiff_t r = 0; r < rows; ++r) V::store(column + r * ld, V::mul(V::load(column + r * ld), inverse));
  }
}

// The softmax of one block of columns (lanes queries) of S^T, rows 0..L-1,
// without the last step: the exponentials are stored in place, and the
// returned register holds 1 / their sum per column (softmax_columns
// multiplies by it).
template <class V>
REDFLAG_NN_TARGET REDFLAG_NN_INLINE typename V::reg softmax_exp_block(typename V::T* column, ptrdiff_t rows,
                                                                      ptrdiff_t ld) {
  using reg = typename V::reg;
  reg m = V::load(column);
  for (ptrdiff_t r = 1; r < rows; ++r) m = V::max(V::load(column + r * ld), m);
  reg sum = V::zero();
  for (ptrdiff_t r = 0; r < rows; ++r) {
    const reg e = exp_nonpositive<V>(V::sub(V::load(column + r * ld), m));
    V::store(column + r * ld, e);
    sum = V::add(sum, e);
  }
  return V::div(V::set1(typename V::T(1)), sum);
}

// acc[c] (c < G; lanes queries) = sum over r < L of V[r, c] P^T[r, j] in key
// order, one fused multiply-add per key from 0 (as gemm computes V^T P^T).
// With Normalize, pt holds the exponentials and each is first multiplied by
// `inverse` and stored back (the softmax's last step, as softmax_columns).
template <class V, int G, bool Normalize>
REDFLAG_NN_TARGET REDFLAG_NN_INLINE void attention_context_block(ptrdiff_t L, const typename V::T* v, ptrdiff_t ld,
                                                                 typename V::T* pt, ptrdiff_t padded,
                                                                 typename V::reg inverse, typename V::reg* acc) {
  using reg = typename V::reg;
  REDFLAG_NN_UNROLL
  for (int g = 0; g < G; ++g) acc[g] = V::zero();
  for (ptrdiff_t r = 0; r < L; ++r) {
    reg p = V::load(pt + r * padded);
    if constexpr (Normalize) {
      p = V::mul(p, inverse);
      V::store(pt + r * padded, p);
    }
    const typename V::T* vr = v + r * ld;
    REDFLAG_NN_UNROLL
    for (int g = 0; g < G; ++g) acc[g] = V::fma(V::set1(vr[g]), p, acc[g]);
  }
}

// out[i * ldo + c] = acc[c][i] for i < rows (at most lanes), c < G.
template <class V, int G>
REDFLAG_NN_TARGET REDFLAG_NN_INLINE void store_transposed(typename V::reg* acc, ptrdiff_t rows, typename V::T* out,
                                                          ptrdiff_t ldo) {
  if constexpr (G == 8 && requires { V::transpose8(acc); }) {
    V::transpose8(acc);
    for (ptrdiff_t i = 0; i < rows; ++i) V::store(out + i * ldo, acc[i]);
  } else {
    alignas(64) typename V::T block[G * V::lanes];
    REDFLAG_NN_UNROLL
    for (int g = 0; g < G; ++g) V::store(block + g * V::lanes, acc[g]);
    for (ptrdiff_t i = 0; i < rows; ++i) {
      for (int g = 0; g < G; ++g) out[i * ldo + g] = block[g * V::lanes + i];
    }
  }
}

// One head of self-attention over one sequence of L positions
// (MultiHeadAttention::forward), the same operations as the products and
// the softmax above in one call: qt (d_head x padded) = (scale Q)^T, zero in
// the padding columns; P^T = softmax down the columns of K (scale Q)^T into
// pt (L x padded, every column written); C = P V into `context` (L x
// d_head, row stride ldc). q, k, v: the head's first column of Q, K, V
// (row stride ld). Each block of queries is normalised and multiplied by V
// while it is in registers and the level-1 cache.
template <class V>
REDFLAG_NN_TARGET void attention_forward(ptrdiff_t L, ptrdiff_t padded, ptrdiff_t dh, const typename V::T* q,
                                         const typename V::T* k, const typename V::T* v, ptrdiff_t ld,
                                         typename V::T scale, typename V::T* qt, typename V::T* pt,
                                         typename V::T* context, ptrdiff_t ldc) {
  using T = typename V::T;
  using reg = typename V::reg;
  constexpr ptrdiff_t W = V::lanes;
  constexpr int G = 8;
  ptrdiff_t i0 = 0;
  if constexpr (W == G && requires(reg * x) { V::transpose8(x); }) {
    if (dh == G) {
      // Eight positions' rows of Q at a time, scaled and transposed in registers.
      for (; i0 + W <= L; i0 += W) {
        reg x[G];
        for (int r = 0; r < G; ++r) x[r] = V::mul(V::load(q + (i0 + r) * ld), V::set1(scale));
        V::transpose8(x);
        for (int c = 0; c < G; ++c) V::store(qt + c * padded + i0, x[c]);
      }
    }
  }
  for (ptrdiff_t c = 0; c < dh; ++c) {
    T* row = qt + c * padded;
    for (ptrdiff_t i = i0; i < L; ++i) row[i] = q[i * ld + c] * scale;
    for (ptrdiff_t i = L; i < padded; ++i) row[i] = T(0);
  }
  gemm_start<V, Start::zero>(L, padded, dh, k, ld, 1, qt, padded, pt, padded, pt);
  for (ptrdiff_t j = 0; j < padded; j += W) {
    const reg inverse = softmax_exp_block<V>(pt + j, L, padded);
    const ptrdiff_t queries = L - j < W ? L - j : W;
    ptrdiff_t c0 = 0;
    if (queries > 0 && dh >= G) {
      reg acc[G];
      attention_context_block<V, G, true>(L, v, ld, pt + j, padded, inverse, acc);
      store_transposed<V, G>(acc, queries, context + j * ldc, ldc);
      c0 = G;
    } else {
      for (ptrdiff_t r = 0; r < L; ++r) V::store(pt + r * padded + j, V::mul(V::load(pt + r * padded + j), inverse));
    }
    if (queries <= 0) continue;
    for (; c0 + G <= dh; c0 += G) {
      reg acc[G];
      attention_context_block<V, G, false>(L, v + c0, ld, pt + j, padded, inverse, acc);
      store_transposed<V, G>(acc, queries, context + j * ldc + c0, ldc);
    }
    for (; c0 < dh; ++c0) {
      reg acc[1];
      attention_context_block<V, 1, false>(L, v + c0, ld, pt + j, padded, inverse, acc);
      store_transposed<V, 1>(acc, queries, context + j * ldc + c0, ldc);
    }
  }
}

// Softmax backward down each column, with the scores' scale folded in:
// D[r, j] <- scale * (P[r, j] * (D[r, j] - sum_r D[r, j] P[r, j])).
template <class V>
REDFLAG_NN_TARGET void softmax_backward_columns(typename V::T* d, const typename V::T* p, ptrdiff_t rows,
                                                ptrdiff_t cols, ptrdiff_t ld, typename V::T scale) {
  using reg = typename V::reg;
  const reg scale_v = V::set1(scale);
  for (ptrdiff_t j = 0; j < cols; j += V::lanes) {
    reg dot = V::zero();
    for (ptrdiff_t r = 0; r < rows; ++r) dot = V::fma(V::load(d + r * ld + j), V::load(p + r * ld + j), dot);
    for (ptrdiff_t r = 0; r < rows; ++r) {
      const reg g = V::mul(V::load(p + r * ld + j), V::sub(V::load(d + r * ld + j), dot));
      V::store(d + r * ld + j, V::mul(g, scale_v));
    }
  }
}

// The 8 partial sums of a row, combined: ((p0 + p1) + (p2 + p3)) + ((p4 + p5) + (p6 + p7)).
template <class T>
REDFLAG_NN_TARGET REDFLAG_NN_INLINE T combine8(const T* part) {
  return ((part[0] + part[1]) + (part[2] + part[3])) + ((part[4] + part[5]) + (part[6] + part[7]));
}

// sum_i x[i] (Square = false) or sum_i fma(x[i], y[i], .) (Square = true:
// the dot product of x and y), through 8 partial sums.
template <class V, bool Dot>
REDFLAG_NN_TARGET REDFLAG_NN_INLINE typename V::T sum8(const typename V::T* x, const typename V::T* y, ptrdiff_t n) {
  using T = typename V::T;
  constexpr int G = 8 / V::lanes;
  static_assert(G * V::lanes == 8, "a register holds 1, 2, 4 or 8 values");
  typename V::reg acc[G];
  for (int g = 0; g < G; ++g) acc[g] = V::zero();
  ptrdiff_t i = 0;
  for (; i + 8 <= n; i += 8) {
    for (int g = 0; g < G; ++g) {
      const typename V::reg xv = V::load(x + i + g * V::lanes);
      if constexpr (Dot) {
        acc[g] = V::fma(xv, V::load(y + i + g * V::lanes), acc[g]);
      } else {
        acc[g] = V::add(acc[g], xv);
      }
    }
  }
  T part[8];
  for (int g = 0; g < G; ++g) V::store(part + g * V::lanes, acc[g]);
  for (ptrdiff_t k = 0; i < n; ++i, ++k) {
    if constexpr (Dot) {
      part[k] = std::fma(x[i], y[i], part[k]);
    } else {
      part[k] = part[k] + x[i];
    }
  }
  return combine8(part);
}

// Layer norm forward, row by row: xhat = (x - mean) / sqrt(var + epsilon),
// y = fma(xhat, gamma, beta).
template <class V>
REDFLAG_NN_TARGET void layer_norm_forward(ptrdiff_t rows, ptrdiff_t n, const typename V::T* x, ptrdiff_t ldx,
                                          const typename V::T* gamma, const typename V::T* beta, typename V::T epsilon,
                                          typename V::T* xhat, typename V::T* inverse_std, typename V::T* y) {
  using T = typename V::T;
  constexpr ptrdiff_t W = V::lanes;
  const T inverse_n = T(1) / static_cast<T>(n);
  for (ptrdiff_t r = 0; r < rows; ++r) {
    const T* xr = x + r * ldx;
    T* hr = xhat + r * n;
    T* yr = y + r * n;
    const T mean = opaque_scalar(sum8<V, false>(xr, nullptr, n) * inverse_n);
    ptrdiff_t i = 0;
    for (; i + W <= n; i += W) V::store(hr + i, V::sub(V::load(xr + i), V::set1(mean)));
    for (; i < n; ++i) hr[i] = xr[i] - mean;
    const T variance_epsilon = std::fma(sum8<V, true>(hr, hr, n), inverse_n, epsilon);
    const T inv = opaque_scalar(T(1) / std::sqrt(variance_epsilon));
    inverse_std[r] = inv;
    i = 0;
    for (; i + W <= n; i += W) {
      const typename V::reg h = V::mul(V::load(hr + i), V::set1(inv));
      V::store(hr + i, h);
      V::store(yr + i, V::fma(h, V::load(gamma + i), V::load(beta + i)));
    }
    for (; i < n; ++i) {
      const T h = opaque_scalar(hr[i] * inv);
      hr[i] = h;
      yr[i] = std::fma(h, gamma[i], beta[i]);
    }
  }
}

// Layer norm backward, row by row, with g = dY . gamma:
// dX = inverse_std * ((g - mean(g)) - xhat * mean(g . xhat)), the last
// product fused; d gamma += dY . xhat (fused), d beta += dY.
template <class V>
REDFLAG_NN_TARGET void layer_norm_backward(ptrdiff_t rows, ptrdiff_t n, const typename V::T* dy, ptrdiff_t lddy,
                                           const typename V::T* gamma, const typename V::T* xhat,
                                           const typename V::T* inverse_std, typename V::T* d_gamma,
                                           typename V::T* d_beta, typename V::T* dx) {
  using T = typename V::T;
  using reg = typename V::reg;
  constexpr ptrdiff_t W = V::lanes;
  const T inverse_n = T(1) / static_cast<T>(n);
  for (ptrdiff_t r = 0; r < rows; ++r) {
    const T* dyr = dy + r * lddy;
    const T* hr = xhat + r * n;
    T* dxr = dx + r * n;
    ptrdiff_t i = 0;
    for (; i + W <= n; i += W) {
      const reg d = V::load(dyr + i);
      V::store(dxr + i, V::opaque(V::mul(d, V::load(gamma + i))));
      V::store(d_gamma + i, V::fma(d, V::load(hr + i), V::load(d_gamma + i)));
      V::store(d_beta + i, V::add(V::load(d_beta + i), d));
    }
    for (; i < n; ++i) {
      dxr[i] = opaque_scalar(dyr[i] * gamma[i]);
      d_gamma[i] = std::fma(dyr[i], hr[i], d_gamma[i]);
      d_beta[i] = d_beta[i] + dyr[i];
    }
    const T mean_g = opaque_scalar(sum8<V, false>(dxr, nullptr, n) * inverse_n);
    const T mean_gx = opaque_scalar(sum8<V, true>(dxr, hr, n) * inverse_n);
    const T inv = inverse_std[r];
    i = 0;
    for (; i + W <= n; i += W) {
      const reg centered = V::sub(V::load(dxr + i), V::set1(mean_g));
      V::store(dxr + i, V::mul(V::fnma(V::load(hr + i), V::set1(mean_gx), centered), V::set1(inv)));
    }
    for (; i < n; ++i) dxr[i] = std::fma(-hr[i], mean_gx, dxr[i] - mean_g) * inv;
  }
}

// sums[j] += x[r, j] for r = 0, 1, ... in order.
template <class V>
REDFLAG_NN_TARGET void add_column_sums(ptrdiff_t rows, ptrdiff_t n, const typename V::T* x, ptrdiff_t ldx,
                                       typename V::T* sums) {
  constexpr ptrdiff_t W = V::lanes;
  ptrdiff_t j = 0;
  for (; j + W <= n; j += W) {
    typename V::reg acc = V::load(sums + j);
    for (ptrdiff_t r = 0; r < rows; ++r) acc = V::add(acc, V::load(x + r * ldx + j));
    V::store(sums + j, acc);
  }
  for (; j < n; ++j) {
    typename V::T acc = sums[j];
    for (ptrdiff_t r = 0; r < rows; ++r) acc = acc + x[r * ldx + j];
    sums[j] = acc;
  }
}

// d[i] <- h[i] > 0 ? d[i] : 0 (the ReLU's backward pass; h its output).
template <class V>
REDFLAG_NN_TARGET void relu_backward(ptrdiff_t n, const typename V::T* h, typename V::T* d) {
  constexpr ptrdiff_t W = V::lanes;
  ptrdiff_t i = 0;
  for (; i + W <= n; i += W) V::store(d + i, V::where_positive(V::load(h + i), V::load(d + i)));
  for (; i < n; ++i) d[i] = h[i] > typename V::T(0) ? d[i] : typename V::T(0);
}

template <class V>
REDFLAG_NN_TARGET typename V::T sum_of_squares(const typename V::T* x, ptrdiff_t n) {
  return sum8<V, true>(x, x, n);
}

}  // namespace redflag::simd::detail::REDFLAG_NN_NS
