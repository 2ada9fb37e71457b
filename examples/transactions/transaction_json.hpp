#pragma once

// Transactions and verdicts as JSON lines, one object per line.
//
// A transaction line (the simulator's label and pattern are optional; with
// them the summary measures precision and recall):
//   {"transaction_id":"t42","user_id":"u000017","amount":12.5,"currency":"USD",
//    "timestamp_ms":1700046000000,"utc_offset_minutes":60,"merchant":"m3391",
//    "merchant_category":5411,"city":"c117","country":"AX","label":0,"pattern":"none"}
// A verdict line:
//   {"transaction_id":"t42","risk_score":0.27,"risk_level":"LOW","reason_codes":[],
//    "explanation":"LOW risk 0.27, APPROVE: model 0.45","recommendation":"APPROVE",
//    "model_score":0.45,"model_version":1}

#include <redflag/risk/risk_decision.hpp>
#include <redflag/transactions/transaction.hpp>
#include <redflag/transactions/transaction_simulator.hpp>

#include <nlohmann/json.hpp>

#include <array>
#include <cstdint>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace transactions_example {

// A transaction as read from a line, with the simulator's label if present.
struct LabelledTransaction {
  redflag::Transaction txn;
  std::optional<bool> fraud;                     // the line's "label", if any
  std::optional<redflag::FraudPattern> pattern;  // the line's "pattern", if any
};

// What the pipeline decided for one transaction.
struct Verdict {
  std::string transaction_id;
  double risk_score = 0.0;
  redflag::RiskLevel level = redflag::RiskLevel::low;
  redflag::Recommendation recommendation = redflag::Recommendation::approve;
  std::vector<std::string> reason_codes;
  std::string explanation;
  std::optional<double> model_score;  // empty while no model is active yet
  std::uint64_t model_version = 0;    // 0: rules only
};

// A line that is not a valid transaction; the message says which field and why.
struct bad_line : std::runtime_error {
  using std::runtime_error::runtime_error;
};

inline std::optional<redflag::FraudPattern> pattern_from_string(std::string_view name) {
  using redflag::FraudPattern;
  for (const FraudPattern p : {FraudPattern::none, FraudPattern::card_testing, FraudPattern::account_takeover,
                               FraudPattern::large_amount, FraudPattern::velocity_multi_city}) {
    if (redflag::to_string(p) == name) return p;
  }
  return std::nullopt;
}

namespace json_fields {

inline const nlohmann::json& field(const nlohmann::json& object, const char* name) {
  const auto it = object.find(name);
  if (it == object.end()) throw bad_line(std::string("missing field '") + name + "'");
  return *it;
}

// Longer than any identifier a card network sends: refused rather than kept
// in every entity's state.
inline constexpr std::size_t max_text_bytes = 256;

inline std::string text(const nlohmann::json& object, const char* name) {
  const nlohmann::json& value = field(object, name);
  if (!value.is_string()) throw bad_line(std::string("field '") + name + "' must be a string");
  const auto& text = value.get_ref<const std::string&>();
  if (text.size() > max_text_bytes) {
    throw bad_line(std::string("field '") + name + "' is longer than " + std::to_string(max_text_bytes) + " bytes");
  }
  return text;
}

inline std::int64_t integer(const nlohmann::json& object, const char* name, std::int64_t low, std::int64_t high) {
  const nlohmann::json& value = field(object, name);
  if (!value.is_number_integer() ||
      (value.is_number_unsigned() &&
       value.get<std::uint64_t>() > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))) {
    throw bad_line(std::string("field '") + name + "' must be a 64-bit signed integer");
  }
  const auto n = value.get<std::int64_t>();
  if (n < low || n > high) {
    throw bad_line(std::string("field '") + name + "' must be in [" + std::to_string(low) + ", " +
                   std::to_string(high) + "], got " + std::to_string(n));
  }
  return n;
}

}  // namespace json_fields

