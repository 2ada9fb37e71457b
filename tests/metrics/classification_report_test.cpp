#include "metrics_test_support.hpp"

#include <redflag/metrics/classification_report.hpp>

#include <doctest/doctest.h>

#include <limits>
#include <string>

using metrics_test::labels;
using metrics_test::scores;

namespace {

void check_row(const redflag::ClassMetrics& got, const std::vector<double>& expected) {
  REQUIRE(expected.size() == 4);
  CHECK(got.precision == doctest::Approx(expected[0]).epsilon(1e-14));
  CHECK(got.recall == doctest::Approx(expected[1]).epsilon(1e-14));
  CHECK(got.f1_score == doctest::Approx(expected[2]).epsilon(1e-14));
  CHECK(static_cast<double>(got.support) == expected[3]);
}

}  // namespace

TEST_CASE("classification_report matches scikit-learn's text and values") {
  for (const auto& c : sklearn_reference::report_cases) {
    CAPTURE(c.name);
    const auto y = labels(c.y_true);
    const auto p = labels(c.y_pred);
    redflag::ClassificationReportFormat format;
    if (!c.target_names.empty()) {
      format.target_names = {std::string(c.target_names[0]), std::string(c.target_names[1])};
    }
    format.digits = c.digits;
    CHECK(redflag::classification_report_text(y, p, format) == c.text);

    const redflag::ClassificationReport report = redflag::classification_report(y, p);
    check_row(report.classes[0], c.class0);
    check_row(report.classes[1], c.class1);
    check_row(report.macro_avg, c.macro_avg);
    check_row(report.weighted_avg, c.weighted_avg);
    CHECK(report.accuracy == doctest::Approx(c.accuracy).epsilon(1e-14));
    CHECK(report.counts == redflag::confusion_matrix(y, p));
  }
}

TEST_CASE_TEMPLATE("classification_report at a threshold equals the report of the predictions", T, float, double) {
  const auto y = labels({0, 1, 1, 0, 1, 0});
  const auto s = scores<T>({0.2, 0.9, 0.5, 0.5, 0.1, 0.7});
  const auto from_scores = redflag::classification_report(y, s, redflag::AtThreshold{0.5});
  const auto from_predictions = redflag::classification_report(y, labels({0, 1, 1, 1, 0, 1}));
  CHECK(from_scores.to_string() == from_predictions.to_string());
  CHECK(from_scores.counts == from_predictions.counts);
}

TEST_CASE("a report with one class only still lists both classes") {
  const auto report = redflag::classification_report(labels({0, 0, 0}), labels({0, 0, 0}));
  CHECK(report.classes[1].support == 0);
  CHECK(report.classes[1].precision == 0.0);  // zero division -> 0
  CHECK(report.accuracy == 1.0);
  CHECK(report.to_string().find("           1       0.00      0.00      0.00         0\n") != std::string::npos);
}

TEST_CASE("classification_report rejects bad input") {
  const auto y = labels({0, 1, 1, 0});
  CHECK_THROWS_WITH_AS(redflag::classification_report(y, labels({0, 1, 2, 0})),
                       doctest::Contains("redflag::classification_report: y_pred[2] = 2 is not "
                                         "a binary label"),
                       redflag::data_error);
  CHECK_THROWS_WITH_AS(redflag::classification_report(y, labels({0, 1})),
                       doctest::Contains("y_true has 4 rows but y_pred has 2"), redflag::invalid_argument);
  CHECK_THROWS_WITH_AS(redflag::classification_report(redflag::LabelVector(0), redflag::LabelVector(0)),
                       doctest::Contains("y_true is empty"), redflag::data_error);
  auto s = scores<double>({0.1, 0.2, 0.3, 0.4});
  s(0) = std::numeric_limits<double>::quiet_NaN();
  CHECK_THROWS_WITH_AS(redflag::classification_report(y, s, redflag::AtThreshold{0.2}),
                       doctest::Contains("scores[0] = NaN is not finite"), redflag::data_error);
  const auto report = redflag::classification_report(y, labels({0, 1, 0, 0}));
  for (const int digits : {-1, 16}) {
    CAPTURE(digits);
    CHECK_THROWS_WITH_AS(report.to_string({.digits = digits}),
                         doctest::Contains("redflag::ClassificationReport::to_string: digits "
                                           "must be in [0, 15], got"),
                         redflag::invalid_argument);
  }
}
