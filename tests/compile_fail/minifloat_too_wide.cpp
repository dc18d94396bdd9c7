// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
// A minifloat of more than 8 bits. Bad: 1 + 4 + 4 bits; good twin: 1 + 4 + 3 (E4M3).
#include "lowbit/core/minifloat.hpp"

#ifdef LOWBIT_COMPILE_FAIL_BAD
constexpr int mantissa = 4;
#else
constexpr int mantissa = 3;
#endif
using f = lowbit::minifloat<4, mantissa, 7, lowbit::minifloat_specials::fn>;
static_assert(f::bits == 5 + mantissa);
int main() { return 0; }
