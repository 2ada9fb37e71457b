#pragma once

// TransformerAutoencoder's file format (nn/transformer_autoencoder.hpp): the
// fields in file order (ModelFile, a friend of the model) and the checks a
// loaded file must pass before its network is built.
//
// Networks are stored as their parameter matrices in visit_parameters order,
// so the file needs no knowledge of the layers. Format 1 held contamination
// as a plain fraction and n_jobs; format 2 stores contamination as a kind
// (auto or a fraction) plus the fraction and no n_jobs.

#include <redflag/core/eigen_cereal.hpp>
#include <redflag/core/error.hpp>
#include <redflag/core/random.hpp>
#include <redflag/core/types.hpp>
#include <redflag/core/validation.hpp>
#include <redflag/nn/detail/autoencoder_trainer.hpp>
#include <redflag/nn/module.hpp>
#include <redflag/nn/transformer_network.hpp>
#include <redflag/timeseries/window_scaling.hpp>

#include <cereal/cereal.hpp>
#include <cereal/types/optional.hpp>
#include <cereal/types/vector.hpp>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace redflag::detail::autoencoder {

[[noreturn]] inline void fail_load(const std::string& what) {
  throw serialization_error("redflag::load: TransformerAutoencoder " + what);
}

template <Scalar T>
[[nodiscard]] std::vector<Matrix<T>> flatten(const nn::TransformerNetwork<T>& network) {
  std::vector<Matrix<T>> matrices;
  nn::visit_parameters([&](const Matrix<T>& m) { matrices.push_back(m); }, network);
  return matrices;
}

// Copies stored matrices into `network`, which has the right shapes.
template <Scalar T>
void assign(nn::TransformerNetwork<T>& network, const std::vector<Matrix<T>>& stored, std::string_view what) {
  std::size_t k = 0;
  nn::visit_parameters(
      [&](Matrix<T>& m) {
        if (k == stored.size()) fail_load("holds fewer " + std::string(what) + " matrices than its params need");
        const Matrix<T>& source = stored[k];
        if (source.rows() != m.rows() || source.cols() != m.cols() || !source.allFinite()) {
          fail_load(std::string(what) + " matrix " + std::to_string(k) + " has the wrong shape or a non-finite value");
        }
        m = source;
        ++k;
      },
      network);
  if (k != stored.size()) fail_load("holds more " + std::string(what) + " matrices than its params need");
}

// Compares the parameter count `shape` implies with the stored one before
// the network is built, so absurd sizes in a file allocate nothing.
template <Scalar T>
void check_weight_count(const nn::TransformerShape& shape, const std::vector<Matrix<T>>& weights) {
  const double d = static_cast<double>(shape.d_model), f = static_cast<double>(shape.features);
  const double h = static_cast<double>(shape.ffn);
  const double per_block = 4 * d * d + 4 * d + 4 * d + 2 * d * h + h + d;
  const double expected =
      2 * d * f + d + f + static_cast<double>(shape.encoder_layers + shape.decoder_layers) * per_block;
  double stored = 0;
  for (const Matrix<T>& m : weights) stored += static_cast<double>(m.size());
  if (stored != expected) {
    fail_load("holds " + format_number(stored) + " weights, its params need " + format_number(expected));
  }
}

