#include <redflag/lifecycle/drift.hpp>

#include "lifecycle_test_support.hpp"

#include <doctest/doctest.h>
#include <cereal/archives/portable_binary.hpp>

#include <algorithm>
#include <limits>
#include <numeric>
#include <sstream>
#include <vector>

using redflag::DriftMonitor;
using redflag::DriftReference;
using redflag::Index;
using redflag::Matrix;

namespace {

// Exact two-sample KS statistic from the full samples.
double exact_ks(std::vector<double> a, std::vector<double> b) {
  std::sort(a.begin(), a.end());
  std::sort(b.begin(), b.end());
  double d = 0.0;
  std::size_t i = 0, j = 0;
  while (i < a.size() && j < b.size()) {
    const double x = std::min(a[i], b[j]);
    while (i < a.size() && a[i] == x) ++i;
    while (j < b.size() && b[j] == x) ++j;
    d = std::max(d, std::abs(static_cast<double>(i) / static_cast<double>(a.size()) -
                             static_cast<double>(j) / static_cast<double>(b.size())));
  }
  return d;
}

std::vector<double> column(const Matrix<double>& X, Index j) {
  std::vector<double> values(static_cast<std::size_t>(X.rows()));
  for (Index i = 0; i < X.rows(); ++i) values[static_cast<std::size_t>(i)] = X(i, j);
  return values;
}

}  // namespace

TEST_CASE("no drift on the reference itself or on fresh rows of the same distribution") {
  const auto reference_rows = redflag::test::normal_rows(5000, 3, 1);
  const auto reference = DriftReference::fit(reference_rows, {}, {"amount", "hour", "velocity"});
  CHECK(reference.rows() == 5000);
  for (const auto& feature : reference.features()) {
    CHECK(feature.edges.size() == 99);
    CHECK(feature.psi_bin_ends.size() == 10);
    CHECK(std::accumulate(feature.shares.begin(), feature.shares.end(), 0.0) == doctest::Approx(1.0));
  }
  DriftMonitor itself(reference, {.block_rows = 5000, .window_blocks = 1});
  itself.observe(reference_rows);
  for (const auto& drift : itself.report().features) {
    CHECK(drift.psi == doctest::Approx(0.0).epsilon(1e-12));
    CHECK(drift.ks == doctest::Approx(0.0).epsilon(1e-12));
  }
  DriftMonitor fresh(reference);
  fresh.observe(redflag::test::normal_rows(5000, 3, 2));
  const auto report = fresh.report();
  CHECK_FALSE(report.drifted());
  CHECK(report.live_rows == 5000);
  CHECK(report.reference_rows == 5000);
  REQUIRE(report.features.size() == 3);
  CHECK(report.features[1].feature == "hour");
  for (const auto& drift : report.features) {
    CHECK(drift.psi < 0.02);
    CHECK(drift.ks < 0.05);
  }
}

TEST_CASE("a shifted feature is flagged, the others are not") {
  const auto reference = DriftReference::fit(redflag::test::normal_rows(4000, 3, 3));
  Matrix<double> live = redflag::test::normal_rows(3000, 3, 4);
  live.col(1).array() += 1.0;
  DriftMonitor monitor(reference);
  monitor.observe(live);
  const auto report = monitor.report();
  CHECK(report.drifted());
  CHECK(report.drifted_features() == std::vector<std::string>{"x1"});
  CHECK(report.features[1].psi > 0.5);
  CHECK(report.features[1].ks > 0.3);
  CHECK(report.features[1].psi_drift);
  CHECK(report.features[1].ks_drift);
}

TEST_CASE("the binned KS statistic brackets the exact one within the documented bound") {
  const auto reference_rows = redflag::test::normal_rows(3000, 1, 5);
  for (const double shift : {0.0, 0.05, 0.2, 0.7, 3.0}) {
    for (const redflag::Index ks_bins : {Index{10}, Index{100}}) {
      const auto reference = DriftReference::fit(reference_rows, {.psi_bins = 10, .ks_bins = ks_bins});
      Matrix<double> live = redflag::test::normal_rows(2000, 1, 6, shift, 1.3);
      DriftMonitor monitor(reference);
      monitor.observe(live);
      const auto drift = monitor.report().features[0];
      const double exact = exact_ks(column(reference_rows, 0), column(live, 0));
      CHECK(drift.ks <= exact + 1e-12);
      CHECK(exact <= drift.ks + drift.ks_error_bound + 1e-12);
      CHECK(drift.ks_error_bound <= 1.0 / static_cast<double>(ks_bins) + 1.0 / 3000.0);
    }
  }
}

