// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>

#include "lowbit/core/backend.hpp"
#include "lowbit/core/error.hpp"
#include "lowbit/core/format.hpp"
#include "lowbit/gemm/gemm.hpp"
#include "lowbit/quant/visit_format.hpp"
#include "lowbit/quant/weight_view.hpp"

namespace lowbit {

template <backend_policy B, class Formats>
class any_weight;

/// A weight W(N, K) prepared for backend B whose format is one of `Formats` (a `format_list`),
/// chosen at run time, once, when it is made (the "Dynamic" bridge of docs/design.md: a file decides
/// each tensor's format at load; the graph's type does not change with the mix).
///
/// Holds `std::variant<prepared_weight_t<B, Fs>...>`: `gemm<B>(x, w, y, ...)` dispatches once per
/// call with `std::visit` and then runs the format's own kernel over the whole product; nothing
/// is decided per tile or block. Every format of the list is compiled for backend B, so a list
/// names the formats a program is willing to pay compile time for (lowbit::gguf_formats: all).
///
/// Shapes: rows() = N (output features), cols() = K (input features). Owning (a SIMD backend's
/// packed panels) or a view of the caller's bytes (backend::reference), as prepared_weight_t is.
template <backend_policy B, format... Fs>
class any_weight<B, format_list<Fs...>> {
 public:
  using backend_type = B;
  using format_list_type = format_list<Fs...>;

  /// Prepares the W(rows, cols) whose bytes `bytes` hold in the canonical (file) layout of the
  /// format with GGUF type id `type` (F::type_id), with `prepare_weight<B>`.
  ///
  /// throws lowbit::error{errc::unsupported} naming the type and the list when `type` is not in
  /// `Formats`; the errors of make_weight_view (shape_mismatch for a byte count or K that does not
  /// fit the format) and of the backend's prepare.
  static any_weight prepare(ggml::type type, std::span<const std::byte> bytes, std::size_t rows, std::size_t cols,
                            threads t = {}) {
    return visit_format(format_list_type{}, type, [&]<class F>(F) {
      return any_weight(std::type_identity<F>{}, prepare_weight<B>(make_weight_view<F>(bytes, rows, cols), t), rows,
                        cols);
    });
  }

  /// Wraps a weight already prepared for B in format F (one of `Formats`).
  template <format F>
  requires(format_list_type::contains(F::type_id)) any_weight(weight_view<F> w, threads t = {})
      : any_weight(std::type_identity<F>{}, prepare_weight<B>(w, t), w.rows, w.cols) {}

  /// N, the output features.
  std::size_t rows() const noexcept { return rows_; }
  /// K, the input features.
  std::size_t cols() const noexcept { return cols_; }
  /// The GGUF type id of the held format.
  ggml::type type() const noexcept { return type_; }

  /// Calls `visitor(prepared)` with the held `prepared_weight_t<B, F>` and returns its result
  /// (every alternative must return the same type), like std::visit.
  template <class Visitor>
  decltype(auto) visit(Visitor&& visitor) const {
    return std::visit(std::forward<Visitor>(visitor), storage_);
  }

 private:
  using storage_type = std::variant<prepared_weight_t<B, Fs>...>;

  template <class F, class Prepared>
  any_weight(std::type_identity<F>, Prepared&& p, std::size_t rows, std::size_t cols)
      : storage_(std::in_place_index<index_of<F>()>, std::forward<Prepared>(p)), type_(F::type_id), rows_(rows),
        cols_(cols) {}

  // The position of F in Fs (by type id: two formats of a list never share one). Indexing, not
  // the alternative's type, because two formats may share a prepared type.
  template <class F>
  static constexpr std::size_t index_of() noexcept {
    std::size_t i = 0, found = 0;
    ((Fs::type_id == F::type_id ? (found = i, ++i) : ++i), ...);
    return found;
  }

  storage_type storage_;
  ggml::type type_;
  std::size_t rows_ = 0, cols_ = 0;
};

/// y(M, N) = epilogue(x(M, K) · W(N, K)ᵀ) for a weight whose format was chosen at load: one
/// dispatch on the held format, then `gemm<B>` with that format's kernel (same contract, shapes,
/// errors and allocation as `gemm<B>` for a prepared weight).
template <backend_policy B, class Formats, epilogue::stage E = epilogue::store>
void gemm(matrix_view<const float> x, const any_weight<B, Formats>& w, matrix_view<float> y, threads t = {},
          const E& e = {}, gemm_workspace* ws = nullptr) {
  w.visit([&](const auto& prepared) { gemm<B>(x, prepared, y, t, e, ws); });
}

}  // namespace lowbit
