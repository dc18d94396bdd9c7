// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <vector>

#include "lowbit/backend/simd/quantize_activations.hpp"
#include "lowbit/backend/simd/tag.hpp"
#include "lowbit/backend/simd/xsimd_compat.hpp"
#include "lowbit/core/parallel.hpp"
#include "lowbit/prune/nm_sparse.hpp"
#include "lowbit/prune/nm_sparse_gemm.hpp"
#include "lowbit/quant/activation_q8.hpp"

#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>
#endif

// The AVX-512 2:4 kernel needs VBMI (vpermi2b, vpmultishiftqb), VNNI, BW and VL from the build flags.
#if (defined(__x86_64__) || defined(_M_X64)) && defined(__AVX512VBMI__) && defined(__AVX512VNNI__) && \
    defined(__AVX512BW__) && defined(__AVX512VL__)
#define LOWBIT_DETAIL_NM_VBMI 1
#else
#define LOWBIT_DETAIL_NM_VBMI 0
#endif

namespace lowbit::simd_detail {

/// True when the 2:4 kernel for Arch may use AVX-512 VBMI `vpermi2b` / `vpmultishiftqb` and VNNI.
template <class Arch>
inline constexpr bool has_nm_vbmi_v =
#if LOWBIT_DETAIL_NM_VBMI
    has_vnni_v<Arch>;
#else
    false;
#endif

#if LOWBIT_DETAIL_NM_VBMI
/// The VBMI index decode of 2:4 (`vpmultishiftqb`), for kept values t = 0..63 of 128 dense columns:
/// t's 2 index bits start at bit 2 (t % 32) of its 64-bit half of the index bytes, and its group's
/// first dense column is (t / 2) * 4.
alignas(64) inline constexpr std::uint8_t nm24_index_shift[64] = {
    0,  2,  4,  6,  8,  10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30, 32, 34, 36, 38, 40, 42,
    44, 46, 48, 50, 52, 54, 56, 58, 60, 62, 0,  2,  4,  6,  8,  10, 12, 14, 16, 18, 20, 22,
    24, 26, 28, 30, 32, 34, 36, 38, 40, 42, 44, 46, 48, 50, 52, 54, 56, 58, 60, 62};
alignas(64) inline constexpr std::uint8_t nm24_group_base[64] = {
    0,  0,  4,  4,  8,  8,  12,  12,  16,  16,  20,  20,  24,  24,  28,  28,  32,  32,  36,  36, 40, 40,
    44, 44, 48, 48, 52, 52, 56,  56,  60,  60,  64,  64,  68,  68,  72,  72,  76,  76,  80,  80, 84, 84,
    88, 88, 92, 92, 96, 96, 100, 100, 104, 104, 108, 108, 112, 112, 116, 116, 120, 120, 124, 124};
#endif

/// True when Arch has a 2:4 int8 sparse kernel (AVX-512 VBMI + VNNI, or AVX2).
template <class Arch>
inline constexpr bool has_nm_kernel_v = has_nm_vbmi_v<Arch> || has_avx2_v<Arch>;

/// The activation byte offsets of row r's kept values, in the form the kernel for Arch gathers with:
/// AVX-512: per 128 dense columns (4 blocks) 64 bytes, byte t = (t / 2) * 4 + p_t in [0, 128);
/// AVX2: per 64 dense columns (2 blocks) 32 bytes, byte t = ((t % 8) / 2) * 4 + p_t in [0, 16), an
/// offset into the 16-column half that `vpshufb` reads. Out: (kept columns rounded up to 64) bytes.
template <class Arch, class Values>
void nm24_gather_offsets(const prune::nm_sparse_matrix<Values, prune::nm_sparse<2, 4>>& w, std::size_t r,
                         std::uint8_t* out) {
  const std::uint8_t* meta = w.index(r);
  const std::size_t meta_bytes = w.index_row_bytes();  // K / 8
#if LOWBIT_DETAIL_NM_VBMI
  if constexpr (has_nm_vbmi_v<Arch>) {
    const __m512i ctl = _mm512_load_si512(nm24_index_shift);
    const __m512i add = _mm512_load_si512(nm24_group_base);
    const __m512i three = _mm512_set1_epi8(3);
    const __m512i spread = _mm512_set_epi64(1, 1, 1, 1, 0, 0, 0, 0);
    for (std::size_t c = 0; c * 16 < meta_bytes; ++c) {
      const std::size_t bytes = std::min<std::size_t>(16, meta_bytes - c * 16);
      const __m128i m = _mm_maskz_loadu_epi8(static_cast<__mmask16>((1u << bytes) - 1u), meta + c * 16);
      // Qword q of the result holds the 16 index bits of kept values 8q..8q+7: meta qword q / 4.
      const __m512i mq = _mm512_permutexvar_epi64(spread, _mm512_castsi128_si512(m));
      const __m512i p = _mm512_and_si512(_mm512_multishift_epi64_epi8(ctl, mq), three);
      _mm512_storeu_si512(out + c * 64, _mm512_add_epi8(p, add));
    }
    return;
  }
#endif
  // AVX2 form: 8 index bytes per 64 dense columns.
#if defined(__AVX2__)
  if constexpr (has_avx2_v<Arch>) {
    // Byte t takes index byte t / 4, then its nibble (t % 4 >= 2: high), then that nibble's low or
    // high 2 bits (t odd: high), by table lookups; plus the position of its group in the half.
    const __m256i rep = _mm256_setr_epi8(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 6, 6,
                                         6, 6, 7, 7, 7, 7);
    const __m256i high_nibble = _mm256_set1_epi32(static_cast<int>(0xffff0000u));
    const __m256i odd = _mm256_set1_epi16(static_cast<short>(0xff00));
    const __m256i low2 = _mm256_setr_epi8(0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3, 0, 1,
                                          2, 3, 0, 1, 2, 3);
    const __m256i high2 = _mm256_setr_epi8(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2,
                                           2, 2, 3, 3, 3, 3);
    const __m256i base = _mm256_setr_epi8(0, 0, 4, 4, 8, 8, 12, 12, 0, 0, 4, 4, 8, 8, 12, 12, 0, 0, 4, 4, 8, 8, 12, 12,
                                          0, 0, 4, 4, 8, 8, 12, 12);
    const __m256i nibble = _mm256_set1_epi8(0x0f);
    for (std::size_t c = 0; c * 8 < meta_bytes; ++c) {
      std::uint64_t bits = 0;
      std::memcpy(&bits, meta + c * 8, std::min<std::size_t>(8, meta_bytes - c * 8));
      const __m256i b = _mm256_shuffle_epi8(_mm256_set1_epi64x(static_cast<long long>(bits)), rep);
      const __m256i nib = _mm256_blendv_epi8(_mm256_and_si256(b, nibble),
                                             _mm256_and_si256(_mm256_srli_epi16(b, 4), nibble), high_nibble);
      const __m256i p = _mm256_blendv_epi8(_mm256_shuffle_epi8(low2, nib), _mm256_shuffle_epi8(high2, nib), odd);
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + c * 32), _mm256_add_epi8(p, base));
    }
    return;
  }
