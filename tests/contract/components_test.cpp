// The contract every model component keeps (docs/writing-a-component.md),
// checked by one templated test over all of them. A component joins with one
// Traits specialisation: how to build it with small parameters, what data it
// takes and how it is fitted. Everything else is derived from the concept it
// satisfies (Detector, Classifier, Transformer).

#include <redflag/core/concepts.hpp>
#include <redflag/core/error.hpp>
#include <redflag/core/explanation.hpp>
#include <redflag/core/serialization.hpp>
#include <redflag/forest/isolation_forest.hpp>
#include <redflag/forest/random_forest.hpp>
#include <redflag/forest/streaming_isolation_forest.hpp>
#include <redflag/nn/transformer_autoencoder.hpp>
#include <redflag/preprocessing/min_max_scaler.hpp>
#include <redflag/preprocessing/robust_scaler.hpp>
#include <redflag/preprocessing/standard_scaler.hpp>
#include <redflag/rules/rule_config.hpp>
#include <redflag/stream/checkpoint.hpp>
#include <redflag/stream/entity_store.hpp>

#include <doctest/doctest.h>

#include <array>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <span>
#include <string>
#include <thread>
#include <vector>

using redflag::Index;

namespace contract {

using redflag::Index;
using redflag::Matrix;
using redflag::Schema;
using redflag::Vector;

// Deterministic, varied, no two rows alike; column j has its own scale.
template <class T>
Matrix<T> smooth_data(Index rows, Index cols) {
  Matrix<T> X(rows, cols);
  for (Index i = 0; i < rows; ++i) {
    for (Index j = 0; j < cols; ++j) {
      const double t = static_cast<double>(i);
      X(i, j) = static_cast<T>(std::sin(0.37 * t * static_cast<double>(j + 1) + static_cast<double>(j)) *
                                   static_cast<double>(j + 1) +
                               0.01 * t);
    }
  }
  return X;
}

// How to make, feed and fit each component; see the file comment.
template <class Model>
struct Traits;

template <class T>
struct Traits<redflag::IsolationForest<T>> {
  static redflag::IsolationForest<T> make() {
    return redflag::IsolationForest<T>({.n_estimators = 10, .max_samples = Index{32}, .n_jobs = 2});
  }
  static Matrix<T> data() { return smooth_data<T>(64, 3); }
  static void fit(redflag::IsolationForest<T>& model, const Matrix<T>& X) { model.fit(X); }
};

template <class T>
struct Traits<redflag::StreamingIsolationForest<T>> {
  static redflag::StreamingIsolationForest<T> make() {
    return redflag::StreamingIsolationForest<T>(
        {.forest = {.n_estimators = 8, .n_jobs = 2}, .window_size = 32, .block_size = 8});
  }
  static Matrix<T> data() { return smooth_data<T>(48, 3); }  // one refresh after warm-up
  static void fit(redflag::StreamingIsolationForest<T>& model, const Matrix<T>& X) { model.fit(X); }
};

template <class T>
struct Traits<redflag::RandomForest<T>> {
  static redflag::RandomForest<T> make() {
    return redflag::RandomForest<T>({.n_estimators = 5, .max_depth = 4, .n_jobs = 2});
  }
  static Matrix<T> data() { return smooth_data<T>(64, 3); }
  static void fit(redflag::RandomForest<T>& model, const Matrix<T>& X) {
    redflag::LabelVector y(X.rows());
    for (Index i = 0; i < X.rows(); ++i) y(i) = X(i, 0) > T(0) ? 1 : 0;
    model.fit(X, y);
  }
};

template <class T>
struct Traits<redflag::TransformerAutoencoder<T>> {
  static redflag::TransformerAutoencoder<T> make() {
    return redflag::TransformerAutoencoder<T>({.window = 4,
                                               .d_model = 4,
                                               .heads = 2,
                                               .encoder_layers = 1,
                                               .decoder_layers = 1,
                                               .ffn = 4,
                                               .batch_size = 8,
                                               .epochs = 2,
                                               .learning_rate = 1e-2,
                                               .validation_fraction = 0.25,
                                               .n_jobs = 2});
  }
  static Matrix<T> data() { return smooth_data<T>(16, 8); }  // windows of 4 positions x 2 features
  static void fit(redflag::TransformerAutoencoder<T>& model, const Matrix<T>& X) { model.fit(X); }
};

template <class Scaler>
struct ScalerTraits {
  static Scaler make() { return Scaler(typename Scaler::Params{}); }
  static Matrix<typename Scaler::scalar_type> data() { return smooth_data<typename Scaler::scalar_type>(64, 3); }
  static void fit(Scaler& model, const Matrix<typename Scaler::scalar_type>& X) { model.fit(X); }
};
template <class T>
struct Traits<redflag::StandardScaler<T>> : ScalerTraits<redflag::StandardScaler<T>> {};
template <class T>
struct Traits<redflag::MinMaxScaler<T>> : ScalerTraits<redflag::MinMaxScaler<T>> {};
template <class T>
struct Traits<redflag::RobustScaler<T>> : ScalerTraits<redflag::RobustScaler<T>> {};

// The component's main output as a matrix: scores, probabilities or the
// transformed rows.
template <class Model, class T = typename Model::scalar_type>
Matrix<T> output(const Model& model, const Matrix<T>& X) {
  if constexpr (redflag::Detector<Model>) {
    return Matrix<T>(model.anomaly_score(X));
  } else if constexpr (redflag::Classifier<Model>) {
    return model.predict_proba(X);
  } else {
    static_assert(redflag::Transformer<Model>, "a component is a Detector, a Classifier or a Transformer");
    return model.transform(X);
  }
}

// The same, checking the column names too.
template <class Model, class T = typename Model::scalar_type>
Matrix<T> named_output(const Model& model, const Matrix<T>& X, const Schema& schema) {
  if constexpr (redflag::Detector<Model>) {
    return Matrix<T>(model.anomaly_score(X, schema));
  } else if constexpr (redflag::Classifier<Model>) {
    return model.predict_proba(X, schema);
  } else {
    return model.transform(X, schema);
  }
}

template <class Model, class T = typename Model::scalar_type>
redflag::Explanation<T> explanation_of(const Model& model, const Matrix<T>& X) {
  if constexpr (redflag::Classifier<Model>) {
    return model.explain(X, 0);
  } else {
    return model.explain(X);
  }
}

template <class Model, class T = typename Model::scalar_type>
constexpr bool explains = requires(const Model& model, const Matrix<T>& X) {
  model.explain(X);
}
|| requires(const Model& model, const Matrix<T>& X) { model.explain(X, Index{0}); };

// Every call that needs a fitted model, by name.
template <class Model, class T = typename Model::scalar_type>
std::vector<std::pair<std::string, std::function<void()>>> scoring_calls(const Model& model, const Matrix<T>& X) {
  std::vector<std::pair<std::string, std::function<void()>>> calls;
  calls.emplace_back("output", [&] { (void)output(model, X); });
  calls.emplace_back("output with a schema", [&] { (void)named_output(model, X, Schema::numeric(X.cols())); });
  if constexpr (redflag::Detector<Model>) {
    calls.emplace_back("decision_function", [&] { (void)model.decision_function(X); });
    calls.emplace_back("predict", [&] { (void)model.predict(X); });
    calls.emplace_back("threshold", [&] { (void)model.threshold(); });
    calls.emplace_back("set_threshold", [&] { const_cast<Model&>(model).set_threshold(T(0.5)); });
  }
  if constexpr (redflag::Classifier<Model>) {
    calls.emplace_back("predict", [&] { (void)model.predict(X); });
  }
  if constexpr (redflag::Transformer<Model>) {
    calls.emplace_back("inverse_transform", [&] { (void)model.inverse_transform(X); });
  }
  if constexpr (explains<Model>) {
    calls.emplace_back("explain", [&] { (void)explanation_of(model, X); });
    calls.emplace_back("feature_importances", [&] { (void)explanation_of(model, X).importances(); });
  }
  return calls;
}

template <class Model>
std::filesystem::path contract_scratch(const std::string& file) {
  const auto directory = std::filesystem::path(REDFLAG_TEST_SCRATCH_DIR) / "contract";
  std::filesystem::create_directories(directory);
  return directory / (std::string(Model::model_type) + "_" +
                      std::string(redflag::scalar_name<typename Model::scalar_type>) + "_" + file);
}

template <class Model>
int saved_n_jobs(const Model& model) {
  if constexpr (requires { model.params().n_jobs; }) {
    return model.params().n_jobs;
  } else if constexpr (requires { model.params().forest.n_jobs; }) {
    return model.params().forest.n_jobs;
  } else {
    return 1;
  }
}

}  // namespace contract

