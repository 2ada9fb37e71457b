#pragma once

// The contracts redflag's models satisfy, so hosts and pipeline code can be
// written once for any detector or classifier.
//
// Sign convention, everywhere: anomaly_score is higher for more anomalous
// rows, and predict returns 1 for an anomaly, 0 for a normal row.
//   decision_function(X) = anomaly_score(X) - threshold()
//   predict(X)           = decision_function(X) >= 0
// The threshold is the lowest flagged score — the same rule as the metrics'
// thresholds (youden_j_threshold, contamination_threshold, precision at a
// threshold), so a threshold chosen there can be set on a detector as is.
//
// scikit-learn's outlier detectors use the opposite sign: for IsolationForest
// its score_samples(X) equals -anomaly_score(X), its offset_ equals
// -threshold(), and its decision_function equals -decision_function(X)
// (negative there means outlier; non-negative here means anomaly). A row
// exactly at the threshold is an anomaly here and an inlier there; with
// continuous scores that tie is the only possible difference.

#include <redflag/core/schema.hpp>
#include <redflag/core/types.hpp>

#include <concepts>

namespace redflag {

template <class Model>
concept HasScalar = requires {
  typename Model::scalar_type;
}
&&Scalar<typename Model::scalar_type>;

// Unsupervised anomaly detector.
template <class D>
concept Detector = HasScalar<D> &&
    requires(D& detector, const D& fitted, MatrixRef<typename D::scalar_type> X, typename D::scalar_type threshold) {
  { detector.fit(X) } -> std::same_as<D&>;
  { fitted.anomaly_score(X) } -> std::same_as<Vector<typename D::scalar_type>>;
  { fitted.decision_function(X) } -> std::same_as<Vector<typename D::scalar_type>>;
  { fitted.predict(X) } -> std::same_as<LabelVector>;
  { fitted.threshold() } -> std::same_as<typename D::scalar_type>;
  detector.set_threshold(threshold);
  { fitted.is_fitted() } -> std::same_as<bool>;
  { fitted.schema() } -> std::same_as<const Schema&>;
};

// Supervised classifier; labels are arbitrary integers, classes() lists them
// in the column order of predict_proba.
template <class C>
concept Classifier = HasScalar<C> && requires(C& classifier, const C& fitted, MatrixRef<typename C::scalar_type> X,
                                              LabelsRef y, VectorRef<typename C::scalar_type> sample_weight) {
  { classifier.fit(X, y) } -> std::same_as<C&>;
  { classifier.fit(X, y, sample_weight) } -> std::same_as<C&>;
  { fitted.predict_proba(X) } -> std::same_as<Matrix<typename C::scalar_type>>;
  { fitted.predict(X) } -> std::same_as<LabelVector>;
  { fitted.classes() } -> std::convertible_to<const LabelVector&>;
  { fitted.is_fitted() } -> std::same_as<bool>;
  { fitted.schema() } -> std::same_as<const Schema&>;
};

// Column-wise preprocessing step (scalers).
template <class M>
concept Transformer = HasScalar<M> && requires(M& transformer, const M& fitted, MatrixRef<typename M::scalar_type> X) {
  { transformer.fit(X) } -> std::same_as<M&>;
  { fitted.transform(X) } -> std::same_as<Matrix<typename M::scalar_type>>;
  { fitted.inverse_transform(X) } -> std::same_as<Matrix<typename M::scalar_type>>;
  { fitted.is_fitted() } -> std::same_as<bool>;
  { fitted.schema() } -> std::same_as<const Schema&>;
};

namespace detail {

// predict() from scores and a threshold, shared by every detector.
template <Scalar T>
LabelVector flag_anomalies(const Vector<T>& anomaly_scores, T threshold) {
  return (anomaly_scores.array() >= threshold).template cast<Label>();
}

}  // namespace detail
}  // namespace redflag