#endif
  // Portable decode, the same bytes as the AVX2 form.
  for (std::size_t c = 0; c * 8 < meta_bytes; ++c) {
    std::uint64_t bits = 0;
    std::memcpy(&bits, meta + c * 8, std::min<std::size_t>(8, meta_bytes - c * 8));
    for (std::size_t t = 0; t < 32; ++t)
      out[c * 32 + t] = static_cast<std::uint8_t>(((t % 8) / 2) * 4 + ((bits >> (2 * t)) & 3u));
  }
}

/// The weight scale of each activation block of row r, as f32: (K / 32) values (fp16 converted with
/// F16C where the build has it).
template <class Values>
void nm_block_scales(const prune::nm_sparse_matrix<Values, prune::nm_sparse<2, 4>>& w, std::size_t r,
                     float* out) noexcept {
  const std::size_t nb = w.cols() / 32;
  if constexpr (std::is_same_v<Values, prune::nm_q8_0>) {
    std::size_t b = 0;
#if defined(__F16C__)
    for (; b + 8 <= nb; b += 8)
      _mm256_storeu_ps(out + b, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w.scales(r) + b))));
#endif
    for (; b < nb; ++b) out[b] = fp16_to_f32(w.scales(r)[b]);
  } else {
    for (std::size_t b = 0; b < nb; ++b) out[b] = w.scales(r)[0];
  }
}

