// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
//
// N:M sparse weights in a graph: `gemm<B>` on an nm_sparse_matrix (reference and SIMD backends) with
// every epilogue, and `graph::linear` over such a weight (bias, apply, accumulate): bit-identical to
// the sparse kernel followed by the same epilogue arithmetic written out here, on odd shapes.

#include <cstdint>
#include <random>
#include <vector>

#include "catch.hpp"
#include "lowbit/backend/simd/gemm_nm_sparse.hpp"
#include "lowbit/graph/linear.hpp"
#include "lowbit/prune/mask.hpp"
#include "lowbit/prune/nm.hpp"
#include "lowbit/prune/nm_sparse.hpp"
#include "lowbit/prune/nm_sparse_gemm.hpp"
#include "prune_test_data.hpp"

namespace {

using namespace prune_test;  // shared data and oracles (prune_test_data.hpp, obs_test_support.hpp)

using lowbit::matrix_view;
namespace prune = lowbit::prune;
namespace graph = lowbit::graph;
using sparse_q8 = prune::nm_sparse_matrix<prune::nm_q8_0, prune::nm_sparse<2, 4>>;
using sparse_f32 = prune::nm_sparse_matrix<prune::nm_f32, prune::nm_sparse<1, 4>>;

template <class Sparse>
Sparse pruned(std::size_t n, std::size_t k, prune::nm_pattern p, std::uint32_t seed) {
  auto w = random_floats(n * k, seed);
  const matrix_view<float> v(w.data(), n, k);
  prune::apply_mask(v, prune::magnitude_nm_mask(v, p));
  return Sparse::pack(v);
}

/// y = (x · Wᵀ by `product`) then bias and residual as the epilogue structs compute them.
template <class Product>
std::vector<float> expected(Product product, std::size_t m, std::size_t n, const std::vector<float>& bias,
                            const std::vector<float>& residual) {
  std::vector<float> acc(m * n), y(m * n);
  product(matrix_view<float>(acc.data(), m, n));
  for (std::size_t i = 0; i < m * n; ++i) {
    const float a = bias.empty() ? acc[i] : acc[i] + bias[i % n];
    y[i] = residual.empty() ? a : residual[i] + a;
  }
  return y;
}

template <class B, class Sparse, class Kernel>
void check_linear(const Sparse& w, Kernel kernel) {
  const std::size_t n = w.rows(), k = w.cols();
  const auto bias = random_floats(n, 3);
  graph::context ctx;
  lowbit::gemm_workspace ws;
  ctx.gemm_scratch = &ws;
  for (std::size_t m : {1, 3, 17}) {
    graph::activation x, y, r;
    x.resize(m, k);
    x.data = random_floats(m * k, static_cast<std::uint32_t>(m));
    const auto product = [&](matrix_view<float> out) { kernel(x.view(), w, out); };
    // apply: y = x Wᵀ + b.
    auto layer = graph::linear<B>(w, bias);
    layer.apply(x, y, ctx);
    CHECK(y.data == expected(product, m, n, bias, {}));
    // accumulate: r += x Wᵀ + b.
    r.resize(m, n);
    r.data = random_floats(m * n, 99);
    const auto want = expected(product, m, n, bias, r.data);
    layer.accumulate(x, r, ctx);
    CHECK(r.data == want);
    // No bias: store and accumulate epilogues.
    auto plain = graph::linear<B>(w);
    plain.apply(x, y, ctx);
    CHECK(y.data == expected(product, m, n, {}, {}));
  }
}

}  // namespace

TEST_CASE("nm_sparse: graph::linear on the reference backend, every epilogue", "[prune][nm_sparse][graph]") {
  const auto kernel = [](matrix_view<const float> x, const auto& w, matrix_view<float> y) {
    prune::gemm_nm_reference(x, w, y);
  };
  check_linear<lowbit::backend::reference>(pruned<sparse_q8>(19, 64, {.n = 2, .m = 4}, 1), kernel);
  check_linear<lowbit::backend::reference>(pruned<sparse_f32>(5, 32, {.n = 1, .m = 4}, 2), kernel);
}

TEST_CASE("nm_sparse: graph::linear on the SIMD backend (2:4 int8), every epilogue", "[prune][nm_sparse][graph]") {
  using simd = lowbit::backend::simd<>;
  const auto kernel = [](matrix_view<const float> x, const sparse_q8& w, matrix_view<float> y) {
    prune::gemm_nm_simd<simd::arch_type>(x, w, y);
  };
  check_linear<simd>(pruned<sparse_q8>(19, 64, {.n = 2, .m = 4}, 1), kernel);
  check_linear<simd>(pruned<sparse_q8>(8, 96, {.n = 2, .m = 4}, 4), kernel);
}

TEST_CASE("nm_sparse: gemm<B> checks shapes like the sparse kernels", "[prune][nm_sparse][graph]") {
  const auto w = pruned<sparse_q8>(4, 32, {.n = 2, .m = 4}, 5);
  std::vector<float> x(2 * 64), y(2 * 4);
  CHECK_THROWS_AS(prune::gemm<lowbit::backend::reference>(matrix_view<const float>(x.data(), 2, 64), w,
                                                          matrix_view<float>(y.data(), 2, 4)),
                  lowbit::error);
}
