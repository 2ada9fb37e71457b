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
// validation split. With Params::scaling set, a WindowScaler fitted on the
// training windows is part of the model and every input is scaled by it first
// (for OHLCV bars: window-anchored log prices, centred log volumes, then
// standardisation — see redflag/timeseries/window_scaling.hpp); without it,
// inputs are used as given.
//
// Detector semantics as everywhere in redflag: anomaly_score is the window's
// mean squared error, predict flags windows scoring at or above threshold().
// fit() sets the threshold to the (1 - contamination) quantile of the fitted
// windows' scores; fit_threshold() replaces it by the Youden's J threshold on
// labelled windows (a validation segment, never the test segment). explain()
// splits each window's score over its columns (core/explanation.hpp).
//
// File format 2 no longer stores n_jobs (a property of the host, not of the
// model) and stores contamination as auto or a fraction; format 1 files load.

#include <redflag/core/concepts.hpp>
#include <redflag/core/error.hpp>
#include <redflag/core/explanation.hpp>
#include <redflag/core/parallel.hpp>
#include <redflag/core/random.hpp>
#include <redflag/core/schema.hpp>
#include <redflag/core/serialization.hpp>
#include <redflag/core/types.hpp>
#include <redflag/core/validation.hpp>
#include <redflag/metrics/thresholds.hpp>
#include <redflag/nn/adam.hpp>
#include <redflag/nn/detail/autoencoder_serialization.hpp>
#include <redflag/nn/detail/autoencoder_trainer.hpp>
#include <redflag/nn/transformer_network.hpp>
#include <redflag/timeseries/window_scaling.hpp>

#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace redflag {

template <Scalar T>
class TransformerAutoencoder {
 public:
  using scalar_type = T;
  using Network = nn::TransformerNetwork<T>;
  static constexpr std::string_view model_type = "TransformerAutoencoder";
  static constexpr std::uint32_t format_version = 2;

  // A batch's buffers are sized up front; the cap keeps a model file's
  // batch_size from asking for more memory than any real batch needs.
  static constexpr Index max_batch_size = Index{1} << 20;

  struct Params {
    Index window = 60;  // positions per window
    Index d_model = 64;
    Index heads = 8;  // must divide d_model
    Index encoder_layers = 3;
    Index decoder_layers = 3;
    Index ffn = 128;        // hidden width of the feed-forward networks
    Index batch_size = 32;  // at most max_batch_size
    Index epochs = 50;
    double learning_rate = 1e-3;
    double decay = 1.0;      // learning rate multiplied by this after every epoch
    double clip_norm = 1.0;  // global gradient-norm clip; 0 = none
    Index patience = 5;      // epochs without a better validation loss before stopping
    // The last validation_fraction of the windows (in input order, so a
    // time-ordered input validates on the most recent windows) is held out for
    // early stopping; 0 = no hold-out, the training loss is monitored instead.
    double validation_fraction = 0.1;
    // Fraction of the fitted windows expected to be anomalous, in (0, 0.5]:
    // fit() sets the threshold to the (1 - contamination) quantile of their
    // scores. auto = 0.01.
    Contamination contamination = Auto{};
    // Keep the optimiser's state (Adam's moments, the last epoch's weights,
    // the early-stopping counters) in the model and its file, so resume() can
    // continue training. Triples the file size; off for models that only score.
    bool keep_training_state = false;
    // How windows are scaled before the network sees them (fitted on the
    // training windows, stored in the model); none = inputs used as given.
    std::optional<typename WindowScaler<T>::Params> scaling = std::nullopt;
    std::uint64_t random_state = 0;
    int n_jobs = 1;  // threads over each batch; results are the same for any value; not saved

    // Throws invalid_argument naming the first field out of its range. Called
    // by the constructor and again by fit and resume.
    void validate(std::string_view where = "TransformerAutoencoder::Params::validate") const {
      TransformerAutoencoder::check_params(*this, where);
    }
  };

  // What contamination = auto means here.
  static constexpr double auto_contamination = 0.01;

