#pragma once

// The run's summary: verdicts per risk level, precision and recall of the
// alerts against the simulator's labels, recall per fraud pattern, the
// highest-risk transactions with their reasons, and the model history.

#include "monitor.hpp"
#include "transaction_json.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <map>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

namespace transactions_example {

class Summary {
 public:
  explicit Summary(std::size_t top = 5) : top_(top) {}

  void record(const LabelledTransaction& in, const Verdict& verdict) {
    const auto level = static_cast<std::size_t>(verdict.level);
    const bool alert = verdict.recommendation != redflag::Recommendation::approve;
    ++levels_[level];
    first_ms_ = std::min(first_ms_.value_or(in.txn.timestamp_ms), in.txn.timestamp_ms);
    last_ms_ = std::max(last_ms_.value_or(in.txn.timestamp_ms), in.txn.timestamp_ms);
    if (in.fraud) {
      ++labelled_;
      if (*in.fraud) {
        ++fraud_levels_[level];
        (alert ? true_positives_ : false_negatives_) += 1;
      } else if (alert) {
        ++false_positives_;
      }
    }
    if (in.pattern && *in.pattern != redflag::FraudPattern::none) {
      auto& [caught, total] = patterns_[*in.pattern];
      ++total;
      if (alert) ++caught;
    }
    if (alert) keep_top(in, verdict);
  }

  void reject() { ++rejected_; }

  void print(std::ostream& out, const std::string& source, const Monitor& monitor, double seconds,
             double cpu_seconds) const {
    const std::size_t total = levels_[0] + levels_[1] + levels_[2] + levels_[3];
    out << "redflag card-transaction monitor: " << source << "\n";
    out << "  " << total << " transactions from " << monitor.store().size() << " users";
    if (first_ms_) out << ", " << date(*first_ms_) << " to " << date(*last_ms_) << " UTC";
    out << "\n  per-user state -> 10 features -> IsolationForest + " << monitor.rules().rules().size()
        << " rules -> one verdict per transaction\n";
    if (rejected_ != 0) out << "  " << rejected_ << " lines rejected (see the messages above)\n";

    out << "\nVerdicts      count  share  labelled fraud\n";
    for (std::size_t l = 0; l < 4; ++l) {
      out << "  " << pad(std::string(redflag::to_string(static_cast<redflag::RiskLevel>(l))), 10)
          << lpad(std::to_string(levels_[l]), 7) << lpad(percent(levels_[l], total), 7)
          << (labelled_ ? lpad(std::to_string(fraud_levels_[l]), 16) : "") << "\n";
    }
    if (labelled_ != 0) {
      const double precision = ratio(true_positives_, true_positives_ + false_positives_);
      const double recall = ratio(true_positives_, true_positives_ + false_negatives_);
      const double f1 = precision + recall > 0 ? 2 * precision * recall / (precision + recall) : 0.0;
      out << "\nAlerts (MEDIUM and above: REVIEW or BLOCK) against the labels of " << labelled_ << " transactions\n";
      out << "  precision " << fixed(precision, 3) << "  recall " << fixed(recall, 3) << "  F1 " << fixed(f1, 3)
          << "   (" << true_positives_ << " fraud caught, " << false_negatives_ << " missed, " << false_positives_
          << " false alarms)\n";
    }
    if (!patterns_.empty()) {
      out << "\nRecall by fraud pattern\n";
      for (const auto& [pattern, counts] : patterns_) {
        out << "  " << pad(std::string(redflag::to_string(pattern)), 21) << lpad(std::to_string(counts.first), 4)
            << " / " << pad(std::to_string(counts.second), 5) << lpad(percent(counts.first, counts.second), 6) << "\n";
      }
    }

    const MonitorParams& params = monitor.params();
    out << "\nModels: IsolationForest retrained by RetrainPolicy at each new day on the last "
        << params.retrain.window_seconds / 86400 << " days (rules only before "
        << date(first_retraining(monitor) * 1000) << ")\n";
    std::size_t skipped = 0;
    for (const ModelEvent& e : monitor.model_events()) {
      if (e.outcome.decision == redflag::RetrainDecision::skipped) {
        ++skipped;
        continue;
      }
      out << "  " << date(e.day_start * 1000).substr(0, 10) << "  " << pad("v" + std::to_string(e.outcome.version), 4)
          << pad(std::string(redflag::to_string(e.outcome.decision)), 9);
      const std::string& reason = e.outcome.reason;
      if (e.outcome.decision == redflag::RetrainDecision::promoted) {
        out << "scoring from transaction " << e.swapped_at + 1 << " (held out: anomaly rate "
            << fixed(e.outcome.metrics.at("anomaly_rate"), 3) << ", score PSI "
            << fixed(e.outcome.metrics.at("score_psi"), 3) << ")";
      } else if (e.outcome.decision == redflag::RetrainDecision::rejected) {
        out << failures(e.outcome, params.retrain);
      } else {
        out << reason;
      }
      out << "\n";
    }
    if (skipped != 0) out << "  " << skipped << " retrainings skipped (too few new rows)\n";
    if (monitor.model_version() == 0) out << "  no model promoted: every verdict came from the rules alone\n";

    if (const auto top = top_alerts(); !top.empty()) {
      out << "\nTop " << top.size() << " alerts (the riskiest per user)\n";
      for (const Top& t : top) {
        out << "  " << t.id << "  " << t.user << "  " << date(t.time_ms) << "  amount " << fixed(t.amount, 2) << "  "
            << (t.pattern ? "[" + std::string(redflag::to_string(*t.pattern)) + "]" : "") << "\n";
        out << "      " << t.explanation << "\n";
      }
    }
    out << "\nThroughput: " << total << " transactions in " << fixed(seconds, 2) << " s ("
        << fixed(monitor.waited_seconds(), 2) << " s of it waiting for retrainings at their swap points); "
        << "the scoring thread used " << fixed(cpu_seconds, 2)
        << " s of CPU: " << fixed(cpu_seconds > 0 ? static_cast<double>(total) / cpu_seconds : 0.0, 0)
        << " transactions per CPU second, JSON in and out included\n";
  }

