// The card-transaction example's JSON lines (examples/transactions/transaction_json.hpp):
// append_json writes each verdict byte for byte as nlohmann-json's dump() of
// to_json(verdict), the text the verdict lines have always had; the reader
// takes every field of a transaction line and refuses a bad line with a
// bad_line that says what and where.

#include "transactions/transaction_json.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <vector>

namespace {

namespace tx = transactions_example;

std::string fast_text(const tx::Verdict& v) {
  std::string out = "left over from the previous line";
  out.clear();  // as the example reuses its buffer
  tx::append_json(out, v);
  return out;
}

std::string reference_text(const tx::Verdict& v) { return tx::to_json(v).dump(); }

tx::Verdict verdict(double risk, std::optional<double> model) {
  tx::Verdict v;
  v.transaction_id = "t42";
  v.risk_score = risk;
  v.level = redflag::RiskLevel::high;
  v.recommendation = redflag::Recommendation::review;
  v.reason_codes = {"HIGH_AMOUNT", "UNUSUAL_HOUR"};
  v.explanation = "HIGH risk 0.82, REVIEW: amount 12134.16 > 10000 [HIGH_AMOUNT]";
  v.model_score = model;
  v.model_version = 7;
  return v;
}

// The bundled stream's first line.
const std::string valid_line =
    R"({"transaction_id":"t0","user_id":"u000035","amount":414.96,"currency":"USD","timestamp_ms":1700003854000,)"
    R"("utc_offset_minutes":180,"merchant":"m12","merchant_category":4111,"city":"c87","country":"GX","label":1,)"
    R"("pattern":"account_takeover"})";

std::string refusal(tx::TransactionReader& reader, const std::string& line) {
  try {
    (void)reader.parse(line);
  } catch (const tx::bad_line& failure) {
    return failure.what();
  }
  return "(accepted)";
}

}  // namespace

TEST_CASE("append_json writes nlohmann-json's text: numbers") {
  for (const double x : {0.0, -0.0, 1.0, 0.5, 100.0, 0.1, 1e-4, 1e-5, 1e15, 1e16, 1e17, 1e21, 5e-324,
                         std::numeric_limits<double>::max(), 0.39905357921110157, 0.879683620169843,
                         std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::infinity()}) {
    CAPTURE(x);
    CHECK(fast_text(verdict(x, x)) == reference_text(verdict(x, x)));
  }
  // Grisu2 is not always the shortest text: random doubles meet those cases
  // (about 1 in 2,500) where std::to_chars would write other digits.
  std::mt19937_64 random(2024);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  std::size_t differences = 0;
  for (int i = 0; i < 100'000; ++i) {
    const tx::Verdict v = verdict(unit(random), unit(random));
    differences += fast_text(v) != reference_text(v);
  }
  CHECK(differences == 0);
  tx::Verdict rules_only = verdict(0.25, std::nullopt);
  rules_only.model_version = 0;
  rules_only.reason_codes.clear();
  CHECK(fast_text(rules_only) == reference_text(rules_only));
  rules_only.model_version = std::numeric_limits<std::uint64_t>::max();
  CHECK(fast_text(rules_only) == reference_text(rules_only));
}

TEST_CASE("append_json writes nlohmann-json's text: strings") {
  std::string every_byte;  // each byte that may appear in valid UTF-8 text, alone
  for (int c = 0; c < 0x80; ++c) every_byte += static_cast<char>(c);
  for (const std::string& text : {std::string(), std::string("plain"), std::string("quote \" and backslash \\"),
                                  std::string("\b\f\n\r\t\x01\x1f\x7f"), std::string("caf\xc3\xa9 \xf0\x9f\x98\x80"),
                                  std::string("\"leading and trailing\\"), every_byte}) {
    tx::Verdict v = verdict(0.5, 0.25);
    v.transaction_id = text;
    v.explanation = text + " in the explanation " + text;
    v.reason_codes = {text, "RULE"};
    CAPTURE(text);
    CHECK(fast_text(v) == reference_text(v));
  }
}

