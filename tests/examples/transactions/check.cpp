// Checks a run of redflag_transactions:
//
//   transactions_check INPUT.jsonl VERDICTS.jsonl SUMMARY.txt [--min-recall R] [--min-precision P]
//                      [--min-swaps N] [--rejected N]
//
// INPUT holds the transactions the run accepted, in order (with the
// simulator's labels). Every one must have exactly one verdict, in the same
// order, with the six fields, a valid risk level and the recommendation that
// goes with it, reason codes that the explanation names, and a model version
// that only grows; the first transactions are scored by the rules alone. The
// summary's counts, precision, recall, per-pattern recall, model swaps and
// top alerts must agree with the verdicts. Prints every failed check; exit
// status 1 if any.

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace {

int failures = 0;

void expect(bool ok, const std::string& what) {
  if (!ok) {
    std::cerr << "FAILED: " << what << "\n";
    ++failures;
  }
}

std::vector<nlohmann::json> read_lines(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    std::cerr << "cannot read " << path << "\n";
    std::exit(2);
  }
  std::vector<nlohmann::json> out;
  std::string line;
  std::size_t number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (line.empty()) continue;
    try {
      out.push_back(nlohmann::json::parse(line));
    } catch (const nlohmann::json::exception& e) {
      std::cerr << path << ":" << number << ": not JSON: " << e.what() << "\n";
      std::exit(2);
    }
  }
  return out;
}

