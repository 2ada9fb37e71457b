#include <redflag/core/random.hpp>
#include <redflag/core/serialization.hpp>
#include <redflag/nn/transformer_autoencoder.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <numbers>
#include <sstream>

using redflag::Index;
using redflag::Matrix;
using redflag::Random;
using redflag::TransformerAutoencoder;
using redflag::Vector;

namespace {

template <class T>
using Params = typename TransformerAutoencoder<T>::Params;

template <class T>
Params<T> tiny_params() {
  return {.window = 8,
          .d_model = 8,
          .heads = 2,
          .encoder_layers = 1,
          .decoder_layers = 1,
          .ffn = 16,
          .batch_size = 8,
          .epochs = 4,
          .learning_rate = 0.01,
          .random_state = 3};
}

// Windows of two features: sine and cosine of a random phase, plus a little noise.
template <class T>
Matrix<T> sine_windows(Index count, Index window, std::uint64_t seed) {
  Random random(seed);
  Matrix<T> X(count, window * 2);
  for (Index r = 0; r < count; ++r) {
    const double phase = random.uniform(0.0, 2 * std::numbers::pi);
    for (Index t = 0; t < window; ++t) {
      X(r, 2 * t) = static_cast<T>(std::sin(phase + 0.4 * static_cast<double>(t)) + 0.05 * random.normal());
      X(r, 2 * t + 1) = static_cast<T>(std::cos(phase + 0.4 * static_cast<double>(t)) + 0.05 * random.normal());
    }
  }
  return X;
}

template <class T>
bool same_weights(const TransformerAutoencoder<T>& a, const TransformerAutoencoder<T>& b) {
  bool equal = true;
  redflag::nn::visit_parameters(
      [&](const Matrix<T>& x, const Matrix<T>& y) {
        equal = equal && x.size() == y.size() &&
                std::memcmp(x.data(), y.data(), sizeof(T) * static_cast<std::size_t>(x.size())) == 0;
      },
      a.network(), b.network());
  return equal;
}

}  // namespace

TEST_CASE_TEMPLATE("TransformerAutoencoder learns to reconstruct and scores odd windows higher", T, float, double) {
  const Matrix<T> X = sine_windows<T>(40, 8, 1);
  Params<T> params = tiny_params<T>();
  params.epochs = 12;
  params.batch_size = 6;
  TransformerAutoencoder<T> model(params);
  model.fit(X);
  REQUIRE(model.is_fitted());
  CHECK(model.n_features() == 2);
  CHECK(model.schema().size() == 16);
  const auto& history = model.history();
  REQUIRE(!history.empty());
  CHECK(history.back().training < history.front().training / 2);

  // Score = mean squared error of the reconstruction, window by window.
  const Vector<T> scores = model.anomaly_score(X);
  const Matrix<T> reconstruction = model.reconstruct(X);
  for (Index r = 0; r < X.rows(); ++r) {
    CHECK(scores(r) == doctest::Approx((reconstruction.row(r) - X.row(r)).squaredNorm() / 16).epsilon(1e-4));
  }

  Matrix<T> odd = sine_windows<T>(8, 8, 2);
  for (Index r = 0; r < odd.rows(); ++r) odd(r, 2 * (r % 8)) += T(3);  // one spike per window
  const Vector<T> normal_scores = model.anomaly_score(sine_windows<T>(8, 8, 3));
  CHECK(model.anomaly_score(odd).minCoeff() > normal_scores.maxCoeff());

  // Per position: the row means are the window scores, and the spike's position stands out.
  const Matrix<T> errors = model.timestep_errors(odd);
  REQUIRE(errors.rows() == 8);
  REQUIRE(errors.cols() == 8);
  const Vector<T> odd_scores = model.anomaly_score(odd);
  for (Index r = 0; r < odd.rows(); ++r) {
    CHECK(errors.row(r).mean() == doctest::Approx(odd_scores(r)).epsilon(1e-4));
    Index worst = 0;
    errors.row(r).maxCoeff(&worst);
    CHECK(worst == r % 8);
  }
}

