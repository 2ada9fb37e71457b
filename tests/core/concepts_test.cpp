#include <redflag/core/concepts.hpp>
#include <redflag/core/validation.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <type_traits>
#include <vector>

using redflag::Index;
using redflag::Label;
using redflag::LabelVector;
using redflag::Matrix;
using redflag::MatrixRef;
using redflag::Schema;
using redflag::Vector;

namespace {

// Anomaly score = Euclidean distance from the training mean. The threshold is
// the lowest flagged score; by default just above the largest training score,
// so no training row is flagged.
template <redflag::Scalar T>
class MeanDistanceDetector {
 public:
  using scalar_type = T;

  MeanDistanceDetector& fit(MatrixRef<T> X) {
    redflag::detail::require_non_empty(X, "MeanDistanceDetector::fit", "X");
    redflag::detail::require_finite(X, "MeanDistanceDetector::fit", "X");
    mean_ = X.colwise().mean().transpose();
    schema_ = Schema::numeric(X.cols());
    threshold_ = std::nextafter(anomaly_score(X).maxCoeff(), std::numeric_limits<T>::infinity());
    return *this;
  }
  [[nodiscard]] Vector<T> anomaly_score(MatrixRef<T> X) const {
    if (!is_fitted())
      redflag::detail::raise<redflag::not_fitted>("MeanDistanceDetector::anomaly_score", "call fit first");
    schema_.require_columns(X.cols(), "MeanDistanceDetector::anomaly_score");
    return (X.rowwise() - mean_.transpose()).rowwise().norm();
  }
  [[nodiscard]] Vector<T> decision_function(MatrixRef<T> X) const {
    return (anomaly_score(X).array() - threshold_).matrix();
  }
  [[nodiscard]] LabelVector predict(MatrixRef<T> X) const {
    return redflag::detail::flag_anomalies<T>(anomaly_score(X), threshold_);
  }
  [[nodiscard]] T threshold() const { return threshold_; }
  void set_threshold(T threshold) { threshold_ = threshold; }
  [[nodiscard]] bool is_fitted() const { return mean_.size() > 0; }
  [[nodiscard]] const Schema& schema() const { return schema_; }

 private:
  Vector<T> mean_;
  T threshold_ = 0;
  Schema schema_;
};

// Nearest (weighted) class mean; probabilities proportional to exp(-distance).
template <redflag::Scalar T>
class NearestMeanClassifier {
 public:
  using scalar_type = T;

  NearestMeanClassifier& fit(MatrixRef<T> X, redflag::LabelsRef y) { return fit(X, y, Vector<T>::Ones(X.rows())); }
  NearestMeanClassifier& fit(MatrixRef<T> X, redflag::LabelsRef y, redflag::VectorRef<T> sample_weight) {
    redflag::detail::require_same_length(X.rows(), y.size(), "NearestMeanClassifier::fit", "X", "y");
    std::map<Label, std::pair<Vector<T>, T>> sums;  // ordered: classes() comes out sorted
    for (Index i = 0; i < X.rows(); ++i) {
      auto [entry, inserted] = sums.try_emplace(y(i), Vector<T>::Zero(X.cols()), T(0));
      entry->second.first += sample_weight(i) * X.row(i).transpose();
      entry->second.second += sample_weight(i);
    }
    classes_.resize(static_cast<Index>(sums.size()));
    means_.resize(static_cast<Index>(sums.size()), X.cols());
    Index k = 0;
    for (const auto& [label, sum] : sums) {
      classes_(k) = label;
      means_.row(k++) = (sum.first / sum.second).transpose();
    }
    schema_ = Schema::numeric(X.cols());
    return *this;
  }
  [[nodiscard]] Matrix<T> predict_proba(MatrixRef<T> X) const {
    schema_.require_columns(X.cols(), "NearestMeanClassifier::predict_proba");
    Matrix<T> proba(X.rows(), means_.rows());
    for (Index i = 0; i < X.rows(); ++i) {
      for (Index k = 0; k < means_.rows(); ++k) proba(i, k) = std::exp(-(X.row(i) - means_.row(k)).norm());
      proba.row(i) /= proba.row(i).sum();
    }
    return proba;
  }
  [[nodiscard]] LabelVector predict(MatrixRef<T> X) const {
    const Matrix<T> proba = predict_proba(X);
    LabelVector labels(X.rows());
    for (Index i = 0; i < X.rows(); ++i) {
      Index best = 0;
      proba.row(i).maxCoeff(&best);
      labels(i) = classes_(best);
    }
    return labels;
  }
  [[nodiscard]] const LabelVector& classes() const { return classes_; }
  [[nodiscard]] bool is_fitted() const { return classes_.size() > 0; }
  [[nodiscard]] const Schema& schema() const { return schema_; }

