// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
// group_format of a quant that is not per_group. Bad: per_channel; good twin: per_group<32>.
#include "lowbit/formats/quant/group_format.hpp"

#ifdef LOWBIT_COMPILE_FAIL_BAD
using granularity = lowbit::per_channel;
#else
using granularity = lowbit::per_group<32>;
#endif
using q = lowbit::quant<lowbit::int_code<8, true>, lowbit::scale_f16, granularity>;
static_assert(lowbit::group_format<q, 32>::block_bytes > 0);
int main() { return 0; }
