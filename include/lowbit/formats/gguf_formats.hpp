// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

// The library's one catalogue of the GGUF tensor types lowbit decodes, encodes and runs: the lists
// that the tests, the benchmarks, the quantize tool and the model loaders take their formats from.
// Adding a GGUF type to lowbit is one line here (plus its format header and its kernels).

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

namespace lowbit {

/// The plain float types of GGUF: F32, F16, BF16 (block size 1).
using gguf_float_formats = format_list<f32, f16, bf16>;

/// ggml's original 32-element block types: Q4_0, Q4_1, Q5_0, Q5_1, Q8_0 (scale, and minimum for
/// the `_1` types, per block; ggml-common.h).
using gguf_legacy_formats = format_list<ggml::q4_0, ggml::q4_1, ggml::q5_0, ggml::q5_1, ggml::q8_0>;

/// The K-quants: 256-element super-blocks with quantized sub-block scales (llama.cpp PR #1684).
using gguf_k_quant_formats = format_list<ggml::q2_k, ggml::q3_k, ggml::q4_k, ggml::q5_k, ggml::q6_k>;

/// Codes through a small non-linear table or ternary digits: IQ4_NL, IQ4_XS, MXFP4, NVFP4, TQ1_0, TQ2_0.
using gguf_nonlinear_formats =
    format_list<ggml::iq4_nl, ggml::iq4_xs, ggml::mxfp4, ggml::nvfp4, ggml::tq1_0, ggml::tq2_0>;

/// The codebook i-quants (lattice grids with sign masks): IQ1_S, IQ1_M, IQ2_XXS, IQ2_XS, IQ2_S,
/// IQ3_XXS, IQ3_S.
using gguf_codebook_formats = format_list<ggml::iq1_s, ggml::iq1_m, ggml::iq2_xxs, ggml::iq2_xs, ggml::iq2_s,
                                          ggml::iq3_xxs, ggml::iq3_s>;

/// Every GGUF weight type lowbit reads, writes byte-exactly and multiplies on every backend: the
/// union of the family lists above (26 types; docs/formats.md). ggml's activation-only types Q8_1
/// and Q8_K have formats and kernels too, but no llama.cpp file stores weights in them, so they
/// are not in this list.
using gguf_formats = format_list_cat_t<gguf_float_formats, gguf_legacy_formats, gguf_k_quant_formats,
                                       gguf_nonlinear_formats, gguf_codebook_formats>;

}  // namespace lowbit
