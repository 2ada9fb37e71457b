#include <redflag/core/feature.hpp>

#include <doctest/doctest.h>

#include <array>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <new>
#include <numbers>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "../support/allocation_tracker.hpp"

using redflag::test::allocation_count;

using redflag::ColumnKind;
using redflag::FeatureColumn;
using redflag::Index;
using redflag::Matrix;

namespace {

struct Transaction {
  std::int64_t card = 0;
  double amount = 0;
  int hour = 0;  // 0..23
};

// One stateless numeric column.
struct LogAmount {
  static constexpr std::size_t width = 1;
  std::array<FeatureColumn, 1> columns() const { return {{{"log_amount"}}}; }
  void extract(const Transaction& t, std::span<double, 1> out) const { out[0] = std::log1p(t.amount); }
};

// Two stateless cyclical columns, so hour 23 sits next to hour 0.
struct HourOfDay {
  static constexpr std::size_t width = 2;
  std::array<FeatureColumn, 2> columns() const {
    return {{{"hour_sin", ColumnKind::timestamp_derived}, {"hour_cos", ColumnKind::timestamp_derived}}};
  }
  void extract(const Transaction& t, std::span<double, 2> out) const {
    const double angle = 2 * std::numbers::pi * t.hour / 24.0;
    out[0] = std::sin(angle);
    out[1] = std::cos(angle);
  }
};

// Stateful: how many earlier transactions the card made and how far this
// amount is from the card's mean so far (0 for a card's first transaction).
struct CardHistory {
  static constexpr std::size_t width = 2;
  struct State {
    double count = 0;
    double mean = 0;
  };
  std::unordered_map<std::int64_t, State> cards;

