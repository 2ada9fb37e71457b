// redflag_transactions: card-transaction monitoring on a stream of JSON lines.
//
//   redflag_transactions [run] [FILE|-] [--out FILE | --jsonl] [--rules FILE] [--registry DIR] [--top N]
//       Scores every transaction of FILE (default: the bundled stream; - is
//       stdin) and prints a summary. --out FILE writes one verdict per
//       transaction as JSON lines; --jsonl writes them to stdout and the
//       summary to stderr. --rules loads the rules from a JSON configuration
//       (default: the built-in rules). --registry keeps the model registry in
//       DIR (a new or empty directory); by default it lives in a temporary
//       directory removed at exit.
//   redflag_transactions generate [--users N] [--transactions N] [--days N] [--fraud-rate F] [--seed S] [--out FILE]
//       Writes a labelled stream from redflag's TransactionSimulator (the
//       defaults reproduce the bundled data/transactions.jsonl).
//   redflag_transactions serve [FILE|-] [--host ADDRESS] [--port P] [--rules FILE] [--registry DIR]
//       Replays FILE (default: the bundled stream), then answers POST /detect
//       (one transaction as JSON) with its verdict, and GET /health, on
//       ADDRESS:P (default 127.0.0.1:8080; port 0 picks a free one) until
//       SIGINT or SIGTERM. Needs Boost (Beast).
//
//   redflag_transactions worker|trainer|publish|collect|setup|stream-info|inject|broker-rate [...]
//       The partitioned deployment on NATS JetStream (cluster_modes.hpp;
//       docs/scale-out.md): workers share the input's partitions, a trainer
//       retrains the one model for all of them, and the verdicts, read in
//       input order, are this program's own. Needs libnats.
//
// A line that is not a valid transaction (bad JSON, a missing field, an
// amount redflag refuses, ...) is reported on stderr with its line number
// and skipped: the stream goes on, the summary counts the rejected lines and
// the exit status is 1 at the end.

#include "cluster_modes.hpp"
#include "monitor.hpp"
#include "summary.hpp"
#include "transaction_json.hpp"

#include <redflag/rules/rule_config.hpp>
#include <redflag/transactions/transaction_simulator.hpp>

#include <CLI/CLI.hpp>

#include <algorithm>

#ifdef REDFLAG_TRANSACTIONS_HTTP
#include "common/http_service.hpp"
#endif

#include <time.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace {

namespace tx = transactions_example;

using tx::usage_error;

// What CLI11 parsed for one mode: --name value pairs, flags and the optional
// positional argument.
struct Arguments {
  std::optional<std::string> positional;
  std::vector<std::pair<std::string, std::string>> options;
  std::vector<std::string> flags;

  [[nodiscard]] std::optional<std::string> get(std::string_view name) const {
    std::optional<std::string> value;
    for (const auto& [key, v] : options) {
      if (key == name) value = v;
    }
    return value;
  }
  [[nodiscard]] bool has(std::string_view flag) const {
    return std::find(flags.begin(), flags.end(), flag) != flags.end();
  }
};

// The values CLI11 parsed for `app`, the mode that ran. Options are kept as
// typed and checked where they are read (number); unknown options are kept
// by CLI11 (allow_extras) and refused here, naming the option.
Arguments parsed_arguments(const CLI::App& app) {
  for (const std::string& extra : app.remaining()) {
    throw usage_error(extra.starts_with("-") ? "unknown option " + extra : "unexpected argument " + extra);
  }
  Arguments out;
  for (const CLI::Option* option : app.get_options()) {
    if (option->count() == 0 || option == app.get_help_ptr()) continue;
    if (option->get_positional()) {
      out.positional = option->as<std::string>();
    } else if (option->get_expected_max() == 0) {
      out.flags.push_back(option->get_name());
    } else {
      out.options.emplace_back(option->get_name(), option->as<std::string>());
    }
  }
  return out;
}

