// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
//
// The SIMD backend's outputs, fingerprinted: every SIMD GEMM kernel (GGUF block types, OCP MX,
// NVFP4, F32/F16/BF16, a representative set of parametric quant<...> formats, the 2:4 sparse int8
// kernels), the SIMD activation quantizers and the nn primitives with SIMD paths, run on
// deterministic pseudo-random inputs (splitmix64, written out here, so that every compiler and
// library gives the same inputs), one line per case:
//   <case> <M>x<N>x<K> t<threads> <FNV-1a 64 of the output bytes (the floats' bit patterns)>
// A case that throws prints `ERR <message>` instead of the hash (compared like a hash).
// Not a ctest test: scripts/compare_kernels.sh builds it against two include trees (before and after
// a refactor of include/lowbit/backend/simd/) and for two -march values, and diffs the lines.
// Only public APIs and the SIMD activation quantizers of simd_detail are used.
//
// Usage: kernel_fingerprint [FILTER]  (only the cases whose first word contains FILTER)
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "lowbit/backend/simd.hpp"
#include "lowbit/backend/simd/gemm_nm_sparse.hpp"
#include "lowbit/backend/simd/k_quant_panels.hpp"
#include "lowbit/backend/simd/parametric_activations.hpp"
#include "lowbit/backend/simd/quantize_activations.hpp"
#include "lowbit/formats/float.hpp"
#include "lowbit/formats/gguf_formats.hpp"
#include "lowbit/formats/ggml/q8_1.hpp"
#include "lowbit/formats/ggml/q8_k.hpp"
#include "lowbit/formats/mx/mx_format.hpp"
#include "lowbit/formats/mx/nvfp4.hpp"
#include "lowbit/gemm/gemm.hpp"
#include "lowbit/gemm/quantized_gemm.hpp"
#include "lowbit/nn/activations.hpp"
#include "lowbit/nn/attention.hpp"
#include "lowbit/nn/flash_attention_f16.hpp"
#include "lowbit/nn/kv_cache.hpp"
#include "lowbit/nn/rms_norm.hpp"
#include "lowbit/nn/softmax.hpp"
#include "lowbit/prune/mask.hpp"
#include "lowbit/prune/nm.hpp"
#include "lowbit/prune/nm_sparse.hpp"

namespace {

using simd = lowbit::backend::simd<>;
using arch = simd::arch_type;
using lowbit::matrix_view;

// ---- deterministic inputs -------------------------------------------------------------------

/// splitmix64 (Steele, Lea, Flood 2014): the same sequence on every platform.
struct splitmix64 {
  std::uint64_t state;
  std::uint64_t next() {
    std::uint64_t z = (state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  /// Uniform in [-1, 1): 24 random bits, exact in f32.
  float uniform() { return static_cast<float>(static_cast<std::int32_t>(next() >> 40) - (1 << 23)) * 0x1p-23f; }
};

/// n floats in [-scale, scale), a few of them (1 in 64) 8 times larger (outliers drive the scales).
std::vector<float> random_floats(std::size_t n, std::uint64_t seed, float scale = 1.0f) {
  splitmix64 g{seed};
  std::vector<float> v(n);
  for (auto& x : v) {
    const std::uint64_t r = g.next();
    x = g.uniform() * scale * ((r & 63) == 0 ? 8.0f : 1.0f);
  }
  return v;
}

std::uint64_t seed_of(std::uint64_t a, std::uint64_t b, std::uint64_t c) { return a * 1000003u + b * 10007u + c; }

// ---- output ----------------------------------------------------------------------------------

struct fnv1a {
  std::uint64_t h = 0xcbf29ce484222325ull;
  void bytes(const void* p, std::size_t n) {
    const auto* b = static_cast<const unsigned char*>(p);
    for (std::size_t i = 0; i < n; ++i) {
      h ^= b[i];
      h *= 0x100000001b3ull;
    }
  }
  /// The bit patterns of f32 values, each as 4 little-endian bytes (independent of the host's order).
  void floats(const float* p, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) {
      std::uint32_t u;
      std::memcpy(&u, p + i, 4);
      const unsigned char b[4] = {static_cast<unsigned char>(u), static_cast<unsigned char>(u >> 8),
                                  static_cast<unsigned char>(u >> 16), static_cast<unsigned char>(u >> 24)};
      bytes(b, 4);
    }
  }
  void ints(const std::int32_t* p, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) {
      const auto u = static_cast<std::uint32_t>(p[i]);
      const unsigned char b[4] = {static_cast<unsigned char>(u), static_cast<unsigned char>(u >> 8),
                                  static_cast<unsigned char>(u >> 16), static_cast<unsigned char>(u >> 24)};
      bytes(b, 4);
    }
  }
};

std::string g_filter;
std::size_t g_cases = 0;

bool selected(std::string_view name) { return g_filter.empty() || name.find(g_filter) != std::string_view::npos; }

/// Runs `f(hash)` and prints the case's line: the hash, or ERR and the exception's message.
template <class Fn>
void emit(std::string_view name, std::size_t m, std::size_t n, std::size_t k, int t, Fn&& f) {
  std::string result;
  try {
    fnv1a h;
    f(h);
    char buf[32];
    std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h.h));
    result = buf;
  } catch (const std::exception& e) {
    result = std::string("ERR ") + e.what();
    for (auto& c : result)
      if (c == '\n') c = ' ';
  }
  std::printf("%.*s %zux%zux%zu t%d %s\n", static_cast<int>(name.size()), name.data(), m, n, k, t, result.c_str());
  ++g_cases;
}