  std::array<FeatureColumn, 2> columns() const { return {{{"card_count"}, {"amount_vs_card_mean"}}}; }
  void extract(const Transaction& t, std::span<double, 2> out) {
    State& state = cards[t.card];
    out[0] = state.count;
    out[1] = state.count == 0 ? 0.0 : t.amount - state.mean;
    state.count += 1;
    state.mean += (t.amount - state.mean) / state.count;
  }
};

// --- types the Feature concept must reject ---
struct NoWidth {
  std::array<FeatureColumn, 1> columns() const { return {{{"a"}}}; }
  void extract(const Transaction&, std::span<double, 1>) const {}
};
struct NonStaticWidth {  // an easy slip: width must be static constexpr
  std::size_t width = 1;
  std::array<FeatureColumn, 1> columns() const { return {{{"a"}}}; }
  void extract(const Transaction&, std::span<double, 1>) const {}
};
struct RuntimeWidth {
  static const std::size_t width;  // not a constant expression
  std::array<FeatureColumn, 1> columns() const { return {{{"a"}}}; }
  void extract(const Transaction&, std::span<double, 1>) const {}
};
struct ZeroWidth {
  static constexpr std::size_t width = 0;
  std::array<FeatureColumn, 0> columns() const { return {}; }
  void extract(const Transaction&, std::span<double, 0>) const {}
};
struct WrongColumnCount {
  static constexpr std::size_t width = 2;
  std::array<FeatureColumn, 1> columns() const { return {{{"a"}}}; }
  void extract(const Transaction&, std::span<double, 2>) const {}
};
struct NoColumns {
  static constexpr std::size_t width = 1;
  void extract(const Transaction&, std::span<double, 1>) const {}
};
struct NoExtract {
  static constexpr std::size_t width = 1;
  std::array<FeatureColumn, 1> columns() const { return {{{"a"}}}; }
};
struct WrongExtractWidth {
  static constexpr std::size_t width = 1;
  std::array<FeatureColumn, 1> columns() const { return {{{"a"}}}; }
  void extract(const Transaction&, std::span<double, 2>) const {}
};
struct OtherRecord {};
struct ExtractsOtherRecord {
  static constexpr std::size_t width = 1;
  std::array<FeatureColumn, 1> columns() const { return {{{"a"}}}; }
  void extract(const OtherRecord&, std::span<double, 1>) const {}
};
struct FloatOutput {
  static constexpr std::size_t width = 1;
  std::array<FeatureColumn, 1> columns() const { return {{{"a"}}}; }
  void extract(const Transaction&, std::span<float, 1>) const {}
};

static_assert(redflag::Feature<LogAmount, Transaction>);
static_assert(redflag::Feature<HourOfDay, Transaction>);
static_assert(redflag::Feature<CardHistory, Transaction>);
static_assert(!redflag::Feature<NoWidth, Transaction>);
static_assert(!redflag::Feature<NonStaticWidth, Transaction>);
static_assert(!redflag::Feature<RuntimeWidth, Transaction>);
// Defined only after the check, so the check saw no constant (and clang sees a definition).
const std::size_t RuntimeWidth::width = 1;
static_assert(!redflag::Feature<ZeroWidth, Transaction>);
static_assert(!redflag::Feature<WrongColumnCount, Transaction>);
static_assert(!redflag::Feature<NoColumns, Transaction>);
static_assert(!redflag::Feature<NoExtract, Transaction>);
static_assert(!redflag::Feature<WrongExtractWidth, Transaction>);
static_assert(!redflag::Feature<ExtractsOtherRecord, Transaction>);
static_assert(!redflag::Feature<FloatOutput, Transaction>);
static_assert(!redflag::Feature<LogAmount, OtherRecord>);

static_assert(redflag::StatefulFeature<CardHistory, Transaction>);
static_assert(!redflag::StatefulFeature<LogAmount, Transaction>);
static_assert(!redflag::StatefulFeature<HourOfDay, Transaction>);

auto amount_cents() {
  return redflag::make_feature<Transaction>("amount_cents", [](const Transaction& t) { return t.amount * 100; });
}
auto is_night() {
  return redflag::make_feature<Transaction>(
      "is_night", [](const Transaction& t) { return t.hour < 6 ? 1 : 0; }, ColumnKind::categorical);
}

using StatelessSet = redflag::FeatureSet<Transaction, LogAmount, HourOfDay, decltype(amount_cents())>;
using StatefulSet = redflag::FeatureSet<Transaction, LogAmount, CardHistory>;

static_assert(redflag::Feature<decltype(amount_cents()), Transaction>);
static_assert(!redflag::StatefulFeature<decltype(amount_cents()), Transaction>);
static_assert(StatelessSet::width == 4);
static_assert(!StatelessSet::stateful);
static_assert(StatefulSet::width == 3);
static_assert(StatefulSet::stateful);

// A const FeatureSet can transform only when no feature keeps state.
template <class Set>
concept ConstTransform = requires(const Set& set, std::span<const Transaction> records, const Transaction& record,
                                  std::span<double> row, Eigen::Ref<Matrix<double>> out) {
  set.template transform<double>(records);
  set.template transform_one<float>(record);
  set.write_row(record, row);
  set.template transform_into<double>(records, out);
};
template <class Set>
concept MutableTransform = requires(Set& set, std::span<const Transaction> records, const Transaction& record,
                                    std::span<double> row, Eigen::Ref<Matrix<double>> out) {
  set.template transform<double>(records);
  set.template transform_one<float>(record);
  set.write_row(record, row);
  set.template transform_into<double>(records, out);
};
static_assert(ConstTransform<StatelessSet>);
static_assert(MutableTransform<StatelessSet>);
static_assert(!ConstTransform<StatefulSet>);
static_assert(MutableTransform<StatefulSet>);

const std::vector<Transaction> transactions = {
    {.card = 7, .amount = 10.0, .hour = 0},  {.card = 9, .amount = 250.0, .hour = 6},
    {.card = 7, .amount = 30.0, .hour = 12}, {.card = 7, .amount = 5.0, .hour = 18},
    {.card = 9, .amount = 50.0, .hour = 23},
};

std::vector<Transaction> many_transactions(std::size_t count) {
  std::vector<Transaction> records;
  for (std::size_t i = 0; i < count; ++i) {
    records.push_back({.card = static_cast<std::int64_t>(i % 13),
                       .amount = 1.0 + static_cast<double>((i * 37) % 500),
                       .hour = static_cast<int>(i % 24)});
  }
  return records;
}

}  // namespace