// Declares the options of one mode on `app`; each takes a value.
void add_options(CLI::App& app, const std::vector<std::pair<std::string, std::string>>& options) {
  for (const auto& [name, help] : options) {
    const std::size_t space = name.find(' ');
    const std::string value = name.substr(space + 1);
    app.add_option(name.substr(0, space), help)->option_text(value)->type_name(value);
  }
}

template <class Number>
Number number(const Arguments& args, std::string_view name, Number fallback) {
  return tx::option_number(name, args.get(name), fallback);
}

int generate(const Arguments& args) {
  const redflag::SimulatorParams params{.users = number<std::size_t>(args, "--users", 40),
                                        .transactions = number<std::size_t>(args, "--transactions", 4'000),
                                        .fraud_rate = number<double>(args, "--fraud-rate", 0.02),
                                        .days = number<int>(args, "--days", 21),
                                        .seed = number<std::uint64_t>(args, "--seed", 2024)};
  const redflag::SimulatedStream stream = redflag::TransactionSimulator(params).generate();
  std::ofstream file;
  if (const auto path = args.get("--out")) {
    file.open(*path);
    if (!file) throw std::runtime_error("cannot write " + *path);
  }
  std::ostream& out = file.is_open() ? file : std::cout;
  for (std::size_t i = 0; i < stream.transactions.size(); ++i) {
    redflag::Transaction txn = stream.transactions[i];
    txn.amount = std::round(txn.amount * 100.0) / 100.0;  // cents, written as such ("12.3", not "12.299999999999999")
    out << tx::to_json(txn, stream.patterns[i]).dump() << "\n";
  }
  return out ? 0 : 1;
}

// CPU time of the calling thread: throughput that does not depend on what
// else the machine is running.
double thread_cpu_seconds() {
  timespec t{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) * 1e-9;
}

// The registry directory: the user's (new or empty) or a temporary one.
class RegistryDirectory {
 public:
  explicit RegistryDirectory(const std::optional<std::string>& requested) {
    if (requested) {
      path_ = *requested;
      if (std::filesystem::exists(path_) && !std::filesystem::is_empty(path_)) {
        throw usage_error("--registry " + *requested + ": the directory must be new or empty");
      }
    } else {
      path_ = std::filesystem::temp_directory_path() / ("redflag-transactions-" + std::to_string(::getpid()));
      std::filesystem::remove_all(path_);
      temporary_ = true;
    }
  }
  RegistryDirectory(const RegistryDirectory&) = delete;
  RegistryDirectory& operator=(const RegistryDirectory&) = delete;
  ~RegistryDirectory() {
    std::error_code ignored;
    if (temporary_) std::filesystem::remove_all(path_, ignored);
  }
  [[nodiscard]] const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
  bool temporary_ = false;
};

// Scores every line of `in`; a bad line is reported and skipped.
void replay(std::istream& in, const std::string& name, tx::Monitor& monitor, tx::Summary& summary,
            std::ostream* verdicts) {
  tx::TransactionReader reader;
  std::string line, verdict_line;  // reused: no allocation per line once they have grown
  std::size_t line_number = 0;
  while (std::getline(in, line)) {
    ++line_number;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;  // blank lines are not transactions
    try {
      const tx::LabelledTransaction input = reader.parse(line);
      const tx::Verdict verdict = monitor.process(input.txn);
      summary.record(input, verdict);
      if (verdicts) {
        verdict_line.clear();
        tx::append_json(verdict_line, verdict);
        verdict_line += '\n';
        verdicts->write(verdict_line.data(), static_cast<std::streamsize>(verdict_line.size()));
      }
    } catch (const tx::bad_line& failure) {
      std::cerr << "redflag_transactions: " << name << ":" << line_number << ": " << failure.what()
                << "; line skipped\n";
      summary.reject();
    } catch (const redflag::data_error& failure) {  // refused by redflag before anything changed
      std::cerr << "redflag_transactions: " << name << ":" << line_number << ": " << failure.what()
                << "; line skipped\n";
      summary.reject();
    }
  }
}

// The input stream: FILE, "-" for stdin, or the bundled stream.
struct Input {
  explicit Input(const std::optional<std::string>& source) : path(source.value_or(REDFLAG_TRANSACTIONS_DATA)) {
    if (path != "-") {
      file.open(path);
      if (!file) throw std::runtime_error("cannot read " + path);
    }
    name = path == "-" ? "stdin" : std::filesystem::path(path).filename().string();
  }
  std::istream& stream() { return path == "-" ? std::cin : file; }

  std::string path, name;
  std::ifstream file;
};

redflag::RulesEngine rules(const Arguments& args) {
  const auto path = args.get("--rules");
  return path ? redflag::load_rules_file(*path, redflag::make_transaction_rule_features())
              : redflag::transaction_rules();
}

int run(const Arguments& args) {
  if (args.get("--out") && args.has("--jsonl")) throw usage_error("--out and --jsonl are exclusive");
  Input input(args.positional);
  std::ofstream verdict_file;
  if (const auto path = args.get("--out")) {
    verdict_file.open(*path);
    if (!verdict_file) throw std::runtime_error("cannot write " + *path);
  }
  std::ostream* verdicts = verdict_file.is_open() ? &verdict_file : args.has("--jsonl") ? &std::cout : nullptr;
  std::ostream& report = args.has("--jsonl") ? std::cerr : std::cout;

  const RegistryDirectory registry(args.get("--registry"));
  tx::Monitor monitor(registry.path(), rules(args));
  tx::Summary summary(number<std::size_t>(args, "--top", 5));

  const auto start = std::chrono::steady_clock::now();
  const double cpu_start = thread_cpu_seconds();
  replay(input.stream(), input.name, monitor, summary, verdicts);
  monitor.finish();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const double cpu_seconds = thread_cpu_seconds() - cpu_start;
  if (verdicts) verdicts->flush();
  summary.print(report, input.name, monitor, seconds, cpu_seconds);
  return summary.rejected() == 0 ? 0 : 1;
}

#ifdef REDFLAG_TRANSACTIONS_HTTP
// Replays FILE (default: the bundled stream) to build the users' state and
// the models, then scores one transaction per POST /detect with the same
// pipeline: its verdict is the response, and the transaction joins the
// stream (state, training rows, retraining at each new day).
int serve(const Arguments& args) {
  namespace http = boost::beast::http;
  using redflag::examples::HttpError;
  using redflag::examples::HttpRequest;
  using redflag::examples::HttpResponse;

  Input input(args.positional);
  const RegistryDirectory registry(args.get("--registry"));
  tx::Monitor monitor(registry.path(), rules(args));
  tx::Summary summary;
  replay(input.stream(), input.name, monitor, summary, nullptr);
  monitor.finish();

  redflag::examples::HttpService service(args.get("--host").value_or("127.0.0.1"),
                                         number<unsigned short>(args, "--port", 8080));
  tx::TransactionReader reader;
  service.route(http::verb::post, "/detect", [&](const HttpRequest& request) {
    try {
      return HttpResponse{200, tx::to_json(monitor.process(reader.parse(request.body).txn))};
    } catch (const tx::bad_line& failure) {
      throw HttpError(400, {{"error", failure.what()}});
    } catch (const redflag::data_error& failure) {
      throw HttpError(400, {{"error", failure.what()}});
    }
  });
  service.route(http::verb::get, "/health", [&](const HttpRequest&) {
    return HttpResponse{
        200, {{"status", "ok"}, {"transactions", monitor.processed()}, {"model_version", monitor.model_version()}}};
  });
  service.stop_on_signals();
  std::cout << "replayed " << monitor.processed() << " transactions from " << input.name << " (model v"
            << monitor.model_version() << "); listening on http://" << args.get("--host").value_or("127.0.0.1") << ":"
            << service.port() << " (POST /detect, GET /health)" << std::endl;
  service.run();
  monitor.finish();
  return 0;
}
#endif

}  // namespace

