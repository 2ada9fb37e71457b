#pragma once

// Adam (Kingma & Ba, "Adam: A Method for Stochastic Optimization", 2015) over
// any nn Module, with an exponentially decaying learning rate and optional
// clipping of the gradient's global norm (as torch.nn.utils.clip_grad_norm_).
//
// The moments are two more copies of the module, so a step is one pass over
// matching parameter matrices and allocates nothing.

#include <redflag/core/error.hpp>
#include <redflag/core/types.hpp>
#include <redflag/core/validation.hpp>
#include <redflag/nn/module.hpp>

#include <cmath>
#include <cstdint>
#include <utility>

namespace redflag::nn {

struct AdamParams {
  double learning_rate = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double epsilon = 1e-8;
  // The learning rate is multiplied by `decay` at every end_epoch(); 1 keeps it constant.
  double decay = 1.0;
  // Gradients whose global norm exceeds clip_norm are scaled down to it
  // before the step; 0 turns clipping off.
  double clip_norm = 0.0;
};

template <Module Layer>
class Adam {
 public:
  using scalar_type = typename Layer::scalar_type;

  Adam() = default;

  Adam(const Layer& layer, AdamParams params)
      : params_(params), learning_rate_(params.learning_rate), first_(zeros_like(layer)), second_(zeros_like(layer)) {
    constexpr const char* where = "nn::Adam";
    using redflag::detail::require_parameter;
    require_parameter(std::isfinite(params.learning_rate) && params.learning_rate > 0, where, "learning_rate",
                      "positive and finite", params.learning_rate);
    require_parameter(params.beta1 >= 0 && params.beta1 < 1, where, "beta1", "in [0, 1)", params.beta1);
    require_parameter(params.beta2 >= 0 && params.beta2 < 1, where, "beta2", "in [0, 1)", params.beta2);
    require_parameter(params.epsilon > 0 && std::isfinite(params.epsilon), where, "epsilon", "positive and finite",
                      params.epsilon);
    require_parameter(params.decay > 0 && params.decay <= 1, where, "decay", "in (0, 1]", params.decay);
    require_parameter(params.clip_norm >= 0 && std::isfinite(params.clip_norm), where, "clip_norm",
                      ">= 0 and finite (0 = no clipping)", params.clip_norm);
  }

  [[nodiscard]] const AdamParams& params() const noexcept { return params_; }
  [[nodiscard]] double learning_rate() const noexcept { return learning_rate_; }
  [[nodiscard]] std::int64_t steps() const noexcept { return steps_; }

  // One update of `layer` from `gradient` (which is left unchanged). Returns
  // the gradient's global norm before clipping.
  double step(Layer& layer, const Layer& gradient) {
    using T = scalar_type;
    const double norm = global_norm(gradient);
    // PyTorch's rule: scale by clip_norm / (norm + 1e-6) when that is below 1.
    const double clip_ratio = params_.clip_norm / (norm + 1e-6);
    const double clip_scale = params_.clip_norm > 0 && clip_ratio < 1.0 ? clip_ratio : 1.0;
    ++steps_;
    const double correction1 = 1.0 - std::pow(params_.beta1, static_cast<double>(steps_));
    const double correction2 = 1.0 - std::pow(params_.beta2, static_cast<double>(steps_));
    const T step_size = static_cast<T>(learning_rate_ / correction1);
    const T inverse_sqrt_correction2 = static_cast<T>(1.0 / std::sqrt(correction2));
    const T beta1 = static_cast<T>(params_.beta1), beta2 = static_cast<T>(params_.beta2);
    const T epsilon = static_cast<T>(params_.epsilon), scale = static_cast<T>(clip_scale);
    visit_parameters(
        [&](auto& value, const auto& grad, auto& m, auto& v) {
          m.array() = beta1 * m.array() + ((T(1) - beta1) * scale) * grad.array();
          v.array() = beta2 * v.array() + ((T(1) - beta2) * scale * scale) * grad.array().square();
          value.array() -= step_size * m.array() / (v.array().sqrt() * inverse_sqrt_correction2 + epsilon);
        },
        layer, gradient, first_, second_);
    return norm;
  }

  void end_epoch() noexcept { learning_rate_ *= params_.decay; }

  // The moments, for checkpoints: an Adam rebuilt from them with the
  // constructor below continues exactly where this one stopped.
  [[nodiscard]] const Layer& first_moment() const noexcept { return first_; }
  [[nodiscard]] const Layer& second_moment() const noexcept { return second_; }

  Adam(AdamParams params, double learning_rate, std::int64_t steps, Layer first_moment, Layer second_moment)
      : Adam(first_moment, params) {
    learning_rate_ = learning_rate;
    steps_ = steps;
    first_ = std::move(first_moment);
    second_ = std::move(second_moment);
  }

 private:
  AdamParams params_;
  double learning_rate_ = 1e-3;
  std::int64_t steps_ = 0;
  Layer first_;
  Layer second_;
};

}  // namespace redflag::nn