TEST_CASE("the schema lists every column in feature order with its kind") {
  const StatelessSet set(LogAmount{}, HourOfDay{}, amount_cents());
  const redflag::Schema& schema = set.schema();
  CHECK(schema.names() == std::vector<std::string>{"log_amount", "hour_sin", "hour_cos", "amount_cents"});
  CHECK(schema[0].kind == ColumnKind::numeric);
  CHECK(schema[1].kind == ColumnKind::timestamp_derived);
  CHECK(schema[2].kind == ColumnKind::timestamp_derived);
  CHECK(schema[3].kind == ColumnKind::numeric);

  auto reordered = redflag::make_feature_set<Transaction>(HourOfDay{}, is_night(), LogAmount{});
  CHECK(reordered.schema().names() == std::vector<std::string>{"hour_sin", "hour_cos", "is_night", "log_amount"});
  CHECK(reordered.schema()[2].kind == ColumnKind::categorical);
}

TEST_CASE_TEMPLATE("stateless features: single record and batch agree", T, float, double) {
  const StatelessSet set(LogAmount{}, HourOfDay{}, amount_cents());
  const Matrix<T> one = set.template transform_one<T>(transactions[3]);  // 5.0 at 18:00
  REQUIRE(one.rows() == 1);
  REQUIRE(one.cols() == 4);
  CHECK(one(0, 0) == doctest::Approx(std::log1p(5.0)));
  CHECK(one(0, 1) == doctest::Approx(-1.0));               // sin(3π/2)
  CHECK(one(0, 2) == doctest::Approx(0.0).epsilon(1e-6));  // cos(3π/2)
  CHECK(one(0, 3) == doctest::Approx(500.0));

  const Matrix<T> batch = set.template transform<T>(transactions);
  REQUIRE(batch.rows() == static_cast<Index>(transactions.size()));
  REQUIRE(batch.cols() == 4);
  for (std::size_t i = 0; i < transactions.size(); ++i) {
    const Matrix<T> row = set.template transform_one<T>(transactions[i]);
    CHECK(batch.row(static_cast<Index>(i)) == row.row(0));
    CHECK(batch(static_cast<Index>(i), 0) == static_cast<T>(std::log1p(transactions[i].amount)));
  }
  // Hour 0 and hour 23 are neighbours on the circle.
  const T gap = (batch.row(0) - batch.row(4)).template segment<2>(1).norm();
  CHECK(gap < T(0.3));
  // The values are computed in double and rounded once to T.
  CHECK(batch(4, 3) == static_cast<T>(50.0 * 100));

  CHECK(set.template transform<T>(std::span<const Transaction>()).rows() == 0);
}

TEST_CASE_TEMPLATE("a stateful feature sees the records in order", T, float, double) {
  StatefulSet set(LogAmount{}, CardHistory{});
  const Matrix<T> out = set.template transform<T>(transactions);
  // card 7: 10, 30, 5; card 9: 250, 50
  Matrix<T> expected_history(5, 2);
  expected_history << T(0), T(0),  // card 7 first
      T(0), T(0),                  // card 9 first
      T(1), T(30 - 10),            // card 7: mean 10
      T(2), T(5 - 20),             // card 7: mean of 10, 30
      T(1), T(50 - 250);           // card 9: mean 250
  CHECK(out.template rightCols<2>() == expected_history);
  CHECK(out(0, 0) == static_cast<T>(std::log1p(10.0)));

  // The state lives in the set's copy of the feature and carries over.
  const CardHistory& history = std::get<1>(set.features());
  CHECK(history.cards.size() == 2);
  CHECK(history.cards.at(7).count == 3);
  CHECK(history.cards.at(7).mean == doctest::Approx(15.0));
  const Matrix<T> next = set.template transform_one<T>({.card = 7, .amount = 45.0, .hour = 1});
  CHECK(next(0, 1) == T(3));
  CHECK(next(0, 2) == T(30));

  // The same records in another order give other values: order is honoured.
  StatefulSet reversed_set(LogAmount{}, CardHistory{});
  const std::vector<Transaction> reversed(transactions.rbegin(), transactions.rend());
  const Matrix<T> reversed_out = reversed_set.template transform<T>(reversed);
  CHECK(reversed_out(0, 1) == T(0));                    // card 9's 50 is now first
  CHECK(reversed_out(4, 2) == T(10 - (5 + 30) / 2.0));  // card 7's 10 comes last
}

