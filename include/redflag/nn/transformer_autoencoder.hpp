#pragma once

// TransformerAutoencoder: learns to reconstruct windows of a multivariate
// series and scores each window by its reconstruction error — windows unlike
// those seen in training reconstruct badly.
//
// Input layout: one row per window, window * features values per row,
// position-major: column t * features + f holds feature f at position t of
// the window. (A row is then exactly a window x features row-major matrix.)
//
// The network (nn::TransformerNetwork) is an input embedding with sinusoidal
// positions, encoder and decoder stacks of self-attention + feed-forward
// blocks, and an output projection; it is trained with Adam on the mean
// squared reconstruction error over mini-batches, with early stopping on a
// validation split. Inputs are used as given: put features on comparable
// scales first (see redflag/preprocessing).

#include <redflag/core/eigen_cereal.hpp>
#include <redflag/core/error.hpp>
#include <redflag/core/parallel.hpp>
#include <redflag/core/random.hpp>
#include <redflag/core/schema.hpp>
#include <redflag/core/types.hpp>
#include <redflag/core/validation.hpp>
#include <redflag/nn/adam.hpp>
#include <redflag/nn/module.hpp>
#include <redflag/nn/transformer_network.hpp>
#include <redflag/nn/window_batches.hpp>

#include <cereal/cereal.hpp>
#include <cereal/types/vector.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace redflag {

template <Scalar T>
class TransformerAutoencoder {
 public:
  using scalar_type = T;
  static constexpr std::string_view model_type = "TransformerAutoencoder";
  static constexpr std::uint32_t format_version = 1;

  struct Params {
    Index window = 60;  // positions per window
    Index d_model = 64;
    Index heads = 8;  // must divide d_model
    Index encoder_layers = 3;
    Index decoder_layers = 3;
    Index ffn = 128;  // hidden width of the feed-forward networks
    Index batch_size = 32;
    Index epochs = 50;
    double learning_rate = 1e-3;
    double decay = 1.0;      // learning rate multiplied by this after every epoch
    double clip_norm = 1.0;  // global gradient-norm clip; 0 = none
    Index patience = 5;      // epochs without a better validation loss before stopping
    // The last validation_fraction of the windows (in input order, so a
    // time-ordered input validates on the most recent windows) is held out for
    // early stopping; 0 = no hold-out, the training loss is monitored instead.
    double validation_fraction = 0.1;
    std::uint64_t random_state = 0;
    int n_jobs = 1;  // threads over each batch; results are the same for any value
  };

  // Mean squared reconstruction error after each epoch.
  struct EpochLosses {
    double training = 0.0;    // mean over the epoch's batches, weighted by batch size
    double validation = 0.0;  // on the held-out windows (the training loss when there are none)
  };

  TransformerAutoencoder() = default;
  explicit TransformerAutoencoder(Params params) : params_(std::move(params)) {}

