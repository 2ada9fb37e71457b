// redflag_portfolio: cash drift in rebalancing trades, as a service or once.
//
//   redflag_portfolio serve [--port N] [--address A] [--state-dir DIR]
//   redflag_portfolio analyze FILE [--flagged]
//   redflag_portfolio generate FILE [--accounts N] [--drifted K] [--seed S] [--truth FILE]
//
// The detector is fitted at start on a reference history generated with a
// fixed seed (2000 accounts, 3 % of them drifted), not on the posted batch: a
// batch of one can be scored, a batch full of drift is still drift, and the
// same account gets the same score whatever it is posted with.
#include "account.hpp"
#include "cash_drift.hpp"
#include "generator.hpp"
#include "http_service.hpp"
#include "recommendation_store.hpp"

#include <redflag/lifecycle/atomic_file.hpp>

#include <CLI/CLI.hpp>

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <iostream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace {

namespace http = boost::beast::http;
using nlohmann::json;
using redflag::examples::HttpError;
using redflag::examples::HttpRequest;
using redflag::examples::HttpResponse;

constexpr std::size_t reference_accounts = 2000;
constexpr std::size_t reference_drifted = 60;
constexpr std::uint64_t reference_seed = 1;

constexpr std::size_t sample_accounts = 40;
constexpr std::size_t sample_drifted = 4;
constexpr std::uint64_t sample_seed = 7;

struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// The options of the mode CLI11 parsed, as typed; numbers are checked where
// they are read. Unknown options and stray arguments (CLI11 keeps them:
// allow_extras) are usage errors naming them.
class Options {
 public:
  explicit Options(const CLI::App& mode) : mode_(&mode) {
    for (const std::string& extra : mode.remaining()) {
      throw UsageError(extra.starts_with("-") ? "unknown option " + extra : "unexpected argument '" + extra + "'");
    }
  }

  [[nodiscard]] bool has(const std::string& name) const { return mode_->count(name) > 0; }

  [[nodiscard]] std::string text(const std::string& name, std::string fallback) const {
    return has(name) ? mode_->get_option(name)->as<std::string>() : fallback;
  }

  [[nodiscard]] std::uint64_t number(const std::string& name, std::uint64_t fallback, std::uint64_t max) const {
    if (!has(name)) return fallback;
    const std::string value = text(name, "");
    std::uint64_t parsed = 0;
    const auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), parsed);
    if (error != std::errc{} || end != value.data() + value.size() || parsed > max) {
      throw UsageError(name + " must be an integer in [0, " + std::to_string(max) + "], got '" + value + "'");
    }
    return parsed;
  }

 private:
  const CLI::App* mode_;
};

