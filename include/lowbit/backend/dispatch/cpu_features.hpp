// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

#include <string>

namespace lowbit {

/// The instruction-set extensions of the CPU this process runs on, as the CPU reports them
/// (CPUID on x86-64, through the compiler's `__builtin_cpu_supports`; all false elsewhere).
/// This is what the CPU executes, independent of the flags the calling code was compiled with.
struct cpu_features {
  bool avx2 = false;        ///< AVX2
  bool fma = false;         ///< FMA3
  bool avx512f = false;     ///< AVX-512 Foundation
  bool avx512bw = false;    ///< AVX-512 byte/word
  bool avx512vl = false;    ///< AVX-512 vector length (128/256-bit forms)
  bool avx512dq = false;    ///< AVX-512 doubleword/quadword
  bool avx512vnni = false;  ///< AVX-512 VNNI (`vpdpbusd`)
  bool avx512bf16 = false;  ///< AVX-512 BF16 (`vdpbf16ps`)

  /// Detects the running CPU's features. Cheap after the first call (the compiler runtime caches
  /// CPUID), never throws.
  static cpu_features detect() noexcept {
    cpu_features f;
#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
    __builtin_cpu_init();
    f.avx2 = __builtin_cpu_supports("avx2");
    f.fma = __builtin_cpu_supports("fma");
    f.avx512f = __builtin_cpu_supports("avx512f");
    f.avx512bw = __builtin_cpu_supports("avx512bw");
    f.avx512vl = __builtin_cpu_supports("avx512vl");
    f.avx512dq = __builtin_cpu_supports("avx512dq");
    f.avx512vnni = __builtin_cpu_supports("avx512vnni");
    f.avx512bf16 = __builtin_cpu_supports("avx512bf16");
#endif
    return f;
  }

  /// The features present, space-separated ("avx2 fma avx512f ..."), for logs and error messages.
  std::string to_string() const {
    std::string s;
    const auto add = [&](bool on, const char* name) {
      if (!on) return;
      if (!s.empty()) s += ' ';
      s += name;
    };
    add(avx2, "avx2");
    add(fma, "fma");
    add(avx512f, "avx512f");
    add(avx512bw, "avx512bw");
    add(avx512vl, "avx512vl");
    add(avx512dq, "avx512dq");
    add(avx512vnni, "avx512vnni");
    add(avx512bf16, "avx512bf16");
    return s.empty() ? "none of avx2/fma/avx512" : s;
  }
};

}  // namespace lowbit