#if LOWBIT_DETAIL_NM_VBMI
/// Per 128 dense columns (4 blocks) 16 f32 lanes, lane l holding s[4c + l / 4] (0 past nb):
/// the scale of the block whose int32 sums vpdpbusd leaves in lane l. out: (ceil(nb / 4) * 16).
inline void nm24_expand_scales(const float* s, std::size_t nb, float* out) noexcept {
  const __m512i expand = _mm512_set_epi32(3, 3, 3, 3, 2, 2, 2, 2, 1, 1, 1, 1, 0, 0, 0, 0);
  for (std::size_t c = 0; c * 4 < nb; ++c) {
    const std::size_t blocks = std::min<std::size_t>(4, nb - c * 4);
    const __m128 s4 = _mm_maskz_loadu_ps(static_cast<__mmask8>((1u << blocks) - 1u), s + c * 4);
    _mm512_storeu_ps(out + c * 16, _mm512_permutexvar_ps(expand, _mm512_castps128_ps512(s4)));
  }
}

/// AVX-512 VBMI + VNNI kernel for one row of x and one row n of W, decoding the index bits in
/// registers (no offset or scale buffers: the GEMV / small-M path). Same f32 operations, lane for
/// lane, as nm24_rows_vbmi, so both give the same y. meta: row n's index bytes (K / 8); dw16: row n's
/// fp16 block scales (Q8_0) or null with `row_scale` (per channel); xq, dx: the row's codes and scales.
inline float nm24_row_fused_vbmi(const std::int8_t* codes, const std::uint8_t* meta, const std::uint16_t* dw16,
                                 float row_scale, const std::int8_t* xq, const float* dx, std::size_t nb) noexcept {
  const __m512i ctl = _mm512_load_si512(nm24_index_shift);
  const __m512i add = _mm512_load_si512(nm24_group_base);
  const __m512i three = _mm512_set1_epi8(3);
  const __m512i spread = _mm512_set_epi64(1, 1, 1, 1, 0, 0, 0, 0);
  const __m512i expand = _mm512_set_epi32(3, 3, 3, 3, 2, 2, 2, 2, 1, 1, 1, 1, 0, 0, 0, 0);
  const __m512i zero = _mm512_setzero_si512();
  const __m128 rs = _mm_set1_ps(row_scale);
  __m512 acc = _mm512_setzero_ps();
  for (std::size_t c = 0; c * 4 < nb; ++c) {
    const std::size_t blocks = std::min<std::size_t>(4, nb - c * 4);
    const __mmask64 wmask = blocks == 4 ? ~__mmask64{0} : (__mmask64{1} << (16 * blocks)) - 1;
    const __mmask64 xlo = blocks >= 2 ? ~__mmask64{0} : (__mmask64{1} << 32) - 1;
    const __mmask64 xhi = blocks == 4 ? ~__mmask64{0} : blocks == 3 ? (__mmask64{1} << 32) - 1 : __mmask64{0};
    const __mmask8 smask = static_cast<__mmask8>((1u << blocks) - 1u);
    const __m128i m = _mm_maskz_loadu_epi8(static_cast<__mmask16>((1u << (4 * blocks)) - 1u), meta + c * 16);
    const __m512i p = _mm512_and_si512(
        _mm512_multishift_epi64_epi8(ctl, _mm512_permutexvar_epi64(spread, _mm512_castsi128_si512(m))), three);
    const __m512i idx = _mm512_add_epi8(p, add);
    // Cold weights: the three streams (codes, index bits, scales) are fetched ahead explicitly
    // (prefetches past the row's end fall on the next rows, which follow in memory).
    _mm_prefetch(reinterpret_cast<const char*>(codes + c * 64 + 2048), _MM_HINT_T0);
    if (c % 4 == 0) _mm_prefetch(reinterpret_cast<const char*>(meta + c * 16 + 512), _MM_HINT_T0);
    if (dw16 != nullptr && c % 8 == 0) _mm_prefetch(reinterpret_cast<const char*>(dw16 + c * 4 + 256), _MM_HINT_T0);
    const __m512i w = _mm512_maskz_loadu_epi8(wmask, codes + c * 64);
    const __m512i g = _mm512_permutex2var_epi8(_mm512_maskz_loadu_epi8(xlo, xq + c * 128), idx,
                                               _mm512_maskz_loadu_epi8(xhi, xq + c * 128 + 64));
    const __m512i isum =
        _mm512_dpbusd_epi32(zero, _mm512_abs_epi8(w), _mm512_mask_sub_epi8(g, _mm512_movepi8_mask(w), zero, g));
    const __m128 dw4 = dw16 != nullptr ? _mm_cvtph_ps(_mm_maskz_loadu_epi16(smask, dw16 + c * 4)) : rs;
    // Lane l: dw(b) * dx(b) of block b = 4c + l / 4, as nm24_rows_vbmi's product of the expanded scales.
    const __m512 scale =
        _mm512_mul_ps(_mm512_permutexvar_ps(expand, _mm512_castps128_ps512(dw4)),
                      _mm512_permutexvar_ps(expand, _mm512_castps128_ps512(_mm_maskz_loadu_ps(smask, dx + c * 4))));
    acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum), scale, acc);
  }
  return _mm512_reduce_add_ps(acc);
}