TEST_CASE("write_row writes exactly width values") {
  const StatelessSet set(LogAmount{}, HourOfDay{}, amount_cents());
  std::array<double, 4> row{};
  set.write_row(transactions[1], std::span<double>(row));
  CHECK(row[0] == std::log1p(250.0));
  CHECK(row[1] == doctest::Approx(1.0));  // 06:00
  CHECK(row[3] == 25000.0);

  std::array<float, 6> wide{};
  CHECK_THROWS_WITH_AS(set.write_row(transactions[0], std::span<float>(wide)),
                       "redflag::FeatureSet::write_row: row has 6 values, expected 4", redflag::invalid_argument);
  CHECK_THROWS_WITH_AS(set.write_row(transactions[0], std::span<double>(row.data(), 3)),
                       doctest::Contains("row has 3 values, expected 4"), redflag::invalid_argument);
  CHECK(wide == std::array<float, 6>{});  // nothing written on failure
}

TEST_CASE_TEMPLATE("transform_into checks the output shape and honours strides", T, float, double) {
  const StatelessSet set(LogAmount{}, HourOfDay{}, amount_cents());
  const std::span<const Transaction> records(transactions);
  Matrix<T> wrong_rows(4, 4);
  CHECK_THROWS_WITH_AS(set.template transform_into<T>(records, wrong_rows),
                       "redflag::FeatureSet::transform_into: output is 4 x 4, expected 5 x 4",
                       redflag::invalid_argument);
  Matrix<T> wrong_cols(5, 3);
  CHECK_THROWS_WITH_AS(set.template transform_into<T>(records, wrong_cols),
                       doctest::Contains("output is 5 x 3, expected 5 x 4"), redflag::invalid_argument);

  // Writing into the middle columns of a wider matrix leaves the rest alone.
  Matrix<T> wide = Matrix<T>::Constant(5, 7, T(-9));
  set.template transform_into<T>(records, wide.middleCols(2, 4));
  CHECK(wide.middleCols(2, 4) == set.template transform<T>(records));
  CHECK((wide.leftCols(2).array() == T(-9)).all());
  CHECK((wide.col(6).array() == T(-9)).all());
}

TEST_CASE("duplicate or empty column names are rejected") {
  CHECK_THROWS_WITH_AS((redflag::make_feature_set<Transaction>(LogAmount{}, HourOfDay{}, LogAmount{})),
                       "redflag::FeatureSet::FeatureSet: two features declare the column 'log_amount'",
                       redflag::invalid_argument);
  auto clash = redflag::make_feature<Transaction>("hour_cos", [](const Transaction& t) { return t.hour; });
  CHECK_THROWS_WITH_AS((redflag::make_feature_set<Transaction>(HourOfDay{}, clash)),
                       doctest::Contains("two features declare the column 'hour_cos'"), redflag::invalid_argument);
  auto unnamed = redflag::make_feature<Transaction>("", [](const Transaction& t) { return t.amount; });
  CHECK_THROWS_WITH_AS((redflag::make_feature_set<Transaction>(LogAmount{}, unnamed)),
                       doctest::Contains("a feature declares a column with an empty name"), redflag::invalid_argument);
}