  // Fits on `windows` (see the layout above; the feature count is
  // windows.cols() / window). On any error the model is left as it was.
  TransformerAutoencoder& fit(const MatrixRef<T>& windows) {
    constexpr std::string_view where = "TransformerAutoencoder::fit";
    check_params(params_, where);
    const Index window = params_.window;
    if (windows.cols() < window || windows.cols() % window != 0) {
      detail::raise<invalid_argument>(where, "windows must have window * features columns, a positive multiple of "
                                             "window = " + std::to_string(window) + ", got " +
                                                 std::to_string(windows.cols()));
    }
    detail::require_finite(windows, where, "windows");
    const Index n = windows.rows();
    const Index n_validation =
        params_.validation_fraction > 0
            ? std::max<Index>(1, static_cast<Index>(std::llround(params_.validation_fraction * static_cast<double>(n))))
            : 0;
    const Index n_training = n - n_validation;
    if (n_training < 1) {
      detail::raise<data_error>(where, "needs at least " + std::to_string(n_validation + 1) + " windows (" +
                                           std::to_string(n_validation) + " held out for validation_fraction = " +
                                           detail::format_number(params_.validation_fraction) + "), got " +
                                           std::to_string(n));
    }

    const nn::TransformerShape shape{.features = windows.cols() / window,
                                     .window = window,
                                     .d_model = params_.d_model,
                                     .heads = params_.heads,
                                     .encoder_layers = params_.encoder_layers,
                                     .decoder_layers = params_.decoder_layers,
                                     .ffn = params_.ffn};
    Random init = Random::stream(params_.random_state, 0);
    nn::TransformerNetwork<T> network(shape, init);
    nn::Adam<nn::TransformerNetwork<T>> adam(
        network, {.learning_rate = params_.learning_rate, .decay = params_.decay, .clip_norm = params_.clip_norm});
    nn::TransformerNetwork<T> gradient = nn::zeros_like(network);
    nn::WindowBatches<T> batches(network, params_.batch_size, true);
    const double cells_per_window = static_cast<double>(window * shape.features);

    std::vector<Index> order(static_cast<std::size_t>(n_training));
    std::vector<Index> validation(static_cast<std::size_t>(n_validation));
    std::iota(validation.begin(), validation.end(), n_training);
    std::vector<EpochLosses> history;
    nn::TransformerNetwork<T> best = network;
    double best_loss = std::numeric_limits<double>::infinity();
    Index best_epoch = 0, epochs_without_improvement = 0;

    for (Index epoch = 0; epoch < params_.epochs; ++epoch) {
      // Each epoch's shuffle has its own stream, so it depends on the seed and epoch alone.
      std::iota(order.begin(), order.end(), Index{0});
      Random shuffle = Random::stream(params_.random_state, static_cast<std::uint64_t>(epoch) + 1);
      for (Index i = n_training - 1; i > 0; --i) {
        std::swap(order[static_cast<std::size_t>(i)], order[static_cast<std::size_t>(shuffle.uniform_int(i + 1))]);
      }
      double training_error = 0.0;
      for (Index start = 0; start < n_training; start += params_.batch_size) {
        const Index size = std::min(params_.batch_size, n_training - start);
        const std::span<const Index> batch(order.data() + start, static_cast<std::size_t>(size));
        const double batch_error = batches.run(network, windows, batch, params_.n_jobs, &gradient);
        if (!std::isfinite(batch_error) || !nn::all_parameters_finite(gradient)) {
          raise_diverged(epoch, "training", where);
        }
        training_error += batch_error;
        adam.step(network, gradient);
      }
      adam.end_epoch();
      EpochLosses losses{.training = training_error / (static_cast<double>(n_training) * cells_per_window)};
      losses.validation = losses.training;
      if (n_validation > 0) {
        double validation_error = 0.0;
        for (Index start = 0; start < n_validation; start += params_.batch_size) {
          const Index size = std::min(params_.batch_size, n_validation - start);
          const std::span<const Index> part(validation.data() + start, static_cast<std::size_t>(size));
          validation_error += batches.run(network, windows, part, params_.n_jobs, nullptr);
        }
        losses.validation = validation_error / (static_cast<double>(n_validation) * cells_per_window);
      }
      if (!std::isfinite(losses.validation)) raise_diverged(epoch, "validation", where);
      history.push_back(losses);
      if (losses.validation < best_loss) {
        best_loss = losses.validation;
        best = network;
        best_epoch = epoch;
        epochs_without_improvement = 0;
      } else if (++epochs_without_improvement >= params_.patience) {
        break;
      }
    }

    network_ = std::move(best);
    history_ = std::move(history);
    best_epoch_ = best_epoch;
    schema_ = Schema::numeric(windows.cols());
    fitted_ = true;
    return *this;
  }

