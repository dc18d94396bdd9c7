// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

// <immintrin.h>, for the x86 folders of the ISA layer (isa/avx512, isa/avx2) and for xsimd
// (xsimd_compat.hpp includes this header before <xsimd/xsimd.hpp>); nothing on other targets.
// GCC 12 reports -Wuninitialized / -Wmaybe-uninitialized inside its own avx512fintrin.h (the
// `__Y = __Y` idiom of its AVX-512 `undefined` helpers) once kernels or xsimd's functions inline
// them; the diagnostic state at the header's first inclusion decides, so it is included here once,
// with those two warnings off, and every later #include <immintrin.h> is a no-op.

#if defined(__x86_64__) || defined(__i386__) || defined(_M_X64) || defined(_M_IX86)
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
#endif