/// AVX-512 VBMI + VNNI microkernel: y(i0 + r, n) for MR rows of x and one row n of W.
/// codes: (K / 2) kept codes; offsets: nm24_gather_offsets; dwe, dxe(r): nm24_expand_scales of the
/// weight and activation block scales (dxe rows `dxe_stride` apart); xq: MR rows of Q8 activation
/// codes, `xq_stride` apart. (Raw pointers: activation_q8's accessors are not inlined into this loop.)
template <int MR>
inline void nm24_rows_vbmi(const std::int8_t* codes, const std::uint8_t* offsets, const float* dwe,
                           const std::int8_t* xq, std::size_t xq_stride, const float* dxe, std::size_t dxe_stride,
                           std::size_t nb, float* out) noexcept {
  const __m512i zero = _mm512_setzero_si512();
  __m512 acc[MR];
  for (int r = 0; r < MR; ++r) acc[r] = _mm512_setzero_ps();
  for (std::size_t c = 0; c * 4 < nb; ++c) {
    const std::size_t blocks = std::min<std::size_t>(4, nb - c * 4);
    const __mmask64 wmask = blocks == 4 ? ~__mmask64{0} : (__mmask64{1} << (16 * blocks)) - 1;
    const __mmask64 xlo = blocks >= 2 ? ~__mmask64{0} : (__mmask64{1} << 32) - 1;
    const __mmask64 xhi = blocks == 4 ? ~__mmask64{0} : blocks == 3 ? (__mmask64{1} << 32) - 1 : __mmask64{0};
    const __m512i w = _mm512_maskz_loadu_epi8(wmask, codes + c * 64);
    // vpdpbusd multiplies unsigned by signed bytes: |w| times x with w's sign moved onto x.
    const __m512i aw = _mm512_abs_epi8(w);
    const __mmask64 neg = _mm512_movepi8_mask(w);
    const __m512i idx = _mm512_loadu_si512(offsets + c * 64);
    const __m512 dw = _mm512_loadu_ps(dwe + c * 16);
    for (int r = 0; r < MR; ++r) {
      const std::int8_t* x = xq + r * xq_stride + c * 128;
      const __m512i g =
          _mm512_permutex2var_epi8(_mm512_maskz_loadu_epi8(xlo, x), idx, _mm512_maskz_loadu_epi8(xhi, x + 64));
      const __m512i isum = _mm512_dpbusd_epi32(zero, aw, _mm512_mask_sub_epi8(g, neg, zero, g));
      const __m512 scale = _mm512_mul_ps(dw, _mm512_loadu_ps(dxe + r * dxe_stride + c * 16));
      acc[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum), scale, acc[r]);
    }
  }
  for (int r = 0; r < MR; ++r) out[r] = _mm512_reduce_add_ps(acc[r]);
}
#endif

