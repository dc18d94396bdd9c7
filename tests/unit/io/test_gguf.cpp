// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
// Tests of lowbit/io/gguf.hpp and lowbit/io/mapped_file.hpp: the real SmolLM2 model against gguf-py's
// golden layout, a small real GGUF with every value type, hand-made bad files, and a mutation fuzz.

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <initializer_list>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "catch.hpp"
#include "lowbit/io/gguf.hpp"
#include "lowbit/io/mapped_file.hpp"

namespace {

using lowbit::errc;
using lowbit::io::gguf_file;
using lowbit::io::gguf_tensor_info;
using lowbit::io::gguf_value;
using lowbit::io::gguf_value_type;
using json = nlohmann::json;
namespace fs = std::filesystem;

fs::path data_path(const std::string& name) { return fs::path(LOWBIT_TEST_DATA_DIR) / "gguf" / name; }

std::vector<std::byte> read_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE(in.good());
  std::vector<char> chars((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<std::byte> out(chars.size());
  std::memcpy(out.data(), chars.data(), chars.size());
  return out;
}

json read_json(const fs::path& path) {
  std::ifstream in(path);
  REQUIRE(in.good());
  return json::parse(in);
}

// The real model; a test that needs it fails (never passes silently) when it is not configured.
fs::path model_path() {
  const std::string path = LOWBIT_SMOLLM2_GGUF;
  if (path.empty()) {
    FAIL(
        "LOWBIT_SMOLLM2_GGUF is empty: configure with -DLOWBIT_SMOLLM2_GGUF=<path to "
        "SmolLM2-135M-Instruct.Q4_1.gguf> (scripts/fetch_model.sh) to run the model tests");
  }
  if (!fs::exists(path)) FAIL("LOWBIT_SMOLLM2_GGUF = '" << path << "' does not exist");
  return path;
}

// Runs `f`, requires a lowbit::error with `code` whose what() contains every one of `parts`.
template <class F>
void require_error(F&& f, errc code, std::initializer_list<std::string_view> parts) {
  try {
    f();
  } catch (const lowbit::error& e) {
    const std::string what = e.what();
    INFO("what(): " << what);
    CHECK(lowbit::to_string(e.code()) == lowbit::to_string(code));
    for (std::string_view p : parts) {
      INFO("expected to find: " << p);
      CHECK(what.find(p) != std::string::npos);
    }
    return;
  }
  FAIL("expected lowbit::error{" << lowbit::to_string(code) << "}, nothing was thrown");
}

// Parses `bytes` and requires the error as `require_error`.
void require_parse_error(const std::vector<std::byte>& bytes, errc code,
                         std::initializer_list<std::string_view> parts) {
  require_error([&] { (void)gguf_file::parse(bytes); }, code, parts);
}

std::string_view gguf_type_name(gguf_value_type t) { return lowbit::io::to_string(t); }

// ---------------------------------------------------------------------------------------------------
// Comparison of a parsed file with a layout JSON written by make_gguf_golden.py (gguf-py).

void check_scalar(const gguf_value& v, const json& expected) {
  const std::string_view t = gguf_type_name(v.type());
  if (t == "bool") {
    CHECK(v.as<bool>() == expected.get<bool>());
  } else if (t == "f32") {
    CHECK(v.as<float>() == static_cast<float>(expected.get<double>()));
  } else if (t == "f64") {
    CHECK(v.as<double>() == expected.get<double>());
  } else if (t == "u8" || t == "u16" || t == "u32" || t == "u64") {
    CHECK(v.as<std::uint64_t>() == expected.get<std::uint64_t>());
  } else {
    CHECK(v.as<std::int64_t>() == expected.get<std::int64_t>());
  }
}

void check_against_layout(const gguf_file& f, const json& layout) {
  CHECK(f.version() == layout["version"].get<std::uint32_t>());
  CHECK(f.alignment() == layout["alignment"].get<std::uint64_t>());
  CHECK(f.data_offset() == layout["data_offset"].get<std::uint64_t>());
  CHECK(f.bytes().size() == layout["size"].get<std::uint64_t>());

  const json& kvs = layout["kv"];
  REQUIRE(f.metadata().size() == kvs.size());
  for (std::size_t i = 0; i < kvs.size(); ++i) {
    const json& e = kvs[i];
    const auto& [key, v] = f.metadata()[i];
    INFO("KV pair " << i << ": " << e["key"].get<std::string>());
    REQUIRE(key == e["key"].get<std::string>());  // file order
    CHECK(v.key() == key);
    CHECK(f.find(key) == &v);
    REQUIRE(gguf_type_name(v.type()) == e["type"].get<std::string>());
    if (v.type() == gguf_value_type::string) {
      CHECK(v.as_string() == e["value"].get<std::string>());
    } else if (v.type() != gguf_value_type::array) {
      check_scalar(v, e["value"]);
    } else {
      REQUIRE(gguf_type_name(v.array_type()) == e["array_type"].get<std::string>());
      if (!e.contains("length")) continue;  // nested: checked by hand
      REQUIRE(v.size() == e["length"].get<std::uint64_t>());
      for (const json& s : e["samples"]) {
        const auto idx = s[0].get<std::uint64_t>();
        INFO("element " << idx);
        if (v.array_type() == gguf_value_type::string) {
          CHECK(v[idx].as_string() == s[1].get<std::string>());
        } else {
          check_scalar(v[idx], s[1]);
        }
      }
      if (e.contains("total_string_bytes")) {
        std::uint64_t total = 0;
        for (std::string_view s : v.strings()) total += s.size();
        CHECK(total == e["total_string_bytes"].get<std::uint64_t>());
      }
      if (e.contains("sum")) {  // a wrapping u64 sum of all elements (signed ones sign-extended)
        std::uint64_t sum = 0;
        if (lowbit::io::detail::is_unsigned_integer(v.array_type())) {
          for (auto x : v.as_array<std::uint64_t>()) sum += x;
        } else if (v.array_type() == gguf_value_type::boolean) {
          for (bool x : v.as_array<bool>()) sum += x ? 1 : 0;
        } else {
          for (auto x : v.as_array<std::int64_t>()) sum += static_cast<std::uint64_t>(x);
        }
        CHECK(sum == e["sum"].get<std::uint64_t>());
      }
    }
  }

  const json& ts = layout["tensors"];
  REQUIRE(f.tensors().size() == ts.size());
  for (std::size_t i = 0; i < ts.size(); ++i) {
    const json& e = ts[i];
    const gguf_tensor_info& t = f.tensors()[i];
    INFO("tensor " << i << ": " << e["name"].get<std::string>());
    REQUIRE(t.name == e["name"].get<std::string>());
    CHECK(f.find_tensor(t.name) == &t);
    CHECK(static_cast<std::uint32_t>(t.type) == e["type_id"].get<std::uint32_t>());
    CHECK(lowbit::ggml::name(t.type) == e["type"].get<std::string>());
    const auto shape = e["shape"].get<std::vector<std::uint64_t>>();
    REQUIRE(t.n_dims == shape.size());
    std::uint64_t n = 1;
    for (std::size_t d = 0; d < 4; ++d) {
      CHECK(t.ne[d] == (d < shape.size() ? shape[d] : 1));
      n *= t.ne[d];
    }
    CHECK(t.n_elements() == n);
    CHECK(t.n_bytes == e["n_bytes"].get<std::uint64_t>());
    CHECK(f.data_offset() + t.offset == e["offset"].get<std::uint64_t>());
    CHECK(t.offset % f.alignment() == 0);
    CHECK(t.data.data() == f.bytes().data() + e["offset"].get<std::uint64_t>());  // a view, no copy
    CHECK(t.data.size() == t.n_bytes);
    CHECK(t.n_rows() * t.row_bytes() == t.n_bytes);
  }
}

// ---------------------------------------------------------------------------------------------------
// A writer for hand-made GGUF files.

struct gguf_builder {
  std::vector<std::byte> bytes;

  gguf_builder& raw(const void* p, std::size_t n) {
    const auto* b = static_cast<const std::byte*>(p);
    bytes.insert(bytes.end(), b, b + n);
    return *this;
  }
  gguf_builder& u8(std::uint8_t v) { return raw(&v, 1); }
  gguf_builder& u32(std::uint32_t v) {
    for (int i = 0; i < 4; ++i) u8(static_cast<std::uint8_t>(v >> (8 * i)));
    return *this;
  }
  gguf_builder& u64(std::uint64_t v) {
    for (int i = 0; i < 8; ++i) u8(static_cast<std::uint8_t>(v >> (8 * i)));
    return *this;
  }
  gguf_builder& str(std::string_view s) { return u64(s.size()).raw(s.data(), s.size()); }
  gguf_builder& header(std::uint64_t n_tensors, std::uint64_t n_kv, std::uint32_t version = 3) {
    return raw("GGUF", 4).u32(version).u64(n_tensors).u64(n_kv);
  }
  gguf_builder& kv_u32(std::string_view key, std::uint32_t v) { return str(key).u32(4).u32(v); }
  gguf_builder& kv_string(std::string_view key, std::string_view v) { return str(key).u32(8).str(v); }
  gguf_builder& tensor(std::string_view name, std::vector<std::uint64_t> ne, std::uint32_t type, std::uint64_t offset) {
    str(name).u32(static_cast<std::uint32_t>(ne.size()));
    for (auto n : ne) u64(n);
    return u32(type).u64(offset);
  }
  gguf_builder& pad(std::size_t alignment) {
    while (bytes.size() % alignment != 0) u8(0);
    return *this;
  }
  gguf_builder& zeros(std::size_t n) {
    bytes.resize(bytes.size() + n);
    return *this;
  }
};

constexpr std::uint32_t f32_id = 0, q4_1_id = 3, q8_0_id = 8;

// A valid file: two KV pairs, an F32 [8] tensor at 0 and a Q8_0 [32, 2] tensor at 32.
std::vector<std::byte> valid_file() {
  gguf_builder b;
  b.header(2, 2).kv_string("general.architecture", "llama").kv_u32("x.count", 7);
  b.tensor("a", {8}, f32_id, 0).tensor("b", {32, 2}, q8_0_id, 32).pad(32).zeros(32 + 68);
  return b.bytes;
}

// ---------------------------------------------------------------------------------------------------
// Walks a parsed file: every string view and tensor view must lie inside `buffer`; every value is read.

bool inside(std::span<const std::byte> buffer, const void* p, std::size_t n) {
  const auto* b = static_cast<const std::byte*>(p);
  if (n == 0) return true;
  return b >= buffer.data() && b <= buffer.data() + buffer.size() &&
         n <= static_cast<std::size_t>(buffer.data() + buffer.size() - b);
}

bool visit_value(std::span<const std::byte> buffer, const gguf_value& v, int depth = 0) {
  if (!inside(buffer, v.key().data(), v.key().size())) return false;
  switch (v.type()) {
    case gguf_value_type::string:
      return inside(buffer, v.as_string().data(), v.as_string().size());
    case gguf_value_type::array: {
      if (depth > 20) return false;
      if (v.array_type() == gguf_value_type::string) {
        for (std::string_view s : v.strings())
          if (!inside(buffer, s.data(), s.size())) return false;
        return v.size() == 0 || v[v.size() - 1].as_string().data() == v.strings().back().data();
      }
      if (v.array_type() == gguf_value_type::array) {
        for (std::uint64_t i = 0; i < v.size(); ++i)
          if (!visit_value(buffer, v[i], depth + 1)) return false;
        return true;
      }
      const auto raw = v.raw_elements();
      if (!inside(buffer, raw.data(), raw.size())) return false;
      if (v.array_type() == gguf_value_type::boolean) return v.as_array<bool>().size() == v.size();
      if (v.array_type() == gguf_value_type::f32 || v.array_type() == gguf_value_type::f64)
        return v.as_array<double>().size() == v.size();
      if (lowbit::io::detail::is_signed_integer(v.array_type())) return v.as_array<std::int64_t>().size() == v.size();
      return v.as_array<std::uint64_t>().size() == v.size();
    }
    case gguf_value_type::boolean:
      (void)v.as<bool>();
      return true;
    case gguf_value_type::f32:
    case gguf_value_type::f64:
      (void)v.as<double>();
      return true;
    case gguf_value_type::i8:
    case gguf_value_type::i16:
    case gguf_value_type::i32:
    case gguf_value_type::i64:
      (void)v.as<std::int64_t>();
      return true;
    default:
      (void)v.as<std::uint64_t>();
      return true;
  }
}

bool all_views_inside(const gguf_file& f, std::span<const std::byte> buffer) {
  for (const auto& [key, v] : f.metadata()) {
    if (!inside(buffer, key.data(), key.size()) || !visit_value(buffer, v)) return false;
  }
  for (const auto& t : f.tensors()) {
    if (!inside(buffer, t.name.data(), t.name.size())) return false;
    if (!inside(buffer, t.data.data(), t.data.size()) || t.data.size() != t.n_bytes) return false;
    if (t.offset % f.alignment() != 0 || t.n_elements() == 0) return false;
  }
  return f.data_offset() % f.alignment() == 0;
}

// Byte offsets where fields of `f` (parsed from `base`) start: header fields, every KV pair, every
// string and array count, every tensor info field, the data section and tensor boundaries.
struct field_map {
  std::vector<std::size_t> boundaries;  // structure boundaries (for truncation)
  std::vector<std::size_t> u64_fields;  // positions of u64 counts, lengths, extents and offsets
};

void map_value(const std::byte* base, const gguf_value& v, field_map& m) {
  const auto at = [&](const void* p) { return static_cast<std::size_t>(static_cast<const std::byte*>(p) - base); };
  if (v.type() == gguf_value_type::string) {
    m.u64_fields.push_back(at(v.as_string().data()) - 8);
    m.boundaries.push_back(at(v.as_string().data()));
  } else if (v.type() == gguf_value_type::array && v.size() > 0) {
    if (v.array_type() == gguf_value_type::string) {
      const std::size_t first = at(v.strings()[0].data()) - 8;
      m.u64_fields.push_back(first - 8);  // array count
      for (std::string_view s : v.strings()) {
        m.u64_fields.push_back(at(s.data()) - 8);
        m.boundaries.push_back(at(s.data()));
      }
    } else if (v.array_type() != gguf_value_type::array) {
      m.u64_fields.push_back(at(v.raw_elements().data()) - 8);
      m.boundaries.push_back(at(v.raw_elements().data()));
    } else {
      for (std::uint64_t i = 0; i < v.size(); ++i) map_value(base, v[i], m);
    }
  }
}

field_map map_fields(const gguf_file& f) {
  field_map m;
  const std::byte* base = f.bytes().data();
  const auto at = [&](const void* p) { return static_cast<std::size_t>(static_cast<const std::byte*>(p) - base); };
  m.boundaries = {0, 1, 4, 8, 16, 24};
  m.u64_fields = {8, 16};
  for (const auto& [key, v] : f.metadata()) {
    const std::size_t kv = at(key.data()) - 8;
    m.boundaries.insert(m.boundaries.end(), {kv, kv + 8, kv + 8 + key.size(), kv + 12 + key.size()});
    m.u64_fields.push_back(kv);
    map_value(base, v, m);
  }
  for (const auto& t : f.tensors()) {
    const std::size_t info = at(t.name.data()) - 8;
    const std::size_t dims = info + 8 + t.name.size() + 4;
    m.boundaries.insert(m.boundaries.end(), {info, info + 8, dims - 4, dims, dims + 8 * t.n_dims,
                                             dims + 8 * t.n_dims + 4, dims + 8 * t.n_dims + 12});
    m.u64_fields.push_back(info);
    for (std::uint32_t d = 0; d < t.n_dims; ++d) m.u64_fields.push_back(dims + 8 * d);
    m.u64_fields.push_back(dims + 8 * t.n_dims + 4);
    m.boundaries.push_back(at(t.data.data()));
    m.boundaries.push_back(at(t.data.data()) + t.data.size() - 1);
  }
  m.boundaries.push_back(f.data_offset());
  std::sort(m.boundaries.begin(), m.boundaries.end());
  m.boundaries.erase(std::unique(m.boundaries.begin(), m.boundaries.end()), m.boundaries.end());
  return m;
}

}  // namespace

// ===================================================================================================
// (a) The real model.

TEST_CASE("gguf: reads the real model's metadata", "[gguf][io][model]") {
  const gguf_file f = gguf_file::open(model_path());
  CHECK(f.version() == 3);
  CHECK(f.metadata().size() == 33);
  CHECK(f.tensors().size() == 272);
  CHECK(f.alignment() == 32);
  CHECK(f.get_string("general.architecture") == "llama");
  CHECK(f.get_u32("llama.block_count") == 30);
  CHECK(f.get_u32("llama.embedding_length") == 576);
  CHECK(f.get_u32("llama.feed_forward_length") == 1536);
  CHECK(f.get_u32("llama.attention.head_count") == 9);
  CHECK(f.get_u32("llama.attention.head_count_kv") == 3);
  CHECK(f.get_u32("llama.context_length") == 8192);
  CHECK(f.get_u32("llama.rope.dimension_count") == 64);
  CHECK(f.get_f32("llama.rope.freq_base") == 100000.0f);
  CHECK(f.get_f32("llama.attention.layer_norm_rms_epsilon") == 1e-5f);
  CHECK(f.get_string("tokenizer.ggml.model") == "gpt2");
  CHECK(f.get_string("tokenizer.ggml.pre") == "smollm");
  CHECK_FALSE(f.get_bool("tokenizer.ggml.add_bos_token"));
  CHECK(f.get_u32("tokenizer.ggml.bos_token_id") == 1);
  CHECK(f.get_u32("tokenizer.ggml.eos_token_id") == 2);
  CHECK(f.get_or<std::uint32_t>("llama.no_such_key", 77) == 77);

  const auto tokens = f.get_string_array("tokenizer.ggml.tokens");
  REQUIRE(tokens.size() == 49152);
  CHECK(tokens[0] == "<|endoftext|>");
  CHECK(tokens[1] == "<|im_start|>");
  CHECK(tokens[2] == "<|im_end|>");
  CHECK(f.at("tokenizer.ggml.tokens").strings().size() == 49152);
  CHECK(f.get_string_array("tokenizer.ggml.merges").size() == 48900);
  const auto token_type = f.get_array<std::int32_t>("tokenizer.ggml.token_type");
  CHECK(token_type.size() == 49152);
  CHECK(f.at("tokenizer.ggml.token_type").array_type() == gguf_value_type::i32);

  const auto& embd = f.tensor("token_embd.weight");
  CHECK(embd.type == lowbit::ggml::type::q8_0);
  CHECK(embd.ne == std::array<std::uint64_t, 4>{576, 49152, 1, 1});
  CHECK(embd.row_bytes() == 576 / 32 * 34);
  CHECK(f.tensor("blk.0.attn_q.weight").type == lowbit::ggml::type::q4_1);
  CHECK(f.tensor("blk.0.attn_norm.weight").type == lowbit::ggml::type::f32);
  require_error([&] { (void)f.tensor("blk.30.attn_q.weight"); }, errc::missing_key, {"blk.30.attn_q.weight"});
}

TEST_CASE("gguf: the real model's layout matches gguf-py", "[gguf][io][model]") {
  const json layout = read_json(data_path("smollm2_layout.json"));
  CHECK(layout["sha256"] == "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53");
  const gguf_file f = gguf_file::open(model_path());
  check_against_layout(f, layout);
}

TEST_CASE("gguf: parsing the real model is fast and copies no tensor data", "[gguf][io][model]") {
  const fs::path path = model_path();
  const auto t0 = std::chrono::steady_clock::now();
  const gguf_file f = gguf_file::open(path);
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  INFO("open + parse of the 98 MB model took " << ms << " ms");
  CHECK(ms < 1000.0);  // ~2 ms optimized, ~20 ms in a debug/sanitizer build
  // The small file's token_embd rows are the model's first 16 rows.
  const gguf_file small = gguf_file::open(data_path("small.gguf"));
  const auto& a = small.tensor("token_embd.weight");
  const auto& b = f.tensor("token_embd.weight");
  REQUIRE(a.n_bytes == 16 * b.row_bytes());
  CHECK(std::memcmp(a.data.data(), b.data.data(), a.data.size()) == 0);
  CHECK(std::memcmp(small.tensor("blk.0.attn_k.weight").data.data(), f.tensor("blk.0.attn_k.weight").data.data(),
                    f.tensor("blk.0.attn_k.weight").n_bytes) == 0);
}

// ===================================================================================================
// (b) small.gguf: every value type, nested arrays, several tensor types.

TEST_CASE("gguf: small.gguf matches gguf-py's layout", "[gguf][io]") {
  const json layout = read_json(data_path("small_layout.json"));
  const gguf_file f = gguf_file::open(data_path("small.gguf"));
  check_against_layout(f, layout);
  CHECK(f.alignment() == 64);
  CHECK(f.get_u32("general.alignment") == 64);
  CHECK(f.get_string_array("tokenizer.ggml.tokens").size() == 300);
  CHECK(f.get_string_array("tokenizer.ggml.merges").size() == 200);
  CHECK(f.get_array<std::int32_t>("tokenizer.ggml.token_type").size() == 300);
}

TEST_CASE("gguf: small.gguf scalars of every type", "[gguf][io]") {
  const gguf_file f = gguf_file::open(data_path("small.gguf"));
  const std::string p = "lowbit.test.";
  CHECK(f.at(p + "u8").type() == gguf_value_type::u8);
  CHECK(f.get<int>(p + "u8") == 200);
  CHECK(f.get<std::uint8_t>(p + "u8") == 200);
  require_error([&] { (void)f.get<std::int8_t>(p + "u8"); }, errc::type_mismatch, {"lowbit.test.u8", "200", "i8"});
  CHECK(f.get<std::int8_t>(p + "i8") == -100);
  CHECK(f.get<std::int64_t>(p + "i8") == -100);
  require_error([&] { (void)f.get<std::uint32_t>(p + "i8"); }, errc::type_mismatch, {"lowbit.test.i8", "-100"});
  CHECK(f.get<std::uint16_t>(p + "u16") == 60000);
  CHECK(f.get<std::int16_t>(p + "i16") == -30000);
  CHECK(f.get_u32(p + "u32") == 4000000000u);
  require_error([&] { (void)f.get_i32(p + "u32"); }, errc::type_mismatch, {"lowbit.test.u32", "4000000000"});
  CHECK(f.get_i32(p + "i32") == -2000000000);
  CHECK(f.get_u64(p + "u64") == (std::uint64_t{1} << 63) + 5);
  require_error([&] { (void)f.get<std::int64_t>(p + "u64"); }, errc::type_mismatch, {"lowbit.test.u64"});
  CHECK(f.get<std::int64_t>(p + "i64") == -(std::int64_t{1} << 62) - 3);
  CHECK(f.get_f32(p + "f32") == 0.15625f);
  CHECK(f.get<double>(p + "f32") == 0.15625);
  require_error([&] { (void)f.get<int>(p + "f32"); }, errc::type_mismatch, {"lowbit.test.f32", "not an integer"});
  CHECK(f.get<double>(p + "f64") == 0.1);
  require_error([&] { (void)f.get_f32(p + "f64"); }, errc::type_mismatch, {"lowbit.test.f64", "not exact"});
  CHECK(f.get_f32(p + "f64_exact") == -2.5f);
  CHECK(f.get_bool(p + "bool"));
  require_error([&] { (void)f.get<int>(p + "bool"); }, errc::type_mismatch, {"lowbit.test.bool"});
  require_error([&] { (void)f.get_bool(p + "u8"); }, errc::type_mismatch, {"lowbit.test.u8", "bool"});
  CHECK(f.get_string(p + "string") == "h\xc3\xa9llo \xe2\x9c\x93");
  CHECK(f.get_string(p + "empty_string").empty());
  CHECK(f.get_string(p + "nul_string") == std::string_view("a\0b", 3));
  require_error([&] { (void)f.get_string(p + "u32"); }, errc::type_mismatch, {"lowbit.test.u32", "string"});
  require_error([&] { (void)f.get<int>(p + "string"); }, errc::type_mismatch, {"lowbit.test.string"});
  require_error([&] { (void)f.get_u32("no.such.key"); }, errc::missing_key, {"no.such.key"});
  CHECK(f.find("no.such.key") == nullptr);
  CHECK_FALSE(f.contains("no.such.key"));
  require_error([&] { (void)f.at(p + "u32").size(); }, errc::type_mismatch, {"lowbit.test.u32", "not an array"});
  require_error([&] { (void)f.at(p + "u32")[0]; }, errc::type_mismatch, {"lowbit.test.u32"});
  require_error([&] { (void)f.at(p + "u32").array_type(); }, errc::type_mismatch, {"lowbit.test.u32"});
}

TEST_CASE("gguf: small.gguf arrays, flat and nested", "[gguf][io]") {
  const gguf_file f = gguf_file::open(data_path("small.gguf"));
  const std::string p = "lowbit.test.";
  CHECK(f.get_array<int>(p + "u8_array") == std::vector<int>{0, 1, 255});
  CHECK(f.get_array<std::uint8_t>(p + "u8_array") == std::vector<std::uint8_t>{0, 1, 255});
  CHECK(f.at(p + "u8_array").raw_elements().size() == 3);
  require_error([&] { (void)f.get_array<std::int8_t>(p + "u8_array"); }, errc::type_mismatch,
                {"lowbit.test.u8_array", "element 2", "255"});
  CHECK(f.get_array<std::int16_t>(p + "i16_array") == std::vector<std::int16_t>{-32768, 0, 32767});
  CHECK(f.get_array<std::uint64_t>(p + "u64_array") ==
        std::vector<std::uint64_t>{std::numeric_limits<std::uint64_t>::max(), 0, 7});
  require_error([&] { (void)f.get_array<std::int64_t>(p + "u64_array"); }, errc::type_mismatch,
                {"lowbit.test.u64_array", "element 0"});
  CHECK(f.get_array<std::int64_t>(p + "i64_array") == std::vector<std::int64_t>{-(std::int64_t{1} << 40), 7});
  CHECK(f.get_array<float>(p + "f32_array") == std::vector<float>{0.5f, -1.25f, 3.0f});
  CHECK(f.get_array<double>(p + "f32_array") == std::vector<double>{0.5, -1.25, 3.0});
  const auto f64 = f.get_array<double>(p + "f64_array");
  REQUIRE(f64.size() == 2);
  CHECK(f64[0] == 1e300);
  CHECK((f64[1] == 0.0 && std::signbit(f64[1])));
  require_error([&] { (void)f.get_array<float>(p + "f64_array"); }, errc::type_mismatch, {"lowbit.test.f64_array"});
  CHECK(f.get_array<bool>(p + "bool_array") == std::vector<bool>{true, false, true});
  require_error([&] { (void)f.get_array<int>(p + "bool_array"); }, errc::type_mismatch, {"lowbit.test.bool_array"});
  require_error([&] { (void)f.get_array<int>("tokenizer.ggml.tokens"); }, errc::type_mismatch,
                {"tokenizer.ggml.tokens"});
  require_error([&] { (void)f.get_string_array("tokenizer.ggml.token_type"); }, errc::type_mismatch,
                {"tokenizer.ggml.token_type", "i32"});
  require_error([&] { (void)f.get_array<int>(p + "u32"); }, errc::type_mismatch, {"lowbit.test.u32"});
  const gguf_value& tokens = f.at("tokenizer.ggml.tokens");
  require_error([&] { (void)tokens[300]; }, errc::out_of_range, {"tokenizer.ggml.tokens", "300"});
  CHECK(tokens[299].as_string() == tokens.strings()[299]);

  // [[1, 2, 3], [4], [5, 6]]
  const gguf_value& nested = f.at(p + "nested");
  REQUIRE(nested.array_type() == gguf_value_type::array);
  REQUIRE(nested.size() == 3);
  CHECK(nested[0].array_type() == gguf_value_type::i32);
  CHECK(nested[0].size() == 3);
  CHECK(nested[1].size() == 1);
  CHECK(nested[2].size() == 2);
  CHECK(nested[0].as_array<int>() == std::vector<int>{1, 2, 3});
  CHECK(nested[1][0].as<int>() == 4);
  CHECK(nested[2][1].as<int>() == 6);
  CHECK(nested[2].key() == "lowbit.test.nested");
  require_error([&] { (void)nested[2][2]; }, errc::out_of_range, {"lowbit.test.nested", "index 2"});
  require_error([&] { (void)nested.as_array<int>(); }, errc::type_mismatch, {"lowbit.test.nested"});
  // [["a", "bc"], ["def"]]
  const gguf_value& ns = f.at(p + "nested_strings");
  REQUIRE(ns.size() == 2);
  CHECK(ns[0].as_string_array() == std::vector<std::string_view>{"a", "bc"});
  CHECK(ns[1][0].as_string() == "def");
  // [[[1, 2], [3]], [[4, 5, 6]]]
  const gguf_value& deep = f.at(p + "nested_deep");
  REQUIRE(deep.size() == 2);
  CHECK(deep[0].size() == 2);
  CHECK(deep[0][1][0].as<int>() == 3);
  CHECK(deep[1][0].as_array<long>() == std::vector<long>{4, 5, 6});
}

TEST_CASE("gguf: small.gguf tensors", "[gguf][io]") {
  const gguf_file f = gguf_file::open(data_path("small.gguf"));
  REQUIRE(f.tensors().size() == 6);
  const auto& t4 = f.tensor("lowbit.test.f32_4d");  // numpy (2, 3, 4, 5) arange
  CHECK(t4.n_dims == 4);
  CHECK(t4.ne == std::array<std::uint64_t, 4>{5, 4, 3, 2});
  CHECK(t4.type == lowbit::ggml::type::f32);
  REQUIRE(t4.n_bytes == 120 * 4);
  for (int i = 0; i < 120; ++i) {
    float v;
    std::memcpy(&v, t4.data.data() + 4 * i, 4);
    CHECK(v == static_cast<float>(i));
  }
  const auto& h = f.tensor("lowbit.test.f16");
  CHECK(h.type == lowbit::ggml::type::f16);
  CHECK(h.ne == std::array<std::uint64_t, 4>{32, 2, 1, 1});
  CHECK(h.n_bytes == 128);
  const auto& k = f.tensor("blk.0.attn_k.weight");
  CHECK(k.type == lowbit::ggml::type::q4_1);
  CHECK(k.ne == std::array<std::uint64_t, 4>{576, 192, 1, 1});
  CHECK(k.n_bytes == 192 * 18 * 20);
  CHECK(k.n_rows() == 192);
  CHECK(k.row_bytes() == 360);
  const auto& e = f.tensor("token_embd.weight");
  CHECK(e.type == lowbit::ggml::type::q8_0);
  CHECK(e.ne == std::array<std::uint64_t, 4>{576, 16, 1, 1});
  require_error([&] { (void)f.tensor("nope.weight"); }, errc::missing_key, {"nope.weight"});
  CHECK(f.find_tensor("nope.weight") == nullptr);
  for (const auto& t : f.tensors()) {
    // mmap is page-aligned, so the data is as aligned as the file's alignment.
    CHECK(reinterpret_cast<std::uintptr_t>(t.data.data()) % f.alignment() == 0);
  }
}

TEST_CASE("gguf: parse() from memory equals open(), views survive moves", "[gguf][io]") {
  const std::vector<std::byte> bytes = read_bytes(data_path("small.gguf"));
  gguf_file a = gguf_file::parse(bytes);
  const gguf_file b = gguf_file::open(data_path("small.gguf"));
  REQUIRE(a.metadata().size() == b.metadata().size());
  REQUIRE(a.tensors().size() == b.tensors().size());
  for (std::size_t i = 0; i < a.tensors().size(); ++i) {
    CHECK(a.tensors()[i].name == b.tensors()[i].name);
    CHECK(a.tensors()[i].data.data() == bytes.data() + (b.tensors()[i].data.data() - b.bytes().data()));
  }
  const auto tokens = a.get_string_array("tokenizer.ggml.tokens");
  const gguf_value nested = a.at("lowbit.test.nested");
  gguf_file moved = std::move(a);
  gguf_file assigned;
  assigned = std::move(moved);
  CHECK(assigned.get_string_array("tokenizer.ggml.tokens") == tokens);
  CHECK(nested[2][1].as<int>() == 6);  // the nested table still lives (owned by `assigned` now)
  CHECK(assigned.find("lowbit.test.nested") != nullptr);
  CHECK(assigned.tensor("blk.0.attn_k.weight").data.data() != nullptr);

  gguf_file g = gguf_file::open(data_path("small.gguf"));
  const std::byte* first = g.tensors()[0].data.data();
  gguf_file h = std::move(g);
  CHECK(h.tensors()[0].data.data() == first);
  CHECK(h.get_u32("general.alignment") == 64);
}

TEST_CASE("gguf: minimal files: no KV pairs, no tensors, empty arrays, version 2", "[gguf][io]") {
  {
    gguf_builder b;
    b.header(0, 0);
    const gguf_file f = gguf_file::parse(b.bytes);
    CHECK(f.version() == 3);
    CHECK(f.metadata().empty());
    CHECK(f.tensors().empty());
    CHECK(f.data_offset() == 32);  // the next multiple of 32 after the 24 header bytes
  }
  {
    gguf_builder b;
    b.header(0, 2, 2).str("empty").u32(9).u32(5).u64(0).str("empty_strings").u32(9).u32(8).u64(0);
    const gguf_file f = gguf_file::parse(b.bytes);
    CHECK(f.version() == 2);
    CHECK(f.at("empty").size() == 0);
    CHECK(f.get_array<int>("empty").empty());
    CHECK(f.get_string_array("empty_strings").empty());
  }
  {
    const auto bytes = valid_file();
    const gguf_file f = gguf_file::parse(bytes);
    CHECK(f.tensor("b").data.data() == bytes.data() + f.data_offset() + 32);
    CHECK(f.get_u32("x.count") == 7);
  }
}

// ===================================================================================================
// mapped_file.

TEST_CASE("mapped_file: maps, moves, handles empty and missing files", "[gguf][io][mapped_file]") {
  const fs::path small = data_path("small.gguf");
  lowbit::io::mapped_file m(small);
  CHECK(m.size() == fs::file_size(small));
  CHECK(std::memcmp(m.data(), "GGUF", 4) == 0);
  CHECK(m.path() == small);
  const std::byte* p = m.data();
  lowbit::io::mapped_file n = std::move(m);
  CHECK(n.data() == p);
  CHECK(m.empty());  // NOLINT(bugprone-use-after-move): moved-from is documented empty
  lowbit::io::mapped_file o;
  o = std::move(n);
  CHECK(o.bytes().size() == fs::file_size(small));

  const fs::path dir = fs::temp_directory_path() / ("lowbit_test_gguf_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const fs::path empty = dir / "empty.gguf";
  { std::ofstream(empty).flush(); }
  const lowbit::io::mapped_file e(empty);
  CHECK(e.empty());
  CHECK(e.data() == nullptr);
  require_error([&] { (void)gguf_file::open(empty); }, errc::truncated, {"empty.gguf", "byte offset 0", "magic"});
  require_error([&] { lowbit::io::mapped_file x(dir / "missing.gguf"); }, errc::io_error,
                {"missing.gguf", "No such file"});
  require_error([&] { (void)gguf_file::open(dir / "missing.gguf"); }, errc::io_error, {"missing.gguf"});
  require_error([&] { lowbit::io::mapped_file x(dir); }, errc::io_error, {"not a regular file"});
  fs::remove_all(dir);
}

// ===================================================================================================
// (c) Hand-made bad files: each must throw the documented errc with a message naming the culprit.

TEST_CASE("gguf: bad header: magic, versions, endianness", "[gguf][io][bad]") {
  auto bytes = valid_file();
  REQUIRE_NOTHROW(gguf_file::parse(bytes));
  {
    auto b = bytes;
    std::memcpy(b.data(), "GGML", 4);
    require_parse_error(b, errc::corrupt, {"magic", "47 47 4d 4c"});
  }
  const auto with_version = [&](std::uint32_t v) {
    auto b = bytes;
    for (int i = 0; i < 4; ++i) b[4 + i] = static_cast<std::byte>(v >> (8 * i));
    return b;
  };
  require_parse_error(with_version(1), errc::unsupported, {"version 1"});
  require_parse_error(with_version(4), errc::unsupported, {"version 4"});
  require_parse_error(with_version(0x03000000), errc::unsupported, {"big-endian"});
  require_parse_error(with_version(0), errc::corrupt, {"version 0"});
  const auto v2 = with_version(2);
  REQUIRE_NOTHROW(gguf_file::parse(v2));
}

TEST_CASE("gguf: a file truncated at any point is errc::truncated with the offset", "[gguf][io][bad]") {
  const std::vector<std::byte> bytes = read_bytes(data_path("small.gguf"));
  const gguf_file f = gguf_file::parse(bytes);
  const field_map m = map_fields(f);
  std::vector<std::size_t> lengths;
  for (std::size_t n = 0; n < 1024; ++n) lengths.push_back(n);  // every byte of the first KV pairs
  for (std::size_t n = 1024; n < f.data_offset() + 8; n += 5) lengths.push_back(n);
  for (std::size_t b : m.boundaries) {
    for (std::size_t d : {b - 1, b, b + 1})
      if (d < bytes.size()) lengths.push_back(d);
  }
  for (std::size_t n = f.data_offset(); n < bytes.size(); n += 997) lengths.push_back(n);
  lengths.push_back(bytes.size() - 1);
  std::size_t failures = 0;
  for (std::size_t n : lengths) {
    try {
      (void)gguf_file::parse(std::span(bytes).first(n));
      FAIL("a prefix of " << n << " bytes parsed");
    } catch (const lowbit::error& e) {
      const std::string what = e.what();
      if (e.code() != errc::truncated || what.find("byte offset") == std::string::npos) {
        ++failures;
        FAIL_CHECK("prefix of " << n << " bytes: " << what);
      }
    }
  }
  CHECK(failures == 0);
  CHECK(lengths.size() > 4000);
}

TEST_CASE("gguf: unknown metadata value types", "[gguf][io][bad]") {
  {
    gguf_builder b;
    b.header(0, 2).kv_u32("good", 1).str("bad.key").u32(13).u32(0);
    require_parse_error(b.bytes, errc::unknown_type, {"value type id 13", "bad.key", "byte offset"});
  }
  {
    gguf_builder b;
    b.header(0, 1).str("bad.array").u32(9).u32(99).u64(1).u32(0);
    require_parse_error(b.bytes, errc::unknown_type, {"array element type id 99", "bad.array"});
  }
}

TEST_CASE("gguf: bad tensor infos", "[gguf][io][bad]") {
  const auto one_tensor = [](std::vector<std::uint64_t> ne, std::uint32_t type, std::uint64_t offset = 0,
                             std::size_t data = 4096) {
    gguf_builder b;
    b.header(1, 1).kv_string("general.architecture", "llama").tensor("blk.7.w", std::move(ne), type, offset);
    b.pad(32).zeros(data);
    return b.bytes;
  };
  const auto good = one_tensor({64, 2}, q4_1_id);
  REQUIRE_NOTHROW(gguf_file::parse(good));
  require_parse_error(one_tensor({8}, 99), errc::unknown_type, {"blk.7.w", "ggml type id 99"});
  require_parse_error(one_tensor({8}, 4), errc::unknown_type, {"blk.7.w", "ggml type id 4"});  // retired Q4_2
  require_parse_error(one_tensor({1, 1, 1, 1, 1}, f32_id), errc::corrupt, {"blk.7.w", "n_dims 5"});
  require_parse_error(one_tensor({8, 0}, f32_id), errc::corrupt, {"blk.7.w", "ne[1] = 0"});
  require_parse_error(one_tensor({std::uint64_t{1} << 32, std::uint64_t{1} << 32}, f32_id), errc::corrupt,
                      {"blk.7.w", "INT64_MAX"});
  require_parse_error(one_tensor({std::numeric_limits<std::uint64_t>::max()}, f32_id), errc::corrupt,
                      {"blk.7.w", "INT64_MAX"});
  require_parse_error(one_tensor({33, 2}, q4_1_id), errc::shape_mismatch, {"blk.7.w", "ne[0] = 33", "block size 32"});
  require_parse_error(one_tensor({8}, f32_id, 16), errc::corrupt, {"blk.7.w", "offset 16", "alignment 32"});
  require_parse_error(one_tensor({256, 64}, q4_1_id), errc::truncated, {"blk.7.w", "past the end"});
  require_parse_error(one_tensor({8}, f32_id, 4096), errc::truncated, {"blk.7.w", "past the end"});
  require_parse_error(one_tensor({8}, f32_id, std::uint64_t{1} << 62), errc::corrupt, {"blk.7.w", "absurd"});
  // The elements fit in int64, but not the bytes (x 4 for F32) in u64; or the bytes exceed 2^48.
  require_parse_error(one_tensor({std::uint64_t{1} << 31, std::uint64_t{1} << 31}, f32_id), errc::corrupt,
                      {"blk.7.w", "2^64 bytes"});
  require_parse_error(one_tensor({std::uint64_t{1} << 30, std::uint64_t{1} << 30}, f32_id), errc::corrupt,
                      {"blk.7.w", "absurd"});
}

TEST_CASE("gguf: duplicate keys and tensor names, overlapping tensors", "[gguf][io][bad]") {
  {
    gguf_builder b;
    b.header(0, 3).kv_u32("a.key", 1).kv_u32("dup.key", 2).kv_string("dup.key", "x");
    require_parse_error(b.bytes, errc::corrupt, {"duplicate key 'dup.key'", "KV pair 2", "first in KV pair 1"});
  }
  {
    gguf_builder b;
    b.header(2, 0).tensor("w", {8}, f32_id, 0).tensor("w", {8}, f32_id, 32).pad(32).zeros(64);
    require_parse_error(b.bytes, errc::corrupt, {"tensor 'w'", "duplicates"});
  }
  {
    gguf_builder b;
    b.header(2, 0).tensor("first", {16}, f32_id, 0).tensor("second", {8}, f32_id, 32).pad(32).zeros(96);
    require_parse_error(b.bytes, errc::corrupt, {"'first'", "'second'", "overlap"});
  }
  {
    gguf_builder b;  // the same range twice under two names
    b.header(2, 0).tensor("x", {8}, f32_id, 0).tensor("y", {8}, f32_id, 0).pad(32).zeros(64);
    require_parse_error(b.bytes, errc::corrupt, {"overlap"});
  }
}

TEST_CASE("gguf: bad strings and counts", "[gguf][io][bad]") {
  {  // a string value longer than the rest of the file
    gguf_builder b;
    b.header(0, 1).str("k.name").u32(8).u64(100).raw("short", 5);
    require_parse_error(b.bytes, errc::truncated, {"k.name", "length 100", "byte offset 42"});
  }
  {  // an absurd string length
    gguf_builder b;
    b.header(0, 1).str("k.name").u32(8).u64(std::uint64_t{1} << 60).raw("short", 5);
    require_parse_error(b.bytes, errc::corrupt, {"k.name", "absurd", "byte offset 42"});
  }
  {  // an absurd key length
    gguf_builder b;
    b.header(0, 1).u64(std::numeric_limits<std::uint64_t>::max()).zeros(16);
    require_parse_error(b.bytes, errc::corrupt, {"key length", "absurd", "byte offset 24"});
  }
  {  // absurd kv_count: refused before any allocation
    gguf_builder b;
    b.header(0, std::uint64_t{1} << 61).zeros(64);
    require_parse_error(b.bytes, errc::corrupt, {"kv_count", "absurd"});
  }
  {  // kv_count larger than the file can hold
    gguf_builder b;
    b.header(0, 1000).kv_u32("a", 1);
    require_parse_error(b.bytes, errc::truncated, {"kv_count 1000"});
  }
  {  // absurd tensor_count
    gguf_builder b;
    b.header(std::numeric_limits<std::uint64_t>::max(), 0).zeros(64);
    require_parse_error(b.bytes, errc::corrupt, {"tensor_count", "absurd"});
  }
  {  // tensor_count larger than the file can hold
    gguf_builder b;
    b.header(100, 0).tensor("a", {8}, f32_id, 0).pad(32).zeros(32);
    require_parse_error(b.bytes, errc::truncated, {"tensor_count 100"});
  }
  {  // absurd array count
    gguf_builder b;
    b.header(0, 1).str("big.array").u32(9).u32(8).u64(std::uint64_t{1} << 62).zeros(64);
    require_parse_error(b.bytes, errc::corrupt, {"big.array", "array count", "absurd"});
  }
  {  // array count larger than the file can hold
    gguf_builder b;
    b.header(0, 1).str("big.array").u32(9).u32(5).u64(1000).zeros(64);
    require_parse_error(b.bytes, errc::truncated, {"big.array", "array count 1000"});
  }
  {  // a nested array whose inner count is absurd
    gguf_builder b;
    b.header(0, 1).str("nest").u32(9).u32(9).u64(1).u32(4).u64(std::uint64_t{1} << 62).zeros(16);
    require_parse_error(b.bytes, errc::corrupt, {"nest", "absurd"});
  }
}

TEST_CASE("gguf: bad bools, alignment and nesting depth", "[gguf][io][bad]") {
  {
    gguf_builder b;
    b.header(0, 1).str("flag").u32(7).u8(2);
    require_parse_error(b.bytes, errc::corrupt, {"flag", "bool value 2"});
  }
  {
    gguf_builder b;
    b.header(0, 1).str("flags").u32(9).u32(7).u64(3).u8(1).u8(0).u8(7);
    require_parse_error(b.bytes, errc::corrupt, {"flags", "bool value 7"});
  }
  for (std::uint32_t bad : {0u, 48u, 3u}) {
    gguf_builder b;
    b.header(0, 1).kv_u32("general.alignment", bad);
    require_parse_error(b.bytes, errc::corrupt, {"general.alignment", std::to_string(bad)});
  }
  {
    gguf_builder b;
    b.header(0, 1).str("general.alignment").u32(10).u64(64);
    require_parse_error(b.bytes, errc::type_mismatch, {"general.alignment", "u64", "u32"});
  }
  {  // a valid non-default alignment
    gguf_builder b;
    b.header(1, 1).kv_u32("general.alignment", 256).tensor("t", {8}, f32_id, 0).pad(256).zeros(32);
    const gguf_file f = gguf_file::parse(b.bytes);
    CHECK(f.alignment() == 256);
    CHECK(f.data_offset() == 256);
  }
  const auto nested = [](int depth) {
    gguf_builder b;
    b.header(0, 1).str("deep").u32(9);
    for (int i = 1; i < depth; ++i) b.u32(9).u64(1);
    b.u32(4).u64(1).u32(42);
    return b.bytes;
  };
  const auto bytes16 = nested(16);
  const gguf_file ok = gguf_file::parse(bytes16);
  gguf_value v = ok.at("deep");
  for (int i = 1; i < 16; ++i) v = v[0];
  CHECK(v[0].as<int>() == 42);
  require_parse_error(nested(17), errc::unsupported, {"deep", "nested deeper than 16"});
  require_parse_error(nested(5000), errc::unsupported, {"deep"});  // refused early: no deep recursion
}

// ===================================================================================================
// (d) Fuzz: mutated copies of small.gguf must parse (with every view inside the buffer) or throw
// lowbit::error; never crash, never overrun (run under -DLOWBIT_SANITIZE=address,undefined).

TEST_CASE("gguf: fuzzed small.gguf parses or throws lowbit::error", "[gguf][io][fuzz]") {
  const std::vector<std::byte> original = read_bytes(data_path("small.gguf"));
  const gguf_file base = gguf_file::parse(original);
  const field_map m = map_fields(base);
  const std::size_t header_end = base.data_offset();

  std::mt19937 rng(20250101u);
  const auto uniform = [&](std::size_t lo, std::size_t hi) {  // [lo, hi]
    return std::uniform_int_distribution<std::size_t>(lo, hi)(rng);
  };
  // Positions: mostly in the header, where the structure is (the rest is tensor data).
  const auto position = [&] {
    return uniform(0, 3) != 0 ? uniform(0, header_end - 1) : uniform(0, original.size() - 1);
  };

  std::size_t parsed = 0, total = 0;
  std::map<std::string, std::size_t> by_kind;
  std::map<std::string, std::size_t> by_errc;
  const auto run = [&](const std::string& kind, std::vector<std::byte> bytes) {
    ++total;
    // Copy into an exactly-sized heap buffer so AddressSanitizer sees any read past the end.
    auto buffer = std::make_unique<std::byte[]>(std::max<std::size_t>(bytes.size(), 1));
    if (!bytes.empty()) std::memcpy(buffer.get(), bytes.data(), bytes.size());
    const std::span<const std::byte> view(buffer.get(), bytes.size());
    try {
      const gguf_file f = gguf_file::parse(view);
      ++parsed;
      ++by_kind[kind + " parsed"];
      INFO(kind << ": parsed; checking views");
      CHECK(all_views_inside(f, view));
    } catch (const lowbit::error& e) {
      ++by_kind[kind + " threw"];
      ++by_errc[std::string(lowbit::to_string(e.code()))];
    }
  };

  for (int i = 0; i < 200; ++i) {  // single bit flips
    auto b = original;
    b[position()] ^= static_cast<std::byte>(1u << uniform(0, 7));
    run("bit flip", std::move(b));
  }
  for (int i = 0; i < 150; ++i) {  // 2..16 bit flips
    auto b = original;
    for (std::size_t k = uniform(2, 16); k > 0; --k) b[position()] ^= static_cast<std::byte>(1u << uniform(0, 7));
    run("bit flips", std::move(b));
  }
  for (int i = 0; i < 150; ++i) {  // runs of 0x00 or 0xFF
    auto b = original;
    const std::size_t at = position();
    const std::size_t n = std::min(uniform(1, 64), b.size() - at);
    std::fill_n(b.begin() + static_cast<std::ptrdiff_t>(at), n, static_cast<std::byte>(uniform(0, 1) ? 0xff : 0x00));
    run("byte run", std::move(b));
  }
  for (std::size_t boundary : m.boundaries) {  // truncation at every header boundary
    if (boundary < original.size()) run("boundary truncation", {original.begin(), original.begin() + boundary});
  }
  for (int i = 0; i < 100; ++i) {  // truncation at random lengths
    const std::size_t n = uniform(0, original.size() - 1);
    run("random truncation", {original.begin(), original.begin() + static_cast<std::ptrdiff_t>(n)});
  }
  const std::uint64_t huge[] = {std::numeric_limits<std::uint64_t>::max(),
                                std::uint64_t{1} << 63,
                                (std::uint64_t{1} << 48) + 1,
                                std::uint64_t{1} << 32,
                                original.size(),
                                original.size() + 1,
                                0};
  for (int i = 0; i < 200; ++i) {  // u64 fields (counts, lengths, extents, offsets) set to huge values
    auto b = original;
    const std::size_t at = m.u64_fields[uniform(0, m.u64_fields.size() - 1)];
    const std::uint64_t v = uniform(0, 3) == 0 ? (std::uint64_t{rng()} << 32 | rng()) : huge[uniform(0, 6)];
    for (int k = 0; k < 8; ++k) b[at + k] = static_cast<std::byte>(v >> (8 * k));
    run("huge u64", std::move(b));
  }
  run("empty", {});

  std::string stats = "fuzz: " + std::to_string(total) + " mutants, " + std::to_string(parsed) + " parsed, " +
                      std::to_string(total - parsed) + " threw lowbit::error\n";
  for (const auto& [k, n] : by_kind) stats += "  " + k + ": " + std::to_string(n) + "\n";
  for (const auto& [k, n] : by_errc) stats += "  errc::" + k + ": " + std::to_string(n) + "\n";
  if (std::getenv("LOWBIT_TEST_VERBOSE") != nullptr) std::printf("%s", stats.c_str());
  INFO(stats);
  CHECK(total >= 800);
  CHECK(parsed > 0);
  CHECK(total - parsed > 0);
}