  // Mean squared reconstruction error after each epoch.
  struct EpochLosses {
    double training = 0.0;    // mean over the epoch's batches, weighted by batch size
    double validation = 0.0;  // on the held-out windows (the training loss when there are none)
  };

  TransformerAutoencoder() = default;
  explicit TransformerAutoencoder(Params params) : params_(std::move(params)) {
    params_.validate("TransformerAutoencoder::TransformerAutoencoder");
  }

  // Fits on `windows` (see the layout above; the feature count is
  // windows.cols() / window). On any error the model is left as it was.
  TransformerAutoencoder& fit(const MatrixRef<T>& windows) {
    constexpr std::string_view where = "TransformerAutoencoder::fit";
    params_.validate(where);
    const Index features = detail::autoencoder::check_training_windows(settings(), windows, where);
    std::optional<WindowScaler<T>> scaler;
    if (params_.scaling) {
      scaler.emplace(*params_.scaling);
      scaler->fit(windows.topRows(windows.rows() - detail::autoencoder::validation_windows(settings(), windows.rows())),
                  features);
    }
    const Matrix<T> scaled = scaler ? scaler->transform(windows) : Matrix<T>();
    const MatrixRef<T> input = scaler ? MatrixRef<T>(scaled) : windows;
    Random init = Random::stream(params_.random_state, 0);
    Network network(shape(features), init);
    TrainingRun run{.adam = Adam(network, adam_params()),
                    .best = network,
                    .last = std::move(network),
                    .history = {},
                    .best_loss = std::numeric_limits<double>::infinity(),
                    .best_epoch = 0,
                    .stale_epochs = 0};
    detail::autoencoder::train(settings(), input, run, params_.epochs, where);
    commit(std::move(run), input, std::move(scaler));
    return *this;
  }

  // fit(windows) for windows whose positions have the columns `columns`
  // (open, high, low, close, volume for bars): the model's schema then names
  // each window column "<column>@<position>" (close@0 ... close@59), so schema
  // checks and explain() speak the series' names. Throws schema_mismatch
  // unless windows.cols() is window x columns.size().
  TransformerAutoencoder& fit(const MatrixRef<T>& windows, const Schema& columns) {
    constexpr std::string_view where = "TransformerAutoencoder::fit";
    if (columns.empty() || windows.cols() != params_.window * columns.size()) {
      detail::raise<schema_mismatch>(where, "windows have " + std::to_string(windows.cols()) + " columns, expected " +
                                                std::to_string(params_.window) + " positions x " +
                                                std::to_string(columns.size()) + " columns (" + columns.describe() +
                                                ")");
    }
    fit(windows);
    schema_ = window_schema(columns, params_.window);
    return *this;
  }

  // The schema of windows of `positions` positions of `columns`: "<column>@<position>", position-major.
  [[nodiscard]] static Schema window_schema(const Schema& columns, Index positions) {
    std::vector<Column> named;
    named.reserve(static_cast<std::size_t>(positions * columns.size()));
    for (Index t = 0; t < positions; ++t) {
      for (const Column& column : columns) named.push_back({column.name + "@" + std::to_string(t), column.kind});
    }
    return Schema(std::move(named));
  }

  // Continues a fit whose training state was kept (keep_training_state) on
  // the same windows, up to `epochs` epochs in all: the result is bit for bit
  // the model fit() would have trained with params.epochs = epochs — also
  // after a save and load in between. A fit that stopped early stays stopped
  // (the uninterrupted run would have stopped there too).
  TransformerAutoencoder& resume(const MatrixRef<T>& windows, Index epochs) {
    constexpr std::string_view where = "TransformerAutoencoder::resume";
    if (!fitted_) detail::raise<not_fitted>(where, "call fit() first");
    params_.validate(where);
    if (!checkpoint_) {
      detail::raise<invalid_argument>(where,
                                      "the model holds no training state; fit it with keep_training_state = "
                                      "true to resume training later");
    }
    const auto done = static_cast<Index>(history_.size());
    detail::require_parameter(epochs >= done, where, "epochs",
                              ">= the " + std::to_string(done) + " epochs already trained", epochs);
    schema_.require_columns(windows.cols(), where);
    detail::autoencoder::check_training_windows(settings(), windows, where);
    TrainingRun run{.adam = Adam(adam_params(), checkpoint_->learning_rate, checkpoint_->steps, checkpoint_->first,
                                 checkpoint_->second),
                    .best = network_,
                    .last = checkpoint_->last,
                    .history = history_,
                    .best_loss = history_[static_cast<std::size_t>(best_epoch_)].validation,
                    .best_epoch = best_epoch_,
                    .stale_epochs = checkpoint_->stale_epochs};
    const Matrix<T> scaled = scaler_ ? scaler_->transform(windows) : Matrix<T>();
    const MatrixRef<T> input = scaler_ ? MatrixRef<T>(scaled) : windows;
    detail::autoencoder::train(settings(), input, run, epochs, where);
    params_.epochs = epochs;
    commit(std::move(run), input, scaler_);
    return *this;
  }