int main(int argc, char** argv) {
  // `run` is also the default mode: its options and FILE go on the tool itself.
  CLI::App tool(
      "Card-transaction monitoring on a stream of JSON lines (redflag example). Without a mode, runs "
      "`run`.",
      "redflag_transactions");
  tool.get_formatter()->label("Usage", "usage");
  tool.allow_extras();
  tool.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  const auto define_run = [](CLI::App& app) {
    app.add_option("FILE", "transactions as JSON lines, - for stdin; default: the bundled stream");
    add_options(app, {{"--out FILE", "write one verdict per transaction as JSON lines to FILE"},
                      {"--rules FILE", "the rules, as a JSON configuration; default: the built-in rules"},
                      {"--registry DIR",
                       "keep the model registry in DIR (new or empty); default: a\n"
                       "temporary directory removed at exit"},
                      {"--top N", "entities listed in the summary; default 5"}});
    app.add_flag("--jsonl")->description("write the verdicts to stdout and the summary to stderr");
  };
  define_run(tool);
  CLI::App* run_mode = tool.add_subcommand("run", "score every transaction of FILE and print a summary (the default)");
  define_run(*run_mode);
  CLI::App* generate_mode =
      tool.add_subcommand("generate",
                          "write a labelled stream from redflag's TransactionSimulator (the defaults "
                          "reproduce the bundled data/transactions.jsonl)");
  add_options(*generate_mode, {{"--users N", "card holders; default 40"},
                               {"--transactions N", "transactions; default 4000"},
                               {"--days N", "days covered; default 21"},
                               {"--fraud-rate F", "share of fraudulent transactions; default 0.02"},
                               {"--seed S", "random seed; default 2024"},
                               {"--out FILE", "the stream to write; default stdout"}});
  CLI::App* serve_mode = tool.add_subcommand("serve",
                                             "replay FILE, then answer POST /detect and GET /health until SIGINT or "
                                             "SIGTERM (needs Boost)");
  serve_mode->add_option("FILE", "transactions to replay first, - for stdin; default: the bundled stream");
  add_options(*serve_mode, {{"--host ADDRESS", "the address to listen on; default 127.0.0.1"},
                            {"--port P", "the port; default 8080, 0 picks a free one"},
                            {"--rules FILE", "the rules, as a JSON configuration; default: the built-in rules"},
                            {"--registry DIR", "keep the model registry in DIR (new or empty)"}});
  std::vector<std::pair<std::string, CLI::App*>> cluster_apps;
  for (const tx::ClusterModeHelp& mode : tx::cluster_modes()) {
    CLI::App* app = tool.add_subcommand(mode.name, mode.description);
    if (mode.positional) app->add_option("FILE", *mode.positional);
    add_options(*app, mode.options);
    cluster_apps.emplace_back(mode.name, app);
  }
  try {
    try {
      tool.parse(argc, argv);
    } catch (const CLI::Success& help) {
      return tool.exit(help);
    } catch (const CLI::ParseError& failure) {
      throw usage_error(failure.what());
    }
    if (generate_mode->parsed()) return generate(parsed_arguments(*generate_mode));
    for (const auto& [name, app] : cluster_apps) {
      if (!app->parsed()) continue;
      const Arguments args = parsed_arguments(*app);
      return tx::run_cluster_mode(name, {args.positional, args.options, args.flags});
    }
    if (serve_mode->parsed()) {
#ifdef REDFLAG_TRANSACTIONS_HTTP
      return serve(parsed_arguments(*serve_mode));
#else
      throw std::runtime_error("serve is not available: this build found no Boost (libboost-dev)");
#endif
    }
    return run(parsed_arguments(run_mode->parsed() ? *run_mode : tool));
  } catch (const usage_error& failure) {
    std::cerr << "redflag_transactions: " << failure.what() << " (see redflag_transactions --help)\n";
    return 2;
  } catch (const std::exception& failure) {
    std::cerr << "redflag_transactions: " << failure.what() << "\n";
    return 1;
  }
}
