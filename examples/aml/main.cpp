// AML customer risk with redflag, end to end, on GENERATED data (bank.hpp):
//
//   1. customer features (features.hpp) for a training month and a live month;
//   2. RandomForest risk models: v1 trained on month 1, v2 retrained on both
//      months; a risk level and the top-3 SHAP reasons per customer;
//   3. an IsolationForest over transactions (amount, 24-hour velocity,
//      cyclical hour and weekday) flags unusual payments, with reasons;
//   4. PSI / KS drift of every customer feature between the two months;
//   5. precision / accuracy per model version (PerformanceMonitor) and a
//      classification report on held-out customers.
//
// usage: redflag_aml [--seed N] [--customers N] [--json FILE]
#include "bank.hpp"
#include "features.hpp"
#include "levels.hpp"

#include <redflag/forest/isolation_forest.hpp>
#include <redflag/forest/random_forest.hpp>
#include <redflag/lifecycle/drift.hpp>
#include <redflag/lifecycle/performance_monitor.hpp>
#include <redflag/metrics/classification_report.hpp>
#include <redflag/metrics/precision_recall.hpp>
#include <redflag/metrics/roc.hpp>
#include <redflag/preprocessing/train_test_split.hpp>

#include <CLI/CLI.hpp>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <numeric>
#include <optional>
#include <span>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

namespace {

using redflag::Index;
using redflag::LabelVector;
using redflag::Matrix;
using redflag::Vector;
using Forest = redflag::RandomForest<double>;

constexpr int reasons_shown = 3;
constexpr double transaction_contamination = 0.005;  // share of training payments the detector would flag
constexpr std::size_t customers_listed = 10;
constexpr std::size_t transactions_listed = 10;

struct Options {
  std::uint64_t seed = 7;
  Index customers = 2000;
  std::string json;  // also write the results as JSON here
};

struct Reason {
  std::string feature;
  double value;
  double contribution;
};

struct RiskRow {
  std::int64_t customer;
  int business;
  double probability;
  std::string_view level;
  std::vector<Reason> reasons;  // explained for level high only
};

struct UnusualRow {
  aml::Transaction transaction;
  double score;
  std::vector<Reason> reasons;
};

struct VersionRow {
  std::uint64_t version;
  std::string trained_on;
  double roc_auc;
  redflag::PerformanceStats stats;
};

// Everything the program reports, in the order it prints it.
struct Results {
  Options options;
  std::size_t training_payments = 0, live_payments = 0;
  std::vector<RiskRow> risk;  // held-out customers, most likely high risk first
  std::string level_rules;    // the rules the levels come from
  Index scored_payments = 0, flagged_payments = 0, flagged_injected = 0, injected = 0;
  double transaction_threshold = 0.0;
  double transaction_roc_auc = 0.0;  // the scores against the generator's injected payments
  std::vector<UnusualRow> unusual;   // the highest-scoring flagged payments
  redflag::DriftReport drift;
  redflag::DriftMonitor::Params drift_params;
  std::vector<VersionRow> versions;
  std::vector<redflag::PerformanceAlert> alerts;
  double roc_auc = 0.0, average_precision = 0.0;
  redflag::ClassificationReport report;

