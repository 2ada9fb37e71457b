#pragma once

// Account snapshots: the records of the portfolio example, read from and
// written to the JSON the service accepts.
//
//   [{"AccountId": "ACC-100001", "TradeAmount": 18250.40,
//     "RebalancingModels": [
//       {"ModelName": "US Core Equity",
//        "Securities": [{"Symbol": "MSFT", "SecurityType": "Equity", "TradeAmount": 3101.2,
//                        "ModelPercent": 17.0, "MarketValue": 41230.0}, ...]}, ...]}, ...]
//
// A snapshot is a proposed rebalancing trade: the account's TradeAmount is
// spread over the securities of its sleeves (RebalancingModels). ModelPercent
// is the security's target share of the account in percent (the percents of
// all sleeves add up to about 100); a security is cash when its SecurityType
// is "Cash" (any letter case). Symbol and ModelName are optional; other
// fields are ignored.

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstddef>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

namespace portfolio {

struct Security {
  std::string symbol;
  std::string security_type;
  double trade_amount = 0;
  double model_percent = 0;
  double market_value = 0;

  [[nodiscard]] bool is_cash() const {
    constexpr std::string_view cash = "cash";
    return security_type.size() == cash.size() &&
           std::equal(cash.begin(), cash.end(), security_type.begin(),
                      [](char expected, char c) { return expected == std::tolower(static_cast<unsigned char>(c)); });
  }
};

struct Sleeve {
  std::string model_name;
  std::vector<Security> securities;
};

struct Account {
  std::string account_id;
  double trade_amount = 0;
  std::vector<Sleeve> sleeves;
};

// A value of the wrong type, out of range or missing, at `path` — a JSONPath
// such as "$[3].RebalancingModels[0].Securities[1].ModelPercent".
class InputError : public std::runtime_error {
 public:
  InputError(const std::string& message, std::string path) : std::runtime_error(message), path_(std::move(path)) {}
  [[nodiscard]] const std::string& path() const { return path_; }

 private:
  std::string path_;
};

namespace json_input {

using nlohmann::json;

inline std::string type_name(const json& value) {
  return value.is_number() ? "number" : value.type_name();  // not "number" vs "number_integer" etc.
}

inline const json& member(const json& object, const char* key, const std::string& path) {
  const auto found = object.find(key);
  if (found == object.end()) throw InputError(std::string("missing field '") + key + "'", path + "." + key);
  return *found;
}

inline const json& require_object(const json& value, const std::string& path) {
  if (!value.is_object()) throw InputError("expected an object, got " + type_name(value), path);
  return value;
}

inline const json& require_array(const json& value, const std::string& path) {
  if (!value.is_array()) throw InputError("expected an array, got " + type_name(value), path);
  return value;
}

inline std::string read_string(const json& object, const char* key, const std::string& path, bool required) {
  const std::string at = path + "." + key;
  if (!required && !object.contains(key)) return {};
  const json& value = member(object, key, path);
  if (!value.is_string()) throw InputError("expected a string, got " + type_name(value), at);
  std::string text = value.get<std::string>();
  if (required && text.empty()) throw InputError("must not be empty", at);
  return text;
}

inline double read_number(const json& object, const char* key, const std::string& path) {
  const std::string at = path + "." + key;
  const json& value = member(object, key, path);
  if (!value.is_number()) throw InputError("expected a number, got " + type_name(value), at);
  const double number = value.get<double>();
  if (!std::isfinite(number)) throw InputError("number out of range", at);
  return number;
}

}  // namespace json_input

// Reads a batch of snapshots, checking every field; throws InputError naming
// the first problem and where it is. An empty batch and a repeated AccountId
// are errors too.
inline std::vector<Account> parse_accounts(const nlohmann::json& batch) {
  using json_input::read_number;
  using json_input::read_string;
  json_input::require_array(batch, "$");
  if (batch.empty()) throw InputError("expected at least one account", "$");
  std::vector<Account> accounts;
  accounts.reserve(batch.size());
  std::unordered_set<std::string> seen;
  for (std::size_t a = 0; a < batch.size(); ++a) {
    const std::string account_path = "$[" + std::to_string(a) + "]";
    const auto& item = json_input::require_object(batch[a], account_path);
    Account account;
    account.account_id = read_string(item, "AccountId", account_path, true);
    if (!seen.insert(account.account_id).second) {
      throw InputError("AccountId '" + account.account_id + "' appears twice in the batch",
                       account_path + ".AccountId");
    }
    account.trade_amount = read_number(item, "TradeAmount", account_path);
    const std::string sleeves_path = account_path + ".RebalancingModels";
    const auto& sleeves =
        json_input::require_array(json_input::member(item, "RebalancingModels", account_path), sleeves_path);
    if (sleeves.empty()) throw InputError("expected at least one rebalancing model", sleeves_path);
    for (std::size_t s = 0; s < sleeves.size(); ++s) {
      const std::string sleeve_path = sleeves_path + "[" + std::to_string(s) + "]";
      const auto& sleeve_item = json_input::require_object(sleeves[s], sleeve_path);
      Sleeve sleeve;
      sleeve.model_name = read_string(sleeve_item, "ModelName", sleeve_path, false);
      const std::string securities_path = sleeve_path + ".Securities";
      const auto& securities =
          json_input::require_array(json_input::member(sleeve_item, "Securities", sleeve_path), securities_path);
      for (std::size_t k = 0; k < securities.size(); ++k) {
        const std::string security_path = securities_path + "[" + std::to_string(k) + "]";
        const auto& security_item = json_input::require_object(securities[k], security_path);
        Security security;
        security.symbol = read_string(security_item, "Symbol", security_path, false);
        security.security_type = read_string(security_item, "SecurityType", security_path, true);
        security.trade_amount = read_number(security_item, "TradeAmount", security_path);
        security.model_percent = read_number(security_item, "ModelPercent", security_path);
        if (security.model_percent < 0 || security.model_percent > 100) {
          throw InputError("ModelPercent must be in [0, 100]", security_path + ".ModelPercent");
        }
        security.market_value = read_number(security_item, "MarketValue", security_path);
        if (security.market_value < 0) throw InputError("MarketValue must be >= 0", security_path + ".MarketValue");
        sleeve.securities.push_back(std::move(security));
      }
      account.sleeves.push_back(std::move(sleeve));
    }
    accounts.push_back(std::move(account));
  }
  return accounts;
}

// The snapshot as JSON, fields in the order above (for the generator).
inline nlohmann::ordered_json to_json(const Account& account) {
  nlohmann::ordered_json sleeves = nlohmann::ordered_json::array();
  for (const Sleeve& sleeve : account.sleeves) {
    nlohmann::ordered_json securities = nlohmann::ordered_json::array();
    for (const Security& security : sleeve.securities) {
      securities.push_back({{"Symbol", security.symbol},
                            {"SecurityType", security.security_type},
                            {"TradeAmount", security.trade_amount},
                            {"ModelPercent", security.model_percent},
                            {"MarketValue", security.market_value}});
    }
    sleeves.push_back({{"ModelName", sleeve.model_name}, {"Securities", std::move(securities)}});
  }
  return {{"AccountId", account.account_id},
          {"TradeAmount", account.trade_amount},
          {"RebalancingModels", std::move(sleeves)}};
}

}  // namespace portfolio