constexpr std::size_t ms[] = {1, 3, 17, 40};
constexpr std::size_t ns[] = {1, 15, 17, 33};
constexpr int thread_counts[] = {1, 2};

/// y = x · Wᵀ on the SIMD backend for every M, threads of a prepared W(N, K); W prepared once.
template <class Packed>
void run_gemm_cases(std::string_view name, std::size_t n, std::size_t k, const Packed& packed) {
  for (std::size_t m : ms) {
    const auto x = random_floats(m * k, seed_of(2, m, k));
    for (int t : thread_counts) {
      emit(name, m, n, k, t, [&](fnv1a& h) {
        std::vector<float> y(m * n, 0.0f);
        lowbit::gemm<simd>(matrix_view<const float>(x.data(), m, k), packed, matrix_view<float>(y.data(), m, n),
                           lowbit::threads{t});
        h.floats(y.data(), y.size());
      });
    }
    if (m == 1) {  // the GEMV entry point too
      for (int t : thread_counts) {
        emit(std::string(name) + "/gemv", 1, n, k, t, [&](fnv1a& h) {
          std::vector<float> y(n, 0.0f);
          lowbit::gemv<simd>(x.data(), packed, y.data(), lowbit::threads{t});
          h.floats(y.data(), y.size());
        });
      }
    }
  }
}

/// Emits one ERR line per case of a shape whose preparation threw.
void emit_prepare_error(std::string_view name, std::size_t n, std::size_t k, const std::exception& e) {
  const std::string what = e.what();
  for (std::size_t m : ms)
    for (int t : thread_counts) emit(name, m, n, k, t, [&](fnv1a&) -> void { throw std::runtime_error(what); });
}

// ---- GGUF-style block formats (F::block, F::quantize_block) ----------------------------------

template <class F>
void block_case(std::string_view name, std::size_t unit = F::block_size) {
  if (!selected(name)) return;
  for (std::size_t blocks_per_row : {1, 3, 8}) {
    const std::size_t k = unit * blocks_per_row;
    for (std::size_t n : ns) {
      try {
        const auto w = random_floats(n * k, seed_of(1, n, k));
        std::vector<typename F::block> blocks(n * k / F::block_size);
        for (std::size_t b = 0; b < blocks.size(); ++b) F::quantize_block(w.data() + b * F::block_size, blocks[b]);
        const auto packed = lowbit::prepare_weight<simd>(lowbit::weight_view<F>{blocks.data(), n, k});
        run_gemm_cases(name, n, k, packed);
      } catch (const std::exception& e) {
        emit_prepare_error(name, n, k, e);
      }
    }
  }
}

// ---- parametric quant<...> formats ---------------------------------------------------------