TEST_CASE("TransformerAutoencoder keeps the weights of its best validation epoch") {
  const Matrix<double> X = sine_windows<double>(24, 8, 4);
  Params<double> params = tiny_params<double>();
  params.epochs = 30;
  params.patience = 2;
  params.learning_rate = 0.05;
  params.validation_fraction = 0.25;
  TransformerAutoencoder<double> model(params);
  model.fit(X);
  const auto& history = model.history();
  const auto best = static_cast<std::size_t>(model.best_epoch());
  for (const auto& epoch : history) CHECK(history[best].validation <= epoch.validation);
  // Stopped `patience` epochs after the best one.
  CHECK(history.size() < 30);
  CHECK(history.size() == best + 1 + 2);
  // The held-out windows are the last 6; their mean score is the best epoch's validation loss.
  CHECK(model.anomaly_score(X.bottomRows(6)).mean() == doctest::Approx(history[best].validation).epsilon(1e-12));
}

TEST_CASE("TransformerAutoencoder is deterministic: same seed, same weights for any n_jobs") {
  const Matrix<float> X = sine_windows<float>(21, 8, 5);
  Params<float> params = tiny_params<float>();
  params.batch_size = 7;  // 19 training windows after a 2-window hold-out: batches of 7, 7 and 5
  TransformerAutoencoder<float> first(params), second(params), threaded(params);
  first.fit(X);
  second.fit(X);
  params.n_jobs = 3;
  threaded = TransformerAutoencoder<float>(params);
  threaded.fit(X);
  CHECK(same_weights(first, second));
  CHECK(same_weights(first, threaded));
  CHECK((first.anomaly_score(X).array() == threaded.anomaly_score(X).array()).all());
  params.random_state = 4;
  TransformerAutoencoder<float> other(params);
  other.fit(X);
  CHECK_FALSE(same_weights(first, other));
}

TEST_CASE("TransformerAutoencoder rejects bad parameters and bad input") {
  const Matrix<double> X = sine_windows<double>(10, 8, 6);
  const auto fit_with = [&](auto change) {
    Params<double> params = tiny_params<double>();
    change(params);
    TransformerAutoencoder<double>(params).fit(X);
  };
  CHECK_THROWS_WITH_AS(fit_with([](auto& p) { p.heads = 3; }),
                       doctest::Contains("d_model must be a positive multiple of heads, got d_model = 8, heads = 3"),
                       redflag::invalid_argument);
  CHECK_THROWS_AS(fit_with([](auto& p) { p.learning_rate = 0; }), redflag::invalid_argument);
  CHECK_THROWS_AS(fit_with([](auto& p) { p.validation_fraction = 1; }), redflag::invalid_argument);
  CHECK_THROWS_AS(fit_with([](auto& p) { p.n_jobs = 0; }), redflag::invalid_argument);
  CHECK_THROWS_WITH_AS(fit_with([](auto& p) { p.window = 5; }),
                       doctest::Contains("positive multiple of window = 5, got 16"), redflag::invalid_argument);

  TransformerAutoencoder<double> model(tiny_params<double>());
  CHECK_THROWS_AS((void)model.anomaly_score(X), redflag::not_fitted);
  CHECK_THROWS_WITH_AS(model.fit(X.topRows(1)), doctest::Contains("needs at least 2 windows"), redflag::data_error);
  Matrix<double> bad = X;
  bad(3, 5) = std::numeric_limits<double>::quiet_NaN();
  CHECK_THROWS_WITH_AS(model.fit(bad), doctest::Contains("windows has NaN at row 3, column 5"), redflag::data_error);
  CHECK_FALSE(model.is_fitted());

  model.fit(X);
  const Vector<double> before = model.anomaly_score(X);
  bad(3, 5) = std::numeric_limits<double>::infinity();
  CHECK_THROWS_AS(model.fit(bad), redflag::data_error);
  CHECK_THROWS_AS((void)model.anomaly_score(bad), redflag::data_error);
  CHECK_THROWS_AS((void)model.anomaly_score(X.leftCols(8)), redflag::schema_mismatch);
  CHECK_THROWS_WITH_AS((void)model.timestep_errors(X.leftCols(8)),
                       doctest::Contains("TransformerAutoencoder::timestep_errors"), redflag::schema_mismatch);
  CHECK_THROWS_AS((void)model.reconstruct(bad), redflag::data_error);
  CHECK((model.anomaly_score(X).array() == before.array()).all());  // the rejected fit changed nothing
}

