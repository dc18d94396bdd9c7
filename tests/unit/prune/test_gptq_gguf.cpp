// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
//
// Tests of lowbit/prune/gptq.hpp with the GGUF block formats (block_gptq_quantizer): a block (a
// 256-wide super-block for Q4_K) is quantized by the format's own encoder when its first column is
// reached; the output error ||X W^T - X Q^T|| must stay below round-to-nearest's on correlated
// inputs, and the block_matrix must dequantize exactly to the returned values.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "catch.hpp"
#include "lowbit/formats/ggml/iq4_nl.hpp"
#include "lowbit/formats/ggml/q4_0.hpp"
#include "lowbit/formats/ggml/q4_k.hpp"
#include "lowbit/formats/ggml/q8_0.hpp"
#include "lowbit/prune/gptq.hpp"
#include "lowbit/prune/nm.hpp"
#include "lowbit/quant/block_matrix.hpp"
#include "obs_test_support.hpp"

namespace {

using namespace prune_test;  // shared data and oracles (prune_test_data.hpp, obs_test_support.hpp)

using lowbit::matrix_view;
namespace prune = lowbit::prune;

}  // namespace

TEST_CASE("prune: gptq output error < round-to-nearest, GGUF Q4_0, Q8_0, IQ4_NL, Q4_K", "[prune][gptq][gguf]") {
  check_beats_rtn<lowbit::ggml::q4_0>(12, 64, 41);
  check_beats_rtn<lowbit::ggml::q8_0>(12, 64, 44);
  check_beats_rtn<lowbit::ggml::iq4_nl>(12, 64, 42);
  check_beats_rtn<lowbit::ggml::q4_k>(8, 512, 43);  // two super-blocks: the first is fixed at its start
}

TEST_CASE("prune: gptq with a 2:4 mask: Q4_0 stores the zeros, IQ4_NL cannot", "[prune][gptq][gguf]") {
  const std::size_t n = 8, k = 64, t = 64;
  const auto x = correlated_x(t, k, 71);
  const auto w = random_floats(n * k, 72, 0.5f);
  const matrix_view<const float> wv(w.data(), n, k);
  const auto h = make_hessian(x, t, k);
  const auto m = prune::magnitude_nm_mask(wv, {.n = 2, .m = 4});
  const auto r = prune::gptq<lowbit::ggml::q4_0>(wv, h, {.mask = &m});
  CHECK(lowbit::dequantize(r.quantized) == r.dequantized);
  for (std::size_t i = 0; i < n * k; ++i) {
    if (m.data()[i] == 0) CHECK(r.dequantized[i] == 0.0f);
  }
  CHECK_THROWS_WITH(prune::gptq<lowbit::ggml::iq4_nl>(wv, h, {.mask = &m}), Catch::Contains("cannot store the mask"));
}
