// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
// ONNX QuantizeLinear / DequantizeLinear / DynamicQuantizeLinear against ONNX's own test vectors
// (tests/data/onnx/make_onnx_vectors.py: Debian libonnx-testdata, the onnx wheel's node tests, and
// extra cases from onnx.reference). Every output must match byte for byte (floats bit for bit).

#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "catch.hpp"
#include "golden_data.hpp"
#include "lowbit/quant/fp8_fnuz.hpp"
#include "lowbit/quant/onnx_dequantize_linear.hpp"
#include "lowbit/quant/onnx_dynamic_quantize_linear.hpp"
#include "lowbit/quant/onnx_quantize_linear.hpp"

namespace {

namespace onnx = lowbit::onnx;
using json = nlohmann::json;
using lowbit_test::golden_data;

const golden_data& vectors() {
  static const golden_data g = golden_data::load("onnx", "vectors");
  return g;
}

// A tensor of the index, with its shape held alive next to the view.
struct loaded_tensor {
  onnx::data_type type;
  std::vector<std::size_t> shape;
  std::span<const std::byte> bytes;

  [[nodiscard]] onnx::tensor_view view() const { return {type, bytes, shape}; }
};

loaded_tensor load_tensor(const json& ref) {
  loaded_tensor t{static_cast<onnx::data_type>(ref["dtype_id"].get<int>()),
                  ref["shape"].get<std::vector<std::size_t>>(), vectors().bytes(ref)};
  REQUIRE(onnx::to_string(t.type) == ref["dtype"].get<std::string>());
  return t;
}

std::optional<onnx::tensor_view> optional_input(const json& inputs, std::size_t k,
                                                std::vector<loaded_tensor>& storage) {
  if (inputs.size() <= k || inputs[k].is_null()) return std::nullopt;
  storage.push_back(load_tensor(inputs[k]));
  return storage.back().view();
}

// How many bytes differ; the first differing index in `first`.
std::size_t count_byte_mismatches(std::span<const std::byte> got, std::span<const std::byte> want, std::size_t& first) {
  REQUIRE(got.size() == want.size());
  std::size_t bad = 0;
  for (std::size_t i = 0; i < got.size(); ++i) {
    if (got[i] != want[i] && bad++ == 0) first = i;
  }
  return bad;
}

// Runs one case of the index; returns the number of outputs compared.
std::size_t run_case(const json& c) {
  const std::string op = c["op"].get<std::string>();
  const json& attrs = c["attributes"];
  const json& inputs = c["inputs"];
  const json& outputs = c["outputs"];
  const auto attr = [&](const char* name, std::int64_t fallback) {
    return attrs.contains(name) ? attrs[name].get<std::int64_t>() : fallback;
  };
  std::vector<loaded_tensor> storage;
  storage.reserve(4);
  const loaded_tensor x = load_tensor(inputs[0]);
  std::vector<loaded_tensor> want;
  for (const auto& o : outputs) want.push_back(load_tensor(o));
  std::vector<std::vector<std::byte>> got;
  for (const auto& w : want) got.emplace_back(w.bytes.size(), std::byte{0xA5});  // poison, overwritten in full

  if (op == "QuantizeLinear") {
    const loaded_tensor scale = load_tensor(inputs[1]);
    const auto zero_point = optional_input(inputs, 2, storage);
    onnx::quantize_linear_attributes a{
        .axis = attr("axis", 1), .saturate = attr("saturate", 1) != 0, .block_size = attr("block_size", 0)};
    if (attrs.contains("precision")) a.precision = static_cast<onnx::data_type>(attr("precision", 1));
    onnx::quantize_linear(x.view(), scale.view(), zero_point, {want[0].type, got[0], want[0].shape}, a);
  } else if (op == "DequantizeLinear") {
    const loaded_tensor scale = load_tensor(inputs[1]);
    const auto zero_point = optional_input(inputs, 2, storage);
    onnx::dequantize_linear(x.view(), scale.view(), zero_point, {want[0].type, got[0], want[0].shape},
                            {.axis = attr("axis", 1), .block_size = attr("block_size", 0)});
  } else {
    REQUIRE(op == "DynamicQuantizeLinear");
    REQUIRE(want.size() == 3);
    REQUIRE(x.type == onnx::data_type::float32);
    std::vector<float> xf(x.bytes.size() / 4);
    std::memcpy(xf.data(), x.bytes.data(), x.bytes.size());
    std::vector<std::uint8_t> y(xf.size());
    const auto r = onnx::dynamic_quantize_linear(xf, x.shape, y);
    std::memcpy(got[0].data(), y.data(), y.size());
    std::memcpy(got[1].data(), &r.y_scale, 4);
    std::memcpy(got[2].data(), &r.y_zero_point, 1);
  }
  for (std::size_t k = 0; k < want.size(); ++k) {
    std::size_t first = 0;
    const std::size_t bad = count_byte_mismatches(got[k], want[k].bytes, first);
    INFO("output " << k << " (" << onnx::to_string(want[k].type) << ", " << want[k].bytes.size() << " bytes): " << bad
                   << " bytes differ, first at byte " << first << ": got "
                   << std::to_integer<int>(got[k][bad ? first : 0]) << ", want "
                   << std::to_integer<int>(want[k].bytes[bad ? first : 0]));
    CHECK(bad == 0);
  }
  return want.size();
}

}  // namespace