// Declares `--name VALUE` options, each taking one value.
void add_options(CLI::App& mode, const std::vector<std::pair<std::string, std::string>>& options) {
  for (const auto& [name, help] : options) {
    const std::size_t space = name.find(' ');
    const std::string value = name.substr(space + 1);
    mode.add_option(name.substr(0, space), help)->option_text(value)->type_name(value);
  }
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open '" + path + "'");
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// The business rules: rules.json beside the example's sources, unless
// REDFLAG_PORTFOLIO_RULES names another file.
std::string rules_file() {
  const char* path = std::getenv("REDFLAG_PORTFOLIO_RULES");
  return path != nullptr && *path != '\0' ? path : REDFLAG_PORTFOLIO_RULES_FILE;
}

portfolio::CashDriftDetector make_detector() {
  const auto reference = portfolio::generate_accounts(reference_accounts, reference_drifted, reference_seed, 900001);
  return portfolio::CashDriftDetector(reference.accounts, rules_file());
}

// The posted text as accounts, or HttpError 400 naming the problem and where.
std::pair<json, std::vector<portfolio::Account>> parse_batch(const std::string& body) {
  json batch;
  try {
    batch = json::parse(body);
  } catch (const json::parse_error& failure) {
    throw HttpError(
        400, {{"error", std::string("malformed JSON: ") + failure.what()}, {"path", "$"}, {"byte", failure.byte}});
  } catch (const json::exception& failure) {
    // Valid syntax nlohmann-json still refuses, such as a number beyond double's range (1e400).
    throw HttpError(400, {{"error", std::string("malformed JSON: ") + failure.what()}, {"path", "$"}});
  }
  try {
    auto accounts = portfolio::parse_accounts(batch);
    return {std::move(batch), std::move(accounts)};
  } catch (const portfolio::InputError& failure) {
    throw HttpError(400, {{"error", failure.what()}, {"path", failure.path()}});
  }
}

int serve(const Options& options) {
  const auto port = static_cast<unsigned short>(options.number("--port", 8080, 65535));
  const std::string address = options.text("--address", "127.0.0.1");
  portfolio::RecommendationStore store(options.text("--state-dir", "portfolio-state"));
  const portfolio::CashDriftDetector detector = make_detector();

  redflag::examples::HttpService service(address, port);
  service.route(http::verb::post, "/analyze", [&](const HttpRequest& request) {
    auto [batch, accounts] = parse_batch(request.body);
    const std::vector<json> stored = store.add(detector.recommend(accounts, batch));
    service.broadcast(json{{"event", "recommendations"}, {"recommendations", stored}}.dump());
    return HttpResponse{200, {{"recommendations", stored}}};
  });
  service.route(http::verb::get, "/recommendations", [&](const HttpRequest&) {
    return HttpResponse{200, {{"recommendations", store.all()}}};
  });
  service.route(http::verb::get, "/recommendations/{id}", [&](const HttpRequest& request) {
    const auto found = store.find(request.param("id"));
    if (!found) throw HttpError(404, {{"error", "no recommendation " + request.param("id")}});
    return HttpResponse{200, *found};
  });
  service.route(http::verb::post, "/recommendations/{id}/viewed", [&](const HttpRequest& request) {
    const auto viewed = store.mark_viewed(request.param("id"));
    if (!viewed) throw HttpError(404, {{"error", "no recommendation " + request.param("id")}});
    return HttpResponse{200, *viewed};
  });
  service.websocket("/ws", json{{"event", "subscribed"}}.dump());
  service.stop_on_signals();

  // Tests and scripts wait for this line (with --port 0 it names the port).
  std::cout << "portfolio service listening on http://" << address << ":" << service.port()
            << " (WebSocket /ws), anomaly threshold " << detector.threshold() << std::endl;
  service.run();
  std::cout << "portfolio service stopped" << std::endl;
  return 0;
}

int analyze(const Options& options) {
  const std::string file = options.text("FILE", "");
  const std::string text = read_file(file);
  std::pair<json, std::vector<portfolio::Account>> parsed;
  try {
    parsed = parse_batch(text);
  } catch (const HttpError& failure) {
    std::cerr << "redflag_portfolio: " << file << ": " << failure.body().value("path", "$") << ": "
              << failure.body().value("error", "") << "\n";
    return 1;
  }
  const portfolio::CashDriftDetector detector = make_detector();
  json out = json::array();
  for (auto& recommendation : detector.recommend(parsed.second, parsed.first)) {
    if (options.has("--flagged") && !recommendation["is_anomaly"].get<bool>() && recommendation["reasons"].empty()) {
      continue;
    }
    out.push_back(std::move(recommendation));
  }
  std::cout << out.dump(2) << "\n";
  return 0;
}

int generate(const Options& options) {
  const std::string file = options.text("FILE", "");
  const auto count = options.number("--accounts", sample_accounts, 1000000);
  const auto drifted = options.number("--drifted", sample_drifted, count);
  const auto seed = options.number("--seed", sample_seed, UINT64_MAX);
  const auto generated = portfolio::generate_accounts(count, drifted, seed);
  nlohmann::ordered_json accounts = nlohmann::ordered_json::array();
  nlohmann::ordered_json truth = {{"above", json::array()}, {"below", json::array()}};
  for (std::size_t i = 0; i < generated.accounts.size(); ++i) {
    accounts.push_back(portfolio::to_json(generated.accounts[i]));
    if (generated.drift[i] == portfolio::Drift::above) truth["above"].push_back(generated.accounts[i].account_id);
    if (generated.drift[i] == portfolio::Drift::below) truth["below"].push_back(generated.accounts[i].account_id);
  }
  redflag::write_file_atomically(file, accounts.dump(1) + "\n");
  if (options.has("--truth")) {
    redflag::write_file_atomically(options.text("--truth", ""), truth.dump(1) + "\n");
  }
  std::cout << "wrote " << count << " accounts (" << drifted << " drifted) to " << file << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App tool("Cash drift in portfolio rebalancing (redflag example).", "redflag_portfolio");
  tool.get_formatter()->label("Usage", "usage");
  tool.allow_extras();
  tool.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  CLI::App* serve_mode = tool.add_subcommand("serve", "HTTP, with WebSocket on /ws, until SIGINT or SIGTERM");
  add_options(*serve_mode, {{"--port N", "the port; default 8080, 0 picks a free one"},
                            {"--address A", "the address to listen on; default 127.0.0.1"},
                            {"--state-dir DIR", "where the recommendations are kept; default ./portfolio-state"}});
  CLI::App* analyze_mode = tool.add_subcommand("analyze", "print the recommendations for a batch");
  analyze_mode->add_option("FILE", "the batch of accounts, as JSON")->required();
  analyze_mode->add_flag("--flagged")->description("only flagged or drifted accounts");
  CLI::App* generate_mode =
      tool.add_subcommand("generate", "write synthetic accounts (the defaults: the bundled sample)");
  generate_mode->add_option("FILE", "the accounts to write, as JSON")->required();
  add_options(*generate_mode, {{"--accounts N", "accounts; default " + std::to_string(sample_accounts)},
                               {"--drifted K", "accounts with cash drift; default " + std::to_string(sample_drifted)},
                               {"--seed S", "random seed; default " + std::to_string(sample_seed)},
                               {"--truth FILE", "also write which accounts drifted, as JSON"}});
  tool.require_subcommand(1);
  try {
    try {
      tool.parse(argc, argv);
    } catch (const CLI::Success& help) {
      return tool.exit(help);
    } catch (const CLI::ParseError& failure) {
      throw UsageError(failure.what());
    }
    if (serve_mode->parsed()) return serve(Options(*serve_mode));
    if (analyze_mode->parsed()) return analyze(Options(*analyze_mode));
    return generate(Options(*generate_mode));
  } catch (const UsageError& failure) {
    std::cerr << "redflag_portfolio: " << failure.what() << " (see redflag_portfolio --help)\n";
    return 2;
  } catch (const std::exception& failure) {
    std::cerr << "redflag_portfolio: " << failure.what() << "\n";
    return 1;
  }
}