  [[nodiscard]] Index count(std::string_view level) const {
    return std::count_if(risk.begin(), risk.end(), [&](const RiskRow& row) { return row.level == level; });
  }
};

// The risk levels' rules: rules.json beside the example's sources, unless
// REDFLAG_AML_RULES names another file.
std::filesystem::path rules_file() {
  const char* path = std::getenv("REDFLAG_AML_RULES");
  return path != nullptr && *path != '\0' ? path : REDFLAG_AML_RULES_FILE;
}

Matrix<double> rows_of(const Matrix<double>& X, const std::vector<Index>& rows) {
  Matrix<double> out(static_cast<Index>(rows.size()), X.cols());
  for (std::size_t i = 0; i < rows.size(); ++i) out.row(static_cast<Index>(i)) = X.row(rows[i]);
  return out;
}

// The k columns that pushed row r's score up the most, largest first.
std::vector<Reason> top_reasons(const Matrix<double>& contributions, const Matrix<double>& X, Index r,
                                const std::vector<std::string>& names, int k) {
  std::vector<Index> order(static_cast<std::size_t>(contributions.cols()));
  std::iota(order.begin(), order.end(), Index{0});
  std::stable_sort(order.begin(), order.end(),
                   [&](Index a, Index b) { return contributions(r, a) > contributions(r, b); });
  std::vector<Reason> reasons;
  for (std::size_t i = 0; i < std::min(order.size(), static_cast<std::size_t>(k)); ++i) {
    reasons.push_back({names[static_cast<std::size_t>(order[i])], X(r, order[i]), contributions(r, order[i])});
  }
  return reasons;
}

Results run(const Options& options) {
  Results results;
  results.options = options;

  // ---- 1. Generated data and customer features ----------------------------
  const aml::GeneratedBank bank = aml::generate_bank({.seed = options.seed, .customers = options.customers});
  results.training_payments = bank.training.transactions.size();
  results.live_payments = bank.live.transactions.size();
  const auto customer_features = aml::customer_features();  // stateless: const, shareable
  const redflag::Schema& schema = customer_features.schema();
  const Matrix<double> month1 = customer_features.transform<double>(bank.training.customers);
  const Matrix<double> month2 = customer_features.transform<double>(bank.live.customers);
  const aml::RiskLevels levels(schema, rules_file());
  results.level_rules = levels.describe();

  // Hold out 30% of the customers (stratified); the models never see them.
  const auto split =
      redflag::train_test_split(month1, bank.high_risk, {.test_size = 0.3, .random_state = options.seed});
  const Matrix<double> train2 = rows_of(month2, split.train_index);
  const Matrix<double> live_held_out = rows_of(month2, split.test_index);
  const LabelVector& y_held_out = split.y_test;

  // ---- 2. Risk models: v1 on month 1, v2 retrained on months 1 and 2 ------
  const Forest::Params params{.n_estimators = 100,
                              .max_depth = 10,
                              .class_weight = redflag::ClassWeight::balanced,
                              .random_state = options.seed};
  Forest v1(params);
  v1.fit(split.X_train, split.y_train, schema);
  Matrix<double> both_months(2 * split.X_train.rows(), schema.size());
  both_months << split.X_train, train2;
  LabelVector both_labels(2 * split.y_train.size());
  both_labels << split.y_train, split.y_train;
  Forest v2(params);
  v2.fit(both_months, both_labels, schema);

  // The investigations of the live month's held-out customers are the
  // feedback; a customer at level high is the one flagged for review. The
  // window holds all of them.
  redflag::PerformanceMonitor performance({.window = live_held_out.rows(), .min_feedback = 100});
  const auto monitor = [&](std::uint64_t version, const Forest& forest, std::string trained_on) {
    const Vector<double> p = forest.predict_proba(live_held_out).col(1);
    for (Index i = 0; i < p.size(); ++i) {
      const std::span<const double> customer(live_held_out.row(i).data(), static_cast<std::size_t>(schema.size()));
      performance.record(version, levels.level(customer, p(i)) == "high", y_held_out(i) == 1);
    }
    results.versions.push_back(
        {version, std::move(trained_on), redflag::roc_auc_score(y_held_out, p), performance.stats(version)});
    return p;
  };
  monitor(1, v1, "month 1, " + std::to_string(split.X_train.rows()) + " customers");
  const Vector<double> production =
      monitor(2, v2, "months 1-2, " + std::to_string(both_months.rows()) + " customer-months");
  results.alerts = performance.alerts();

  // Levels for every held-out customer with v2; SHAP reasons for the high
  // ones (TreeSHAP costs far more than predicting: explain only the alerts).
  std::vector<Index> high_rows;
  for (Index i = 0; i < production.size(); ++i) {
    const aml::Customer& customer =
        bank.live.customers[static_cast<std::size_t>(split.test_index[static_cast<std::size_t>(i)])];
    const std::span<const double> row(live_held_out.row(i).data(), static_cast<std::size_t>(schema.size()));
    results.risk.push_back({customer.id, customer.business, production(i), levels.level(row, production(i)), {}});
    if (results.risk.back().level == "high") high_rows.push_back(i);
  }
  if (!high_rows.empty()) {
    const Matrix<double> high = rows_of(live_held_out, high_rows);
    const auto why = v2.explain(high, 1);  // class 1, the suspicious one
    for (std::size_t k = 0; k < high_rows.size(); ++k) {
      results.risk[static_cast<std::size_t>(high_rows[k])].reasons =
          top_reasons(why.contributions, high, static_cast<Index>(k), why.feature_names, reasons_shown);
    }
  }
  std::stable_sort(results.risk.begin(), results.risk.end(),
                   [](const RiskRow& a, const RiskRow& b) { return a.probability > b.probability; });

  // ---- 3. Unusual transactions ---------------------------------------------
  // The velocity columns read each customer's state in an EntityStore, so the
  // live month's rows continue the training month's history.
  const auto transaction_features = aml::transaction_features();
  const redflag::Schema transaction_schema = aml::transaction_schema(transaction_features);
  redflag::EntityStore customers(aml::customer_store_params());
  const Matrix<double> payments1 = aml::transaction_matrix(transaction_features, customers, bank.training.transactions);
  const Matrix<double> payments2 = aml::transaction_matrix(transaction_features, customers, bank.live.transactions);
  redflag::IsolationForest<double> detector(
      {.n_estimators = 100, .contamination = transaction_contamination, .random_state = options.seed});
  detector.fit(payments1, transaction_schema);
  const Vector<double> scores = detector.anomaly_score(payments2);
  results.scored_payments = scores.size();
  results.transaction_threshold = detector.threshold();
  LabelVector injected(scores.size());
  std::vector<Index> flagged;
  for (Index i = 0; i < scores.size(); ++i) {
    injected(i) = bank.live.transactions[static_cast<std::size_t>(i)].injected ? 1 : 0;
    if (scores(i) >= detector.threshold()) {
      flagged.push_back(i);
      results.flagged_injected += injected(i);
    }
  }
  results.injected = injected.sum();
  results.transaction_roc_auc = redflag::roc_auc_score(injected, scores);
  results.flagged_payments = static_cast<Index>(flagged.size());
  std::stable_sort(flagged.begin(), flagged.end(), [&](Index a, Index b) { return scores(a) > scores(b); });
  flagged.resize(std::min(flagged.size(), transactions_listed));
  if (!flagged.empty()) {
    const Matrix<double> top = rows_of(payments2, flagged);
    const auto why = detector.explain(top);
    for (std::size_t k = 0; k < flagged.size(); ++k) {
      results.unusual.push_back(
          {bank.live.transactions[static_cast<std::size_t>(flagged[k])], scores(flagged[k]),
           top_reasons(why.contributions, top, static_cast<Index>(k), why.feature_names, reasons_shown)});
    }
  }

  // ---- 4. Drift of the customer features -----------------------------------
  redflag::DriftMonitor drift(redflag::DriftReference::fit(month1, {}, schema.names()));
  drift.observe(month2);
  results.drift = drift.report();
  results.drift_params = drift.params();

  // ---- 5. Classification report of the production model (v2) ---------------
  LabelVector predicted(production.size());
  for (Index i = 0; i < production.size(); ++i) {
    const std::span<const double> row(live_held_out.row(i).data(), static_cast<std::size_t>(schema.size()));
    predicted(i) = levels.level(row, production(i)) == "high" ? 1 : 0;
  }
  results.report = redflag::classification_report(y_held_out, predicted);
  results.roc_auc = redflag::roc_auc_score(y_held_out, production);
  results.average_precision = redflag::average_precision_score(y_held_out, production);
  return results;
}

// ---- Text output --------------------------------------------------------------

std::string fixed(double value, int digits) {
  std::ostringstream out;
  out << std::fixed << std::setprecision(digits) << value;
  return out.str();
}

std::string pad(std::string text, std::size_t width) {
  if (text.size() < width) text.append(width - text.size(), ' ');
  return text;
}

std::string customer_code(std::int64_t id) {
  std::string digits = std::to_string(id);
  return "C-" + std::string(digits.size() < 5 ? 5 - digits.size() : 0, '0') + digits;
}

std::string format_time(std::int64_t unix_seconds) {
  using namespace std::chrono;
  const sys_seconds time{seconds{unix_seconds}};
  const sys_days day = floor<days>(time);
  const year_month_day date{day};
  const hh_mm_ss clock{time - day};
  char text[32];
  std::snprintf(text, sizeof text, "%04d-%02u-%02u %02d:%02d", static_cast<int>(date.year()),
                static_cast<unsigned>(date.month()), static_cast<unsigned>(date.day()),
                static_cast<int>(clock.hours().count()), static_cast<int>(clock.minutes().count()));
  return text;
}

std::string reasons_text(const std::vector<Reason>& reasons) {
  std::string text;
  for (const Reason& reason : reasons) {
    if (!text.empty()) text += "; ";
    text += reason.feature + " " + fixed(reason.value, 2) + " (" + (reason.contribution >= 0 ? "+" : "") +
            fixed(reason.contribution, 3) + ")";
  }
  return text;
}

void print_text(const Results& r, std::ostream& out) {
  out << "redflag AML customer-risk example on GENERATED data (seed " << r.options.seed << "): " << r.options.customers
      << " customers; training month " << format_time(aml::training_month_begin).substr(0, 10) << " + 30 days ("
      << r.training_payments << " payments), live month " << format_time(aml::live_month_begin).substr(0, 10)
      << " + 30 days (" << r.live_payments << " payments)\n";

  out << "\n== 1. Customer risk: model v2, live month, " << r.risk.size() << " held-out customers ==\n"
      << "levels: high " << r.count("high") << ", medium " << r.count("medium") << ", low " << r.count("low")
      << " (rules " << r.level_rules << ")\n"
      << pad("customer", 10) << pad("business", 17) << pad("P(high)", 9) << pad("level", 8)
      << "top reasons: feature value (SHAP contribution to P(high))\n";
  for (std::size_t i = 0; i < std::min(customers_listed, r.risk.size()); ++i) {
    const RiskRow& row = r.risk[i];
    out << pad(customer_code(row.customer), 10)
        << pad(std::string(aml::business_types[static_cast<std::size_t>(row.business)].name), 17)
        << pad(fixed(row.probability, 3), 9) << pad(std::string(row.level), 8) << reasons_text(row.reasons) << "\n";
  }

  out << "\n== 2. Unusual transactions: IsolationForest (100 trees, contamination " << transaction_contamination
      << ") fitted on the training month ==\n"
      << "live month: " << r.scored_payments << " payments scored, " << r.flagged_payments
      << " flagged (score >= " << fixed(r.transaction_threshold, 3) << "), " << r.flagged_injected
      << " of them injected; " << r.flagged_injected << " of " << r.injected
      << " injected payments caught; ROC AUC of the scores against the "
      << "injected payments " << fixed(r.transaction_roc_auc, 3) << "\n"
      << pad("time (UTC)", 18) << pad("customer", 10) << pad("amount", 11) << pad("country", 9) << pad("score", 7)
      << pad("injected", 10) << "top contributions: feature value (to the score)\n";
  for (const UnusualRow& row : r.unusual) {
    out << pad(format_time(row.transaction.time), 18) << pad(customer_code(row.transaction.customer), 10)
        << pad(fixed(row.transaction.amount, 2), 11) << pad(aml::country_code(row.transaction.country), 9)
        << pad(fixed(row.score, 3), 7) << pad(row.transaction.injected ? "yes" : "no", 10) << reasons_text(row.reasons)
        << "\n";
  }

  out << "\n== 3. Drift: customer features, training month vs live month (" << r.drift.reference_rows << " vs "
      << r.drift.live_rows << " customers) ==\n"
      << pad("feature", 26) << pad("PSI", 8) << pad("KS", 8) << "verdict (PSI > " << r.drift_params.psi_threshold
      << " or KS > " << r.drift_params.ks_threshold << ")\n";
  for (const auto& feature : r.drift.features) {
    out << pad(feature.feature, 26) << pad(fixed(feature.psi, 3), 8) << pad(fixed(feature.ks, 3), 8)
        << (feature.drifted() ? "DRIFT" : "stable") << "\n";
  }

  out << "\n== 4. Model versions: PerformanceMonitor, live month, held-out customers (flagged = level high) ==\n"
      << pad("version", 9) << pad("trained on", 36) << pad("feedback", 10) << pad("precision", 11) << pad("recall", 8)
      << pad("accuracy", 10) << "ROC AUC\n";
  const auto optional = [](const std::optional<double>& value) { return value ? fixed(*value, 3) : "-"; };
  for (const VersionRow& row : r.versions) {
    out << pad("v" + std::to_string(row.version), 9) << pad(row.trained_on, 36)
        << pad(std::to_string(row.stats.feedback), 10) << pad(optional(row.stats.precision), 11)
        << pad(optional(row.stats.recall), 8) << pad(fixed(row.stats.accuracy, 3), 10) << fixed(row.roc_auc, 3) << "\n";
  }
  if (r.alerts.empty()) out << "alerts: none\n";
  for (const auto& alert : r.alerts) out << "alert: " << alert.message() << "\n";

  out << "\n== 5. Classification report: v2, held-out customers, live month (predicted high risk = level high) ==\n"
      << "ROC AUC " << fixed(r.roc_auc, 3) << ", average precision " << fixed(r.average_precision, 3) << "\n\n"
      << r.report.to_string({.target_names = {"low/medium", "high risk"}});
}

// ---- JSON output ----------------------------------------------------------------

std::string number(double value) {
  std::ostringstream out;
  out << std::setprecision(10) << value;
  return out.str();
}

std::string number(const std::optional<double>& value) { return value ? number(*value) : "null"; }

std::string reasons_json(const std::vector<Reason>& reasons) {
  std::string text = "[";
  for (const Reason& reason : reasons) {
    if (text.size() > 1) text += ",";
    text += "{\"feature\":\"" + reason.feature + "\",\"value\":" + number(reason.value) +
            ",\"contribution\":" + number(reason.contribution) + "}";
  }
  return text + "]";
}

// One object; names and messages hold no characters that need escaping.
void write_json(const Results& r, std::ostream& out) {
  out << "{\"seed\":" << r.options.seed << ",\"customers\":" << r.options.customers
      << ",\"levels\":{\"high\":" << r.count("high") << ",\"medium\":" << r.count("medium")
      << ",\"low\":" << r.count("low") << "},\"risk\":[";
  for (std::size_t i = 0; i < r.risk.size(); ++i) {
    const RiskRow& row = r.risk[i];
    out << (i ? "," : "") << "{\"customer\":" << row.customer << ",\"probability\":" << number(row.probability)
        << ",\"level\":\"" << row.level << "\",\"reasons\":" << reasons_json(row.reasons) << "}";
  }
  out << "],\"transactions\":{\"scored\":" << r.scored_payments << ",\"threshold\":" << number(r.transaction_threshold)
      << ",\"flagged\":" << r.flagged_payments << ",\"flagged_injected\":" << r.flagged_injected
      << ",\"injected\":" << r.injected << ",\"roc_auc\":" << number(r.transaction_roc_auc) << ",\"top\":[";
  for (std::size_t i = 0; i < r.unusual.size(); ++i) {
    const UnusualRow& row = r.unusual[i];
    out << (i ? "," : "") << "{\"customer\":" << row.transaction.customer << ",\"time\":" << row.transaction.time
        << ",\"amount\":" << number(row.transaction.amount) << ",\"score\":" << number(row.score)
        << ",\"injected\":" << (row.transaction.injected ? "true" : "false")
        << ",\"reasons\":" << reasons_json(row.reasons) << "}";
  }
  out << "]},\"drift\":[";
  for (std::size_t i = 0; i < r.drift.features.size(); ++i) {
    const auto& feature = r.drift.features[i];
    out << (i ? "," : "") << "{\"feature\":\"" << feature.feature << "\",\"psi\":" << number(feature.psi)
        << ",\"ks\":" << number(feature.ks) << ",\"drifted\":" << (feature.drifted() ? "true" : "false") << "}";
  }
  out << "],\"versions\":[";
  for (std::size_t i = 0; i < r.versions.size(); ++i) {
    const VersionRow& row = r.versions[i];
    out << (i ? "," : "") << "{\"version\":" << row.version << ",\"feedback\":" << row.stats.feedback
        << ",\"precision\":" << number(row.stats.precision) << ",\"recall\":" << number(row.stats.recall)
        << ",\"accuracy\":" << number(row.stats.accuracy) << ",\"roc_auc\":" << number(row.roc_auc) << "}";
  }
  out << "],\"alerts\":[";
  for (std::size_t i = 0; i < r.alerts.size(); ++i) out << (i ? "," : "") << "\"" << r.alerts[i].message() << "\"";
  out << "],\"report\":{\"roc_auc\":" << number(r.roc_auc) << ",\"average_precision\":" << number(r.average_precision)
      << ",\"accuracy\":" << number(r.report.accuracy)
      << ",\"precision_high_risk\":" << number(r.report.classes[1].precision)
      << ",\"recall_high_risk\":" << number(r.report.classes[1].recall)
      << ",\"support_high_risk\":" << r.report.classes[1].support << "}}\n";
}

// ---- Command line ---------------------------------------------------------------

int usage_error(const std::string& problem) {
  std::cerr << "redflag_aml: " << problem << " (see redflag_aml --help)\n";
  return 2;
}

bool parse_whole(std::string_view text, std::uint64_t& value) {
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  return error == std::errc{} && end == text.data() + text.size();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app("AML customer risk on generated customers (redflag example).", "redflag_aml");
  app.get_formatter()->label("Usage", "usage");
  // Unknown options are kept (extras) and refused below, naming them; values
  // are kept as typed and checked below, saying what was expected.
  app.allow_extras();
  app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  std::string seed;
  std::string customers;
  Options options;
  app.add_option("--seed", seed, "random seed of the bank and the models (default 7)")
      ->option_text("N")
      ->type_name("N");
  app.add_option("--customers", customers, "customers, in [400, 1000000] (default 2000)")
      ->option_text("N")
      ->type_name("N");
  app.add_option("--json", options.json, "also write the results as JSON")->option_text("FILE")->type_name("FILE");
  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& help) {
    return app.exit(help);
  } catch (const CLI::ParseError& failure) {
    return usage_error(failure.what());
  }
  if (!app.remaining().empty()) {
    const std::string extra = app.remaining().front();
    return usage_error(extra.starts_with("-") ? "unknown option '" + extra + "'"
                                              : "unexpected argument '" + extra + "'");
  }
  std::uint64_t whole = 0;
  if (app.count("--seed") > 0) {
    if (!parse_whole(seed, whole)) return usage_error("--seed expects a whole number, got '" + seed + "'");
    options.seed = whole;
  }
  if (app.count("--customers") > 0) {
    if (!parse_whole(customers, whole)) {
      return usage_error("--customers expects a whole number, got '" + customers + "'");
    }
    if (whole < 400 || whole > 1000000) return usage_error("--customers must be in [400, 1000000], got " + customers);
    options.customers = static_cast<Index>(whole);
  }

  const Results results = run(options);
  print_text(results, std::cout);
  if (!options.json.empty()) {
    std::ofstream file(options.json);
    write_json(results, file);
    if (!file.flush()) {
      std::cerr << "redflag_aml: cannot write " << options.json << "\n";
      return 1;
    }
  }
  return 0;
}