TEST_CASE("onnx: every QuantizeLinear / DequantizeLinear / DynamicQuantizeLinear vector is exact",
          "[onnx][quant][golden]") {
  const json& cases = vectors().index["cases"];
  REQUIRE(cases.size() == 98);
  std::map<std::string, std::size_t> per_source;
  std::set<std::string> ops;
  std::size_t compared = 0;
  for (const auto& c : cases) {
    const std::string name = c["source"].get<std::string>() + " " + c["version"].get<std::string>() + " " +
                             c["name"].get<std::string>() + " (" + c["op"].get<std::string>() + ", opset " +
                             std::to_string(c["opset"].get<int>()) + ")";
    INFO(name);
    compared += run_case(c);
    ++per_source[c["source"].get<std::string>()];
    ops.insert(c["op"].get<std::string>());
  }
  CHECK(ops.size() == 3);
  CHECK(per_source["libonnx-testdata"] == 10);
  CHECK(per_source["onnx-wheel"] == 33);
  CHECK(per_source["onnx-reference"] == 55);
  CHECK(compared >= cases.size());
}

TEST_CASE("onnx: fnuz float 8 round trips every code and rounds midpoints to even", "[onnx][quant][fp8]") {
  struct codec {
    const char* name;
    float (*decode)(std::uint8_t);
    std::uint8_t (*encode)(float, bool);
    float max;
  };
  const codec codecs[] = {
      {"e4m3fnuz", [](std::uint8_t c) { return lowbit::fp8_e4m3fnuz_to_f32(c); },
       [](float v, bool s) { return lowbit::fp8_e4m3fnuz_from_f32(v, s); }, 240.0f},
      {"e5m2fnuz", [](std::uint8_t c) { return lowbit::fp8_e5m2fnuz_to_f32(c); },
       [](float v, bool s) { return lowbit::fp8_e5m2fnuz_from_f32(v, s); }, 57344.0f},
  };
  for (const auto& f : codecs) {
    INFO(f.name);
    CHECK(std::isnan(f.decode(0x80)));
    CHECK(f.decode(0x7f) == f.max);
    CHECK(f.decode(0xff) == -f.max);
    CHECK(std::bit_cast<std::uint32_t>(f.decode(0x00)) == 0u);
    for (int c = 0; c < 256; ++c) {
      if (c == 0x80) continue;
      const auto code = static_cast<std::uint8_t>(c);
      CHECK(f.encode(f.decode(code), true) == code);
      CHECK(f.encode(f.decode(code), false) == code);
    }
    // Midpoints between neighbours go to the even code; a hair either side goes to the nearer one.
    for (int c = 0; c < 0x7f; ++c) {
      const float lo = f.decode(static_cast<std::uint8_t>(c));
      const float hi = f.decode(static_cast<std::uint8_t>(c + 1));
      const float mid = (lo + hi) / 2;  // exact: both are short binary fractions
      const int even = (c % 2 == 0) ? c : c + 1;
      CHECK(f.encode(mid, true) == even);
      CHECK(f.encode(std::nextafter(mid, 0.0f), true) == c);
      CHECK(f.encode(std::nextafter(mid, hi + 1.0f), true) == c + 1);
      CHECK(f.encode(-std::nextafter(mid, hi + 1.0f), true) == (0x80 | (c + 1)));
    }
    // Specials: no -0, NaN is 0x80, overflow saturates or becomes NaN.
    CHECK(f.encode(-0.0f, true) == 0x00);
    CHECK(f.encode(-1e-30f, false) == 0x00);
    CHECK(f.encode(std::numeric_limits<float>::quiet_NaN(), true) == 0x80);
    CHECK(f.encode(std::numeric_limits<float>::infinity(), true) == 0x7f);
    CHECK(f.encode(-std::numeric_limits<float>::infinity(), true) == 0xff);
    CHECK(f.encode(std::numeric_limits<float>::infinity(), false) == 0x80);
    CHECK(f.encode(-3.0e38f, false) == 0x80);
    CHECK(f.encode(-3.0e38f, true) == 0xff);
  }
  // The overflow thresholds: half an ulp past max rounds up to 2^(emax+1), which does not exist.
  CHECK(lowbit::fp8_e4m3fnuz_from_f32(247.99998f, false) == 0x7f);
  CHECK(lowbit::fp8_e4m3fnuz_from_f32(248.0f, false) == 0x80);
  CHECK(lowbit::fp8_e5m2fnuz_from_f32(61439.996f, false) == 0x7f);
  CHECK(lowbit::fp8_e5m2fnuz_from_f32(61440.0f, false) == 0x80);
}