  // Mean squared reconstruction error of each window (one per row).
  [[nodiscard]] Vector<T> anomaly_score(const MatrixRef<T>& windows) const {
    constexpr std::string_view where = "TransformerAutoencoder::anomaly_score";
    check_input(windows, where);
    Vector<T> scores(windows.rows());
    nn::WindowBatches<T> batches(network_, params_.batch_size, false);
    std::vector<Index> indices(static_cast<std::size_t>(windows.rows()));
    std::iota(indices.begin(), indices.end(), Index{0});
    for (Index start = 0; start < windows.rows(); start += params_.batch_size) {
      const auto size = static_cast<std::size_t>(std::min(params_.batch_size, windows.rows() - start));
      batches.run(network_, windows, std::span<const Index>(indices.data() + start, size), params_.n_jobs, nullptr,
                  std::span<T>(scores.data() + start, size));
    }
    return scores;
  }

  // The network's reconstruction of each window, in the input layout.
  [[nodiscard]] Matrix<T> reconstruct(const MatrixRef<T>& windows) const {
    check_input(windows, "TransformerAutoencoder::reconstruct");
    return reconstruction(windows);
  }

  // Reconstruction error of every position of every window (windows x
  // window): the squared error averaged over the features. A row's mean is
  // the window's anomaly_score.
  [[nodiscard]] Matrix<T> timestep_errors(const MatrixRef<T>& windows) const {
    check_input(windows, "TransformerAutoencoder::timestep_errors");
    const Matrix<T> residual = reconstruction(windows) - windows;
    Matrix<T> errors(windows.rows(), params_.window);
    const Index features = network_.features();
    for (Index r = 0; r < windows.rows(); ++r) {
      for (Index t = 0; t < params_.window; ++t) {
        errors(r, t) = residual.row(r).segment(t * features, features).squaredNorm() / static_cast<T>(features);
      }
    }
    return errors;
  }

  [[nodiscard]] bool is_fitted() const noexcept { return fitted_; }
  [[nodiscard]] const Params& params() const noexcept { return params_; }
  [[nodiscard]] const Schema& schema() const noexcept { return schema_; }
  [[nodiscard]] Index n_features() const noexcept { return fitted_ ? network_.features() : 0; }
  [[nodiscard]] const nn::TransformerNetwork<T>& network() const noexcept { return network_; }
  [[nodiscard]] const std::vector<EpochLosses>& history() const noexcept { return history_; }
  // Index in history() of the epoch whose weights were kept: the lowest validation loss.
  [[nodiscard]] Index best_epoch() const noexcept { return best_epoch_; }

  // Params, weights, schema and training history, for redflag::save / load.
  // A loaded model scores bit for bit like the saved one.
  template <class Archive>
  void serialize(Archive& archive, std::uint32_t version) {
    if constexpr (Archive::is_loading::value) {
      if (version > format_version) {
        throw serialization_error("redflag::load: TransformerAutoencoder format version " + std::to_string(version) +
                                  " is newer than this build supports (" + std::to_string(format_version) + ")");
      }
      // Load into a fresh model so a rejected file leaves *this untouched.
      TransformerAutoencoder loaded;
      loaded.archive_fields(archive);
      *this = std::move(loaded);
    } else {
      archive_fields(archive);
    }
  }