/// W(N, K) of random codes (every finite code), scales and zero points.
template <class Q>
lowbit::quantized_matrix<Q> random_quantized(std::size_t n, std::size_t k, std::uint64_t seed) {
  lowbit::quantized_matrix<Q> w(n, k);
  splitmix64 g{seed};
  for (std::size_t r = 0; r < n; ++r) {
    for (std::size_t c = 0; c < k; ++c) {
      auto raw = static_cast<std::uint8_t>(g.next() & ((1u << Q::bits) - 1u));
      if (!std::isfinite(Q::code_type::decode(raw))) raw = 0;
      w.set_code(r, c, raw);
    }
  }
  for (auto& s : w.scales())
    s = Q::scale_type::encode_up(std::ldexp(1.0 + 0.01 * static_cast<double>(g.next() % 100), -static_cast<int>(g.next() % 8)));
  if constexpr (Q::has_zero_point) {
    using code = typename Q::code_type;
    for (auto& z : w.zero_points())
      z = code::min_int + static_cast<int>(g.next() % static_cast<std::uint64_t>(code::max_int - code::min_int + 1));
  }
  return w;
}

template <class Q>
void param_case(std::string_view name) {
  if (!selected(name)) return;
  constexpr std::size_t unit = Q::group_size == 0 ? 32 : Q::group_size;
  constexpr std::size_t rows = Q::block_rows > 1 ? Q::block_rows : 1;
  for (std::size_t groups : {1, 3, 8}) {
    const std::size_t k = unit * groups;
    for (std::size_t n0 : ns) {
      const std::size_t n = (n0 + rows - 1) / rows * rows;
      try {
        const auto w = random_quantized<Q>(n, k, seed_of(3, n, k));
        const auto packed = lowbit::prepare_weight<simd>(w);
        run_gemm_cases(name, n, k, packed);
      } catch (const std::exception& e) {
        emit_prepare_error(name, n, k, e);
      }
    }
  }
}

// ---- 2:4 sparse int8 -------------------------------------------------------------------------

template <class Values>
void nm_sparse_format(std::string_view name) {
  if (!selected(name)) return;
  using sparse = lowbit::prune::nm_sparse_matrix<Values, lowbit::prune::nm_sparse<2, 4>>;
  for (std::size_t k : {32, 96, 256, 512}) {
    for (std::size_t n : ns) {
      try {
        auto w = random_floats(n * k, seed_of(4, n, k));
        const matrix_view<float> view(w.data(), n, k);
        lowbit::prune::apply_mask(view, lowbit::prune::magnitude_nm_mask(view, {.n = 2, .m = 4}));
        const auto packed = sparse::pack(matrix_view<const float>(w.data(), n, k));
        for (std::size_t m : ms) {
          const auto x = random_floats(m * k, seed_of(2, m, k));
          for (int t : thread_counts) {
            emit(name, m, n, k, t, [&](fnv1a& h) {
              std::vector<float> y(m * n, 0.0f);
              lowbit::prune::gemm<simd>(matrix_view<const float>(x.data(), m, k), packed,
                                        matrix_view<float>(y.data(), m, n), lowbit::threads{t});
              h.floats(y.data(), y.size());
            });
          }
        }
      } catch (const std::exception& e) {
        emit_prepare_error(name, n, k, e);
      }
    }
  }
}

// ---- SIMD activation quantizers -----------------------------------------------------------

void hash_q8(fnv1a& h, const lowbit::activation_q8& a, bool with_s) {
  h.bytes(a.qs.data(), a.qs.size());
  h.floats(a.d.data(), a.d.size());
  if (with_s) h.floats(a.s.data(), a.s.size());
  h.ints(a.sum.data(), a.sum.size());
}

void activation_quantizers() {
  if (selected("act_q8_0")) {
    for (std::size_t k : {32, 96, 256}) {
      for (std::size_t m : ms) {
        const auto x = random_floats(m * k, seed_of(5, m, k), 3.0f);
        emit("act_q8_0", m, 0, k, 1, [&](fnv1a& h) {
          lowbit::activation_q8 out;
          lowbit::simd_detail::quantize_activations<arch>(matrix_view<const float>(x.data(), m, k), out);
          hash_q8(h, out, true);
        });
      }
    }
  }
  if (selected("act_q8_k")) {
    for (std::size_t k : {256, 768, 2048}) {
      for (std::size_t m : ms) {
        const auto x = random_floats(m * k, seed_of(6, m, k), 3.0f);
        emit("act_q8_k", m, 0, k, 1, [&](fnv1a& h) {
          lowbit::activation_q8 out;
          lowbit::simd_detail::quantize_activations_k<arch>(matrix_view<const float>(x.data(), m, k), out);
          hash_q8(h, out, false);
        });
      }
    }
  }
  if (selected("act_q8_per_row")) {
    for (std::size_t k : {1, 7, 32, 37, 96, 256}) {
      for (std::size_t m : ms) {
        const auto x = random_floats(m * k, seed_of(7, m, k), 3.0f);
        emit("act_q8_per_row", m, 0, k, 1, [&](fnv1a& h) {
          lowbit::activation_q8 out;
          lowbit::simd_detail::quantize_activations_per_row<arch>(matrix_view<const float>(x.data(), m, k), k, out);
          // Per row: the codes (K, then zeros), the scale and the sum at the row's first block.
          const std::size_t nb = out.cols / 32;
          for (std::size_t i = 0; i < m; ++i) {
            h.bytes(out.qs.data() + i * out.cols, out.cols);
            h.floats(out.d.data() + i * nb, 1);
            h.ints(out.sum.data() + i * nb, 1);
          }
        });
      }
    }
  }
}