TEST_CASE("TransactionReader reads every field") {
  tx::TransactionReader reader;
  const tx::LabelledTransaction in = reader.parse(valid_line);
  CHECK(in.txn.id == "t0");
  CHECK(in.txn.entity == "u000035");
  CHECK(in.txn.amount == 414.96);
  CHECK(in.txn.currency == "USD");
  CHECK(in.txn.timestamp_ms == 1700003854000);
  CHECK(in.txn.utc_offset_minutes == 180);
  CHECK(in.txn.merchant == "m12");
  CHECK(in.txn.merchant_category == 4111);
  CHECK(in.txn.city == "c87");
  CHECK(in.txn.country == "GX");
  CHECK(in.fraud == true);
  CHECK(in.pattern == redflag::FraudPattern::account_takeover);

  // Any order, escapes, extra fields, no label; the reader reused after a longer line.
  const std::string long_line = valid_line.substr(0, valid_line.size() - 1) + R"(,"note":")" + std::string(4000, 'x') +
                                R"(","nested":{"a":[1,2.5e3,true,false,null,{}]}})";
  CHECK(reader.parse(long_line).txn.id == "t0");
  const tx::LabelledTransaction other = reader.parse(
      R"( {"country":"AX","city":"c1","merchant_category":5411,"merchant":"m\u0031","utc_offset_minutes":-60,)"
      R"("timestamp_ms":-5,"currency":"EUR","amount":15000,"user_id":"u\"1\"","transaction_id":"x","extra":[]} )");
  CHECK(other.txn.merchant == "m1");
  CHECK(other.txn.entity == "u\"1\"");
  CHECK(other.txn.amount == 15000.0);
  CHECK(other.txn.timestamp_ms == -5);
  CHECK(other.txn.utc_offset_minutes == -60);
  CHECK_FALSE(other.fraud.has_value());
  CHECK_FALSE(other.pattern.has_value());
}

TEST_CASE("TransactionReader refuses a bad line, saying what and where") {
  tx::TransactionReader reader;
  const auto replaced = [](const std::string& from, const std::string& to) {
    std::string line = valid_line;
    const auto at = line.find(from);
    REQUIRE(at != std::string::npos);
    return line.replace(at, from.size(), to);
  };
  const std::vector<std::pair<std::string, std::string>> cases = {
      {R"({"transaction_id": "broken", "amount": })", "invalid JSON at column 40: syntax error"},
      {replaced("414.96", "1e400"), "invalid JSON at column 53: malformed number, or beyond double's range"},
      {replaced("414.96", "01"), "invalid JSON at column 53: malformed number"},
      {replaced("\"label\":1", "\"label\":tru"), "invalid JSON at column"},
      {replaced("\"city\"", "\"city\" "), "(accepted)"},
      {replaced("\"city\":", "\"city\""), "invalid JSON at column"},
      {valid_line + " {}", "invalid JSON at column 241: unexpected text after the object"},
      {replaced("}", R"(,"extra":[1,{"a":}]})"), "invalid JSON at column"},
      {replaced("}", R"(,"extra":)" + std::string(100, '[') + std::string(100, ']') + "}"),
       "field 'extra' is nested deeper than 64 levels"},
      {replaced("c87", "c\xff"), "invalid JSON: syntax error (The input is not valid UTF-8)"},
      {replaced("\"u000035\"", "\"u000035"), "invalid JSON"},
      {"[1, 2]", "expected a JSON object"},
      {"", "invalid JSON"},
      {replaced("\"user_id\":\"u000035\",", ""), "missing field 'user_id'"},
      {replaced("\"amount\":414.96,", ""), "missing field 'amount'"},
      {replaced("414.96", "\"414.96\""), "field 'amount' must be a number"},
      {replaced("\"t0\"", "0"), "field 'transaction_id' must be a string"},
      {replaced("1700003854000", "1700003854000.0"), "field 'timestamp_ms' must be a 64-bit signed integer"},
      {replaced("1700003854000", "9223372036854775808"), "field 'timestamp_ms' must be a 64-bit signed integer"},
      {replaced("\"label\":1", "\"label\":true"), "field 'label' must be a 64-bit signed integer"},
      {replaced("4111", "10000"), "field 'merchant_category' must be in [0, 9999], got 10000"},
      {replaced("\"label\":1", "\"label\":2"), "field 'label' must be in [0, 1], got 2"},
      {replaced("account_takeover", "phishing"), "field 'pattern' names no fraud pattern of the simulator"},
      {replaced("\"label\":1", "\"label\":0"), "fields 'label' and 'pattern' disagree"},
      {replaced("m12", std::string(257, 'm')), "field 'merchant' is longer than 256 bytes"},
  };
  for (const auto& test : cases) {
    const std::string& line = test.first;
    const std::string& expected = test.second;
    CAPTURE(line);
    const std::string message = refusal(reader, line);
    CHECK_MESSAGE(message.rfind(expected, 0) == 0, message);
  }
  CHECK(reader.parse(valid_line).txn.id == "t0");  // still usable after refusals
}