/// Sum over the activation blocks b of dw(b) * dx(b) * isum(b), with isum the exact int32 dot of a
/// row's 2:4 kept codes (K / 2) with the Q8 activation codes they select (K), in f32 lanes (AVX2).
/// `offsets` from nm24_gather_offsets<Arch>; dw, dx: (K / 32).
template <class Arch>
float nm24_dot(const std::int8_t* codes, const std::uint8_t* offsets, const float* dw, const std::int8_t* xq,
               const float* dx, std::size_t nb) noexcept {
#if defined(__x86_64__) || defined(_M_X64)
  if constexpr (has_avx2_v<Arch>) {
    const __m256i ones = _mm256_set1_epi16(1);
    __m256 acc = _mm256_setzero_ps();
    for (std::size_t c = 0; c * 2 < nb; ++c) {
      const bool two = nb - c * 2 >= 2;
      __m256i w, x0, x1;
      float s1 = 0.0f;
      if (two) {
        w = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(codes + c * 32));
        x0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xq + c * 64));
        x1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xq + c * 64 + 32));
        s1 = dw[c * 2 + 1] * dx[c * 2 + 1];
      } else {
        w = _mm256_zextsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(codes + c * 32)));
        x0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xq + c * 64));
        x1 = _mm256_setzero_si256();
      }
      const float s0 = dw[c * 2] * dx[c * 2];
      // Lane 0 gathers block 2c (columns 0..31), lane 1 block 2c + 1 (32..63); each kept value's
      // 16-column half: kept 0..7 of a block from a, 8..15 from b.
      const __m256i a = _mm256_permute2x128_si256(x0, x1, 0x20);
      const __m256i b = _mm256_permute2x128_si256(x0, x1, 0x31);
      const __m256i ctl = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(offsets + c * 32));
      const __m256i g = _mm256_blend_epi32(_mm256_shuffle_epi8(a, ctl), _mm256_shuffle_epi8(b, ctl), 0xcc);
      // |w| * |x| <= 127 * 127, so a pair sum fits vpmaddubsw's int16.
      const __m256i sum16 = _mm256_maddubs_epi16(_mm256_abs_epi8(w), _mm256_sign_epi8(g, w));
      const __m256i isum = _mm256_madd_epi16(sum16, ones);
      const __m256 scale = _mm256_set_m128(_mm_set1_ps(s1), _mm_set1_ps(s0));
      acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum), scale, acc);
    }
    __m128 h = _mm_add_ps(_mm256_castps256_ps128(acc), _mm256_extractf128_ps(acc, 1));
    h = _mm_add_ps(h, _mm_movehl_ps(h, h));
    return _mm_cvtss_f32(_mm_add_ss(h, _mm_movehdup_ps(h)));
  } else
#endif
  {
    static_assert(dependent_false<Arch>, "lowbit: no 2:4 sparse int8 SIMD kernel for this Arch (needs AVX2)");
    return 0.0f;
  }
}

}  // namespace lowbit::simd_detail

