// The per-transaction path of real-time monitoring, one thread, on the
// simulator's stream of 1e6 transactions over 1e5 users (TransactionSimulator
// seed 2024, 1% fraud), in arrival order, each pass starting from an empty
// EntityStore:
//   state                       to_entity_event + EntityStore::observe
//   state_features_rules        + the 10 transaction features + the 3 built-in
//                               rules + RiskDecider::decide (rules only)
//   state_features_rules_model  + IsolationForest::score_one (100 trees, 256
//                               samples, fitted on the first 1e5 rows' features)
//   *_batch/batch:B             the same work through EntityStore::observe_batch,
//                               B transactions per call (same stream, same results)
//   latency/model:0|1/batch:0|B the state_features_rules(_model) path timed per
//                               transaction with std::chrono::steady_clock into
//                               a 10 ns histogram: p50, p99, p999 counters (ns;
//                               they include one clock read, about 20 ns); with
//                               batch:B, from the batch's start to the decision
//   json_lines/model:0|1        the card-transaction example's JSON lines around
//                               the state_features_rules(_model) path, on the
//                               stream's first fifth (its lines made once,
//                               untimed): TransactionReader::parse of the line,
//                               the path, the verdict with its explanation text
//                               (no TreeSHAP contributions), append_json of it.
//                               Built when simdjson and nlohmann-json are found.
// Counters: items_per_second (transactions per second); bytes_per_entity
// (EntityStore::memory_bytes() / entities after a pass).
// Debug and sanitizer builds run 1e4 transactions over 1e3 users.
//
//   cmake --build build-release --target bench_transaction_pipeline
//   build-release/benchmarks/bench_transaction_pipeline --benchmark_repetitions=5
// The machine's noise moves these by 10-30%: compare cases run back to back,
// pinned (taskset -c 0), over several runs.

#include <redflag/forest/isolation_forest.hpp>
#include <redflag/risk/risk_decision.hpp>
#include <redflag/rules/rules_engine.hpp>
#include <redflag/transactions/transaction_features.hpp>
#include <redflag/transactions/transaction_rules.hpp>
#include <redflag/transactions/transaction_simulator.hpp>

#include <benchmark/benchmark.h>

#ifdef REDFLAG_BENCH_TRANSACTION_JSON
#include "transactions/transaction_json.hpp"
#endif

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace {

#if defined(NDEBUG) && !defined(__SANITIZE_ADDRESS__)
constexpr bool full_sizes = true;
#else
constexpr bool full_sizes = false;
#endif

constexpr std::size_t transactions = full_sizes ? 1'000'000 : 10'000;
constexpr std::size_t users = full_sizes ? 100'000 : 1'000;
constexpr std::size_t training_rows = transactions / 10;

const redflag::SimulatedStream& stream() {
  static const redflag::SimulatedStream data =
      redflag::TransactionSimulator({.users = users, .transactions = transactions, .fraud_rate = 0.01, .seed = 2024})
          .generate();
  return data;
}

redflag::EntityStoreParams store_params() {
  redflag::EntityStoreParams params;
  params.max_entities = 2 * users;
  return params;
}

const redflag::IsolationForest<double>& model() {
  static const redflag::IsolationForest<double> forest = [] {
    const auto& txns = stream().transactions;
    redflag::EntityStore store(store_params());
    auto features = redflag::make_transaction_features();
    redflag::Matrix<double> X(static_cast<redflag::Index>(training_rows), 10);
    redflag::featurize(std::span<const redflag::Transaction>(txns.data(), training_rows), store, features, X);
    redflag::IsolationForest<double> f({.random_state = 1});
    f.fit(X, features.schema());
    return f;
  }();
  return forest;
}

// Everything one transaction goes through; returns the decision's score so
// the work cannot be optimised away.
struct Pipeline {
  redflag::EntityStore store{store_params()};
  redflag::TransactionFeatures features = redflag::make_transaction_features();
  redflag::TransactionRuleFeatures rule_columns = redflag::make_transaction_rule_features();
  redflag::RulesEngine engine = redflag::transaction_rules(rule_columns);
  redflag::RiskDecider decider;
  redflag::RuleHits hits;
  std::array<double, 10> row{};
  std::array<double, redflag::TransactionRuleFeatures::width> rule_row{};

  double process(const redflag::Transaction& txn, const redflag::IsolationForest<double>* forest) {
    return decide(txn, forest).risk_score;
  }

  // The decision; its model score is left in `model_score`.
  redflag::RiskDecision decide(const redflag::Transaction& txn, const redflag::IsolationForest<double>* forest) {
    const redflag::EntityEvent event = redflag::to_entity_event(txn);
    store.observe(event, [&](const redflag::EntityState& before) {
      const redflag::TransactionContext context{txn, event, before};
      features.write_row(context, std::span<double>(row));
      rule_columns.write_row(context, std::span<double>(rule_row));
      engine.evaluate(std::span<const double>(rule_row), hits);
    });
    model_score.reset();
    if (forest != nullptr) model_score = forest->score_one(std::span<const double>(row));
    return decider.decide(model_score, hits, engine);
  }
  std::optional<double> model_score;

  // The same work for txns[0..n) through EntityStore::observe_batch; calls
  // done(i) after transaction i's decision. Deciding inside the visitor gives
  // the same decisions (decide reads only the row and the hits).
  template <class Done>
  double process_batch(std::span<const redflag::Transaction> txns, const redflag::IsolationForest<double>* forest,
                       Done&& done) {
    events.clear();
    for (const auto& txn : txns) events.push_back(redflag::to_entity_event(txn));
    double total = 0.0;
    store.observe_batch(events, [&](std::size_t i, const redflag::EntityState& before) {
      const redflag::TransactionContext context{txns[i], events[i], before};
      features.write_row(context, std::span<double>(row));
      rule_columns.write_row(context, std::span<double>(rule_row));
      engine.evaluate(std::span<const double>(rule_row), hits);
      std::optional<double> score;
      if (forest != nullptr) score = forest->score_one(std::span<const double>(row));
      total += decider.decide(score, hits, engine).risk_score;
      done(i);
    });
    return total;
  }
  std::vector<redflag::EntityEvent> events;
};

void report_memory(benchmark::State& state, const redflag::EntityStore& store) {
  state.counters["bytes_per_entity"] =
      static_cast<double>(store.memory_bytes()) / static_cast<double>(std::max<std::size_t>(1, store.size()));
}

void BM_state(benchmark::State& state) {
  const auto& txns = stream().transactions;
  std::unique_ptr<redflag::EntityStore> store;
  for (auto _ : state) {
    state.PauseTiming();
    store = std::make_unique<redflag::EntityStore>(store_params());
    state.ResumeTiming();
    for (const auto& txn : txns) benchmark::DoNotOptimize(store->observe(redflag::to_entity_event(txn)));
  }
  report_memory(state, *store);
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * txns.size()));
}

