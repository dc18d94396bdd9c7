// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

#include <span>
#include <utility>

#include "lowbit/core/parallel.hpp"
#include "lowbit/graph/layer.hpp"
#include "lowbit/graph/linear.hpp"
#include "lowbit/nn/activations.hpp"

namespace lowbit::graph {

/// A gated activation `out = act(gate) * up`, elementwise: what joins the two branches of a
/// gated feed-forward network. `operator()(gate, up, out, threads)`; out may alias gate.
template <class A>
concept gate_activation = requires(const A& a, std::span<const float> g, std::span<float> o, threads t) {
  a(g, g, o, t);
};

/// SwiGLU: silu(gate) * up (LLaMA, Qwen; `nn::swiglu`, ggml's arithmetic).
struct swiglu {
  void operator()(std::span<const float> gate, std::span<const float> up, std::span<float> out, threads t) const {
    nn::swiglu(gate, up, out, t);
  }
};

/// A gated feed-forward network: down(act(gate(x)) * up(x)), x (M, d_model) -> (M, d_model).
/// gate and up read the same input (a fan-out of two projections), their product feeds down.
///
/// `forward` replaces x; `accumulate(x, residual, ctx)` adds the output to `residual` through the
/// down projection's epilogue (the residual connection without an extra pass).
/// throws lowbit::error{errc::shape_mismatch} if gate and up differ in N or x does not have K columns.
/// Source: Shazeer, "GLU Variants Improve Transformer", arXiv:2002.05202.
template <class Gate, class Up, class Down, gate_activation Act>
class gated_ffn_layer {
 public:
  gated_ffn_layer(Gate gate, Up up, Down down, Act act = {})
      : gate_(std::move(gate)), up_(std::move(up)), down_(std::move(down)), act_(std::move(act)) {
    check(gate_.rows() == up_.rows(), errc::shape_mismatch, "gated_ffn: gate and up have different N");
  }

  void forward(activation& x, context& ctx) const {
    auto hidden = borrow(ctx);
    hide(x, *hidden, ctx);
    down_.apply(*hidden, x, ctx);
  }

  /// residual <- residual + down(act(gate(x)) * up(x)).
  void accumulate(const activation& x, activation& residual, context& ctx) const {
    auto hidden = borrow(ctx);
    hide(x, *hidden, ctx);
    down_.accumulate(*hidden, residual, ctx);
  }

 private:
  // hidden <- act(gate(x)) * up(x)
  void hide(const activation& x, activation& hidden, context& ctx) const {
    auto up_out = borrow(ctx);
    gate_.apply(x, hidden, ctx);
    up_.apply(x, *up_out, ctx);
    act_(hidden.data, up_out->data, hidden.data, ctx.thread_count);
  }

  Gate gate_;
  Up up_;
  Down down_;
  Act act_;
};

/// Builds a gated_ffn_layer from three linear layers and the gate activation.
template <class Gate, class Up, class Down, gate_activation Act = swiglu>
gated_ffn_layer<Gate, Up, Down, Act> gated_ffn(Gate gate, Up up, Down down, Act act = {}) {
  return gated_ffn_layer<Gate, Up, Down, Act>(std::move(gate), std::move(up), std::move(down), std::move(act));
}

}  // namespace lowbit::graph