  // Mean squared reconstruction error of each window (one per row).
  [[nodiscard]] Vector<T> anomaly_score(const MatrixRef<T>& windows) const {
    check_input(windows, "TransformerAutoencoder::anomaly_score");
    return with_model_input(windows, [&](const MatrixRef<T>& input) { return window_errors(network_, input); });
  }

  // Also checks that `schema` names the columns the model was fitted on.
  [[nodiscard]] Vector<T> anomaly_score(const MatrixRef<T>& windows, const Schema& schema) const {
    constexpr std::string_view where = "TransformerAutoencoder::anomaly_score";
    if (!fitted_) detail::raise<not_fitted>(where, "call fit() first");
    schema_.require_same(schema, where);
    return anomaly_score(windows);
  }

  // anomaly_score - threshold(): non-negative for flagged windows.
  [[nodiscard]] Vector<T> decision_function(const MatrixRef<T>& windows) const {
    return anomaly_score(windows).array() - threshold_;
  }

  // 1 for windows scoring at or above threshold(), else 0.
  [[nodiscard]] LabelVector predict(const MatrixRef<T>& windows) const {
    return detail::flag_anomalies(anomaly_score(windows), threshold_);
  }

  [[nodiscard]] T threshold() const {
    if (!fitted_) detail::raise<not_fitted>("TransformerAutoencoder::threshold", "call fit() first");
    return threshold_;
  }

  void set_threshold(T threshold) {
    constexpr std::string_view where = "TransformerAutoencoder::set_threshold";
    if (!fitted_) detail::raise<not_fitted>(where, "call fit() first");
    if (!std::isfinite(static_cast<double>(threshold))) {
      detail::raise<invalid_argument>(
          where, "threshold must be finite, got " + detail::format_number(static_cast<double>(threshold)));
    }
    threshold_ = threshold;
  }

  // Sets the threshold maximising Youden's J (TPR - FPR) on labelled windows
  // (1 = anomalous) and returns it with its TPR and FPR. Choose it on a
  // validation segment; the test segment must stay unseen.
  YoudenThreshold fit_threshold(const MatrixRef<T>& windows, LabelsRef labels) {
    constexpr std::string_view where = "TransformerAutoencoder::fit_threshold";
    check_input(windows, where);
    if (labels.size() != windows.rows()) {
      detail::raise<invalid_argument>(
          where, "got " + std::to_string(labels.size()) + " labels for " + std::to_string(windows.rows()) + " windows");
    }
    const YoudenThreshold best = youden_j_threshold(
        labels, with_model_input(windows, [&](const MatrixRef<T>& input) { return window_errors(network_, input); }));
    threshold_ = static_cast<T>(best.threshold);
    return best;
  }

  // The network's reconstruction of each window, in the input layout — of
  // the scaled windows when the model scales (scaled_input() gives those).
  [[nodiscard]] Matrix<T> reconstruct(const MatrixRef<T>& windows) const {
    check_input(windows, "TransformerAutoencoder::reconstruct");
    return with_model_input(windows, [&](const MatrixRef<T>& input) { return reconstruction(input); });
  }