namespace {

// A column whose phrase names a placeholder that does not exist.
struct MisphrasedAmount {
  static constexpr std::size_t width = 1;
  std::array<FeatureColumn, 1> columns() const {
    return {{{"amount", ColumnKind::numeric, {.text = "amount {amount} EUR"}}}};
  }
  void extract(const Transaction& t, std::span<double, 1> out) const { out[0] = t.amount; }
};

// The same column, phrased well.
struct PhrasedAmount {
  static constexpr std::size_t width = 1;
  std::array<FeatureColumn, 1> columns() const {
    return {{{"amount", ColumnKind::numeric, {.text = "amount {value} EUR", .digits = 2}}}};
  }
  void extract(const Transaction& t, std::span<double, 1> out) const { out[0] = t.amount; }
};

}  // namespace

TEST_CASE("a column's phrase goes into the phrasebook, a malformed one is refused naming the column") {
  const auto features = redflag::make_feature_set<Transaction>(PhrasedAmount{}, LogAmount{});
  CHECK(features.phrasebook().size() == 1);  // LogAmount declares no phrase
  CHECK(features.phrasebook().describe("amount", 12.5) == "amount 12.50 EUR");
  CHECK(features.phrasebook().describe("log_amount", 0.25) == "log_amount 0.25");
  CHECK_THROWS_WITH_AS(
      (redflag::make_feature_set<Transaction>(MisphrasedAmount{})),
      "redflag::FeatureSet::FeatureSet: column 'amount': phrase \"amount {amount} EUR\" has an unknown "
      "placeholder {amount} (known: {name}, {value}, {percent})",
      redflag::invalid_argument);
}

TEST_CASE("make_feature wraps a function of the record") {
  auto feature = amount_cents();
  std::array<double, 1> out{};
  feature.extract(transactions[0], std::span<double, 1>(out));
  CHECK(out[0] == 1000.0);
  CHECK(feature.columns()[0].name == "amount_cents");
  CHECK(feature.columns()[0].kind == ColumnKind::numeric);
  CHECK(is_night().columns()[0].kind == ColumnKind::categorical);

  // The column name is copied into the schema, which outlives the feature.
  redflag::Schema schema;
  {
    std::string name = "temporary_name";
    auto set = redflag::make_feature_set<Transaction>(
        redflag::make_feature<Transaction>(name, [](const Transaction& t) { return t.amount; }));
    name = "overwritten";
    schema = set.schema();
  }
  CHECK(schema.names() == std::vector<std::string>{"temporary_name"});
}

TEST_CASE("transform_into allocates nothing per record") {
  const std::vector<Transaction> records = many_transactions(1000);
  const StatelessSet stateless(LogAmount{}, HourOfDay{}, amount_cents());
  Matrix<double> out(1000, StatelessSet::width);
  Matrix<float> out_float(1000, StatelessSet::width);

  // The counter sees allocations (otherwise a zero below proves nothing).
  const std::size_t before_probe = allocation_count.load();
  void* probe = ::operator new(64);
  const std::size_t probe_allocations = allocation_count.load() - before_probe;
  ::operator delete(probe);
  CHECK(probe_allocations == 1);

  const std::size_t before = allocation_count.load();
  stateless.transform_into<double>(records, out);
  stateless.transform_into<float>(records, out_float);
  for (const Transaction& record : records) {
    stateless.write_row(record, std::span<double>(out.row(0).data(), StatelessSet::width));
  }
  const std::size_t stateless_allocations = allocation_count.load() - before;
  CHECK(stateless_allocations == 0);
  CHECK(out(999, 3) == records[999].amount * 100);

  // A stateful feature allocates only for new entities, never for the set itself.
  StatefulSet stateful(LogAmount{}, CardHistory{});
  Matrix<double> out_stateful(1000, StatefulSet::width);
  const std::size_t before_first = allocation_count.load();
  stateful.transform_into<double>(records, out_stateful);
  const std::size_t first_pass = allocation_count.load() - before_first;
  CHECK(first_pass >= 13);  // one map node per card at least
  CHECK(first_pass < 100);  // not one per record
  const std::size_t before_second = allocation_count.load();
  stateful.transform_into<double>(records, out_stateful);
  CHECK(allocation_count.load() - before_second == 0);
  // Record 999 is card 11's 77th of the pass; the first pass saw 77 already.
  CHECK(out_stateful(999, 1) == 77 + 76);
}
