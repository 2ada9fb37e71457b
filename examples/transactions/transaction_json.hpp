#pragma once

// Transactions and verdicts as JSON lines, one object per line: read with
// simdjson (TransactionReader), verdicts written by append_json; nlohmann-json
// builds the JSON values `generate` and `serve` write.
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

#include <simdjson.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
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

// Reads transaction lines with simdjson's On-Demand parser. The parser and
// the line's padded copy are reused from line to line, so reading a line
// allocates nothing once the longest line has been seen.
class TransactionReader {
 public:
  // Parses one line; throws bad_line naming the problem (for invalid JSON,
  // its column). simdjson is used through its error codes only: none of its
  // exceptions can leave.
  LabelledTransaction parse(std::string_view line) {
    padded_.reserve(line.size() + simdjson::SIMDJSON_PADDING);  // simdjson reads up to that far past the end
    padded_.assign(line);
    if (const auto error = parser_.iterate(padded_.data(), padded_.size(), padded_.capacity()).get(document_)) {
      throw bad_line("invalid JSON: " + description(error));  // found before any position is known
    }
    Type root{};
    check(document_.type().get(root));
    if (root != Type::object) throw bad_line("expected a JSON object");
    Object object;
    check(document_.get_object().get(object));  // an object cut short, or followed by more text, may fail here
    LabelledTransaction out;
    redflag::Transaction& t = out.txn;
    unsigned seen = 0;  // bit i: required_fields[i] was present
    // One pass in the line's order; a repeated field keeps its last value.
    for (auto member : object) {
      Field field;
      check(std::move(member).get(field));
      std::string_view key;
      check(field.unescaped_key().get(key));
      Value value = field.value();
      const auto required = std::find(required_fields.begin(), required_fields.end(), key);
      if (required != required_fields.end()) seen |= 1U << (required - required_fields.begin());
      if (key == "transaction_id") {
        t.id = text(value, key);
      } else if (key == "user_id") {
        t.entity = text(value, key);
      } else if (key == "amount") {
        t.amount = number(value, key);
      } else if (key == "currency") {
        t.currency = text(value, key);
      } else if (key == "timestamp_ms") {
        t.timestamp_ms =
            integer(value, key, std::numeric_limits<std::int64_t>::min(), std::numeric_limits<std::int64_t>::max());
      } else if (key == "utc_offset_minutes") {
        t.utc_offset_minutes = static_cast<std::int32_t>(integer(value, key, -100'000, 100'000));
      } else if (key == "merchant") {
        t.merchant = text(value, key);
      } else if (key == "merchant_category") {
        t.merchant_category = static_cast<std::uint16_t>(integer(value, key, 0, 9999));
      } else if (key == "city") {
        t.city = text(value, key);
      } else if (key == "country") {
        t.country = text(value, key);
      } else if (key == "label") {
        out.fraud = integer(value, key, 0, 1) == 1;
      } else if (key == "pattern") {
        out.pattern = pattern_from_string(text(value, key));
        if (!out.pattern) throw bad_line("field 'pattern' names no fraud pattern of the simulator");
      } else {
        validate(value, key, 0);  // other fields are allowed, but must be valid JSON
      }
    }
    const char* rest = nullptr;
    if (document_.current_location().get(rest) == simdjson::SUCCESS) {  // OUT_OF_BOUNDS: nothing follows
      throw bad_line("invalid JSON at column " + std::to_string(rest - padded_.data() + 1) +
                     ": unexpected text after the object");
    }
    for (std::size_t i = 0; i < required_fields.size(); ++i) {
      if ((seen & (1U << i)) == 0) throw bad_line("missing field '" + std::string(required_fields[i]) + "'");
    }
    if (out.pattern) {
      if (out.fraud && *out.fraud != (*out.pattern != redflag::FraudPattern::none)) {
        throw bad_line("fields 'label' and 'pattern' disagree");
      }
      if (!out.fraud) out.fraud = *out.pattern != redflag::FraudPattern::none;
    }
    return out;
  }

 private:
  using Object = simdjson::ondemand::object;
  using Field = simdjson::ondemand::field;
  using Value = simdjson::ondemand::value;
  using Type = simdjson::ondemand::json_type;

  // In the order a missing one is reported.
  static constexpr std::array<std::string_view, 10> required_fields = {
      "transaction_id", "user_id",           "amount", "currency", "timestamp_ms", "utc_offset_minutes",
      "merchant",       "merchant_category", "city",   "country"};

  // Longer than any identifier a card network sends: refused rather than
  // kept in every entity's state.
  static constexpr std::size_t max_text_bytes = 256;
  // Deeper than any extra field a producer adds; bounds validate()'s recursion.
  static constexpr int max_depth = 64;

  static std::string description(simdjson::error_code error) {
    const bool number = error == simdjson::NUMBER_ERROR || error == simdjson::NUMBER_OUT_OF_RANGE;
    return std::string(number ? "malformed number, or beyond double's range" : "syntax error") + " (" +
           simdjson::error_message(error) + ")";
  }

  // Throws bad_line for an error found while reading the document, with the
  // column where simdjson stopped.
  void check(simdjson::error_code error) {
    if (error == simdjson::SUCCESS) return;
    const char* at = nullptr;
    const std::size_t column =
        document_.current_location().get(at) == simdjson::SUCCESS ? at - padded_.data() + 1 : padded_.size() + 1;
    throw bad_line("invalid JSON at column " + std::to_string(column) + ": " + description(error));
  }

  Type type(Value& value) {
    Type out{};
    check(value.type().get(out));
    return out;
  }