// A new component: a Traits specialisation above and its types here.
TEST_CASE_TEMPLATE("every component keeps the contract", Model, redflag::IsolationForest<float>,
                   redflag::IsolationForest<double>, redflag::StreamingIsolationForest<float>,
                   redflag::StreamingIsolationForest<double>, redflag::RandomForest<float>,
                   redflag::RandomForest<double>, redflag::TransformerAutoencoder<float>,
                   redflag::TransformerAutoencoder<double>, redflag::StandardScaler<float>,
                   redflag::StandardScaler<double>, redflag::MinMaxScaler<float>, redflag::MinMaxScaler<double>,
                   redflag::RobustScaler<float>, redflag::RobustScaler<double>) {
  using T = typename Model::scalar_type;
  using Traits = contract::Traits<Model>;
  using redflag::Matrix;
  CAPTURE(Model::model_type);
  CAPTURE(redflag::scalar_name<T>);
  static_assert(redflag::SerializableModel<Model>);
  static_assert(redflag::Detector<Model> || redflag::Classifier<Model> || redflag::Transformer<Model>);

  // Params: nested, default-valid, checked by validate().
  typename Model::Params{}.validate();

  const Matrix<T> X = Traits::data();
  Model model = Traits::make();

  // Before fit every scoring call, threshold() included, throws not_fitted.
  CHECK_FALSE(model.is_fitted());
  for (const auto& named_call : contract::scoring_calls(model, X)) {
    // Not a structured binding: clang 14 cannot capture one in CAPTURE's lambda.
    const std::string& name = named_call.first;
    const auto& call = named_call.second;
    CAPTURE(name);
    CHECK_THROWS_AS(call(), redflag::not_fitted);
  }

  Traits::fit(model, X);
  REQUIRE(model.is_fitted());
  CHECK(model.schema().size() == X.cols());
  const Matrix<T> reference = contract::output(model, X);
  CHECK(reference.rows() == X.rows());
  CHECK(reference.allFinite());
  for (const auto& named_call : contract::scoring_calls(model, X)) {
    // Not a structured binding: clang 14 cannot capture one in CAPTURE's lambda.
    const std::string& name = named_call.first;
    const auto& call = named_call.second;
    if (name == "set_threshold") continue;  // would change the model the later checks compare against
    CAPTURE(name);
    CHECK_NOTHROW(call());
  }

  // Save and load through files, both formats: bit-identical outputs; n_jobs
  // is a property of the host and is not saved.
  for (const auto format : {redflag::Format::portable_binary, redflag::Format::json}) {
    CAPTURE(redflag::to_string(format));
    const auto path = contract::contract_scratch<Model>(std::string(redflag::to_string(format)));
    redflag::save(model, path, format);
    const Model loaded = redflag::load<Model>(path);
    CHECK(loaded.is_fitted());
    CHECK(loaded.schema() == model.schema());
    CHECK(contract::output(loaded, X) == reference);
    if constexpr (redflag::Detector<Model>) CHECK(loaded.threshold() == model.threshold());
    CHECK(contract::saved_n_jobs(loaded) == 1);
  }

  // Format versions 0 and newer than this build are refused by name.
  const std::string payload = redflag::detail::portable_binary_payload(model);
  for (const std::uint32_t version : {std::uint32_t{0}, Model::format_version + 1}) {
    CAPTURE(version);
    Model target;
    redflag::detail::BoundedBinaryInputArchive archive(std::span<const char>(payload.data(), payload.size()));
    redflag::detail::VersionedModel<Model> versioned{target, version};
    const std::string message = "format version " + std::to_string(version);
    CHECK_THROWS_WITH_AS(archive(versioned), doctest::Contains(message.c_str()), redflag::serialization_error);
  }

  // Column names are checked where a schema is given.
  CHECK(contract::named_output(model, X, model.schema()) == reference);
  std::vector<std::string> wrong_names;
  for (Index j = 0; j < X.cols(); ++j) wrong_names.push_back("other" + std::to_string(j));
  CHECK_THROWS_AS((void)contract::named_output(model, X, redflag::Schema::from_names(wrong_names)),
                  redflag::schema_mismatch);

  // NaN is a data_error, a wrong column count a schema_mismatch, from every
  // scoring call.
  Matrix<T> with_nan = X;
  with_nan(1, 1) = std::numeric_limits<T>::quiet_NaN();
  const Matrix<T> wider = Matrix<T>::Ones(X.rows(), X.cols() + 1);
  for (const auto& named_call : contract::scoring_calls(model, with_nan)) {
    // Not a structured binding: clang 14 cannot capture one in CAPTURE's lambda.
    const std::string& name = named_call.first;
    const auto& call = named_call.second;
    if (name == "threshold" || name == "set_threshold" || name == "output with a schema") continue;
    CAPTURE(name);
    CHECK_THROWS_AS(call(), redflag::data_error);
  }
  for (const auto& named_call : contract::scoring_calls(model, wider)) {
    // Not a structured binding: clang 14 cannot capture one in CAPTURE's lambda.
    const std::string& name = named_call.first;
    const auto& call = named_call.second;
    if (name == "threshold" || name == "set_threshold") continue;
    CAPTURE(name);
    CHECK_THROWS_AS(call(), redflag::schema_mismatch);
  }

  // Explanations: one type, additive, named, importances summing to 1.
  if constexpr (contract::explains<Model>) {
    const redflag::Explanation<T> explanation = contract::explanation_of(model, X);
    CHECK(explanation.rows() == X.rows());
    CHECK(explanation.cols() == X.cols());
    CHECK(explanation.feature_names == model.schema().names());
    const double tolerance = std::same_as<T, float> ? 1e-4 : 1e-9;
    for (Index r = 0; r < X.rows(); ++r) {
      const double total =
          static_cast<double>(explanation.expected_value) + static_cast<double>(explanation.contributions.row(r).sum());
      CHECK(std::abs(total - static_cast<double>(explanation.scores(r))) <=
            tolerance * std::max(1.0, std::abs(static_cast<double>(explanation.scores(r)))));
    }
    const auto top = explanation.top(0, 2);
    REQUIRE(top.size() == 2);
    CHECK(top[0].value >= top[1].value);
    CHECK(top[0].name == model.schema()[top[0].column].name);
    CHECK(std::abs(static_cast<double>(explanation.importances().sum()) - 1.0) < 1e-4);
  }

  // Const calls from 8 threads at once give the single-threaded result.
  std::vector<Matrix<T>> results(8);
  {
    std::vector<std::thread> threads;
    for (std::size_t t = 0; t < results.size(); ++t) {
      threads.emplace_back([&, t] { results[t] = contract::output(model, X); });
    }
    for (auto& thread : threads) thread.join();
  }
  for (const auto& result : results) CHECK(result == reference);
}