std::string fixed(double value, int digits) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.*f", digits, value);
  return buffer;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    std::cerr << "usage: transactions_check INPUT VERDICTS SUMMARY [--min-recall R] [--min-precision P] "
                 "[--min-swaps N] [--rejected N]\n";
    return 2;
  }
  double min_recall = 0.0, min_precision = 0.0;
  long min_swaps = 0, rejected = 0;
  for (int i = 4; i + 1 < argc; i += 2) {
    const std::string option = argv[i];
    if (option == "--min-recall") {
      min_recall = std::stod(argv[i + 1]);
    } else if (option == "--min-precision") {
      min_precision = std::stod(argv[i + 1]);
    } else if (option == "--min-swaps") {
      min_swaps = std::stol(argv[i + 1]);
    } else if (option == "--rejected") {
      rejected = std::stol(argv[i + 1]);
    } else {
      std::cerr << "unknown option " << option << "\n";
      return 2;
    }
  }
  const auto input = read_lines(argv[1]);
  const auto verdicts = read_lines(argv[2]);
  std::ifstream summary_file(argv[3]);
  const std::string summary((std::istreambuf_iterator<char>(summary_file)), std::istreambuf_iterator<char>());

  // One verdict per transaction, in order, with the six fields.
  expect(verdicts.size() == input.size(),
         std::to_string(verdicts.size()) + " verdicts for " + std::to_string(input.size()) + " transactions");
  const std::map<std::string, std::string> recommendation_of = {
      {"LOW", "APPROVE"}, {"MEDIUM", "REVIEW"}, {"HIGH", "REVIEW"}, {"CRITICAL", "BLOCK"}};
  const std::set<std::string> rules = {"HIGH_AMOUNT", "VELOCITY_MULTI_CITY", "UNUSUAL_HOUR"};
  std::map<std::string, long> levels;
  std::map<std::string, std::pair<long, long>> patterns;  // caught, total
  std::map<std::string, const nlohmann::json*> by_id;
  long tp = 0, fp = 0, fn = 0;
  long previous_version = 0;
  std::map<long, std::size_t> first_scored;  // model version -> first transaction (1-based) it scored
  const std::size_t n = std::min(verdicts.size(), input.size());
  int reported = 0;
  auto check = [&](bool ok, std::size_t i, const std::string& what) {
    if (!ok && reported++ < 10) expect(false, "verdict " + std::to_string(i + 1) + ": " + what);
    if (!ok) ++failures;
  };
  for (std::size_t i = 0; i < n; ++i) {
    const auto& t = input[i];
    const auto& v = verdicts[i];
    check(v.is_object(), i, "not an object");
    if (!v.is_object()) continue;
    for (const char* field :
         {"transaction_id", "risk_score", "risk_level", "reason_codes", "explanation", "recommendation"}) {
      check(v.contains(field), i, std::string("no field ") + field);
    }
    if (!(v.contains("transaction_id") && v.contains("risk_score") && v.contains("risk_level") &&
          v.contains("reason_codes") && v.contains("explanation") && v.contains("recommendation"))) {
      continue;
    }
    check(v["transaction_id"] == t["transaction_id"], i,
          "transaction_id " + v["transaction_id"].dump() + ", expected " + t["transaction_id"].dump());
    by_id[v["transaction_id"].get<std::string>()] = &v;
    const double score = v["risk_score"].get<double>();
    check(score >= 0.0 && score <= 1.0, i, "risk_score " + fixed(score, 6) + " outside [0, 1]");
    const std::string level = v["risk_level"].get<std::string>();
    check(recommendation_of.count(level) == 1, i, "risk_level " + level);
    if (recommendation_of.count(level) == 0) continue;
    const std::string recommendation = v["recommendation"].get<std::string>();
    check(recommendation == recommendation_of.at(level), i, level + " with " + recommendation);
    const std::string explanation = v["explanation"].get<std::string>();
    check(explanation.rfind(level + " risk " + fixed(score, 2) + ", " + recommendation, 0) == 0, i,
          "explanation '" + explanation + "' does not start with the level, score and recommendation");
    for (const auto& code : v["reason_codes"]) {
      check(rules.count(code.get<std::string>()) == 1, i, "unknown reason code " + code.dump());
      check(explanation.find("[" + code.get<std::string>() + "]") != std::string::npos, i,
            "explanation does not give the reason for " + code.dump());
    }
    // Model versions: 0 (rules only) first, then growing as models swap in.
    const long version = v.value("model_version", -1L);
    check(version >= previous_version, i,
          "model_version went from " + std::to_string(previous_version) + " to " + std::to_string(version));
    check((version == 0) == v["model_score"].is_null(), i, "model_score and model_version disagree");
    if (version != previous_version) first_scored[version] = i + 1;
    previous_version = version;

    ++levels[level];
    const bool alert = recommendation != "APPROVE";
    const bool fraud = t["label"].get<int>() == 1;
    if (fraud && alert) ++tp;
    if (fraud && !alert) ++fn;
    if (!fraud && alert) ++fp;
    if (fraud) {
      auto& [caught, total] = patterns[t["pattern"].get<std::string>()];
      ++total;
      if (alert) ++caught;
    }
  }
  expect(n == 0 || verdicts.front().value("model_version", -1L) == 0,
         "the first transaction is scored by the rules alone (model_version 0)");

  // The summary agrees with the verdicts.
  expect(summary.find(std::to_string(n) + " transactions from ") != std::string::npos,
         "summary does not report " + std::to_string(n) + " transactions");
  for (const auto& [level, count] : levels) {
    const std::regex row("\\n  " + level + " +" + std::to_string(count) + " ");
    expect(std::regex_search(summary, row), "summary's " + level + " count is not " + std::to_string(count));
  }
  const double precision = tp + fp ? double(tp) / double(tp + fp) : 0.0;
  const double recall = tp + fn ? double(tp) / double(tp + fn) : 0.0;
  expect(summary.find("precision " + fixed(precision, 3) + "  recall " + fixed(recall, 3)) != std::string::npos,
         "summary's precision and recall are not " + fixed(precision, 3) + " and " + fixed(recall, 3));
  expect(recall >= min_recall, "recall " + fixed(recall, 3) + " below " + fixed(min_recall, 3));
  expect(precision >= min_precision, "precision " + fixed(precision, 3) + " below " + fixed(min_precision, 3));
  for (const auto& [pattern, counts] : patterns) {
    const std::regex row("\\n  " + pattern + " +" + std::to_string(counts.first) + " / " +
                         std::to_string(counts.second) + " ");
    expect(std::regex_search(summary, row), "summary's recall line for " + pattern + " is not " +
                                                std::to_string(counts.first) + " / " + std::to_string(counts.second));
  }

  // Every promoted model listed scores from the transaction the summary says.
  long promotions = 0;
  const std::regex promoted("v([0-9]+) +promoted +scoring from transaction ([0-9]+)");
  for (auto it = std::sregex_iterator(summary.begin(), summary.end(), promoted); it != std::sregex_iterator(); ++it) {
    const long version = std::stol((*it)[1]);
    const auto from = static_cast<std::size_t>(std::stoul((*it)[2]));
    ++promotions;
    if (from <= n) {
      expect(first_scored.count(version) == 1 && first_scored[version] == from,
             "v" + std::to_string(version) + " should score from transaction " + std::to_string(from) +
                 (first_scored.count(version) ? ", verdicts say " + std::to_string(first_scored[version])
                                              : ", no verdict has it"));
    }
  }
  long swapped = 0;
  for (const auto& [version, from] : first_scored) swapped += version != 0;
  expect(swapped >= min_swaps, std::to_string(swapped) +
                                   " models swapped in and scored transactions, expected at least " +
                                   std::to_string(min_swaps));

  // Top alerts: real alerts, with the verdict's explanation.
  const std::regex top("\\n  (t[0-9]+)  u[0-9]+  [^\\n]*\\n      ([^\\n]*)");
  long tops = 0;
  for (auto it = std::sregex_iterator(summary.begin(), summary.end(), top); it != std::sregex_iterator(); ++it) {
    ++tops;
    const std::string id = (*it)[1];
    const auto found = by_id.find(id);
    expect(found != by_id.end(), "top alert " + id + " has no verdict");
    if (found == by_id.end()) continue;
    expect((*found->second)["recommendation"] != "APPROVE", "top alert " + id + " was approved");
    expect((*found->second)["explanation"] == (*it)[2].str(), "top alert " + id + ": explanation differs");
  }
  expect(tp + fp == 0 || tops > 0, "summary lists no top alerts");
  if (rejected > 0) {
    expect(summary.find(std::to_string(rejected) + " lines rejected") != std::string::npos,
           "summary does not report " + std::to_string(rejected) + " rejected lines");
  } else {
    expect(summary.find("lines rejected") == std::string::npos, "summary reports rejected lines");
  }

  if (failures == 0) {
    std::cout << n << " verdicts checked: precision " << fixed(precision, 3) << ", recall " << fixed(recall, 3) << ", "
              << promotions << " models promoted, " << tops << " top alerts\n";
  }
  return failures == 0 ? 0 : 1;
}