TEST_CASE("TransformerAutoencoder stops with a clear error when the loss overflows") {
  // Squared errors of 1e20 overflow float: the loss is infinite in the first epoch.
  const Matrix<float> X = Matrix<float>::Constant(10, 16, 1e20f);
  Params<float> params = tiny_params<float>();
  params.clip_norm = 0;
  TransformerAutoencoder<float> model(params);
  CHECK_THROWS_WITH_AS(model.fit(X),
                       doctest::Contains("loss became NaN or infinite in epoch 1 of 4; training diverged — try a "
                                         "lower learning_rate (now 0.01) or set clip_norm"),
                       redflag::training_error);
  CHECK_FALSE(model.is_fitted());
}

TEST_CASE("TransformerAutoencoder is a Detector: contamination threshold, Youden's J, predict") {
  static_assert(redflag::Detector<TransformerAutoencoder<float>>);
  static_assert(redflag::Detector<TransformerAutoencoder<double>>);
  const Matrix<double> X = sine_windows<double>(40, 8, 11);
  Params<double> params = tiny_params<double>();
  params.contamination = 0.1;
  TransformerAutoencoder<double> model(params);
  CHECK_THROWS_AS(model.set_threshold(1.0), redflag::not_fitted);
  model.fit(X);
  // The threshold flags the top 10 % of the fitted windows' scores.
  const Vector<double> scores = model.anomaly_score(X);
  CHECK(model.threshold() == doctest::Approx(redflag::contamination_threshold(scores, 0.1)).epsilon(1e-15));
  const redflag::LabelVector flagged = model.predict(X);
  CHECK(flagged.sum() == 4);
  const Vector<double> decision = model.decision_function(X);
  for (Index r = 0; r < X.rows(); ++r) {
    CHECK(decision(r) == doctest::Approx(scores(r) - model.threshold()));
    CHECK(flagged(r) == (decision(r) >= 0 ? 1 : 0));
  }

  // Youden's J on labelled windows: spiked windows are the positives.
  Matrix<double> labelled = sine_windows<double>(20, 8, 12);
  redflag::LabelVector labels = redflag::LabelVector::Zero(20);
  for (Index r = 0; r < 20; r += 4) {
    labelled(r, 6) += 2.5;
    labels(r) = 1;
  }
  const redflag::YoudenThreshold youden = model.fit_threshold(labelled, labels);
  CHECK(model.threshold() == youden.threshold);
  CHECK(youden.j == doctest::Approx(youden.tpr - youden.fpr));
  CHECK(youden.tpr == 1.0);
  CHECK(youden.fpr == 0.0);
  CHECK((model.predict(labelled).array() == labels.array()).all());

  CHECK_THROWS_WITH_AS((void)model.fit_threshold(labelled, labels.head(5)), doctest::Contains("got 5 labels for 20"),
                       redflag::invalid_argument);
  CHECK_THROWS_AS(model.set_threshold(std::numeric_limits<double>::quiet_NaN()), redflag::invalid_argument);
  params.contamination = 0.6;
  CHECK_THROWS_WITH_AS(TransformerAutoencoder<double>(params).fit(X), doctest::Contains("contamination"),
                       redflag::invalid_argument);
}

TEST_CASE("TransformerAutoencoder resumes training bit for bit, also from a saved checkpoint") {
  const Matrix<float> X = sine_windows<float>(24, 8, 13);
  Params<float> params = tiny_params<float>();
  params.epochs = 6;
  params.patience = 100;
  params.decay = 0.9;
  TransformerAutoencoder<float> straight(params);
  straight.fit(X);

  params.epochs = 2;
  params.keep_training_state = true;
  TransformerAutoencoder<float> resumed(params);
  resumed.fit(X);
  REQUIRE(resumed.has_training_state());
  resumed.resume(X, 4);
  std::stringstream file;
  redflag::save(resumed, file);
  TransformerAutoencoder<float> reloaded = redflag::load<TransformerAutoencoder<float>>(file);
  REQUIRE(reloaded.has_training_state());
  reloaded.resume(X, 6);
  CHECK(reloaded.history().size() == 6);
  CHECK(reloaded.params().epochs == 6);
  CHECK(same_weights(straight, reloaded));
  CHECK(reloaded.threshold() == straight.threshold());
  CHECK(reloaded.history().back().validation == straight.history().back().validation);

  // Without the state there is nothing to resume from; fewer epochs than done is refused.
  CHECK_THROWS_WITH_AS(straight.resume(X, 8), doctest::Contains("keep_training_state = true"),
                       redflag::invalid_argument);
  CHECK_THROWS_WITH_AS(reloaded.resume(X, 5), doctest::Contains(">= the 6 epochs already trained"),
                       redflag::invalid_argument);
  CHECK_THROWS_AS(reloaded.resume(X.leftCols(8), 7), redflag::schema_mismatch);
  reloaded.drop_training_state();
  CHECK_FALSE(reloaded.has_training_state());
  CHECK_THROWS_AS(TransformerAutoencoder<float>(params).resume(X, 3), redflag::not_fitted);
}