// The Params fields of the file, in file order. `contamination` is the
// resolved fraction (auto resolved), which format 1 stored. A format 1 file
// keeps its n_jobs on load, so re-encoding it for the JSON checksum
// reproduces the file; format 2 files never carry one.
template <class Archive, class Params>
void archive_params(Archive& archive, Params& p, std::uint32_t version, double contamination) {
  auto contamination_kind = static_cast<std::uint8_t>(p.contamination.index());
  double contamination_fraction =
      std::holds_alternative<double>(p.contamination) ? std::get<double>(p.contamination) : 0.0;
  archive(cereal::make_nvp("window", p.window), cereal::make_nvp("d_model", p.d_model),
          cereal::make_nvp("heads", p.heads), cereal::make_nvp("encoder_layers", p.encoder_layers),
          cereal::make_nvp("decoder_layers", p.decoder_layers), cereal::make_nvp("ffn", p.ffn),
          cereal::make_nvp("batch_size", p.batch_size), cereal::make_nvp("epochs", p.epochs),
          cereal::make_nvp("learning_rate", p.learning_rate), cereal::make_nvp("decay", p.decay),
          cereal::make_nvp("clip_norm", p.clip_norm), cereal::make_nvp("patience", p.patience),
          cereal::make_nvp("validation_fraction", p.validation_fraction));
  if (version >= 2) archive(cereal::make_nvp("contamination_kind", contamination_kind));
  if (version < 2 && !Archive::is_loading::value) contamination_fraction = contamination;
  archive(cereal::make_nvp("contamination", contamination_fraction),
          cereal::make_nvp("keep_training_state", p.keep_training_state),
          cereal::make_nvp("random_state", p.random_state));
  if (version < 2) archive(cereal::make_nvp("n_jobs", p.n_jobs));
  if constexpr (Archive::is_loading::value) {
    if (version < 2) contamination_kind = 1;
    if (contamination_kind > 1) fail_load("contamination kind " + std::to_string(contamination_kind) + " is unknown");
    if (contamination_kind == 0) p.contamination = Auto{};
    else p.contamination = contamination_fraction;
  }
}

// A TrainingCheckpoint as the file holds it: its counters and its networks
// as matrices.
template <Scalar T>
struct StoredCheckpoint {
  std::int64_t steps = 0;
  double learning_rate = 0.0;
  Index stale_epochs = 0;
  std::vector<Matrix<T>> last, first, second;

  [[nodiscard]] static StoredCheckpoint from(const TrainingCheckpoint<T>& checkpoint) {
    return {.steps = checkpoint.steps,
            .learning_rate = checkpoint.learning_rate,
            .stale_epochs = checkpoint.stale_epochs,
            .last = flatten(checkpoint.last),
            .first = flatten(checkpoint.first),
            .second = flatten(checkpoint.second)};
  }

  template <class Archive>
  void archive(Archive& archive) {
    archive(cereal::make_nvp("adam_steps", steps), cereal::make_nvp("adam_learning_rate", learning_rate),
            cereal::make_nvp("stale_epochs", stale_epochs), cereal::make_nvp("last_weights", last),
            cereal::make_nvp("adam_first_moment", first), cereal::make_nvp("adam_second_moment", second));
  }

  // Checks what was read and rebuilds the checkpoint in the shapes of `network`
  // (the loaded model's).
  [[nodiscard]] TrainingCheckpoint<T> restore(const nn::TransformerNetwork<T>& network, Index patience) const {
    if (steps < 1 || !(learning_rate > 0) || !std::isfinite(learning_rate) || stale_epochs < 0 ||
        stale_epochs > patience) {
      fail_load("has an inconsistent training state");
    }
    TrainingCheckpoint<T> checkpoint{.last = network,
                                     .first = network,
                                     .second = network,
                                     .steps = steps,
                                     .learning_rate = learning_rate,
                                     .stale_epochs = stale_epochs};
    assign(checkpoint.last, last, "training-state weight");
    assign(checkpoint.first, first, "Adam first-moment");
    assign(checkpoint.second, second, "Adam second-moment");
    return checkpoint;
  }
};

