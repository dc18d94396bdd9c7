// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
// An integer code wider than a byte. Bad: int_code<9, false>; good twin: int_code<8, false>.
#include "lowbit/formats/quant/quant.hpp"

#ifdef LOWBIT_COMPILE_FAIL_BAD
constexpr int bits = 9;
#else
constexpr int bits = 8;
#endif
using q = lowbit::quant<lowbit::int_code<bits, false>, lowbit::scale_f32, lowbit::per_channel>;
static_assert(q::bits == bits);
int main() { return 0; }