TEST_CASE("onnx: round_half_to_even", "[onnx][quant]") {
  CHECK(onnx::round_half_to_even(0.5f) == 0.0f);
  CHECK(onnx::round_half_to_even(1.5f) == 2.0f);
  CHECK(onnx::round_half_to_even(2.5f) == 2.0f);
  CHECK(onnx::round_half_to_even(-2.5f) == -2.0f);
  CHECK(onnx::round_half_to_even(-3.5f) == -4.0f);
  CHECK(onnx::round_half_to_even(0.49999997f) == 0.0f);
  CHECK(onnx::round_half_to_even(8388607.5f) == 8388608.0f);
  CHECK(onnx::round_half_to_even(16777216.0f) == 16777216.0f);
  CHECK(std::isinf(onnx::round_half_to_even(std::numeric_limits<float>::infinity())));
}

TEST_CASE("onnx: per-axis int8 through the typed views, and dequantize(quantize(x)) within scale/2", "[onnx][quant]") {
  const std::vector<std::size_t> shape = {3, 4, 5};  // (N, C, L), axis 1 = C
  std::vector<float> x(60);
  std::mt19937 rng(7);
  std::normal_distribution<float> dist(0.0f, 3.0f);
  for (auto& v : x) v = dist(rng);
  const std::vector<std::size_t> c_shape = {4};
  const std::vector<float> scale = {0.05f, 0.1f, 0.02f, 0.07f};
  const std::vector<std::int8_t> zero_point = {0, -3, 5, 1};
  std::vector<std::int8_t> q(60);
  std::vector<float> back(60);
  onnx::quantize_linear(onnx::make_tensor_view<float>(x, shape), onnx::make_tensor_view<float>(scale, c_shape),
                        onnx::make_tensor_view<std::int8_t>(zero_point, c_shape),
                        onnx::make_tensor_span<std::int8_t>(q, shape), {.axis = 1});
  onnx::dequantize_linear(onnx::make_tensor_view<std::int8_t>(q, shape), onnx::make_tensor_view<float>(scale, c_shape),
                          onnx::make_tensor_view<std::int8_t>(zero_point, c_shape),
                          onnx::make_tensor_span<float>(back, shape), {.axis = -2});
  for (std::size_t i = 0; i < x.size(); ++i) {
    const std::size_t c = (i / 5) % 4;
    const float s = scale[c];
    const float want_q = std::clamp(std::nearbyint(x[i] / s) + zero_point[c], -128.0f, 127.0f);
    CHECK(static_cast<float>(q[i]) == want_q);
    if (want_q > -128.0f && want_q < 127.0f) CHECK(std::fabs(back[i] - x[i]) <= s / 2 * (1 + 1e-6f));
  }
}

TEST_CASE("onnx: integer quantization saturates infinities", "[onnx][quant]") {
  const std::vector<float> x = {std::numeric_limits<float>::infinity(), -std::numeric_limits<float>::infinity(), 3e38f};
  const std::vector<std::size_t> shape = {3};
  const float scale = 0.5f;
  std::vector<std::int16_t> y(3);
  onnx::quantize_linear(onnx::make_tensor_view<float>(x, shape), onnx::make_tensor_view<float>({&scale, 1}, {}),
                        std::nullopt, onnx::make_tensor_span<std::int16_t>(y, shape));
  CHECK(y == std::vector<std::int16_t>{32767, -32768, 32767});
}