// A TransformerAutoencoder's fields in file order, and the checks of a loaded
// file; a friend of the model, which calls it from serialize().
struct ModelFile {
  template <class Archive, class Model>
  static void archive(Archive& archive, Model& model, std::uint32_t version) {
    using T = typename Model::scalar_type;
    archive_params(archive, model.params_, version, model.contamination());
    Index features = model.n_features();
    std::vector<Matrix<T>> weights;
    std::vector<double> training, validation;
    bool has_checkpoint = model.checkpoint_.has_value();
    // Before fit, an unfitted scaler carries the scaling choice.
    std::optional<WindowScaler<T>> scaler = model.scaler_;
    if (!model.fitted_ && model.params_.scaling) scaler.emplace(*model.params_.scaling);
    StoredCheckpoint<T> saved;
    if constexpr (!Archive::is_loading::value) {
      if (model.fitted_) weights = flatten(model.network_);
      for (const auto& epoch : model.history_) {
        training.push_back(epoch.training);
        validation.push_back(epoch.validation);
      }
      if (has_checkpoint) saved = StoredCheckpoint<T>::from(*model.checkpoint_);
    }
    archive(cereal::make_nvp("fitted", model.fitted_), cereal::make_nvp("features", features),
            cereal::make_nvp("schema", model.schema_), cereal::make_nvp("threshold", model.threshold_),
            cereal::make_nvp("best_epoch", model.best_epoch_), cereal::make_nvp("training_loss", training),
            cereal::make_nvp("validation_loss", validation), cereal::make_nvp("weights", weights),
            cereal::make_nvp("has_training_state", has_checkpoint), cereal::make_nvp("scaler", scaler));
    if (has_checkpoint) saved.archive(archive);
    if constexpr (Archive::is_loading::value) {
      restore(model, features, weights, training, validation);
      restore_scaler(model, std::move(scaler), features);
      if (has_checkpoint) {
        if (!model.fitted_) fail_load("is not fitted but holds a training state");
        model.checkpoint_ = saved.restore(model.network_, model.params_.patience);
      }
    }
  }

 private:
  // Checks what was read and rebuilds the network from it.
  template <class Model, Scalar T>
  static void restore(Model& model, Index features, const std::vector<Matrix<T>>& weights,
                      const std::vector<double>& training, const std::vector<double>& validation) {
    try {
      model.params_.validate("load: TransformerAutoencoder");
    } catch (const invalid_argument& bad) {
      throw serialization_error(bad.what());
    }
    const Index best_epoch = model.best_epoch_, window = model.params_.window;
    if (training.size() != validation.size() || (model.fitted_ && training.empty()) ||
        (!training.empty() && (best_epoch < 0 || best_epoch >= static_cast<Index>(training.size())))) {
      fail_load("has an inconsistent training history");
    }
    if (!model.fitted_) {
      if (!weights.empty() || !model.schema_.empty()) fail_load("is not fitted but holds weights or a schema");
      return;
    }
    // Divided, not multiplied: a file's window times its features can overflow.
    if (features < 1 || model.schema_.size() % window != 0 || model.schema_.size() / window != features) {
      fail_load("has " + std::to_string(features) + " features and " + std::to_string(model.schema_.size()) +
                " columns, expected window * features = " + std::to_string(window) + " * features columns");
    }
    if (!std::isfinite(static_cast<double>(model.threshold_))) fail_load("has a non-finite threshold");
    check_weight_count(model.shape(features), weights);
    Random unused(0);  // every weight is overwritten below
    model.network_ = nn::TransformerNetwork<T>(model.shape(features), unused);
    assign(model.network_, weights, "weight");
    model.history_.clear();
    for (std::size_t e = 0; e < training.size(); ++e) model.history_.push_back({training[e], validation[e]});
  }

  // The scaler must fit the network's window and features; Params::scaling mirrors it.
  template <class Model, Scalar T>
  static void restore_scaler(Model& model, std::optional<WindowScaler<T>> scaler, Index features) {
    const Index window = model.params_.window;
    model.params_.scaling.reset();
    if (!scaler) return;
    model.params_.scaling = scaler->params();
    if (!model.fitted_ && !scaler->is_fitted()) return;
    if (!model.fitted_ || scaler->window() != window || scaler->features() != features) {
      fail_load("holds a scaler for " + std::to_string(scaler->window()) + " positions x " +
                std::to_string(scaler->features()) + " features, the network takes " + std::to_string(window) + " x " +
                std::to_string(model.fitted_ ? features : 0));
    }
    model.scaler_ = std::move(scaler);
  }
};

}  // namespace redflag::detail::autoencoder
