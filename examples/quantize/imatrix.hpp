// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

// Importance matrices (llama-imatrix's output) as llama-quantize reads them: the GGUF format
// (tensors "<weight>.in_sum2" and "<weight>.counts", keys imatrix.datasets / chunk_count / chunk_size)
// and the legacy binary format. Facts from llama.cpp's common/imatrix-loader.cpp
// (`common_imatrix_load`, `common_imatrix_load_legacy`) and tools/quantize/quantize.cpp
// (`load_imatrix`), llama.cpp as vendored by llama-cpp-python 0.3.36.

#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "lowbit/core/error.hpp"
#include "lowbit/io/gguf.hpp"

namespace quantize_tool {

/// The importance of every input column of the weights of a model: for weight `name` of shape
/// (ne0, ne1, ne2), `values[name]` holds ne0 * ne2 floats (one row of ne0 per expert), the mean
/// of the squared activations that meet each column.
struct imatrix {
  std::map<std::string, std::vector<float>> values;
  std::vector<std::string> datasets;  ///< names of the calibration data sets (may be empty)
  std::uint32_t chunk_count = 0;      ///< chunks the statistics were collected over (0 when unknown)
};

namespace detail {

inline imatrix load_imatrix_gguf(const std::filesystem::path& path) {
  using lowbit::errc;
  const auto file = lowbit::io::gguf_file::open(path);
  const std::string where = "imatrix '" + path.string() + "'";
  lowbit::check(!file.tensors().empty(), errc::invalid_argument, [&] { return where + " has no data"; });
  // llama-quantize refuses a GGUF imatrix without its three metadata keys (load_imatrix).
  for (const char* key : {"imatrix.datasets", "imatrix.chunk_count", "imatrix.chunk_size"}) {
    lowbit::check(file.contains(key), errc::missing_key,
                  [&] { return where + " lacks the metadata key '" + std::string(key) + "'"; });
  }
  imatrix m;
  const auto& ds = file.at("imatrix.datasets");
  if (ds.is_array() && ds.array_type() == lowbit::io::gguf_value_type::string) {
    for (auto s : ds.strings()) m.datasets.emplace_back(s);
  }
  m.chunk_count = file.get<std::uint32_t>("imatrix.chunk_count");

  std::map<std::string, std::pair<const lowbit::io::gguf_tensor_info*, const lowbit::io::gguf_tensor_info*>> pairs;
  for (const auto& t : file.tensors()) {
    const std::string_view n = t.name;
    if (n.ends_with(".in_sum2")) pairs[std::string(n.substr(0, n.size() - 8))].first = &t;
    if (n.ends_with(".counts")) pairs[std::string(n.substr(0, n.size() - 7))].second = &t;
  }
  for (const auto& [name, p] : pairs) {
    const auto* sums = p.first;
    const auto* counts = p.second;
    lowbit::check(sums != nullptr && counts != nullptr, errc::invalid_argument,
                  [&] { return where + ": '" + name + "' lacks its " + (sums ? ".counts" : ".in_sum2") + " tensor"; });
    lowbit::check(sums->type == lowbit::ggml::type::f32 && counts->type == lowbit::ggml::type::f32, errc::type_mismatch,
                  [&] { return where + ": sums and counts of '" + name + "' must be F32"; });
    const std::size_t n_sums = sums->n_elements();
    const std::size_t n_counts = counts->n_elements();
    lowbit::check(n_counts > 0 && n_sums % n_counts == 0, errc::shape_mismatch, [&] {
      return where + ": '" + name + "' has " + std::to_string(n_sums) + " sums for " + std::to_string(n_counts) +
             " counts";
    });
    const std::size_t ne0 = n_sums / n_counts;
    std::vector<float> s(n_sums), c(n_counts);
    std::memcpy(s.data(), sums->data.data(), n_sums * sizeof(float));
    std::memcpy(c.data(), counts->data.data(), n_counts * sizeof(float));
    std::vector<float>& e = m.values[name];
    e.resize(n_sums);
    for (std::size_t j = 0; j < n_counts; ++j) {
      // Counts are stored as floats and rounded to integers (common_imatrix_load), then used as floats.
      const float count = static_cast<float>(std::lround(c[j]));
      for (std::size_t i = 0; i < ne0; ++i) e[j * ne0 + i] = count > 0.0f ? s[j * ne0 + i] / count : 1.0f;
    }
  }
  return m;
}

inline imatrix load_imatrix_legacy(const std::filesystem::path& path) {
  using lowbit::errc;
  const std::string where = "imatrix '" + path.string() + "'";
  std::ifstream in(path, std::ios::binary);
  lowbit::check(in.good(), errc::io_error, [&] { return "cannot open " + where; });
  const auto read_i32 = [&](const char* what) {
    std::int32_t v = 0;
    in.read(reinterpret_cast<char*>(&v), sizeof v);
    lowbit::check(!in.fail(), errc::truncated, [&] { return where + ": truncated reading " + std::string(what); });
    return v;
  };
  const std::int32_t n_entries = read_i32("the entry count");
  lowbit::check(n_entries >= 1, errc::corrupt, [&] { return where + ": no entries"; });
  imatrix m;
  for (std::int32_t i = 0; i < n_entries; ++i) {
    const std::int32_t len = read_i32("a name length");
    lowbit::check(len > 0 && len < (1 << 16), errc::corrupt,
                  [&] { return where + ": entry " + std::to_string(i) + " has a name length " + std::to_string(len); });
    std::string name(static_cast<std::size_t>(len), '\0');
    in.read(name.data(), len);
    lowbit::check(!in.fail(), errc::truncated,
                  [&] { return where + ": truncated in the name of entry " + std::to_string(i); });
    name = name.c_str();  // the loader stops at a NUL
    const std::int32_t ncall = read_i32("a call count");
    const std::int32_t nval = read_i32("a value count");
    lowbit::check(nval >= 1 && nval < (1 << 28), errc::corrupt,
                  [&] { return where + ": entry '" + name + "' has " + std::to_string(nval) + " values"; });
    std::vector<float> sums(static_cast<std::size_t>(nval));
    in.read(reinterpret_cast<char*>(sums.data()), static_cast<std::streamsize>(sums.size() * sizeof(float)));
    lowbit::check(!in.fail(), errc::truncated, [&] { return where + ": truncated in the values of '" + name + "'"; });
    // Legacy sums hold mean * ncall: divide by ncall (load_imatrix).
    if (ncall > 0) {
      for (float& v : sums) v /= static_cast<float>(ncall);
    }
    m.values[name] = std::move(sums);
  }
  if (in.peek() != std::char_traits<char>::eof()) {  // optional trailer: chunk count, data set name
    std::int32_t n_calls = 0;
    in.read(reinterpret_cast<char*>(&n_calls), sizeof n_calls);
    if (!in.fail()) {
      m.chunk_count = static_cast<std::uint32_t>(n_calls);
      std::int32_t len = 0;
      in.read(reinterpret_cast<char*>(&len), sizeof len);
      if (!in.fail() && len > 0 && len < (1 << 16)) {
        std::string ds(static_cast<std::size_t>(len), '\0');
        in.read(ds.data(), len);
        if (!in.fail()) m.datasets.emplace_back(ds.c_str());
      }
    }
  }
  return m;
}

}  // namespace detail

/// Reads an importance matrix file: GGUF when it starts with "GGUF", else the legacy format; then
/// normalizes as llama-quantize does (GGUF: sums / round(count) per expert, 1 where the count is 0;
/// legacy: sums / ncall). Every value must be finite.
///
/// throws lowbit::error naming the file (and the entry) on anything malformed.
inline imatrix load_imatrix(const std::filesystem::path& path) {
  char magic[4] = {};
  {
    std::ifstream in(path, std::ios::binary);
    lowbit::check(in.good(), lowbit::errc::io_error, [&] { return "cannot open imatrix '" + path.string() + "'"; });
    in.read(magic, 4);
  }
  imatrix m = std::memcmp(magic, "GGUF", 4) == 0 ? detail::load_imatrix_gguf(path) : detail::load_imatrix_legacy(path);
  for (const auto& [name, v] : m.values) {
    for (std::size_t i = 0; i < v.size(); ++i) {
      lowbit::check(std::isfinite(v[i]), lowbit::errc::invalid_argument, [&] {
        return "imatrix '" + path.string() + "': entry '" + name + "' has a non-finite value at " + std::to_string(i);
      });
    }
  }
  return m;
}

}  // namespace quantize_tool