namespace lowbit::prune {

/// The SIMD 2:4 sparse x dense GEMM for int8 value formats (`nm_int8_per_channel`, `nm_q8_0`):
/// y(M, N) = x(M, K) · Wᵀ skipping the pruned half of W.
///
/// x is quantized per row in Q8 blocks of 32 (`activation_q8`, as the dense Q8_0 path does); for each
/// row of W the kept values' activation codes are gathered by the 2-bit indices (AVX-512: VBMI
/// `vpermi2b` over 128 columns, indices expanded by `vpmultishiftqb`; AVX2: `vpshufb` per 16-column
/// half) and dotted with the K / 2 kept codes (AVX-512 VNNI `vpdpbusd`, AVX2 `vpmaddubsw`), so each
/// block's int32 sum equals `gemm_nm_q8_reference`'s exactly; only the f32 combination
/// `sum_b dw * dx * isum` is summed in another order (lanes of Arch). With AVX-512, M < 4 decodes the
/// index bits in registers per row pair (GEMV, cold weights prefetched); M >= 4 decodes each row of W
/// once into gather offsets and runs tiles of 4 rows of x against it; both give the same y.
/// Shapes: x (M, K) f32, K % 32 == 0; W (N, K) in nm_sparse<2, 4>; y (M, N). Threads split N.
/// throws lowbit::error{errc::shape_mismatch} for disagreeing shapes or K % 32 != 0;
/// {errc::invalid_argument} for NaN or infinite x. Allocation: the Q8 activations, and per thread
/// the gather offsets and scales of 8 rows of W (K / 2 bytes + K / 2 floats per row).
/// y must not alias x. A build without AVX2 fails to compile with a message naming the missing kernel.
/// Source: arXiv:2104.08378 (2:4).
template <class Arch, class Values>
requires(std::is_same_v<typename Values::code_type, std::int8_t>) void gemm_nm_simd(
    matrix_view<const float> x, const nm_sparse_matrix<Values, nm_sparse<2, 4>>& w, matrix_view<float> y,
    threads t = {}) {
  detail::check_nm_gemm_shapes(x.rows, x.cols, w, y, "prune::gemm_nm_simd");
  check(x.cols % 32 == 0, errc::shape_mismatch, [&] {
    return "prune::gemm_nm_simd: K = " + std::to_string(x.cols) + " is not a multiple of 32 (Q8 activation blocks)";
  });
  static_assert(simd_detail::has_nm_kernel_v<Arch>, "lowbit: no 2:4 sparse int8 SIMD kernel for this Arch");
  activation_q8 xq;
  simd_detail::quantize_activations<Arch>(x, xq);
  const std::size_t nb = x.cols / 32;
  const std::size_t offset_bytes = (w.kept_cols() + 63) / 64 * 64;
  const std::size_t scale_lanes = (nb + 3) / 4 * 16;
  std::vector<float> dxe;  // AVX-512: expanded activation scales, (M, scale_lanes)
#if LOWBIT_DETAIL_NM_VBMI
  if constexpr (simd_detail::has_nm_vbmi_v<Arch>) {
    dxe.resize(x.rows * scale_lanes);
    for (std::size_t i = 0; i < x.rows; ++i)
      simd_detail::nm24_expand_scales(xq.row_d(i), nb, dxe.data() + i * scale_lanes);
  }
#endif
#if LOWBIT_DETAIL_NM_VBMI
  if constexpr (simd_detail::has_nm_vbmi_v<Arch>) {
    if (x.rows < 4) {  // too few rows of x to repay decoding the indices into a buffer
      parallel_for(t, w.rows(), 8, [&](std::size_t n_begin, std::size_t n_end) {
        for (std::size_t n = n_begin; n < n_end; ++n) {
          const std::uint16_t* dw16 = nullptr;
          float row_scale = 0.0f;
          if constexpr (std::is_same_v<Values, nm_q8_0>) {
            dw16 = w.scales(n);
          } else {
            row_scale = w.scales(n)[0];
          }
          for (std::size_t i = 0; i < x.rows; ++i)
            y.row(i)[n] = simd_detail::nm24_row_fused_vbmi(w.codes(n), w.index(n), dw16, row_scale,
                                                           xq.qs.data() + i * x.cols, xq.d.data() + i * nb, nb);
        }
      });
      return;
    }
  }
#endif
  constexpr std::size_t nr = 8;  // rows of W whose offsets stay in L1 while tiles of x pass
  parallel_for(t, w.rows(), nr, [&](std::size_t n_begin, std::size_t n_end) {
    std::vector<std::uint8_t> offsets(nr * offset_bytes);
    std::vector<float> dw(nr * nb), dwe(nr * scale_lanes);
    float out[4];
    for (std::size_t n0 = n_begin; n0 < n_end; n0 += nr) {
      const std::size_t count = std::min(nr, n_end - n0);
      for (std::size_t j = 0; j < count; ++j) {
        simd_detail::nm24_gather_offsets<Arch>(w, n0 + j, offsets.data() + j * offset_bytes);
        simd_detail::nm_block_scales(w, n0 + j, dw.data() + j * nb);
#if LOWBIT_DETAIL_NM_VBMI
        if constexpr (simd_detail::has_nm_vbmi_v<Arch>)
          simd_detail::nm24_expand_scales(dw.data() + j * nb, nb, dwe.data() + j * scale_lanes);
#endif
      }
#if LOWBIT_DETAIL_NM_VBMI
      if constexpr (simd_detail::has_nm_vbmi_v<Arch>) {
        for (std::size_t i0 = 0; i0 < x.rows; i0 += 4) {
          const std::size_t mr = std::min<std::size_t>(4, x.rows - i0);
          for (std::size_t j = 0; j < count; ++j) {
            const auto* codes = w.codes(n0 + j);
            const auto* offs = offsets.data() + j * offset_bytes;
            const float* dwj = dwe.data() + j * scale_lanes;
            const float* dxi = dxe.data() + i0 * scale_lanes;
            const std::int8_t* xrow = xq.qs.data() + i0 * x.cols;
            switch (mr) {
              case 4:
                simd_detail::nm24_rows_vbmi<4>(codes, offs, dwj, xrow, x.cols, dxi, scale_lanes, nb, out);
                break;
              case 3:
                simd_detail::nm24_rows_vbmi<3>(codes, offs, dwj, xrow, x.cols, dxi, scale_lanes, nb, out);
                break;
              case 2:
                simd_detail::nm24_rows_vbmi<2>(codes, offs, dwj, xrow, x.cols, dxi, scale_lanes, nb, out);
                break;
              default:
                simd_detail::nm24_rows_vbmi<1>(codes, offs, dwj, xrow, x.cols, dxi, scale_lanes, nb, out);
                break;
            }
            for (std::size_t r = 0; r < mr; ++r) y.row(i0 + r)[n0 + j] = out[r];
          }
        }
      } else
#endif
      {
        for (std::size_t i = 0; i < x.rows; ++i) {
          for (std::size_t j = 0; j < count; ++j) {
            y.row(i)[n0 + j] = simd_detail::nm24_dot<Arch>(w.codes(n0 + j), offsets.data() + j * offset_bytes,
                                                           dw.data() + j * nb, xq.row_qs(i), xq.row_d(i), nb);
          }
        }
      }
    }
  });
}

/// GEMV form of `gemm_nm_simd`: y(N) = W · x(K). Same rules, with M = 1.
template <class Arch, class Values>
requires(std::is_same_v<typename Values::code_type, std::int8_t>) void gemv_nm_simd(
    const float* x, const nm_sparse_matrix<Values, nm_sparse<2, 4>>& w, float* y, threads t = {}) {
  gemm_nm_simd<Arch>(matrix_view<const float>(x, 1, w.cols()), w, matrix_view<float>(y, 1, w.rows()), t);
}

/// `gemm<backend::simd<Arch>>` on an N:M sparse weight: `gemm_nm_simd` then the epilogue per row
/// (prune::gemm for the reference backend has the same contract), so a `graph::linear` layer on
/// the SIMD backend takes an `nm_sparse_matrix` as its weight. Only 2:4 with int8 values
/// (`nm_int8_per_channel`, `nm_q8_0`) has a SIMD kernel: any other pattern or value format fails to
/// compile with a message saying so. Shapes and errors as `gemm_nm_simd`.
template <backend_policy B, class Values, class Layout, epilogue::stage E = epilogue::store>
requires std::is_same_v<B, backend::simd<typename B::arch_type>>
void gemm(matrix_view<const float> x, const nm_sparse_matrix<Values, Layout>& w, matrix_view<float> y, threads t = {},
          const E& e = {}, gemm_workspace* ws = nullptr) {
  static_assert(std::is_same_v<Layout, nm_sparse<2, 4>> && std::is_same_v<typename Values::code_type, std::int8_t>,
                "lowbit: the SIMD N:M sparse GEMM is 2:4 with int8 values (nm_int8_per_channel, nm_q8_0); run "
                "other patterns and value formats on backend::reference");
  detail::run_with_epilogue(y, e, ws,
                            [&](matrix_view<float> out) { gemm_nm_simd<typename B::arch_type>(x, w, out, t); });
}

}  // namespace lowbit::prune