  [[nodiscard]] std::size_t rejected() const { return rejected_; }

 private:
  struct Top {
    std::size_t order = 0;
    double risk = 0.0;
    std::string id, user, explanation;
    std::int64_t time_ms = 0;
    double amount = 0.0;
    std::optional<redflag::FraudPattern> pattern;
  };

  // The riskiest alert of each user; the earlier one on ties.
  void keep_top(const LabelledTransaction& in, const Verdict& v) {
    Top t{seen_++,       v.risk_score,        in.txn.id,     in.txn.entity,
          v.explanation, in.txn.timestamp_ms, in.txn.amount, in.pattern};
    const auto [it, inserted] = top_by_user_.try_emplace(in.txn.entity, t);
    if (!inserted && it->second.risk < t.risk) it->second = std::move(t);
  }

  // The `top_` riskiest of those: highest risk first, then stream order.
  [[nodiscard]] std::vector<Top> top_alerts() const {
    std::vector<Top> all;
    for (const auto& [user, t] : top_by_user_) all.push_back(t);
    std::sort(all.begin(), all.end(),
              [](const Top& a, const Top& b) { return a.risk > b.risk || (a.risk == b.risk && a.order < b.order); });
    if (all.size() > top_) all.resize(top_);
    return all;
  }

  // Why RetrainPolicy rejected a candidate, from its metrics.
  static std::string failures(const redflag::RetrainOutcome& outcome, const redflag::RetrainParams& retrain) {
    std::string text;
    const auto& m = outcome.metrics;
    if (outcome.reason.find("anomaly rate") != std::string::npos && m.count("expected_anomaly_rate")) {
      text += "anomaly rate " + fixed(m.at("anomaly_rate"), 3) + " on held-out rows, expected " +
              fixed(m.at("expected_anomaly_rate"), 3);
    }
    if (outcome.reason.find("PSI") != std::string::npos && m.count("score_psi")) {
      text += (text.empty() ? "" : "; ") + std::string("score PSI ") + fixed(m.at("score_psi"), 3) + " above " +
              fixed(retrain.max_score_psi, 2) + " (held-out vs training rows)";
    }
    return text.empty() ? outcome.reason : text;
  }

  static std::int64_t first_retraining(const Monitor& monitor) {
    return monitor.model_events().empty() ? 0 : monitor.model_events().front().day_start;
  }

  static double ratio(std::size_t a, std::size_t b) {
    return b == 0 ? 0.0 : static_cast<double>(a) / static_cast<double>(b);
  }
  static std::string fixed(double value, int digits) {
    std::array<char, 64> buffer{};
    std::snprintf(buffer.data(), buffer.size(), "%.*f", digits, value);
    return buffer.data();
  }
  static std::string percent(std::size_t a, std::size_t b) { return fixed(100.0 * ratio(a, b), 1) + "%"; }
  static std::string pad(std::string s, std::size_t width) {
    return s.size() < width ? s.append(width - s.size(), ' ') : s;
  }
  static std::string lpad(const std::string& s, std::size_t width) {
    return s.size() < width ? std::string(width - s.size(), ' ') + s : s;
  }
  static std::string date(std::int64_t ms) {
    const std::time_t seconds = static_cast<std::time_t>(ms / 1000);
    std::tm utc{};
    gmtime_r(&seconds, &utc);
    std::array<char, 32> buffer{};
    std::strftime(buffer.data(), buffer.size(), "%Y-%m-%d %H:%M", &utc);
    return buffer.data();
  }

  std::size_t top_;
  std::array<std::size_t, 4> levels_{}, fraud_levels_{};
  std::size_t labelled_ = 0, true_positives_ = 0, false_positives_ = 0, false_negatives_ = 0, rejected_ = 0;
  std::map<redflag::FraudPattern, std::pair<std::size_t, std::size_t>> patterns_;  // caught, total
  std::optional<std::int64_t> first_ms_, last_ms_;
  std::map<std::string, Top> top_by_user_;
  std::size_t seen_ = 0;
};

}  // namespace transactions_example
