// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

#include <array>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>

#include "lowbit/backend/dispatch/cpu_features.hpp"
#include "lowbit/core/error.hpp"

namespace lowbit {

/// An instruction-set level that run-time dispatch can build a translation unit for.
///
/// Each level names the compiler flags its code is built with (`cmake/lowbit-isa-dispatch.cmake`
/// passes them), the ISA layer struct its SIMD kernels then use (include/lowbit/backend/simd/isa/),
/// and the CPU features it needs at run time:
/// - `baseline`: no flags beyond the target's default (x86-64: SSE2, the portable `isa::generic`
///   kernels; AArch64: Armv8.0-A NEON, `isa::neon` without `sdot`); every CPU of the architecture;
/// - `avx2`: `-march=haswell` (AVX2, FMA, F16C; `isa::avx2`, `vpmaddubsw`);
/// - `avx2_vnni`: `-march=haswell -mavxvnni` (adds AVX-VNNI: `isa::avx2` with the VEX `vpdpbusd`;
///   Alder Lake and later Intel client CPUs without AVX-512, Sierra Forest, Zen 5);
/// - `avx512_vnni`: `-march=x86-64-v4 -mavx512vnni` (AVX-512 F/BW/DQ/VL/CD plus VNNI `vpdpbusd`:
///   Ice Lake, Sapphire Rapids, Zen 4 and later; `isa::avx512`);
/// - `neon_dotprod`: `-march=armv8.2-a+dotprod` (`isa::neon` with `sdot`: Cortex-A55/A75 and later,
///   Apple M1 and later, Neoverse N1);
/// - `neon_i8mm`: `-march=armv8.2-a+dotprod+i8mm+bf16` (adds `smmla`/`usdot` and BF16:
///   Cortex-A510/A710/X2 and later, Neoverse V1/N2, Apple M2 and later).
enum class isa { baseline, avx2, avx2_vnni, avx512_vnni, neon_dotprod, neon_i8mm };

/// The name a level has in targets, symbols and messages ("baseline", "avx2", "avx2_vnni",
/// "avx512_vnni", "neon_dotprod", "neon_i8mm").
constexpr std::string_view to_string(isa level) noexcept {
  switch (level) {
    case isa::baseline:
      return "baseline";
    case isa::avx2:
      return "avx2";
    case isa::avx2_vnni:
      return "avx2_vnni";
    case isa::avx512_vnni:
      return "avx512_vnni";
    case isa::neon_dotprod:
      return "neon_dotprod";
    case isa::neon_i8mm:
      return "neon_i8mm";
  }
  return "unknown";
}

/// The level named `name`, or nothing for an unknown name.
constexpr std::optional<isa> isa_from_string(std::string_view name) noexcept {
  for (isa level : {isa::baseline, isa::avx2, isa::avx2_vnni, isa::avx512_vnni, isa::neon_dotprod, isa::neon_i8mm}) {
    if (name == to_string(level)) return level;
  }
  return std::nullopt;
}

/// Every level of the architecture this code is compiled for, most capable first (the order
/// `best_isa` prefers): x86-64 {avx512_vnni, avx2_vnni, avx2, baseline}, AArch64 {neon_i8mm,
/// neon_dotprod, baseline}, elsewhere {baseline}.
#if defined(__x86_64__) || defined(__i386__)
inline constexpr std::array<isa, 4> all_isas = {isa::avx512_vnni, isa::avx2_vnni, isa::avx2, isa::baseline};
#elif defined(__aarch64__)
inline constexpr std::array<isa, 3> all_isas = {isa::neon_i8mm, isa::neon_dotprod, isa::baseline};
#else
inline constexpr std::array<isa, 1> all_isas = {isa::baseline};
#endif

/// Whether a CPU with features `f` executes code built for `level` (a level of another
/// architecture than the one this code is compiled for: never).
constexpr bool isa_supported(isa level, const cpu_features& f) noexcept {
  bool here = false;
  for (isa l : all_isas) here = here || l == level;
  if (!here) return false;
  switch (level) {
    case isa::baseline:
      return true;
    case isa::avx2:
      return f.avx2 && f.fma && f.f16c;
    case isa::avx2_vnni:
      return f.avx2 && f.fma && f.f16c && f.avx_vnni;
    case isa::avx512_vnni:
      return f.avx2 && f.fma && f.f16c && f.avx512f && f.avx512bw && f.avx512vl && f.avx512dq && f.avx512vnni;
    case isa::neon_dotprod:
      return f.asimd && f.dotprod;
    case isa::neon_i8mm:
      return f.asimd && f.dotprod && f.i8mm && f.bf16;
  }
  return false;
}

/// The most capable level among `built` (the levels the program was built for) that the CPU
/// with features `f` executes.
/// throws lowbit::error{errc::unsupported} naming the CPU's features if it executes none of them.
inline isa best_isa(std::initializer_list<isa> built, const cpu_features& f = cpu_features::detect()) {
  for (isa level : all_isas) {
    for (isa b : built) {
      if (b == level && isa_supported(level, f)) return level;
    }
  }
  std::string names;
  for (isa b : built) names += (names.empty() ? "" : ", ") + std::string(to_string(b));
  throw error(errc::unsupported,
              "best_isa: this CPU (" + f.to_string() + ") executes none of the built levels: " + names);
}

}  // namespace lowbit