void run_pipeline(benchmark::State& state, bool with_model) {
  const auto& txns = stream().transactions;
  const redflag::IsolationForest<double>* forest = with_model ? &model() : nullptr;
  std::unique_ptr<Pipeline> pipeline;
  for (auto _ : state) {
    state.PauseTiming();
    pipeline = std::make_unique<Pipeline>();
    state.ResumeTiming();
    double total = 0.0;
    for (const auto& txn : txns) total += pipeline->process(txn, forest);
    benchmark::DoNotOptimize(total);
  }
  report_memory(state, pipeline->store);
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * txns.size()));
}

void BM_state_batch(benchmark::State& state) {
  const std::span<const redflag::Transaction> txns(stream().transactions);
  const auto batch = static_cast<std::size_t>(state.range(0));
  std::unique_ptr<redflag::EntityStore> store;
  std::vector<redflag::EntityEvent> events;
  for (auto _ : state) {
    state.PauseTiming();
    store = std::make_unique<redflag::EntityStore>(store_params());
    state.ResumeTiming();
    for (std::size_t begin = 0; begin < txns.size(); begin += batch) {
      events.clear();
      for (const auto& txn : txns.subspan(begin, std::min(batch, txns.size() - begin))) {
        events.push_back(redflag::to_entity_event(txn));
      }
      store->observe_batch(events, [](std::size_t, const redflag::EntityState&) {});
    }
  }
  report_memory(state, *store);
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * txns.size()));
}

void run_pipeline_batch(benchmark::State& state, bool with_model) {
  const std::span<const redflag::Transaction> txns(stream().transactions);
  const auto batch = static_cast<std::size_t>(state.range(0));
  const redflag::IsolationForest<double>* forest = with_model ? &model() : nullptr;
  std::unique_ptr<Pipeline> pipeline;
  for (auto _ : state) {
    state.PauseTiming();
    pipeline = std::make_unique<Pipeline>();
    state.ResumeTiming();
    double total = 0.0;
    for (std::size_t begin = 0; begin < txns.size(); begin += batch) {
      total += pipeline->process_batch(txns.subspan(begin, std::min(batch, txns.size() - begin)), forest,
                                       [](std::size_t) {});
    }
    benchmark::DoNotOptimize(total);
  }
  report_memory(state, pipeline->store);
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * txns.size()));
}

void BM_state_features_rules(benchmark::State& state) { run_pipeline(state, false); }
void BM_state_features_rules_model(benchmark::State& state) { run_pipeline(state, true); }
void BM_state_features_rules_batch(benchmark::State& state) { run_pipeline_batch(state, false); }
void BM_state_features_rules_model_batch(benchmark::State& state) { run_pipeline_batch(state, true); }

