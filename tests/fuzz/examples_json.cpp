// The example pipelines' JSON inputs: a transaction line (transactions) and a
// batch of account snapshots (portfolio). Their parsers may throw only their
// own input errors or redflag::error.

#include "portfolio/account.hpp"
#include "transactions/transaction_json.hpp"

#include "fuzz_support.hpp"

namespace redflag::fuzz {

void transaction_json(std::string_view input) {
  try {
    static transactions_example::TransactionReader reader;  // reused, as the example reuses it
    const auto line = reader.parse(input);
    (void)to_entity_event(line.txn);
  } catch (const transactions_example::bad_line&) {
  } catch (const error&) {
  }
}

void portfolio_json(std::string_view input) {
  nlohmann::json batch;
  try {
    batch = nlohmann::json::parse(input);
  } catch (const nlohmann::json::exception&) {
    return;  // the service answers 400 (examples/portfolio/main.cpp)
  }
  try {
    (void)portfolio::parse_accounts(batch);
  } catch (const portfolio::InputError&) {
  }
}

}  // namespace redflag::fuzz
