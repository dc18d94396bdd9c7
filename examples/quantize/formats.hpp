// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

// The one list of formats lowbit-quantize can read and write. Adding a type is one line in
// `quantize_formats` (plus its include).

#include <cstddef>
#include <span>

#include "lowbit/core/format.hpp"
#include "lowbit/formats/float.hpp"
#include "lowbit/formats/ggml/iq1_m.hpp"
#include "lowbit/formats/ggml/iq1_s.hpp"
#include "lowbit/formats/ggml/iq2_s.hpp"
#include "lowbit/formats/ggml/iq2_xs.hpp"
#include "lowbit/formats/ggml/iq2_xxs.hpp"
#include "lowbit/formats/ggml/iq3_s.hpp"
#include "lowbit/formats/ggml/iq3_xxs.hpp"
#include "lowbit/formats/ggml/iq4_nl.hpp"
#include "lowbit/formats/ggml/iq4_xs.hpp"
#include "lowbit/formats/ggml/mxfp4.hpp"
#include "lowbit/formats/ggml/nvfp4.hpp"
#include "lowbit/formats/ggml/q2_k.hpp"
#include "lowbit/formats/ggml/q3_k.hpp"
#include "lowbit/formats/ggml/q4_0.hpp"
#include "lowbit/formats/ggml/q4_1.hpp"
#include "lowbit/formats/ggml/q4_k.hpp"
#include "lowbit/formats/ggml/q5_0.hpp"  // Q5_0 and Q5_1
#include "lowbit/formats/ggml/q5_k.hpp"
#include "lowbit/formats/ggml/q6_k.hpp"
#include "lowbit/formats/ggml/q8_0.hpp"
#include "lowbit/formats/ggml/tq1_0.hpp"
#include "lowbit/formats/ggml/tq2_0.hpp"
#include "lowbit/quant/visit_format.hpp"

namespace quantize_tool {

/// Every format the tool decodes (input tensors) and encodes (output tensors).
using quantize_formats = lowbit::format_list<
    lowbit::f32, lowbit::f16, lowbit::bf16, lowbit::ggml::q4_0, lowbit::ggml::q4_1, lowbit::ggml::q5_0,
    lowbit::ggml::q5_1, lowbit::ggml::q8_0, lowbit::ggml::q2_k, lowbit::ggml::q3_k, lowbit::ggml::q4_k,
    lowbit::ggml::q5_k, lowbit::ggml::q6_k, lowbit::ggml::iq4_nl, lowbit::ggml::iq4_xs, lowbit::ggml::tq1_0,
    lowbit::ggml::tq2_0, lowbit::ggml::mxfp4, lowbit::ggml::iq1_s, lowbit::ggml::iq1_m, lowbit::ggml::iq2_xxs,
    lowbit::ggml::iq2_xs, lowbit::ggml::iq2_s, lowbit::ggml::iq3_xxs, lowbit::ggml::iq3_s, lowbit::ggml::nvfp4>;

/// A format whose encoder takes a whole row and an optional importance (imatrix) per element:
/// `F::quantize_row(const float* x, const float* importance, std::size_t n, block* out)`.
template <class F>
concept row_quantizable = requires(const float* x, std::size_t n, typename F::block* out) {
  F::quantize_row(x, static_cast<const float*>(nullptr), n, out);
};

/// Encodes `n` floats (n % F::block_size == 0) into n / block_size blocks at `out`, as ggml's
/// `ggml_quantize_chunk` does: `F::quantize_row` with `importance` (n floats, or null) where the format
/// has one, else `F::quantize_block` block by block (the plain float formats, which ignore importance).
template <lowbit::quantizable_format F>
void quantize_row(const float* x, const float* importance, std::size_t n, typename F::block* out) {
  if constexpr (row_quantizable<F>) {
    F::quantize_row(x, importance, n, out);
  } else {
    for (std::size_t b = 0; b < n / F::block_size; ++b) F::quantize_block(x + b * F::block_size, out[b]);
  }
}

}  // namespace quantize_tool