 private:
  Matrix<T> means_;
  LabelVector classes_;
  Schema schema_;
};

// Subtracts the column means.
template <redflag::Scalar T>
struct Centerer {
  using scalar_type = T;
  Vector<T> mean;
  Schema schema_;
  Centerer& fit(MatrixRef<T> X) {
    mean = X.colwise().mean().transpose();
    schema_ = Schema::numeric(X.cols());
    return *this;
  }
  [[nodiscard]] Matrix<T> transform(MatrixRef<T> X) const { return X.rowwise() - mean.transpose(); }
  [[nodiscard]] Matrix<T> inverse_transform(MatrixRef<T> X) const { return X.rowwise() + mean.transpose(); }
  [[nodiscard]] bool is_fitted() const { return mean.size() > 0; }
  [[nodiscard]] const Schema& schema() const { return schema_; }
};

// --- types the concepts must reject ---
// Minimal models with exactly one flaw each; Flaw::none satisfies the
// concept, which shows the other members are right and the flaw alone decides.
enum class Flaw { none, no_predict, predict_returns_scores, fit_returns_void, threshold_long_double, int_scalar };

template <class T, Flaw flaw = Flaw::none>
struct MinimalDetector {
  using scalar_type = std::conditional_t<flaw == Flaw::int_scalar, int, T>;
  MinimalDetector& fit(MatrixRef<T>) requires(flaw != Flaw::fit_returns_void) { return *this; }
  void fit(MatrixRef<T>) requires(flaw == Flaw::fit_returns_void) {}
  [[nodiscard]] Vector<T> anomaly_score(MatrixRef<T> X) const { return Vector<T>::Zero(X.rows()); }
  [[nodiscard]] Vector<T> decision_function(MatrixRef<T> X) const { return Vector<T>::Zero(X.rows()); }
  [[nodiscard]] LabelVector predict(MatrixRef<T> X) const
      requires(flaw != Flaw::no_predict && flaw != Flaw::predict_returns_scores) {
    return LabelVector::Zero(X.rows());
  }
  [[nodiscard]] Vector<T> predict(MatrixRef<T> X) const requires(flaw == Flaw::predict_returns_scores) {
    return Vector<T>::Zero(X.rows());
  }
  [[nodiscard]] std::conditional_t<flaw == Flaw::threshold_long_double, long double, T> threshold() const { return 0; }
  void set_threshold(T) {}
  [[nodiscard]] bool is_fitted() const { return true; }
  [[nodiscard]] const Schema& schema() const { return schema_; }
  Schema schema_;
};

enum class ClassifierFlaw { none, no_weighted_fit, classes_as_std_vector, proba_as_vector };

template <redflag::Scalar T, ClassifierFlaw flaw = ClassifierFlaw::none>
struct MinimalClassifier {
  using scalar_type = T;
  MinimalClassifier& fit(MatrixRef<T>, redflag::LabelsRef) { return *this; }
  MinimalClassifier& fit(MatrixRef<T>, redflag::LabelsRef,
                         redflag::VectorRef<T>) requires(flaw != ClassifierFlaw::no_weighted_fit) {
    return *this;
  }
  [[nodiscard]] auto predict_proba(MatrixRef<T> X) const {
    if constexpr (flaw == ClassifierFlaw::proba_as_vector) {
      return Vector<T>::Zero(X.rows()).eval();
    } else {
      return Matrix<T>::Zero(X.rows(), 2).eval();
    }
  }
  [[nodiscard]] LabelVector predict(MatrixRef<T> X) const { return LabelVector::Zero(X.rows()); }
  [[nodiscard]] auto classes() const {
    if constexpr (flaw == ClassifierFlaw::classes_as_std_vector) {
      return std::vector<Label>{0, 1};
    } else {
      return LabelVector::LinSpaced(2, 0, 1).eval();
    }
  }
  [[nodiscard]] bool is_fitted() const { return true; }
  [[nodiscard]] const Schema& schema() const { return schema_; }
  Schema schema_;
};

template <redflag::Scalar T, bool schema_by_value>
struct MinimalTransformer {
  using scalar_type = T;
  MinimalTransformer& fit(MatrixRef<T>) { return *this; }
  [[nodiscard]] Matrix<T> transform(MatrixRef<T> X) const { return X; }
  [[nodiscard]] Matrix<T> inverse_transform(MatrixRef<T> X) const { return X; }
  [[nodiscard]] bool is_fitted() const { return true; }
  [[nodiscard]] std::conditional_t<schema_by_value, Schema, const Schema&> schema() const { return schema_; }
  Schema schema_;
};

static_assert(redflag::Detector<MeanDistanceDetector<float>>);
static_assert(redflag::Detector<MeanDistanceDetector<double>>);
static_assert(redflag::Classifier<NearestMeanClassifier<float>>);
static_assert(redflag::Classifier<NearestMeanClassifier<double>>);
static_assert(redflag::Transformer<Centerer<float>>);
static_assert(redflag::Transformer<Centerer<double>>);

static_assert(redflag::Detector<MinimalDetector<float>>);
static_assert(redflag::Detector<MinimalDetector<double>>);
static_assert(!redflag::Detector<MinimalDetector<float, Flaw::no_predict>>);
static_assert(!redflag::Detector<MinimalDetector<double, Flaw::no_predict>>);
static_assert(!redflag::Detector<MinimalDetector<float, Flaw::predict_returns_scores>>);
static_assert(!redflag::Detector<MinimalDetector<double, Flaw::fit_returns_void>>);
static_assert(!redflag::Detector<MinimalDetector<double, Flaw::threshold_long_double>>);
static_assert(!redflag::Detector<MinimalDetector<double, Flaw::int_scalar>>);
static_assert(!redflag::HasScalar<MinimalDetector<double, Flaw::int_scalar>>);
static_assert(!redflag::HasScalar<int>);
static_assert(redflag::Classifier<MinimalClassifier<float>>);
static_assert(redflag::Classifier<MinimalClassifier<double>>);
static_assert(!redflag::Classifier<MinimalClassifier<double, ClassifierFlaw::no_weighted_fit>>);
static_assert(!redflag::Classifier<MinimalClassifier<float, ClassifierFlaw::classes_as_std_vector>>);
static_assert(!redflag::Classifier<MinimalClassifier<double, ClassifierFlaw::proba_as_vector>>);
static_assert(redflag::Transformer<MinimalTransformer<double, false>>);
static_assert(!redflag::Transformer<MinimalTransformer<double, true>>);
// The contracts do not blur into each other.
static_assert(!redflag::Classifier<MeanDistanceDetector<double>>);
static_assert(!redflag::Detector<NearestMeanClassifier<double>>);
static_assert(!redflag::Transformer<MeanDistanceDetector<double>>);

// Generic code written once against the concept.
template <redflag::Detector D>
Index count_anomalies(const D& detector, MatrixRef<typename D::scalar_type> X) {
  return detector.predict(X).sum();
}

template <class T>
Matrix<T> training_rows() {
  Matrix<T> X(4, 2);
  X << T(1), T(0), T(-1), T(0), T(0), T(1), T(0), T(-1);  // mean (0, 0), every score 1
  return X;
}

}  // namespace