TEST_CASE("TransformerAutoencoder with window scaling: scores do not depend on the price level") {
  // Positive OHLCV-like windows: 5 features, window 8.
  Random random(21);
  Matrix<double> X(30, 8 * 5);
  for (Index r = 0; r < X.rows(); ++r) {
    double price = 100.0 * std::exp(0.3 * random.normal());
    for (Index t = 0; t < 8; ++t) {
      const double open = price;
      price *= std::exp(0.01 * random.normal());
      X(r, t * 5 + 0) = open;
      X(r, t * 5 + 1) = std::max(open, price) * 1.002;
      X(r, t * 5 + 2) = std::min(open, price) * 0.998;
      X(r, t * 5 + 3) = price;
      X(r, t * 5 + 4) = 1000.0 * std::exp(0.2 * random.normal());
    }
  }
  Params<double> params = tiny_params<double>();
  params.scaling = redflag::WindowScaler<double>::Params{};
  TransformerAutoencoder<double> model(params);
  model.fit(X);
  REQUIRE(model.scaler().has_value());
  CHECK(model.scaler()->window() == 8);
  CHECK(model.scaler()->features() == 5);
  Matrix<double> scaled_prices = X;
  for (Index t = 0; t < 8; ++t) scaled_prices.middleCols(t * 5, 4) *= 50.0;  // prices x 50, volumes unchanged
  const Vector<double> scores = model.anomaly_score(X);
  CHECK(scores.isApprox(model.anomaly_score(scaled_prices), 1e-9));
  CHECK((model.scaled_input(X) - model.scaler()->transform(X)).cwiseAbs().maxCoeff() == 0.0);

  std::stringstream file;
  redflag::save(model, file);
  const auto loaded = redflag::load<TransformerAutoencoder<double>>(file);
  REQUIRE(loaded.scaler().has_value());
  CHECK(loaded.params().scaling.has_value());
  CHECK(*loaded.scaler() == *model.scaler());
  CHECK((loaded.anomaly_score(X).array() == scores.array()).all());

  // An unfitted model keeps its scaling choice through a file, too.
  std::stringstream unfitted_file;
  redflag::save(TransformerAutoencoder<double>(params), unfitted_file);
  CHECK(redflag::load<TransformerAutoencoder<double>>(unfitted_file).params().scaling.has_value());

  Matrix<double> negative = X;
  negative(2, 5 + 3) = -1.0;
  CHECK_THROWS_AS((void)model.anomaly_score(negative), redflag::data_error);
}

TEST_CASE("TransformerAutoencoder fitted with its columns' names speaks them in its schema and explanations") {
  redflag::TransformerAutoencoder<float> model({.window = 3,
                                                .d_model = 4,
                                                .heads = 2,
                                                .encoder_layers = 1,
                                                .decoder_layers = 1,
                                                .ffn = 4,
                                                .batch_size = 4,
                                                .epochs = 1});
  redflag::Matrix<float> windows(12, 6);
  for (redflag::Index i = 0; i < windows.rows(); ++i) {
    for (redflag::Index j = 0; j < windows.cols(); ++j) windows(i, j) = static_cast<float>((i * 3 + j * 5) % 7) / 7.0f;
  }
  const redflag::Schema columns = redflag::Schema::from_names({"close", "volume"});
  CHECK_THROWS_AS(model.fit(windows, redflag::Schema::from_names({"open", "high", "close"})), redflag::schema_mismatch);
  CHECK_FALSE(model.is_fitted());
  model.fit(windows, columns);
  CHECK(model.schema().names() ==
        std::vector<std::string>{"close@0", "volume@0", "close@1", "volume@1", "close@2", "volume@2"});
  CHECK(model.explain(windows).feature_names[5] == "volume@2");
  CHECK(model.anomaly_score(windows, model.schema()).size() == 12);
  CHECK_THROWS_AS((void)model.anomaly_score(windows, redflag::Schema::numeric(6)), redflag::schema_mismatch);
}
