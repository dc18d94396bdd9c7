// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

#include <vector>

#include "lowbit/quant/activation_q8.hpp"

namespace lowbit {

/// Scratch memory a GEMM may reuse across calls (quantized activations, dequantized rows), so that
/// a decode step allocates nothing once warm. One workspace per concurrent caller.
struct gemm_workspace {
  activation_q8 x_q8;
  std::vector<float> scratch;
};

}  // namespace lowbit