TEST_CASE("onnx: bad arguments are lowbit::error", "[onnx][quant][errors]") {
  using lowbit::errc;
  const auto code_of = [](auto&& f) {
    try {
      f();
    } catch (const lowbit::error& e) {
      return std::optional<errc>(e.code());
    }
    return std::optional<errc>();
  };
  const std::vector<std::size_t> shape = {2, 4};
  const std::vector<float> x = {0, 1, 2, 3, 4, 5, 6, 7};
  std::vector<std::uint8_t> y(8);
  std::vector<float> back(8);
  const std::vector<std::size_t> two = {2}, four = {4}, blocked = {2, 2}, bad_blocked = {2, 3};
  const std::vector<float> s2 = {1.0f, 2.0f}, s4 = {1, 1, 1, 1}, s6 = {1, 1, 1, 1, 1, 1};
  const std::vector<std::uint8_t> z2 = {0, 1};
  const auto xv = onnx::make_tensor_view<float>(x, shape);
  const auto yv = onnx::make_tensor_span<std::uint8_t>(y, shape);
  const auto quantize = [&](onnx::tensor_view scale, std::optional<onnx::tensor_view> zp,
                            onnx::quantize_linear_attributes a) {
    return [=] { onnx::quantize_linear(xv, scale, zp, yv, a); };
  };
  // Shapes.
  CHECK(code_of(quantize(onnx::make_tensor_view<float>(s2, two), std::nullopt, {.axis = 1})) == errc::shape_mismatch);
  CHECK(code_of(quantize(onnx::make_tensor_view<float>(s2, two), onnx::make_tensor_view<std::uint8_t>(z2, two),
                         {.axis = 0})) == std::nullopt);
  CHECK(code_of(quantize(onnx::make_tensor_view<float>(s4, four), onnx::make_tensor_view<std::uint8_t>(z2, two),
                         {.axis = 1})) == errc::shape_mismatch);
  CHECK(code_of(quantize(onnx::make_tensor_view<float>(s4, blocked), std::nullopt, {.axis = 1, .block_size = 2})) ==
        std::nullopt);
  // A ragged last block is ONNX's rule: ceil(4 / 3) = 2 blocks, the second of one element.
  CHECK(code_of(quantize(onnx::make_tensor_view<float>(s4, blocked), std::nullopt, {.axis = 1, .block_size = 3})) ==
        std::nullopt);
  CHECK(code_of(quantize(onnx::make_tensor_view<float>(s4, blocked), std::nullopt, {.axis = 1, .block_size = 5})) ==
        errc::shape_mismatch);
  CHECK(code_of(quantize(onnx::make_tensor_view<float>(s4, blocked), std::nullopt, {.axis = 1, .block_size = 1})) ==
        errc::shape_mismatch);
  CHECK(code_of(quantize(onnx::make_tensor_view<float>(s6, bad_blocked), std::nullopt, {.axis = 1, .block_size = 2})) ==
        errc::shape_mismatch);
  CHECK(code_of(quantize(onnx::make_tensor_view<float>(s4, blocked), std::nullopt, {.axis = 1, .block_size = -2})) ==
        errc::invalid_argument);
  // Axis.
  CHECK(code_of(quantize(onnx::make_tensor_view<float>(s2, two), std::nullopt, {.axis = 2})) == errc::out_of_range);
  CHECK(code_of(quantize(onnx::make_tensor_view<float>(s2, two), std::nullopt, {.axis = -3})) == errc::out_of_range);
  CHECK(code_of(quantize(onnx::make_tensor_view<float>(s2, two), std::nullopt, {.axis = -2})) == std::nullopt);
  // Scale values.
  for (const float bad :
       {0.0f, -1.0f, std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity(), 1e-9f}) {
    const std::vector<float> s = {1.0f, bad};
    const auto precision = bad == 1e-9f ? std::optional(onnx::data_type::float16) : std::nullopt;
    CHECK(code_of(quantize(onnx::make_tensor_view<float>(s, two), std::nullopt, {.axis = 0, .precision = precision})) ==
          errc::invalid_argument);
  }
  // NaN input to an integer type.
  {
    std::vector<float> xn = x;
    xn[5] = std::numeric_limits<float>::quiet_NaN();
    const float one = 1.0f;
    CHECK(code_of([&] {
            onnx::quantize_linear(onnx::make_tensor_view<float>(xn, shape),
                                  onnx::make_tensor_view<float>({&one, 1}, {}), std::nullopt, yv);
          }) == errc::invalid_argument);
  }
  // Types: zero point of another type than y, int32 output, wrong byte counts, y's shape.
  {
    const std::vector<std::int8_t> zi = {0, 0};
    CHECK(code_of(quantize(onnx::make_tensor_view<float>(s2, two), onnx::make_tensor_view<std::int8_t>(zi, two),
                           {.axis = 0})) == errc::type_mismatch);
    std::vector<std::int32_t> y32(8);
    CHECK(code_of([&] {
            onnx::quantize_linear(xv, onnx::make_tensor_view<float>(s2, two), std::nullopt,
                                  onnx::make_tensor_span<std::int32_t>(y32, shape), {.axis = 0});
          }) == errc::unsupported);
    CHECK(code_of([&] {
            onnx::quantize_linear({onnx::data_type::float32, xv.data.first(28), shape},
                                  onnx::make_tensor_view<float>(s2, two), std::nullopt, yv, {.axis = 0});
          }) == errc::shape_mismatch);
    const std::vector<std::size_t> other = {4, 2};
    CHECK(code_of([&] {
            onnx::quantize_linear(xv, onnx::make_tensor_view<float>(s2, two), std::nullopt,
                                  onnx::make_tensor_span<std::uint8_t>(y, other), {.axis = 0});
          }) == errc::shape_mismatch);
  }
  // Float 8 zero points must be 0; fnuz 0x80 is NaN, not -0.
  {
    std::vector<std::byte> y8(8);
    const std::byte zp_nan[1] = {std::byte{0x80}};
    const std::byte zp_one[1] = {std::byte{0x38}};
    const std::byte zp_negzero[1] = {std::byte{0x80}};
    const float one = 1.0f;
    const auto q8 = [&](onnx::data_type t, const std::byte* zp) {
      return [&, t, zp] {
        onnx::quantize_linear(xv, onnx::make_tensor_view<float>({&one, 1}, {}), onnx::tensor_view{t, {zp, 1}, {}},
                              {t, y8, shape});
      };
    };
    CHECK(code_of(q8(onnx::data_type::float8e4m3fnuz, zp_nan)) == errc::invalid_argument);
    CHECK(code_of(q8(onnx::data_type::float8e4m3fn, zp_one)) == errc::invalid_argument);
    CHECK(code_of(q8(onnx::data_type::float8e4m3fn, zp_negzero)) == std::nullopt);
  }
  // Dequantize: NaN scale, int32 zero point, unsupported output.
  {
    const std::vector<float> sn = {1.0f, std::numeric_limits<float>::quiet_NaN()};
    const auto q = onnx::make_tensor_view<std::uint8_t>(y, shape);
    CHECK(code_of([&] {
            onnx::dequantize_linear(q, onnx::make_tensor_view<float>(sn, two), std::nullopt,
                                    onnx::make_tensor_span<float>(back, shape), {.axis = 0});
          }) == errc::invalid_argument);
    const std::vector<std::int32_t> x32(8, 1), z32 = {0, 3};
    CHECK(code_of([&] {
            onnx::dequantize_linear(onnx::make_tensor_view<std::int32_t>(x32, shape),
                                    onnx::make_tensor_view<float>(s2, two),
                                    onnx::make_tensor_view<std::int32_t>(z32, two),
                                    onnx::make_tensor_span<float>(back, shape), {.axis = 0});
          }) == errc::invalid_argument);
    std::vector<std::uint8_t> not_float(8);
    CHECK(code_of([&] {
            onnx::dequantize_linear(q, onnx::make_tensor_view<float>(s2, two), std::nullopt,
                                    onnx::make_tensor_span<std::uint8_t>(not_float, shape), {.axis = 0});
          }) == errc::unsupported);
  }
  // DynamicQuantizeLinear: non-finite input, size mismatch, overflowing range.
  {
    std::vector<float> xi = x;
    xi[2] = std::numeric_limits<float>::infinity();
    CHECK(code_of([&] { onnx::dynamic_quantize_linear(xi, shape, y); }) == errc::invalid_argument);
    const std::vector<std::size_t> wrong = {3, 3};
    CHECK(code_of([&] { onnx::dynamic_quantize_linear(x, wrong, y); }) == errc::shape_mismatch);
    const std::vector<float> wide = {3e38f, -3e38f};
    const std::vector<std::size_t> two_shape = {2};
    std::vector<std::uint8_t> y2(2);
    CHECK(code_of([&] { onnx::dynamic_quantize_linear(wide, two_shape, y2); }) == errc::invalid_argument);
    const auto r = onnx::dynamic_quantize_linear({}, std::vector<std::size_t>{0}, {});
    CHECK(r.y_scale == 1.0f / 255.0f);
    CHECK(r.y_zero_point == 0);
  }
}