namespace contract {

// Components that are not fitted models — rules compiled against a schema,
// per-entity state fed by events — keep the same contract where it applies:
// built, fed, their output saved and loaded bit for bit, bad input refused
// with the documented error, const calls safe from many threads. A component
// joins with one StatefulTraits specialisation.
template <class Component>
struct StatefulTraits;

template <>
struct StatefulTraits<redflag::RulesEngine> {
  static Schema schema() {
    return Schema{{"amount", redflag::ColumnKind::numeric},
                  {"limit", redflag::ColumnKind::numeric},
                  {"channel", redflag::ColumnKind::categorical}};
  }
  static redflag::RulesEngine make() {
    using redflag::rules::column;
    redflag::RulesEngine engine(schema());
    engine.add({"OVER_LIMIT", redflag::Severity::high, 0.5, column("amount") > column("limit")});
    engine.add({"BIG_ONLINE", redflag::Severity::medium, 0.3, column("channel").in({2, 3}) && column("amount") >= 0.5});
    engine.add({"ODD_HOUR", redflag::Severity::low, 0.1, !column("amount").between(-0.5, 0.5)});
    return engine;
  }
  static void feed(redflag::RulesEngine&) {}  // built complete: no state to feed
  static Matrix<double> rows() {
    Matrix<double> X = smooth_data<double>(64, 3);
    for (Index i = 0; i < X.rows(); ++i) X(i, 2) = static_cast<double>(i % 4);  // channel codes
    return X;
  }
  // One column per rule: 1 where it fired.
  static Matrix<double> output(const redflag::RulesEngine& engine) {
    const Matrix<double> X = rows();
    Matrix<double> fired = Matrix<double>::Zero(X.rows(), static_cast<Index>(engine.rules().size()));
    redflag::RuleHits hits;
    for (Index i = 0; i < X.rows(); ++i) {
      engine.evaluate(std::span<const double>(X.row(i).data(), static_cast<std::size_t>(X.cols())), hits);
      for (const redflag::RuleHit& hit : hits.hits) fired(i, static_cast<Index>(hit.rule)) = 1.0;
    }
    return fired;
  }
  static redflag::RulesEngine save_and_load(const redflag::RulesEngine& engine, const std::filesystem::path& path) {
    std::ofstream(path) << redflag::save_rules(engine);
    return redflag::load_rules_file(path, schema());
  }
  // A row of another width is a schema_mismatch; NaN satisfies no
  // comparison (documented), so it fires only negated leaves.
  static void refuses_bad_input(const redflag::RulesEngine& engine) {
    redflag::RuleHits hits;
    const std::array<double, 2> narrow{1.0, 2.0};
    CHECK_THROWS_AS(engine.evaluate(std::span<const double>(narrow), hits), redflag::schema_mismatch);
    const std::array<double, 3> nan{std::numeric_limits<double>::quiet_NaN(), 0.0, 2.0};
    engine.evaluate(std::span<const double>(nan), hits);
    REQUIRE(hits.size() == 1);
    CHECK(engine.rule(hits.hits[0].rule).name == "ODD_HOUR");
    CHECK_THROWS_AS(redflag::load_rules(R"({"version": 2, "rules": [{"name": "X", "severity": "low", "weight": 0.1,
                                           "when": {"column": "amount_eur", "op": ">", "value": 1}}]})",
                                        schema()),
                    redflag::invalid_argument);
  }
};

