// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

/// \file
/// LOWBIT_EXACT_FP_BEGIN / LOWBIT_EXACT_FP_END: code between them is compiled without contracting
/// `a * b + c` into a fused multiply-add, whatever the user's flags, so that encoders and decoders
/// round exactly as their defining C code does (ggml's quantizers are built without contraction on
/// the reference machines; a fused multiply-add rounds once instead of twice and changes codes).
/// Kernels that want fused multiply-adds call them explicitly (xsimd::fma, intrinsics).
///
/// GCC (whose default in GNU mode is -ffp-contract=fast): `#pragma GCC optimize("fp-contract=off")`
/// inside push/pop_options; functions inside are then not inlined into callers built with other
/// settings, which only matters off the hot path. Clang: `#pragma clang fp contract(off)` inside
/// float_control push/pop (honoured unless the user passes -ffp-contract=fast, which by Clang's
/// definition overrides pragmas; use the default or -ffp-contract=on/off with Clang).
/// Place BEGIN after a header's includes and END at its end.

#if defined(__clang__)
#define LOWBIT_EXACT_FP_BEGIN _Pragma("float_control(push)") _Pragma("clang fp contract(off)")
#define LOWBIT_EXACT_FP_END _Pragma("float_control(pop)")
#elif defined(__GNUC__)
#define LOWBIT_EXACT_FP_BEGIN _Pragma("GCC push_options") _Pragma("GCC optimize(\"fp-contract=off\")")
#define LOWBIT_EXACT_FP_END _Pragma("GCC pop_options")
#else
#define LOWBIT_EXACT_FP_BEGIN
#define LOWBIT_EXACT_FP_END
#endif
