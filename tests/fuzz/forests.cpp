// Model files of the forests: IsolationForest, ExtendedIsolationForest and
// StreamingIsolationForest, RandomForest; binary or JSON, float or double.

#include <redflag/forest/isolation_forest.hpp>
#include <redflag/forest/random_forest.hpp>
#include <redflag/forest/streaming_isolation_forest.hpp>

#include "fuzz_support.hpp"

namespace redflag::fuzz {
namespace {

template <class Model>
void score(const Model& model) {
  probe(model, [&](const auto& X) {
    (void)model.anomaly_score(X);
    if constexpr (requires { model.explain(X); }) (void)model.explain(X);
  });
}

template <class Model>
void classify(const Model& model) {
  probe(model, [&](const auto& X) {
    (void)model.predict_proba(X);
    (void)model.predict(X);
  });
}

}  // namespace

void isolation_forest(std::string_view input) {
  load_and_use<IsolationForest<float>>(input, score<IsolationForest<float>>);
  load_and_use<IsolationForest<double>>(input, score<IsolationForest<double>>);
  load_and_use<ExtendedIsolationForest<float>>(input, score<ExtendedIsolationForest<float>>);
  load_and_use<ExtendedIsolationForest<double>>(input, score<ExtendedIsolationForest<double>>);
  load_and_use<StreamingIsolationForest<float>>(input, score<StreamingIsolationForest<float>>);
  load_and_use<StreamingIsolationForest<double>>(input, score<StreamingIsolationForest<double>>);
}

void random_forest(std::string_view input) {
  load_and_use<RandomForest<float>>(input, classify<RandomForest<float>>);
  load_and_use<RandomForest<double>>(input, classify<RandomForest<double>>);
}

}  // namespace redflag::fuzz