TEST_CASE_TEMPLATE("decision_function = anomaly_score - threshold, predict = score >= threshold", T, float, double) {
  MeanDistanceDetector<T> detector;
  CHECK_FALSE(detector.is_fitted());
  CHECK(&detector.fit(training_rows<T>()) == &detector);
  CHECK(detector.is_fitted());
  CHECK(detector.threshold() == std::nextafter(T(1), T(2)));
  CHECK(count_anomalies(detector, training_rows<T>()) == 0);  // every training score is 1, just below

  Matrix<T> X(4, 2);
  X << T(3), T(4),   // score 5
      T(0), T(6),    // score 6
      T(0), T(0),    // score 0
      T(-3), T(-4);  // score 5
  detector.set_threshold(T(5));
  const Vector<T> scores = detector.anomaly_score(X);
  CHECK(scores(0) == T(5));
  CHECK(scores(1) == T(6));
  const Vector<T> decision = detector.decision_function(X);
  CHECK(decision == (scores.array() - T(5)).matrix());
  CHECK(decision(0) == T(0));
  CHECK(decision(2) == T(-5));
  const LabelVector predicted = detector.predict(X);
  // The threshold is the lowest flagged score: a row exactly at it is an anomaly.
  CHECK(predicted == (LabelVector(4) << 1, 1, 0, 1).finished());
  CHECK(predicted == (decision.array() >= T(0)).template cast<Label>().matrix());
  CHECK(count_anomalies(detector, X) == 3);

  detector.set_threshold(std::nextafter(T(5), T(6)));
  CHECK(detector.predict(X) == (LabelVector(4) << 0, 1, 0, 0).finished());
  CHECK(detector.decision_function(X)(0) < T(0));
  detector.set_threshold(T(1));
  CHECK(count_anomalies(detector, training_rows<T>()) == 4);

  CHECK_THROWS_AS(static_cast<void>(MeanDistanceDetector<T>().anomaly_score(X)), redflag::not_fitted);
  CHECK_THROWS_WITH_AS(static_cast<void>(detector.predict(Matrix<T>::Zero(2, 3))),
                       doctest::Contains("MeanDistanceDetector::anomaly_score: input has 3 columns, expected 2"),
                       redflag::schema_mismatch);
}

