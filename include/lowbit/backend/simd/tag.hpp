// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

#include <string_view>

#include "lowbit/backend/simd/xsimd_compat.hpp"
#include "lowbit/core/backend.hpp"

namespace lowbit::backend {

/// The SIMD backend: kernels written on xsimd batches for `Arch` (by default the architecture the
/// translation unit is compiled for), with instruction-specific integer dot products (AVX-512 VNNI,
/// AVX2) where the format needs them. A format/arch pair without a kernel fails to compile.
template <class Arch = xsimd::default_arch>
struct simd {
  using arch_type = Arch;
  static constexpr std::string_view name = "simd";
};

}  // namespace lowbit::backend