// ---- nn primitives with SIMD paths --------------------------------------------------------

namespace nn = lowbit::nn;

void nn_cases() {
  constexpr std::size_t sizes[] = {1, 15, 17, 33, 1000, 4099, 70000};
  for (std::size_t n : sizes) {
    const auto a = random_floats(n, seed_of(8, n, 1), 6.0f);
    const auto b = random_floats(n, seed_of(8, n, 2), 6.0f);
    for (int t : thread_counts) {
      auto unary = [&](const char* name, auto fn) {
        if (!selected(name)) return;
        emit(name, 1, n, 1, t, [&](fnv1a& h) {
          std::vector<float> y(n, 0.0f);
          fn(std::span<const float>(a), std::span<float>(y), lowbit::threads{t});
          h.floats(y.data(), y.size());
        });
      };
      auto binary = [&](const char* name, auto fn) {
        if (!selected(name)) return;
        emit(name, 1, n, 1, t, [&](fnv1a& h) {
          std::vector<float> y(n, 0.0f);
          fn(std::span<const float>(a), std::span<const float>(b), std::span<float>(y), lowbit::threads{t});
          h.floats(y.data(), y.size());
        });
      };
      unary("nn_silu", [](auto x, auto y, auto th) { nn::silu(x, y, th); });
      unary("nn_gelu_tanh", [](auto x, auto y, auto th) { nn::gelu_tanh(x, y, th); });
      unary("nn_gelu_tanh_table", [](auto x, auto y, auto th) { nn::gelu_tanh_table(x, y, th); });
      unary("nn_gelu_erf", [](auto x, auto y, auto th) { nn::gelu_erf(x, y, th); });
      unary("nn_relu", [](auto x, auto y, auto th) { nn::relu(x, y, th); });
      binary("nn_swiglu", [](auto g, auto u, auto y, auto th) { nn::swiglu(g, u, y, th); });
      binary("nn_geglu", [](auto g, auto u, auto y, auto th) { nn::geglu(g, u, y, th); });
    }
  }
  // softmax and rms_norm: rows x cols.
  for (std::size_t rows : ms) {
    for (std::size_t cols : {1, 15, 17, 33, 576, 2049}) {
      const auto x = random_floats(rows * cols, seed_of(9, rows, cols), 8.0f);
      const auto weight = random_floats(cols, seed_of(9, 0, cols), 2.0f);
      for (int t : thread_counts) {
        if (selected("nn_softmax"))
          emit("nn_softmax", rows, cols, 1, t, [&](fnv1a& h) {
            std::vector<float> y(rows * cols, 0.0f);
            nn::softmax(std::span<const float>(x), std::span<float>(y), rows, cols, lowbit::threads{t});
            h.floats(y.data(), y.size());
          });
        if (selected("nn_rms_norm"))
          emit("nn_rms_norm", rows, cols, 1, t, [&](fnv1a& h) {
            std::vector<float> y(rows * cols, 0.0f);
            nn::rms_norm(std::span<const float>(x), std::span<const float>(weight), std::span<float>(y), rows, cols,
                         1e-6f, lowbit::threads{t});
            h.floats(y.data(), y.size());
          });
      }
    }
  }
  // Attention over f32 and f16 caches, flash attention over f16: (n_heads, n_kv_heads, head_dim),
  // tokens M at position pos after a prefix; with and without a sliding window.
  struct dims {
    std::size_t n_heads, n_kv_heads, head_dim;
  };
  constexpr dims shapes[] = {{4, 2, 64}, {6, 2, 40}, {8, 8, 128}, {2, 1, 7}};
  for (const auto& d : shapes) {
    for (std::size_t prefix : {0, 5, 37}) {
      for (std::size_t m : {1, 3, 17}) {
        for (std::size_t window : {0, 8}) {
          const std::size_t total = prefix + m, n_ctx = 64;
          const auto k = random_floats(total * d.n_kv_heads * d.head_dim, seed_of(10, total, d.head_dim), 2.0f);
          const auto v = random_floats(total * d.n_kv_heads * d.head_dim, seed_of(11, total, d.head_dim), 2.0f);
          const auto q = random_floats(m * d.n_heads * d.head_dim, seed_of(12, m, d.head_dim), 2.0f);
          const nn::attention_params p{.layer = 0, .pos = prefix, .n_tokens = m, .n_heads = d.n_heads, .window = window};
          const std::string tag = "/h" + std::to_string(d.n_heads) + "kv" + std::to_string(d.n_kv_heads) + "p" +
                                  std::to_string(prefix) + "w" + std::to_string(window);
          auto fill = [&](auto& cache) {
            if (prefix > 0)
              cache.write(0, 0, prefix, std::span<const float>(k.data(), prefix * d.n_kv_heads * d.head_dim),
                          std::span<const float>(v.data(), prefix * d.n_kv_heads * d.head_dim));
            cache.write(0, prefix, m, std::span<const float>(k).subspan(prefix * d.n_kv_heads * d.head_dim),
                        std::span<const float>(v).subspan(prefix * d.n_kv_heads * d.head_dim));
          };
          for (int t : thread_counts) {
            const std::size_t out_size = m * d.n_heads * d.head_dim;
            if (selected("nn_attention_f32"))
              emit("nn_attention_f32" + tag, m, d.n_heads, d.head_dim, t, [&](fnv1a& h) {
                nn::kv_cache<nn::kv_f32> cache(1, n_ctx, d.n_kv_heads, d.head_dim);
                fill(cache);
                nn::attention_workspace ws;
                std::vector<float> out(out_size, 0.0f);
                nn::attention(std::span<const float>(q), cache, p, std::span<float>(out), ws, lowbit::threads{t});
                h.floats(out.data(), out.size());
              });
            if (selected("nn_attention_f16"))
              emit("nn_attention_f16" + tag, m, d.n_heads, d.head_dim, t, [&](fnv1a& h) {
                nn::kv_cache<nn::kv_f16> cache(1, n_ctx, d.n_kv_heads, d.head_dim);
                fill(cache);
                nn::attention_workspace ws;
                std::vector<float> out(out_size, 0.0f);
                nn::attention(std::span<const float>(q), cache, p, std::span<float>(out), ws, lowbit::threads{t});
                h.floats(out.data(), out.size());
              });
            if (selected("nn_flash_attention_f16"))
              emit("nn_flash_attention_f16" + tag, m, d.n_heads, d.head_dim, t, [&](fnv1a& h) {
                nn::kv_cache<nn::kv_f16> cache(1, n_ctx, d.n_kv_heads, d.head_dim);
                fill(cache);
                std::vector<float> out(out_size, 0.0f);
                nn::flash_attention_f16(std::span<const float>(q), cache, p, std::span<float>(out),
                                        lowbit::threads{t});
                h.floats(out.data(), out.size());
              });
          }
        }
      }
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1) g_filter = argv[1];
  namespace ggml = lowbit::ggml;
  namespace mx = lowbit::mx;
  using namespace lowbit;  // the quant<...> spellings

  // GGUF legacy, K-quants, non-linear, codebook i-quants, Q8_1 / Q8_K.
  block_case<ggml::q4_0>("Q4_0");
  block_case<ggml::q4_1>("Q4_1");
  block_case<ggml::q5_0>("Q5_0");
  block_case<ggml::q5_1>("Q5_1");
  block_case<ggml::q8_0>("Q8_0");
  block_case<ggml::q8_1>("Q8_1");
  block_case<ggml::q2_k>("Q2_K");
  block_case<ggml::q3_k>("Q3_K");
  block_case<ggml::q4_k>("Q4_K");
  block_case<ggml::q5_k>("Q5_K");
  block_case<ggml::q6_k>("Q6_K");
  block_case<ggml::q8_k>("Q8_K");
  block_case<ggml::iq4_nl>("IQ4_NL");
  block_case<ggml::iq4_xs>("IQ4_XS");
  block_case<ggml::tq1_0>("TQ1_0");
  block_case<ggml::tq2_0>("TQ2_0");
  block_case<ggml::mxfp4>("MXFP4");
  block_case<ggml::nvfp4>("NVFP4");
  block_case<ggml::iq1_s>("IQ1_S");
  block_case<ggml::iq1_m>("IQ1_M");
  block_case<ggml::iq2_xxs>("IQ2_XXS");
  block_case<ggml::iq2_xs>("IQ2_XS");
  block_case<ggml::iq2_s>("IQ2_S");
  block_case<ggml::iq3_xxs>("IQ3_XXS");
  block_case<ggml::iq3_s>("IQ3_S");
  // OCP MX v1.0 and NVIDIA NVFP4 (lowbit::mx).
  block_case<mx::mxint8>("MX_MXINT8");
  block_case<mx::mxfp4>("MX_MXFP4");
  block_case<mx::mxfp6_e2m3>("MX_MXFP6_E2M3");
  block_case<mx::mxfp6_e3m2>("MX_MXFP6_E3M2");
  block_case<mx::mxfp8_e4m3>("MX_MXFP8_E4M3");
  block_case<mx::mxfp8_e5m2>("MX_MXFP8_E5M2");
  block_case<mx::nvfp4>("MX_NVFP4", 32);  // the SIMD kernel takes K % 32 == 0 (Q8 activation blocks)
  // Floats: K = 37, 111, 296 (off every vector width).
  block_case<f32>("F32", 37);
  block_case<f16>("F16", 37);
  block_case<bf16>("BF16", 37);
  // Parametric: the four with their own kernels, then the generic kernel.
  param_case<int8_per_channel>("INT8_PC");
  param_case<int4_g32_asym>("INT4_G32_ASYM");
  param_case<nf4_g64>("NF4_G64");
  param_case<fp8_e4m3_per_channel>("FP8_E4M3_PC");
  param_case<quant<int_code<4, true>, scale_f16, per_group<32>>>("INT4_G32_SYM");
  param_case<quant<int_code<4, false>, scale_f16, per_group<128>, asymmetric>>("UINT4_G128_ASYM");
  param_case<quant<int_code<3, false>, scale_f16, per_group<64>, asymmetric>>("UINT3_G64_ASYM");
  param_case<quant<int_code<2, false>, scale_f16, per_group<64>, asymmetric>>("UINT2_G64_ASYM");
  param_case<quant<int_code<5, true>, scale_f32, per_channel>>("INT5_PC");
  param_case<quant<int_code<8, true>, scale_f16, per_group<32>>>("INT8_G32");
  param_case<quant<nf4, scale_bf16, per_channel>>("NF4_PC_BF16");
  param_case<quant<fp4_e2m1, scale_e8m0, per_group<32>>>("FP4_E2M1_G32_E8M0");
  param_case<quant<fp4_e2m1, scale_fp8_e4m3, per_group<16>>>("FP4_E2M1_G16_FP8");
  param_case<quant<fp6_e3m2, scale_f16, per_group<32>>>("FP6_E3M2_G32");
  param_case<quant<fp8_e4m3, scale_f16, per_group<64>>>("FP8_E4M3_G64");
  param_case<quant<fp8_e5m2, scale_e8m0, per_block<4, 16>>>("FP8_E5M2_B4X16_E8M0");
  param_case<quant<ternary, scale_f16, per_group<32>>>("TERNARY_G32");
  param_case<quant<binary, scale_f32, per_channel>>("BINARY_PC");
  param_case<quant<int_code<4, false>, scale_e8m0, per_block<2, 32>, asymmetric>>("UINT4_B2X32_E8M0_ASYM");
  // 2:4 sparse int8.
  nm_sparse_format<prune::nm_q8_0>("NM24_Q8_0");
  nm_sparse_format<prune::nm_int8_per_channel>("NM24_INT8_PC");
  activation_quantizers();
  nn_cases();
  std::fprintf(stderr, "kernel_fingerprint: %zu cases (%s)\n", g_cases, arch::name());
  return 0;
}