TEST_CASE("the live window slides: old rows leave it") {
  const auto reference = DriftReference::fit(redflag::test::normal_rows(3000, 2, 7));
  DriftMonitor monitor(reference, {.block_rows = 500, .window_blocks = 4});
  monitor.observe(redflag::test::normal_rows(3000, 2, 8, 2.0));
  CHECK(monitor.report().drifted());
  CHECK(monitor.live_rows() == 2000);
  // 1,600 normal rows: the window drops the shifted ones block by block.
  monitor.observe(redflag::test::normal_rows(1600, 2, 9));
  CHECK(monitor.live_rows() == 1600);
  CHECK_FALSE(monitor.report().drifted());
  monitor.reset();
  CHECK(monitor.live_rows() == 0);
}

TEST_CASE("ties merge bins; a change in the share of a binary feature is flagged") {
  Matrix<double> reference_rows(1000, 1);
  for (Index i = 0; i < 1000; ++i) reference_rows(i, 0) = i % 10 == 0 ? 1.0 : 0.0;  // 10% ones
  const auto reference = DriftReference::fit(reference_rows);
  CHECK(reference.features()[0].edges == std::vector<double>{0.0, 1.0});
  CHECK(reference.features()[0].shares == std::vector<double>{0.0, 0.9, 0.1});
  Matrix<double> live(1000, 1);
  for (Index i = 0; i < 1000; ++i) live(i, 0) = i % 2 == 0 ? 1.0 : 0.0;  // 50% ones
  DriftMonitor monitor(reference);
  monitor.observe(live);
  const auto drift = monitor.report().features[0];
  CHECK(drift.ks == doctest::Approx(0.4));
  CHECK(drift.psi == doctest::Approx((0.5 - 0.9) * std::log(0.5 / 0.9) + (0.5 - 0.1) * std::log(0.5 / 0.1)));
}

TEST_CASE("score drift: the model's scores on shifted data") {
  const auto train = redflag::test::normal_rows(1000, 3, 10);
  redflag::IsolationForest<double> forest({.n_estimators = 20, .random_state = 1});
  forest.fit(train);
  DriftMonitor scores(DriftReference::fit_scores(forest.anomaly_score(train)));
  scores.observe_scores(forest.anomaly_score(redflag::test::normal_rows(1000, 3, 11)));
  CHECK_FALSE(scores.report().drifted());
  CHECK(scores.report().features[0].feature == "score");
  scores.reset();
  scores.observe_scores(forest.anomaly_score(redflag::test::normal_rows(1000, 3, 12, 0.0, 2.0)));
  CHECK(scores.report().drifted());
}

TEST_CASE("the reference round-trips through cereal") {
  const auto reference = DriftReference::fit(redflag::test::normal_rows(500, 2, 13));
  std::stringstream stream;
  {
    cereal::PortableBinaryOutputArchive archive(stream);
    archive(reference);
  }
  DriftReference loaded;
  {
    cereal::PortableBinaryInputArchive archive(stream);
    archive(loaded);
  }
  const auto live = redflag::test::normal_rows(300, 2, 14, 0.5);
  DriftMonitor a(reference), b(loaded);
  a.observe(live);
  b.observe(live);
  CHECK(a.report().features[0].psi == b.report().features[0].psi);
  CHECK(a.report().features[1].ks == b.report().features[1].ks);
}

TEST_CASE("bad input is refused with a clear error and changes nothing") {
  CHECK_THROWS_WITH_AS(DriftReference::fit(Matrix<double>(0, 3)),
                       "redflag::DriftReference::fit: the reference window has no rows", redflag::data_error);
  Matrix<double> with_nan = redflag::test::normal_rows(10, 2, 1);
  with_nan(3, 1) = std::numeric_limits<double>::quiet_NaN();
  CHECK_THROWS_WITH_AS(DriftReference::fit(with_nan),
                       "redflag::DriftReference::fit: X has NaN at row 3, column 1 (finite values required)",
                       redflag::data_error);
  CHECK_THROWS_AS(DriftReference::fit(redflag::test::normal_rows(10, 2, 1), {.psi_bins = 10, .ks_bins = 25}),
                  redflag::invalid_argument);
  CHECK_THROWS_AS(DriftReference::fit(redflag::test::normal_rows(10, 2, 1), {}, {"only one"}),
                  redflag::schema_mismatch);
  CHECK_THROWS_AS(DriftMonitor(DriftReference{}), redflag::invalid_argument);

  DriftMonitor monitor(DriftReference::fit(redflag::test::normal_rows(100, 2, 2)));
  CHECK_THROWS_WITH_AS((void)monitor.report(), "redflag::DriftMonitor::report: the live window has no rows yet",
                       redflag::data_error);
  monitor.observe(redflag::test::normal_rows(10, 2, 3));
  CHECK_THROWS_AS(monitor.observe(redflag::test::normal_rows(10, 3, 3)), redflag::schema_mismatch);
  CHECK_THROWS_AS(monitor.observe(with_nan), redflag::data_error);
  CHECK(monitor.live_rows() == 10);
  CHECK_THROWS_AS(DriftMonitor(DriftReference::fit(redflag::test::normal_rows(10, 1, 1)), {.ks_threshold = 0.0}),
                  redflag::invalid_argument);
}
