#pragma once

// TransformerAutoencoder's training loop (nn/transformer_autoencoder.hpp):
// epochs of shuffled mini-batches with Adam on the mean squared
// reconstruction error, the loss on the held-out windows after each epoch,
// and early stopping that keeps the weights of the best validation epoch.
//
// A run is resumable: everything the loop carries from epoch to epoch is in
// TrainingRun, and each epoch's shuffle draws from its own random stream, so
// continuing a run from a TrainingCheckpoint gives bit for bit the weights an
// uninterrupted run would have.

#include <redflag/core/error.hpp>
#include <redflag/core/random.hpp>
#include <redflag/core/types.hpp>
#include <redflag/core/validation.hpp>
#include <redflag/nn/adam.hpp>
#include <redflag/nn/module.hpp>
#include <redflag/nn/transformer_network.hpp>
#include <redflag/nn/window_batches.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <numeric>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace redflag::detail::autoencoder {

// The TransformerAutoencoder::Params fields the loop reads: a plain struct, so
// the loop does not depend on the model class.
struct TrainingSettings {
  Index window = 0;
  Index batch_size = 0;
  Index epochs = 0;  // the run's planned epochs, named in the divergence error
  double learning_rate = 0.0;
  double clip_norm = 0.0;
  Index patience = 0;
  double validation_fraction = 0.0;
  std::uint64_t random_state = 0;
  int n_jobs = 1;
};

// What training carries from epoch to epoch. Losses is the model's
// EpochLosses (training and validation loss of one epoch).
template <Scalar T, class Losses>
struct TrainingRun {
  using Network = nn::TransformerNetwork<T>;
  nn::Adam<Network> adam;
  Network best;  // weights of the best validation epoch so far
  Network last;  // weights after the last epoch
  std::vector<Losses> history;
  double best_loss = std::numeric_limits<double>::infinity();
  Index best_epoch = 0;
  Index stale_epochs = 0;  // epochs since the best one
};

// The part of a finished run that the model keeps (keep_training_state) so
// resume() can continue it; the best weights are the model's own.
template <Scalar T>
struct TrainingCheckpoint {
  using Network = nn::TransformerNetwork<T>;
  Network last;
  Network first;  // Adam's moments
  Network second;
  std::int64_t steps = 0;
  double learning_rate = 0.0;
  Index stale_epochs = 0;
};

// The windows held out for early stopping: the last validation_fraction of n
// (at least one when the fraction is positive).
[[nodiscard]] inline Index validation_windows(const TrainingSettings& settings, Index n) {
  return settings.validation_fraction > 0
             ? std::max<Index>(1,
                               static_cast<Index>(std::llround(settings.validation_fraction * static_cast<double>(n))))
             : 0;
}

// Checks the layout and size of training windows; returns the feature count.
template <Scalar T>
Index check_training_windows(const TrainingSettings& settings, const MatrixRef<T>& windows, std::string_view where) {
  const Index window = settings.window;
  if (windows.cols() < window || windows.cols() % window != 0) {
    raise<invalid_argument>(where,
                            "windows must have window * features columns, a positive multiple of "
                            "window = " +
                                std::to_string(window) + ", got " + std::to_string(windows.cols()));
  }
  require_finite(windows, where, "windows");
  const Index n_validation = validation_windows(settings, windows.rows());
  if (windows.rows() - n_validation < 1) {
    raise<data_error>(where, "needs at least " + std::to_string(n_validation + 1) + " windows (" +
                                 std::to_string(n_validation) +
                                 " held out for validation_fraction = " + format_number(settings.validation_fraction) +
                                 "), got " + std::to_string(windows.rows()));
  }
  return windows.cols() / window;
}

// Each window's mean squared error under `network`, batch by batch.
template <Scalar T>
[[nodiscard]] Vector<T> window_errors(const TrainingSettings& settings, const nn::TransformerNetwork<T>& network,
                                      const MatrixRef<T>& windows) {
  const Index batch_size = settings.batch_size;
  Vector<T> scores(windows.rows());
  nn::WindowBatches<T> batches(network, std::max<Index>(1, std::min(batch_size, windows.rows())), false);
  std::vector<Index> indices(static_cast<std::size_t>(windows.rows()));
  std::iota(indices.begin(), indices.end(), Index{0});
  for (Index start = 0; start < windows.rows(); start += batch_size) {
    const auto size = static_cast<std::size_t>(std::min(batch_size, windows.rows() - start));
    batches.run(network, windows, std::span<const Index>(indices.data() + start, size), settings.n_jobs, nullptr,
                std::span<T>(scores.data() + start, size));
  }
  return scores;
}