// Parses one line; throws bad_line naming the problem. Amount, time and
// currency are checked by the pipeline itself (redflag::to_entity_event and
// EntityStore::observe), so those messages come from redflag.
inline LabelledTransaction parse_transaction(std::string_view line) {
  nlohmann::json object;
  try {
    object = nlohmann::json::parse(line);
  } catch (const nlohmann::json::parse_error& failure) {
    // nlohmann's message starts with "[json.exception.parse_error.101] parse error at line 1, column 9: ...".
    const std::string what = failure.what();
    const auto at = what.find("column");
    throw bad_line("invalid JSON at " + (at == std::string::npos ? what : what.substr(at)));
  } catch (const nlohmann::json::exception& failure) {
    // Valid syntax nlohmann-json still refuses, such as a number beyond double's range (1e400).
    throw bad_line(std::string("invalid JSON: ") + failure.what());
  }
  if (!object.is_object()) throw bad_line("expected a JSON object");
  LabelledTransaction out;
  redflag::Transaction& t = out.txn;
  t.id = json_fields::text(object, "transaction_id");
  t.entity = json_fields::text(object, "user_id");
  const nlohmann::json& amount = json_fields::field(object, "amount");
  if (!amount.is_number()) throw bad_line("field 'amount' must be a number");
  t.amount = amount.get<double>();
  t.currency = json_fields::text(object, "currency");
  t.timestamp_ms = json_fields::integer(object, "timestamp_ms", std::numeric_limits<std::int64_t>::min(),
                                        std::numeric_limits<std::int64_t>::max());
  t.utc_offset_minutes =
      static_cast<std::int32_t>(json_fields::integer(object, "utc_offset_minutes", -100'000, 100'000));
  t.merchant = json_fields::text(object, "merchant");
  t.merchant_category = static_cast<std::uint16_t>(json_fields::integer(object, "merchant_category", 0, 9999));
  t.city = json_fields::text(object, "city");
  t.country = json_fields::text(object, "country");
  if (object.contains("label")) out.fraud = json_fields::integer(object, "label", 0, 1) == 1;
  if (object.contains("pattern")) {
    out.pattern = pattern_from_string(json_fields::text(object, "pattern"));
    if (!out.pattern) throw bad_line("field 'pattern' names no fraud pattern of the simulator");
    if (out.fraud && *out.fraud != (*out.pattern != redflag::FraudPattern::none)) {
      throw bad_line("fields 'label' and 'pattern' disagree");
    }
    if (!out.fraud) out.fraud = *out.pattern != redflag::FraudPattern::none;
  }
  return out;
}

// Written with their fields in this order (transaction_id first), for people reading the lines.
inline nlohmann::ordered_json to_json(const redflag::Transaction& t) {
  return {{"transaction_id", t.id},
          {"user_id", t.entity},
          {"amount", t.amount},
          {"currency", t.currency},
          {"timestamp_ms", t.timestamp_ms},
          {"utc_offset_minutes", t.utc_offset_minutes},
          {"merchant", t.merchant},
          {"merchant_category", t.merchant_category},
          {"city", t.city},
          {"country", t.country}};
}

inline nlohmann::ordered_json to_json(const redflag::Transaction& t, redflag::FraudPattern pattern) {
  nlohmann::ordered_json out = to_json(t);
  out["label"] = pattern == redflag::FraudPattern::none ? 0 : 1;
  out["pattern"] = std::string(redflag::to_string(pattern));
  return out;
}

inline nlohmann::ordered_json to_json(const Verdict& v) {
  nlohmann::ordered_json out = {{"transaction_id", v.transaction_id},
                                {"risk_score", v.risk_score},
                                {"risk_level", std::string(redflag::to_string(v.level))},
                                {"reason_codes", v.reason_codes},
                                {"explanation", v.explanation},
                                {"recommendation", std::string(redflag::to_string(v.recommendation))}};
  out["model_score"] = v.model_score ? nlohmann::ordered_json(*v.model_score) : nlohmann::ordered_json(nullptr);
  out["model_version"] = v.model_version;
  return out;
}

}  // namespace transactions_example