  // The windows as the network sees them: scaled, or a copy when the model does not scale.
  [[nodiscard]] Matrix<T> scaled_input(const MatrixRef<T>& windows) const {
    check_input(windows, "TransformerAutoencoder::scaled_input");
    return scaler_ ? scaler_->transform(windows) : Matrix<T>(windows);
  }

  // Each column's share of each window's score: column j's squared
  // reconstruction error (of the scaled input when the model scales) over the
  // column count, so a row's contributions add up to its anomaly_score and
  // expected_value is 0 (core/explanation.hpp).
  [[nodiscard]] Explanation<T> explain(const MatrixRef<T>& windows) const {
    check_input(windows, "TransformerAutoencoder::explain");
    Explanation<T> result;
    result.feature_names = schema_.names();
    result.expected_value = T(0);
    result.contributions = with_model_input(windows, [&](const MatrixRef<T>& input) {
      Matrix<T> residual = reconstruction(input) - input;
      return Matrix<T>(residual.array().square() / static_cast<T>(windows.cols()));
    });
    result.scores = anomaly_score(windows);
    return result;
  }

  // explain(X).importances(), as everywhere (core/explanation.hpp).
  [[nodiscard]] Vector<T> feature_importances(const MatrixRef<T>& windows) const {
    return explain(windows).importances();
  }

