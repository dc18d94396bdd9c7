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
/// passes them) and the CPU features it needs at run time:
/// - `avx2`: `-march=haswell` (AVX2, FMA, BMI2; the SIMD kernels' `vpmaddubsw` paths);
/// - `avx512_vnni`: `-march=x86-64-v4 -mavx512vnni` (AVX-512 F/BW/DQ/VL/CD plus VNNI `vpdpbusd`:
///   Ice Lake, Sapphire Rapids, Zen 4 and later).
enum class isa { avx2, avx512_vnni };

/// The name a level has in targets, symbols and messages ("avx2", "avx512_vnni").
constexpr std::string_view to_string(isa level) noexcept {
  switch (level) {
    case isa::avx2:
      return "avx2";
    case isa::avx512_vnni:
      return "avx512_vnni";
  }
  return "unknown";
}

/// The level named `name`, or nothing for an unknown name.
constexpr std::optional<isa> isa_from_string(std::string_view name) noexcept {
  if (name == "avx2") return isa::avx2;
  if (name == "avx512_vnni") return isa::avx512_vnni;
  return std::nullopt;
}

/// Every level, most capable first (the order `best_isa` prefers).
inline constexpr std::array<isa, 2> all_isas = {isa::avx512_vnni, isa::avx2};

/// Whether a CPU with features `f` executes code built for `level`.
constexpr bool isa_supported(isa level, const cpu_features& f) noexcept {
  switch (level) {
    case isa::avx2:
      return f.avx2 && f.fma;
    case isa::avx512_vnni:
      return f.avx2 && f.fma && f.avx512f && f.avx512bw && f.avx512vl && f.avx512dq && f.avx512vnni;
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