// batch = 0: each transaction timed around process(). batch = B: the stream
// goes through process_batch in batches of B, and a transaction's latency is
// from its batch's start to its decision (so it includes waiting for the
// transactions ahead of it in the batch).
void BM_latency(benchmark::State& state) {
  const bool with_model = state.range(0) != 0;
  const auto batch = static_cast<std::size_t>(state.range(1));
  const std::span<const redflag::Transaction> txns(stream().transactions);
  const redflag::IsolationForest<double>* forest = with_model ? &model() : nullptr;
  constexpr std::size_t bucket_ns = 10;
  std::vector<std::uint64_t> histogram(100'000 / bucket_ns + 1, 0);  // last bucket: >= 100 us
  auto record = [&](std::chrono::steady_clock::time_point start) {
    const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - start);
    ++histogram[std::min<std::size_t>(static_cast<std::size_t>(ns.count()) / bucket_ns, histogram.size() - 1)];
  };
  for (auto _ : state) {
    state.PauseTiming();
    auto pipeline = std::make_unique<Pipeline>();
    state.ResumeTiming();
    double total = 0.0;
    if (batch == 0) {
      for (const auto& txn : txns) {
        const auto start = std::chrono::steady_clock::now();
        total += pipeline->process(txn, forest);
        record(start);
      }
    } else {
      for (std::size_t begin = 0; begin < txns.size(); begin += batch) {
        const auto start = std::chrono::steady_clock::now();
        total += pipeline->process_batch(txns.subspan(begin, std::min(batch, txns.size() - begin)), forest,
                                         [&](std::size_t) { record(start); });
      }
    }
    benchmark::DoNotOptimize(total);
    state.PauseTiming();
    pipeline.reset();
    state.ResumeTiming();
  }
  std::uint64_t count = 0;
  for (const auto c : histogram) count += c;
  auto percentile = [&](double q) {
    const auto target = static_cast<std::uint64_t>(q * static_cast<double>(count));
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i < histogram.size(); ++i) {
      cumulative += histogram[i];
      if (cumulative > target) return static_cast<double>((i + 1) * bucket_ns);  // bucket's upper edge
    }
    return static_cast<double>(histogram.size() * bucket_ns);
  };
  state.counters["p50_ns"] = percentile(0.50);
  state.counters["p99_ns"] = percentile(0.99);
  state.counters["p999_ns"] = percentile(0.999);
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * txns.size()));
}

#ifdef REDFLAG_BENCH_TRANSACTION_JSON
void BM_json_lines(benchmark::State& state) {
  const bool with_model = state.range(0) != 0;
  const redflag::IsolationForest<double>* forest = with_model ? &model() : nullptr;
  static const std::vector<std::string> lines = [] {
    std::vector<std::string> out;
    for (std::size_t i = 0; i < transactions / 5; ++i) {
      out.push_back(transactions_example::to_json(stream().transactions[i], stream().patterns[i]).dump());
    }
    return out;
  }();
  transactions_example::TransactionReader reader;
  transactions_example::Verdict verdict;
  std::string verdict_line;
  std::unique_ptr<Pipeline> pipeline;
  for (auto _ : state) {
    state.PauseTiming();
    pipeline = std::make_unique<Pipeline>();
    state.ResumeTiming();
    std::size_t bytes = 0;
    for (const std::string& line : lines) {
      const transactions_example::LabelledTransaction input = reader.parse(line);
      const redflag::RiskDecision decision = pipeline->decide(input.txn, forest);
      verdict.transaction_id = input.txn.id;
      verdict.risk_score = decision.risk_score;
      verdict.level = decision.level;
      verdict.recommendation = decision.recommendation;
      verdict.reason_codes.assign(decision.reasons().begin(), decision.reasons().end());
      verdict.explanation = pipeline->decider.explain(decision, pipeline->hits, pipeline->engine);
      verdict.model_score = pipeline->model_score;
      verdict.model_version = with_model ? 1 : 0;
      verdict_line.clear();
      transactions_example::append_json(verdict_line, verdict);
      bytes += verdict_line.size() + 1;
    }
    benchmark::DoNotOptimize(bytes);
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * lines.size()));
}
#endif

}  // namespace

BENCHMARK(BM_state)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_state_features_rules)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_state_features_rules_model)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_state_batch)->ArgName("batch")->Arg(16)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_state_features_rules_batch)
    ->ArgName("batch")
    ->Arg(4)
    ->Arg(8)
    ->Arg(16)
    ->Arg(64)
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_state_features_rules_model_batch)->ArgName("batch")->Arg(8)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_latency)
    ->ArgNames({"model", "batch"})
    ->Args({0, 0})
    ->Args({1, 0})
    ->Args({0, 4})
    ->Args({0, 8})
    ->Args({0, 16})
    ->Unit(benchmark::kMillisecond);
#ifdef REDFLAG_BENCH_TRANSACTION_JSON
BENCHMARK(BM_json_lines)->ArgName("model")->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);
#endif
