// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
// A zero point on a code that is not an integer code. Bad: nf4 and fp4_e2m1 with asymmetric; good
// twin: int_code<4, false> with asymmetric.
#include "lowbit/formats/quant/quant.hpp"

#ifdef LOWBIT_COMPILE_FAIL_BAD
using code = lowbit::nf4;
using code2 = lowbit::fp4_e2m1;
#else
using code = lowbit::int_code<4, false>;
using code2 = lowbit::int_code<4, true>;
#endif
using q = lowbit::quant<code, lowbit::scale_f16, lowbit::per_group<64>, lowbit::asymmetric>;
using q2 = lowbit::quant<code2, lowbit::scale_f32, lowbit::per_tensor, lowbit::asymmetric>;
static_assert(q::has_zero_point && q2::has_zero_point);
int main() { return 0; }