  // Reconstruction error of every position of every window (windows x
  // window): the squared error averaged over the features. A row's mean is
  // the window's anomaly_score.
  [[nodiscard]] Matrix<T> timestep_errors(const MatrixRef<T>& windows) const {
    check_input(windows, "TransformerAutoencoder::timestep_errors");
    const Matrix<T> input = scaled_input(windows);
    const Matrix<T> residual = reconstruction(input) - input;
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
  [[nodiscard]] Index window() const noexcept { return params_.window; }
  [[nodiscard]] Index n_features() const noexcept { return fitted_ ? network_.features() : 0; }
  [[nodiscard]] const Network& network() const noexcept { return network_; }
  [[nodiscard]] const std::vector<EpochLosses>& history() const noexcept { return history_; }
  // Index in history() of the epoch whose weights were kept: the lowest validation loss.
  [[nodiscard]] Index best_epoch() const noexcept { return best_epoch_; }
  // The fitted scaler, when Params::scaling is set.
  [[nodiscard]] const std::optional<WindowScaler<T>>& scaler() const noexcept { return scaler_; }
  [[nodiscard]] bool has_training_state() const noexcept { return checkpoint_.has_value(); }
  // Drops the training state (a model that will only score, in a smaller file).
  void drop_training_state() noexcept { checkpoint_.reset(); }

  // Params, weights, threshold, schema, training history and (when kept) the
  // training state, for redflag::save / load. A loaded model scores bit for
  // bit like the saved one.
  template <class Archive>
  void serialize(Archive& archive, std::uint32_t version) {
    detail::check_format_version(model_type, version, format_version);
    if constexpr (Archive::is_loading::value) {
      // Load into a fresh model so a rejected file leaves *this untouched.
      TransformerAutoencoder loaded;
      detail::autoencoder::ModelFile::archive(archive, loaded, version);
      *this = std::move(loaded);
    } else {
      detail::autoencoder::ModelFile::archive(archive, *this, version);
    }
  }

 private:
  friend struct detail::autoencoder::ModelFile;  // reads and writes the fields below
  using Adam = nn::Adam<Network>;
  using TrainingRun = detail::autoencoder::TrainingRun<T, EpochLosses>;
  using Checkpoint = detail::autoencoder::TrainingCheckpoint<T>;

  [[nodiscard]] nn::TransformerShape shape(Index features) const {
    return {.features = features,
            .window = params_.window,
            .d_model = params_.d_model,
            .heads = params_.heads,
            .encoder_layers = params_.encoder_layers,
            .decoder_layers = params_.decoder_layers,
            .ffn = params_.ffn};
  }

  [[nodiscard]] nn::AdamParams adam_params() const {
    return {.learning_rate = params_.learning_rate, .decay = params_.decay, .clip_norm = params_.clip_norm};
  }

  [[nodiscard]] detail::autoencoder::TrainingSettings settings() const {
    return {.window = params_.window,
            .batch_size = params_.batch_size,
            .epochs = params_.epochs,
            .learning_rate = params_.learning_rate,
            .clip_norm = params_.clip_norm,
            .patience = params_.patience,
            .validation_fraction = params_.validation_fraction,
            .random_state = params_.random_state,
            .n_jobs = params_.n_jobs};
  }

  // Installs a finished training run: best weights, threshold, training state.
  void commit(TrainingRun&& run, const MatrixRef<T>& windows, std::optional<WindowScaler<T>> scaler) {
    const T threshold = static_cast<T>(contamination_threshold(window_errors(run.best, windows), contamination()));
    std::optional<Checkpoint> checkpoint;
    if (params_.keep_training_state) {
      checkpoint = Checkpoint{.last = std::move(run.last),
                              .first = run.adam.first_moment(),
                              .second = run.adam.second_moment(),
                              .steps = run.adam.steps(),
                              .learning_rate = run.adam.learning_rate(),
                              .stale_epochs = run.stale_epochs};
    }
    network_ = std::move(run.best);
    history_ = std::move(run.history);
    best_epoch_ = run.best_epoch;
    threshold_ = threshold;
    scaler_ = std::move(scaler);
    checkpoint_ = std::move(checkpoint);
    schema_ = Schema::numeric(windows.cols());
    fitted_ = true;
  }

  // f(the windows as the network sees them).
  template <class F>
  decltype(auto) with_model_input(const MatrixRef<T>& windows, F&& f) const {
    if (!scaler_) return f(windows);
    const Matrix<T> scaled = scaler_->transform(windows);
    return f(MatrixRef<T>(scaled));
  }

  [[nodiscard]] Vector<T> window_errors(const Network& network, const MatrixRef<T>& windows) const {
    return detail::autoencoder::window_errors(settings(), network, windows);
  }

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
    require_parameter(p.batch_size >= 1 && p.batch_size <= max_batch_size, where, "batch_size",
                      "in [1, " + std::to_string(max_batch_size) + "]", p.batch_size);
    require_parameter(p.epochs >= 1, where, "epochs", ">= 1", p.epochs);
    require_parameter(std::isfinite(p.learning_rate) && p.learning_rate > 0, where, "learning_rate",
                      "positive and finite", p.learning_rate);
    require_parameter(p.decay > 0 && p.decay <= 1, where, "decay", "in (0, 1]", p.decay);
    require_parameter(std::isfinite(p.clip_norm) && p.clip_norm >= 0, where, "clip_norm", ">= 0 and finite",
                      p.clip_norm);
    require_parameter(p.patience >= 1, where, "patience", ">= 1", p.patience);
    require_parameter(p.validation_fraction >= 0 && p.validation_fraction < 1, where, "validation_fraction",
                      "in [0, 1)", p.validation_fraction);
    detail::require_contamination(p.contamination, where);
    resolve_n_jobs(p.n_jobs, where);
  }

  [[nodiscard]] double contamination() const {
    const auto* fraction = std::get_if<double>(&params_.contamination);
    return fraction != nullptr ? *fraction : auto_contamination;
  }

  [[nodiscard]] Matrix<T> reconstruction(const MatrixRef<T>& windows) const {
    Matrix<T> result(windows.rows(), windows.cols());
    const Index window = params_.window, features = network_.features();
    // Window by window, so memory does not grow with the number of windows;
    // each window's result is independent of the chunking and of n_jobs.
    parallel_for(static_cast<std::size_t>(windows.rows()), params_.n_jobs,
                 [&](std::size_t begin, std::size_t end) {
                   typename Network::Workspace work;
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

  Params params_;
  Network network_;
  std::vector<EpochLosses> history_;
  Index best_epoch_ = 0;
  T threshold_ = T(0);
  std::optional<WindowScaler<T>> scaler_;
  std::optional<Checkpoint> checkpoint_;
  Schema schema_;
  bool fitted_ = false;
};

}  // namespace redflag