template <>
struct StatefulTraits<redflag::EntityStore> {
  static redflag::EntityStore make() { return redflag::EntityStore({.max_entities = 64, .shards = 4}); }
  static void feed(redflag::EntityStore& store) {
    for (int i = 0; i < 200; ++i) {
      const std::string id = "e" + std::to_string(i % 9);
      store.observe(redflag::EntityEvent{.entity = id,
                                         .time_ms = 1'704'067'200'000 + i * 20'000LL,
                                         .value = 1.0 + (i * 7) % 31,
                                         .counterparty = static_cast<std::uint64_t>(1 + i % 4),
                                         .place = static_cast<std::uint64_t>(1 + i % 3),
                                         .local_hour = i % 24,
                                         .local_weekday = i % 7});
    }
  }
  // Per entity: events, mean, variance, median and the last minute's count.
  static Matrix<double> output(const redflag::EntityStore& store) {
    Matrix<double> out(9, 5);
    for (Index e = 0; e < 9; ++e) {
      const auto state = store.find("e" + std::to_string(e));
      REQUIRE(state);
      const auto& p = state->profile;
      out.row(e) << static_cast<double>(p.count()), p.mean_value(), p.variance_value(), p.value_sketch().quantile(0.5),
          static_cast<double>(state->recent.count(p.last_time_ms(), 60'000));
    }
    return out;
  }
  static redflag::EntityStore save_and_load(const redflag::EntityStore& store, const std::filesystem::path& path) {
    redflag::save(store, path);
    return redflag::load<redflag::EntityStore>(path);
  }
  // A NaN value or an empty id is a data_error, and nothing changes.
  static void refuses_bad_input(const redflag::EntityStore& store) {
    redflag::EntityStore copy = save_and_load(store, std::filesystem::path(REDFLAG_TEST_SCRATCH_DIR) / "bad_input.bin");
    CHECK_THROWS_AS(
        copy.observe(redflag::EntityEvent{
            .entity = "e1", .time_ms = 1'704'067'200'000, .value = std::numeric_limits<double>::quiet_NaN()}),
        redflag::data_error);
    CHECK_THROWS_AS(copy.observe(redflag::EntityEvent{.entity = "", .time_ms = 1'704'067'200'000, .value = 1.0}),
                    redflag::data_error);
    CHECK(output(copy) == output(store));
  }
};

// The EntityStore's events, applied as the input at sequence 3 of partition 1 of 2.
template <>
struct StatefulTraits<redflag::PartitionCheckpoint> {
  using StoreTraits = StatefulTraits<redflag::EntityStore>;
  static redflag::PartitionCheckpoint make() {
    return redflag::PartitionCheckpoint({.partition = 1, .partitions = 2}, StoreTraits::make());
  }
  static void feed(redflag::PartitionCheckpoint& checkpoint) {
    CHECK(checkpoint.apply(3, [](redflag::EntityStore& store) { StoreTraits::feed(store); }) ==
          redflag::SequenceStatus::applied);
  }
  // The store's output, and a last row with the position.
  static Matrix<double> output(const redflag::PartitionCheckpoint& checkpoint) {
    const Matrix<double> store = StoreTraits::output(checkpoint.store());
    Matrix<double> out = Matrix<double>::Zero(store.rows() + 1, store.cols());
    out.topRows(store.rows()) = store;
    const redflag::PartitionPosition position = checkpoint.position();
    out.bottomRows(1).leftCols(3) << static_cast<double>(position.partition), static_cast<double>(position.partitions),
        static_cast<double>(position.sequence);
    return out;
  }
  static redflag::PartitionCheckpoint save_and_load(const redflag::PartitionCheckpoint& checkpoint,
                                                    const std::filesystem::path& path) {
    redflag::save(checkpoint, path);
    return redflag::load<redflag::PartitionCheckpoint>(path);
  }
  // A NaN value is a data_error and leaves the sequence unapplied; an input
  // already applied, or sequence 0, changes nothing.
  static void refuses_bad_input(const redflag::PartitionCheckpoint& checkpoint) {
    redflag::PartitionCheckpoint copy =
        save_and_load(checkpoint, std::filesystem::path(REDFLAG_TEST_SCRATCH_DIR) / "bad_input.bin");
    const std::uint64_t next = copy.position().sequence + 1;
    CHECK_THROWS_AS(copy.apply(next,
                               [](redflag::EntityStore& store) {
                                 store.observe(redflag::EntityEvent{.entity = "e1",
                                                                    .time_ms = 1'704'067'200'000,
                                                                    .value = std::numeric_limits<double>::quiet_NaN()});
                               }),
                    redflag::data_error);
    CHECK(copy.apply(next - 1, [](redflag::EntityStore&) { FAIL("an applied sequence ran again"); }) ==
          redflag::SequenceStatus::already_applied);
    CHECK_THROWS_AS(copy.apply(0, [](redflag::EntityStore&) {}), redflag::invalid_argument);
    CHECK(output(copy) == output(checkpoint));
  }
};

}  // namespace contract

TEST_CASE_TEMPLATE("every stateful component keeps the contract", Component, redflag::RulesEngine, redflag::EntityStore,
                   redflag::PartitionCheckpoint) {
  using Traits = contract::StatefulTraits<Component>;
  Component component = Traits::make();
  Traits::feed(component);
  const redflag::Matrix<double> reference = Traits::output(component);
  CHECK(reference.allFinite());
  CHECK(reference.sum() > 0.0);

  const auto path = std::filesystem::path(REDFLAG_TEST_SCRATCH_DIR) / "stateful_contract.out";
  const Component loaded = Traits::save_and_load(component, path);
  CHECK(Traits::output(loaded) == reference);

  Traits::refuses_bad_input(component);
  CHECK(Traits::output(component) == reference);

  std::vector<redflag::Matrix<double>> results(8);
  {
    std::vector<std::thread> threads;
    for (std::size_t t = 0; t < results.size(); ++t) {
      threads.emplace_back([&, t] { results[t] = Traits::output(component); });
    }
    for (auto& thread : threads) thread.join();
  }
  for (const auto& result : results) CHECK(result == reference);
}