 private:
  static void check_params(const Params& p, std::string_view where) {
    using detail::require_parameter;
    require_parameter(p.window >= 1, where, "window", ">= 1", p.window);
    require_parameter(p.heads >= 1, where, "heads", ">= 1", p.heads);
    if (p.d_model < 1 || p.d_model % p.heads != 0) {
      detail::raise<invalid_argument>(where, "d_model must be a positive multiple of heads, got d_model = " +
                                                 std::to_string(p.d_model) + ", heads = " + std::to_string(p.heads));
    }
    require_parameter(p.encoder_layers >= 0, where, "encoder_layers", ">= 0", p.encoder_layers);
    require_parameter(p.decoder_layers >= 0, where, "decoder_layers", ">= 0", p.decoder_layers);
    require_parameter(p.ffn >= 1, where, "ffn", ">= 1", p.ffn);
    require_parameter(p.batch_size >= 1, where, "batch_size", ">= 1", p.batch_size);
    require_parameter(p.epochs >= 1, where, "epochs", ">= 1", p.epochs);
    require_parameter(std::isfinite(p.learning_rate) && p.learning_rate > 0, where, "learning_rate",
                      "positive and finite", p.learning_rate);
    require_parameter(p.decay > 0 && p.decay <= 1, where, "decay", "in (0, 1]", p.decay);
    require_parameter(std::isfinite(p.clip_norm) && p.clip_norm >= 0, where, "clip_norm", ">= 0 and finite",
                      p.clip_norm);
    require_parameter(p.patience >= 1, where, "patience", ">= 1", p.patience);
    require_parameter(p.validation_fraction >= 0 && p.validation_fraction < 1, where, "validation_fraction",
                      "in [0, 1)", p.validation_fraction);
    resolve_n_jobs(p.n_jobs, where);
  }

  template <class Archive>
  void archive_fields(Archive& archive) {
    Params& p = params_;
    archive(cereal::make_nvp("window", p.window), cereal::make_nvp("d_model", p.d_model),
            cereal::make_nvp("heads", p.heads), cereal::make_nvp("encoder_layers", p.encoder_layers),
            cereal::make_nvp("decoder_layers", p.decoder_layers), cereal::make_nvp("ffn", p.ffn),
            cereal::make_nvp("batch_size", p.batch_size), cereal::make_nvp("epochs", p.epochs),
            cereal::make_nvp("learning_rate", p.learning_rate), cereal::make_nvp("decay", p.decay),
            cereal::make_nvp("clip_norm", p.clip_norm), cereal::make_nvp("patience", p.patience),
            cereal::make_nvp("validation_fraction", p.validation_fraction),
            cereal::make_nvp("random_state", p.random_state), cereal::make_nvp("n_jobs", p.n_jobs));
    Index features = n_features();
    std::vector<Matrix<T>> weights;
    std::vector<double> training, validation;
    if constexpr (!Archive::is_loading::value) {
      if (fitted_) nn::visit_parameters([&](const Matrix<T>& m) { weights.push_back(m); }, network_);
      for (const EpochLosses& epoch : history_) {
        training.push_back(epoch.training);
        validation.push_back(epoch.validation);
      }
    }
    archive(cereal::make_nvp("fitted", fitted_), cereal::make_nvp("features", features),
            cereal::make_nvp("schema", schema_), cereal::make_nvp("best_epoch", best_epoch_),
            cereal::make_nvp("training_loss", training), cereal::make_nvp("validation_loss", validation),
            cereal::make_nvp("weights", weights));
    if constexpr (Archive::is_loading::value) restore(features, weights, training, validation);
  }

