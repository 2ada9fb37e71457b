// Starts `redflag_transactions serve WARMUP --port 0`, posts transactions to
// /detect and reads /health over plain HTTP/1.1, then stops the server with
// SIGTERM and expects a clean exit.
//
//   transactions_detect_client EXE WARMUP.jsonl
//
// Checks: a large night-time purchase gets a verdict with the six fields,
// HIGH_AMOUNT and UNUSUAL_HOUR, a HIGH or CRITICAL level and a model score;
// invalid JSON and an unknown currency are answered 400 with the reason;
// /health counts the warm-up transactions plus the accepted one.

#include <nlohmann/json.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <fstream>
#include <iostream>
#include <regex>
#include <string>
#include <vector>

extern char** environ;

namespace {

int failures = 0;

void expect(bool ok, const std::string& what) {
  if (!ok) {
    std::cerr << "FAILED: " << what << "\n";
    ++failures;
  }
}

struct Reply {
  int status = 0;
  std::string body;
};

// One request on its own connection ("Connection: close": read to EOF).
Reply request(int port, const std::string& method, const std::string& path, const std::string& body) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  ::inet_pton(AF_INET, "127.0.0.1", &address.sin_addr);
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
    ::close(fd);
    return {};
  }
  const std::string text = method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n" +
                           "Content-Length: " + std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
  for (std::size_t sent = 0; sent < text.size();) {
    const ssize_t n = ::send(fd, text.data() + sent, text.size() - sent, 0);
    if (n <= 0) break;
    sent += static_cast<std::size_t>(n);
  }
  std::string response;
  char buffer[4096];
  for (ssize_t n; (n = ::recv(fd, buffer, sizeof buffer, 0)) > 0;) response.append(buffer, static_cast<std::size_t>(n));
  ::close(fd);
  Reply reply;
  std::smatch match;
  if (std::regex_search(response, match, std::regex("^HTTP/1\\.1 ([0-9]{3})"))) reply.status = std::stoi(match[1]);
  const auto end_of_headers = response.find("\r\n\r\n");
  if (end_of_headers != std::string::npos) reply.body = response.substr(end_of_headers + 4);
  return reply;
}

nlohmann::json parse(const Reply& reply) {
  try {
    return nlohmann::json::parse(reply.body);
  } catch (const nlohmann::json::exception&) {
    expect(false, "response body is not JSON: '" + reply.body + "'");
    return nlohmann::json::object();
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: transactions_detect_client EXE WARMUP.jsonl\n";
    return 2;
  }
  // The newest transaction of the warm-up stream, and how many it holds.
  std::ifstream warm_up(argv[2]);
  std::string line, last;
  long lines = 0;
  while (std::getline(warm_up, line)) {
    if (!line.empty()) {
      last = line;
      ++lines;
    }
  }
  const std::int64_t latest = nlohmann::json::parse(last)["timestamp_ms"].get<std::int64_t>();

  int out[2];
  if (::pipe(out) != 0) return 2;
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
  posix_spawn_file_actions_addclose(&actions, out[0]);
  std::vector<std::string> args = {argv[1], "serve", argv[2], "--port", "0"};
  std::vector<char*> raw;
  for (auto& a : args) raw.push_back(a.data());
  raw.push_back(nullptr);
  pid_t server = 0;
  const int spawned = posix_spawn(&server, argv[1], &actions, nullptr, raw.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (spawned != 0) {
    std::cerr << "cannot start " << argv[1] << "\n";
    return 2;
  }
  ::close(out[1]);

  // "... listening on http://127.0.0.1:PORT ..."
  std::string banner;
  char c = 0;
  while (::read(out[0], &c, 1) == 1 && c != '\n') banner += c;
  std::smatch match;
  if (!std::regex_search(banner, match, std::regex("listening on http://127\\.0\\.0\\.1:([0-9]+)"))) {
    std::cerr << "FAILED: the server did not say where it listens: '" << banner << "'\n";
    ::kill(server, SIGTERM);
    ::waitpid(server, nullptr, 0);
    return 1;
  }
  const int port = std::stoi(match[1]);
  std::cout << banner << "\n";

  // 03:00 UTC (the user's offset is 0) on the day after the warm-up ends.
  const std::int64_t day = 86'400'000;
  const std::int64_t at = (latest / day + 1) * day + 3 * 3'600'000;
  nlohmann::json txn = {{"transaction_id", "detect-1"},
                        {"user_id", "u-detect"},
                        {"amount", 15000.0},
                        {"currency", "USD"},
                        {"timestamp_ms", at},
                        {"utc_offset_minutes", 0},
                        {"merchant", "m-jeweller"},
                        {"merchant_category", 5944},
                        {"city", "c-far"},
                        {"country", "ZZ"}};
  const Reply verdict = request(port, "POST", "/detect", txn.dump());
  expect(verdict.status == 200, "POST /detect answered " + std::to_string(verdict.status) + ": " + verdict.body);
  const nlohmann::json v = parse(verdict);
  for (const char* field :
       {"transaction_id", "risk_score", "risk_level", "reason_codes", "explanation", "recommendation"}) {
    expect(v.contains(field), std::string("the verdict has no ") + field + ": " + verdict.body);
  }
  if (failures == 0) {
    expect(v["transaction_id"] == "detect-1", "transaction_id " + v["transaction_id"].dump());
    expect(v["reason_codes"] == nlohmann::json::array({"HIGH_AMOUNT", "UNUSUAL_HOUR"}),
           "reason codes " + v["reason_codes"].dump());
    const std::string level = v["risk_level"];
    expect(
        (level == "HIGH" && v["recommendation"] == "REVIEW") || (level == "CRITICAL" && v["recommendation"] == "BLOCK"),
        level + " / " + v["recommendation"].dump());
    expect(v["model_version"].get<long>() >= 1 && v["model_score"].is_number(), "no model scored it: " + verdict.body);
    expect(v["explanation"].get<std::string>().find("amount 15000 > 10000 [HIGH_AMOUNT]") != std::string::npos,
           "explanation " + v["explanation"].dump());
    std::cout << verdict.body << "\n";
  }

  const Reply broken = request(port, "POST", "/detect", R"({"transaction_id": "detect-2", "amount": })");
  expect(broken.status == 400 && parse(broken).value("error", "").starts_with("invalid JSON at column"),
         "invalid JSON answered " + std::to_string(broken.status) + ": " + broken.body);
  txn["transaction_id"] = "detect-3";
  txn["currency"] = "XXX";
  const Reply refused = request(port, "POST", "/detect", txn.dump());
  expect(refused.status == 400 && parse(refused).value("error", "").find("unknown currency 'XXX'") != std::string::npos,
         "an unknown currency answered " + std::to_string(refused.status) + ": " + refused.body);

  const Reply health = request(port, "GET", "/health", "");
  expect(health.status == 200 && parse(health).value("transactions", -1L) == lines + 1,
         "GET /health answered " + std::to_string(health.status) + ": " + health.body + " (expected " +
             std::to_string(lines + 1) + " transactions)");

  ::kill(server, SIGTERM);
  int status = 0;
  ::waitpid(server, &status, 0);
  expect(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the server did not exit cleanly on SIGTERM");
  if (failures == 0) std::cout << "POST /detect and GET /health checked\n";
  return failures == 0 ? 0 : 1;
}