TEST_CASE_TEMPLATE("flag_anomalies", T, float, double) {
  Vector<T> scores(5);
  scores << T(-1), T(0.5), T(2), std::nextafter(T(2), T(3)), std::numeric_limits<T>::infinity();
  CHECK(redflag::detail::flag_anomalies<T>(scores, T(2)) == (LabelVector(5) << 0, 0, 1, 1, 1).finished());
  CHECK(redflag::detail::flag_anomalies<T>(scores, std::nextafter(T(2), T(3))) ==
        (LabelVector(5) << 0, 0, 0, 1, 1).finished());
  CHECK(redflag::detail::flag_anomalies<T>(scores, T(-2)) == LabelVector::Ones(5));
  CHECK(redflag::detail::flag_anomalies<T>(scores, std::numeric_limits<T>::infinity()) ==
        (LabelVector(5) << 0, 0, 0, 0, 1).finished());  // an infinite score reaches an infinite threshold
  // NaN compares false: a NaN score is never flagged by the comparison itself.
  scores(0) = std::numeric_limits<T>::quiet_NaN();
  CHECK(redflag::detail::flag_anomalies<T>(scores, T(0))(0) == 0);
  CHECK(redflag::detail::flag_anomalies<T>(Vector<T>(0), T(0)).size() == 0);
}

TEST_CASE_TEMPLATE("a classifier satisfying the concept", T, float, double) {
  Matrix<T> X(6, 2);
  X << T(0), T(0), T(1), T(0), T(0), T(1),       // class 7 around (1/3, 1/3)
      T(10), T(10), T(11), T(10), T(40), T(40);  // class -2 around (20.3, 20)
  LabelVector y(6);
  y << 7, 7, 7, -2, -2, -2;
  NearestMeanClassifier<T> classifier;
  CHECK(&classifier.fit(X, y) == &classifier);
  CHECK(classifier.classes() == (LabelVector(2) << -2, 7).finished());

  Matrix<T> query(3, 2);
  query << T(0.5), T(0.5), T(15), T(15), T(12), T(11);
  const Matrix<T> proba = classifier.predict_proba(query);
  REQUIRE(proba.rows() == 3);
  REQUIRE(proba.cols() == 2);
  for (Index i = 0; i < 3; ++i) CHECK(proba.row(i).sum() == doctest::Approx(1.0));
  CHECK(proba(0, 1) > T(0.99));  // column 1 is class 7
  CHECK(classifier.predict(query) == (LabelVector(3) << 7, -2, -2).finished());

  // Zero weight on the far point moves class -2's mean to (10.5, 10).
  Vector<T> weights = Vector<T>::Ones(6);
  weights(5) = T(0);
  classifier.fit(X, y, weights);
  const Matrix<T> weighted = classifier.predict_proba(query);
  CHECK(weighted(2, 0) > proba(2, 0));  // (12, 11) is now much closer to class -2

  CHECK_THROWS_WITH_AS(classifier.fit(X, y.head(5)), doctest::Contains("X has 6 rows but y has 5"),
                       redflag::invalid_argument);
}

TEST_CASE_TEMPLATE("a transformer satisfying the concept round-trips", T, float, double) {
  Centerer<T> centerer;
  centerer.fit(training_rows<T>() * T(3) + Matrix<T>::Constant(4, 2, T(2)));
  const Matrix<T> X = training_rows<T>();
  CHECK(centerer.transform(X)(0, 0) == T(-1));
  CHECK(centerer.inverse_transform(centerer.transform(X)) == X);
}