  // A value of the wrong type: reported as invalid JSON if it is not even
  // valid (`tru`), else as the field's type error.
  [[noreturn]] void wrong_type(Value& value, std::string_view key, const char* expected) {
    validate(value, key, 0);
    throw bad_line("field '" + std::string(key) + "' must be " + expected);
  }

  std::string text(Value& value, std::string_view key) {
    if (type(value) != Type::string) wrong_type(value, key, "a string");
    std::string_view text;
    check(value.get_string().get(text));
    if (text.size() > max_text_bytes) {
      throw bad_line("field '" + std::string(key) + "' is longer than " + std::to_string(max_text_bytes) + " bytes");
    }
    return std::string(text);
  }

  double number(Value& value, std::string_view key) {
    if (type(value) != Type::number) wrong_type(value, key, "a number");
    double out = 0.0;
    check(value.get_double().get(out));
    return out;
  }

  std::int64_t integer(Value& value, std::string_view key, std::int64_t low, std::int64_t high) {
    if (type(value) != Type::number) wrong_type(value, key, "a 64-bit signed integer");
    std::int64_t n = 0;
    if (const auto error = value.get_int64().get(n)) {
      if (error != simdjson::INCORRECT_TYPE && error != simdjson::NUMBER_OUT_OF_RANGE) check(error);
      wrong_type(value, key, "a 64-bit signed integer");  // a fraction, an exponent or beyond 64 bits
    }
    if (n < low || n > high) {
      throw bad_line("field '" + std::string(key) + "' must be in [" + std::to_string(low) + ", " +
                     std::to_string(high) + "], got " + std::to_string(n));
    }
    return n;
  }

  // Reads `value` through, so that invalid JSON anywhere in the line is
  // refused: On-Demand checks only what is read.
  void validate(Value& value, std::string_view key, int depth) {
    if (depth > max_depth) {
      throw bad_line("field '" + std::string(key) + "' is nested deeper than " + std::to_string(max_depth) + " levels");
    }
    switch (type(value)) {
      case Type::object: {
        Object object;
        check(value.get_object().get(object));
        for (auto member : object) {
          Field field;
          check(std::move(member).get(field));
          std::string_view name;
          check(field.unescaped_key().get(name));
          Value inner = field.value();
          validate(inner, key, depth + 1);
        }
        break;
      }
      case Type::array: {
        simdjson::ondemand::array array;
        check(value.get_array().get(array));
        for (auto element : array) {
          Value inner;
          check(std::move(element).get(inner));
          validate(inner, key, depth + 1);
        }
        break;
      }
      case Type::number: {
        double ignored = 0.0;
        check(value.get_double().get(ignored));
        break;
      }
      case Type::string: {
        std::string_view ignored;
        check(value.get_string().get(ignored));
        break;
      }
      case Type::boolean: {
        bool ignored = false;
        check(value.get_bool().get(ignored));
        break;
      }
      case Type::null: {
        bool null = false;
        check(value.is_null().get(null));
        break;
      }
    }
  }

  simdjson::ondemand::parser parser_;
  simdjson::ondemand::document document_;
  std::string padded_;  // the line and simdjson's padding
};

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

// Appends the verdict as one JSON object, exactly as nlohmann-json's dump()
// of to_json(verdict) writes it (the verdict lines have always been that
// text), without building the JSON value: no allocation once `out` has
// grown to a line's size.
inline void append_json(std::string& out, const Verdict& v) {
  const auto append_string = [&out](std::string_view text) {
    // nlohmann's escapes: the two-character ones, \u00xx (lowercase) for the
    // other control characters, every other byte as it is.
    out += '"';
    std::size_t plain = 0;  // start of the run of bytes not yet appended
    for (std::size_t i = 0; i < text.size(); ++i) {
      const auto c = static_cast<unsigned char>(text[i]);
      if (c >= 0x20 && c != '"' && c != '\\') continue;
      out.append(text.substr(plain, i - plain));
      plain = i + 1;
      switch (c) {
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\b': out += "\\b"; break;
        case '\f': out += "\\f"; break;
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        default: out.append("\\u00").append(1, "0123456789abcdef"[c >> 4]).append(1, "0123456789abcdef"[c & 15]);
      }
    }
    out.append(text.substr(plain));
    out += '"';
  };
  const auto append_number = [&out](double x) {
    // nlohmann's own Grisu2 formatting: it is not always the shortest text
    // (std::to_chars writes 0.3990535792111016 where nlohmann writes
    // 0.39905357921110157, about 1 double in 2,500), so std::to_chars would
    // change the lines.
    std::array<char, 64> buffer{};
    if (!std::isfinite(x)) {
      out += "null";
      return;
    }
    out.append(buffer.data(), nlohmann::detail::to_chars(buffer.data(), buffer.data() + buffer.size(), x));
  };
  out += "{\"transaction_id\":";
  append_string(v.transaction_id);
  out += ",\"risk_score\":";
  append_number(v.risk_score);
  out += ",\"risk_level\":";
  append_string(redflag::to_string(v.level));
  out += ",\"reason_codes\":[";
  for (std::size_t i = 0; i < v.reason_codes.size(); ++i) {
    if (i != 0) out += ',';
    append_string(v.reason_codes[i]);
  }
  out += "],\"explanation\":";
  append_string(v.explanation);
  out += ",\"recommendation\":";
  append_string(redflag::to_string(v.recommendation));
  out += ",\"model_score\":";
  if (v.model_score) {
    append_number(*v.model_score);
  } else {
    out += "null";
  }
  out += ",\"model_version\":";
  std::array<char, 24> digits{};
  out.append(digits.data(), std::to_chars(digits.data(), digits.data() + digits.size(), v.model_version).ptr);
  out += '}';
}

}  // namespace transactions_example