  // Checks what was read and rebuilds the network from it.
  void restore(Index features, const std::vector<Matrix<T>>& weights, const std::vector<double>& training,
               const std::vector<double>& validation) {
    const auto fail = [](const std::string& what) {
      throw serialization_error("redflag::load: TransformerAutoencoder " + what);
    };
    try {
      check_params(params_, "load: TransformerAutoencoder");
    } catch (const invalid_argument& bad) {
      throw serialization_error(bad.what());
    }
    if (training.size() != validation.size() || (fitted_ && training.empty()) ||
        (!training.empty() && (best_epoch_ < 0 || best_epoch_ >= static_cast<Index>(training.size())))) {
      fail("has an inconsistent training history");
    }
    if (!fitted_) {
      if (!weights.empty() || !schema_.empty()) fail("is not fitted but holds weights or a schema");
      return;
    }
    if (features < 1 || schema_.size() != params_.window * features) {
      fail("has " + std::to_string(features) + " features and " + std::to_string(schema_.size()) +
           " columns, expected window * features = " + std::to_string(params_.window) + " * features columns");
    }
    // Compare the parameter count the params imply with what is in the file
    // before building the network, so absurd sizes allocate nothing.
    const double d = static_cast<double>(params_.d_model), f = static_cast<double>(features);
    const double h = static_cast<double>(params_.ffn);
    const double per_block = 4 * d * d + 4 * d + 4 * d + 2 * d * h + h + d;
    const double expected = 2 * d * f + d + f +
                            static_cast<double>(params_.encoder_layers + params_.decoder_layers) * per_block;
    double stored = 0;
    for (const Matrix<T>& m : weights) stored += static_cast<double>(m.size());
    if (stored != expected) {
      fail("holds " + detail::format_number(stored) + " weights, its params need " + detail::format_number(expected));
    }
    const nn::TransformerShape shape{.features = features,
                                     .window = params_.window,
                                     .d_model = params_.d_model,
                                     .heads = params_.heads,
                                     .encoder_layers = params_.encoder_layers,
                                     .decoder_layers = params_.decoder_layers,
                                     .ffn = params_.ffn};
    Random unused(0);  // every weight is overwritten below
    network_ = nn::TransformerNetwork<T>(shape, unused);
    std::size_t k = 0;
    nn::visit_parameters(
        [&](Matrix<T>& m) {
          if (k == weights.size()) fail("holds fewer weight matrices than its params need");
          const Matrix<T>& stored_matrix = weights[k];
          if (stored_matrix.rows() != m.rows() || stored_matrix.cols() != m.cols() || !stored_matrix.allFinite()) {
            fail("weight matrix " + std::to_string(k) + " has the wrong shape or a non-finite value");
          }
          m = stored_matrix;
          ++k;
        },
        network_);
    if (k != weights.size()) fail("holds more weight matrices than its params need");
    history_.clear();
    for (std::size_t e = 0; e < training.size(); ++e) history_.push_back({training[e], validation[e]});
  }

  [[nodiscard]] Matrix<T> reconstruction(const MatrixRef<T>& windows) const {
    Matrix<T> result(windows.rows(), windows.cols());
    const Index window = params_.window, features = network_.features();
    // Window by window, so memory does not grow with the number of windows;
    // each window's result is independent of the chunking and of n_jobs.
    parallel_for(
        static_cast<std::size_t>(windows.rows()), params_.n_jobs,
        [&](std::size_t begin, std::size_t end) {
          typename nn::TransformerNetwork<T>::Workspace work;
          Matrix<T> input, output;
          for (auto r = static_cast<Index>(begin); r < static_cast<Index>(end); ++r) {
            input = Eigen::Map<const Matrix<T>>(windows.row(r).data(), window, features);
            network_.forward(input, work, output);
            result.row(r) = Eigen::Map<const Matrix<T>>(output.data(), 1, windows.cols());
          }
        },
        {.grain = 16});
    return result;
  }

  void check_input(const MatrixRef<T>& windows, std::string_view where) const {
    if (!fitted_) detail::raise<not_fitted>(where, "call fit() first");
    schema_.require_columns(windows.cols(), where);
    detail::require_finite(windows, where, "windows");
  }

  [[noreturn]] void raise_diverged(Index epoch, std::string_view loss, std::string_view where) const {
    detail::raise<invalid_argument>(
        where, "the " + std::string(loss) + " loss became NaN or infinite in epoch " + std::to_string(epoch + 1) +
                   " of " + std::to_string(params_.epochs) + "; training diverged — try a lower learning_rate (now " +
                   detail::format_number(params_.learning_rate) + ")" +
                   (params_.clip_norm > 0 ? std::string() : std::string(" or set clip_norm")));
  }

  Params params_;
  nn::TransformerNetwork<T> network_;
  std::vector<EpochLosses> history_;
  Index best_epoch_ = 0;
  Schema schema_;
  bool fitted_ = false;
};

}  // namespace redflag
