// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

#include <string>

#if defined(__aarch64__) && defined(__linux__)
#include <sys/auxv.h>
#endif
#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>
#endif

namespace lowbit {

/// The instruction-set extensions of the CPU this process runs on, as the CPU reports them
/// (CPUID on x86-64, through the compiler's `__builtin_cpu_supports`, and CPUID leaf 7 sub-leaf 1
/// for AVX-VNNI, which Clang 14's builtin does not name; the kernel's hardware
/// capability words `AT_HWCAP` / `AT_HWCAP2` on AArch64 Linux; all false elsewhere).
/// This is what the CPU executes, independent of the flags the calling code was compiled with.
struct cpu_features {
  bool avx2 = false;        ///< AVX2
  bool avx_vnni = false;    ///< AVX-VNNI (VEX `vpdpbusd` on 256-bit registers: Alder Lake, Zen 5)
  bool fma = false;         ///< FMA3
  bool avx512f = false;     ///< AVX-512 Foundation
  bool avx512bw = false;    ///< AVX-512 byte/word
  bool avx512vl = false;    ///< AVX-512 vector length (128/256-bit forms)
  bool avx512dq = false;    ///< AVX-512 doubleword/quadword
  bool avx512vnni = false;  ///< AVX-512 VNNI (`vpdpbusd`)
  bool avx512bf16 = false;  ///< AVX-512 BF16 (`vdpbf16ps`)
  bool f16c = false;        ///< F16C (`vcvtph2ps`)
  bool asimd = false;       ///< AArch64 Advanced SIMD (NEON)
  bool dotprod = false;     ///< AArch64 FEAT_DotProd (`sdot`, `udot`)
  bool i8mm = false;        ///< AArch64 FEAT_I8MM (`smmla`, `usdot`)
  bool bf16 = false;        ///< AArch64 FEAT_BF16 (`bfdot`, `bfmmla`)

  /// Detects the running CPU's features. Cheap after the first call (the compiler runtime caches
  /// CPUID), never throws.
  static cpu_features detect() noexcept {
    cpu_features f;
#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
    __builtin_cpu_init();
    f.avx2 = __builtin_cpu_supports("avx2");
    // CPUID.(EAX=7, ECX=1):EAX bit 4 (Intel SDM vol. 2A, CPUID); the OS saves the YMM state
    // wherever AVX2 is reported usable, so AVX-VNNI is counted only beside it.
    unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
    f.avx_vnni = f.avx2 && __get_cpuid_count(7, 1, &eax, &ebx, &ecx, &edx) != 0 && (eax & (1u << 4)) != 0;
    f.fma = __builtin_cpu_supports("fma");
    f.avx512f = __builtin_cpu_supports("avx512f");
    f.avx512bw = __builtin_cpu_supports("avx512bw");
    f.avx512vl = __builtin_cpu_supports("avx512vl");
    f.avx512dq = __builtin_cpu_supports("avx512dq");
    f.avx512vnni = __builtin_cpu_supports("avx512vnni");
    f.avx512bf16 = __builtin_cpu_supports("avx512bf16");
    f.f16c = __builtin_cpu_supports("f16c");
#elif defined(__aarch64__) && defined(__linux__)
    // Bit positions of the Linux arm64 ABI (arch/arm64/include/uapi/asm/hwcap.h).
    const unsigned long hwcap = ::getauxval(AT_HWCAP);
    const unsigned long hwcap2 = ::getauxval(AT_HWCAP2);
    f.asimd = (hwcap & (1ul << 1)) != 0;     // HWCAP_ASIMD
    f.dotprod = (hwcap & (1ul << 20)) != 0;  // HWCAP_ASIMDDP
    f.i8mm = (hwcap2 & (1ul << 13)) != 0;    // HWCAP2_I8MM
    f.bf16 = (hwcap2 & (1ul << 14)) != 0;    // HWCAP2_BF16
#endif
    return f;
  }

  /// The features present, space-separated ("avx2 fma avx512f ...", "asimd dotprod ..."), for logs
  /// and error messages.
  std::string to_string() const {
    std::string s;
    const auto add = [&](bool on, const char* name) {
      if (!on) return;
      if (!s.empty()) s += ' ';
      s += name;
    };
    add(avx2, "avx2");
    add(avx_vnni, "avx_vnni");
    add(fma, "fma");
    add(avx512f, "avx512f");
    add(avx512bw, "avx512bw");
    add(avx512vl, "avx512vl");
    add(avx512dq, "avx512dq");
    add(avx512vnni, "avx512vnni");
    add(avx512bf16, "avx512bf16");
    add(f16c, "f16c");
    add(asimd, "asimd");
    add(dotprod, "dotprod");
    add(i8mm, "i8mm");
    add(bf16, "bf16");
    return s.empty() ? "no extension beyond the baseline" : s;
  }
};

}  // namespace lowbit