[[noreturn]] inline void raise_diverged(const TrainingSettings& settings, Index epoch, std::string_view loss,
                                        std::string_view where) {
  raise<training_error>(where, "the " + std::string(loss) + " loss became NaN or infinite in epoch " +
                                   std::to_string(epoch + 1) + " of " + std::to_string(settings.epochs) +
                                   "; training diverged — try a lower learning_rate (now " +
                                   format_number(settings.learning_rate) + ")" +
                                   (settings.clip_norm > 0 ? std::string() : std::string(" or set clip_norm")));
}

// Epochs run.history.size() .. epochs - 1, unless early stopping ends them first.
template <Scalar T, class Losses>
void train(const TrainingSettings& settings, const MatrixRef<T>& windows, TrainingRun<T, Losses>& run, Index epochs,
           std::string_view where) {
  using Network = nn::TransformerNetwork<T>;
  const Index batch_size = settings.batch_size;
  const Index n = windows.rows();
  const Index n_validation = validation_windows(settings, n);
  const Index n_training = n - n_validation;
  const Network& shape_source = run.last;
  Network gradient = nn::zeros_like(shape_source);
  // Never more windows per batch than there are: buffers sized by what runs.
  const Index capacity = std::max<Index>(1, std::min(batch_size, std::max(n_training, n_validation)));
  nn::WindowBatches<T> batches(shape_source, capacity, true);
  const double cells_per_window = static_cast<double>(windows.cols());
  std::vector<Index> order(static_cast<std::size_t>(n_training));
  std::vector<Index> validation(static_cast<std::size_t>(n_validation));
  std::iota(validation.begin(), validation.end(), n_training);

  for (auto epoch = static_cast<Index>(run.history.size()); epoch < epochs && run.stale_epochs < settings.patience;
       ++epoch) {
    // Each epoch's shuffle has its own stream, so it depends on the seed and epoch alone.
    std::iota(order.begin(), order.end(), Index{0});
    Random shuffle = Random::stream(settings.random_state, static_cast<std::uint64_t>(epoch) + 1);
    for (Index i = n_training - 1; i > 0; --i) {
      std::swap(order[static_cast<std::size_t>(i)], order[static_cast<std::size_t>(shuffle.uniform_int(i + 1))]);
    }
    double training_error = 0.0;
    for (Index start = 0; start < n_training; start += batch_size) {
      const Index size = std::min(batch_size, n_training - start);
      const std::span<const Index> batch(order.data() + start, static_cast<std::size_t>(size));
      const double batch_error = batches.run(run.last, windows, batch, settings.n_jobs, &gradient);
      if (!std::isfinite(batch_error) || !nn::all_parameters_finite(gradient)) {
        raise_diverged(settings, epoch, "training", where);
      }
      training_error += batch_error;
      run.adam.step(run.last, gradient);
    }
    run.adam.end_epoch();
    Losses losses{.training = training_error / (static_cast<double>(n_training) * cells_per_window)};
    losses.validation = losses.training;
    if (n_validation > 0) {
      double validation_error = 0.0;
      for (Index start = 0; start < n_validation; start += batch_size) {
        const Index size = std::min(batch_size, n_validation - start);
        const std::span<const Index> part(validation.data() + start, static_cast<std::size_t>(size));
        validation_error += batches.run(run.last, windows, part, settings.n_jobs, nullptr);
      }
      losses.validation = validation_error / (static_cast<double>(n_validation) * cells_per_window);
    }
    if (!std::isfinite(losses.validation)) raise_diverged(settings, epoch, "validation", where);
    run.history.push_back(losses);
    if (losses.validation < run.best_loss) {
      run.best_loss = losses.validation;
      run.best = run.last;
      run.best_epoch = epoch;
      run.stale_epochs = 0;
    } else {
      ++run.stale_epochs;
    }
  }
}

}  // namespace redflag::detail::autoencoder
