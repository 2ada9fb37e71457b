// End-to-end check of the portfolio service: starts redflag_portfolio on a
// loopback port chosen by the system, subscribes over a real WebSocket,
// posts the sample batch, checks the flags, the reasons and the broadcast,
// marks a recommendation viewed, restarts the service on the same state
// directory and checks that it is still viewed; also the 400/404/405 answers.
//
//   portfolio_driver SERVICE DATA_DIR SCRATCH_DIR
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <nlohmann/json.hpp>

#include <poll.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

namespace beast = boost::beast;
namespace http = boost::beast::http;
namespace websocket = boost::beast::websocket;
namespace net = boost::asio;
using tcp = boost::asio::ip::tcp;
using nlohmann::json;

int failures = 0;

void check(bool condition, const std::string& what) {
  if (condition) return;
  ++failures;
  std::cerr << "FAILED: " << what << "\n";
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + path.string());
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// A running service: its process and the pipe its standard output goes to.
class Service {
 public:
  Service(const std::string& program, const std::vector<std::string>& arguments) {
    int pipe_ends[2];
    if (::pipe(pipe_ends) != 0) throw std::runtime_error("pipe failed");
    pid_ = ::fork();
    if (pid_ < 0) throw std::runtime_error("fork failed");
    if (pid_ == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive a killed driver
      ::dup2(pipe_ends[1], STDOUT_FILENO);
      ::close(pipe_ends[0]);
      ::close(pipe_ends[1]);
      std::vector<char*> argv{const_cast<char*>(program.c_str())};
      for (const std::string& argument : arguments) argv.push_back(const_cast<char*>(argument.c_str()));
      argv.push_back(nullptr);
      ::execv(program.c_str(), argv.data());
      ::_exit(127);
    }
    ::close(pipe_ends[1]);
    output_ = pipe_ends[0];
  }
  Service(const Service&) = delete;
  Service& operator=(const Service&) = delete;
  ~Service() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    ::close(output_);
  }

  // Reads the output until the "listening on http://HOST:PORT" line (the
  // service prints it once it accepts connections) and returns the port.
  unsigned short wait_until_listening() {
    const std::string marker = "listening on http://127.0.0.1:";
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(40);
    while (std::chrono::steady_clock::now() < deadline) {
      const auto found = text_.find(marker);
      if (found != std::string::npos && text_.find('\n', found) != std::string::npos) {
        return static_cast<unsigned short>(std::stoul(text_.substr(found + marker.size())));
      }
      if (!read_some(250)) break;
    }
    throw std::runtime_error("the service did not report its port; output so far:\n" + text_);
  }

  // SIGTERM, then the exit status.
  int stop() {
    ::kill(pid_, SIGTERM);
    return wait();
  }

  // The exit status (-1 if the process did not exit within 20 s).
  int wait() {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        while (read_some(0)) {
        }
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return -1;
  }

  [[nodiscard]] const std::string& output() const { return text_; }

 private:
  bool read_some(int timeout_ms) {
    pollfd descriptor{output_, POLLIN, 0};
    if (::poll(&descriptor, 1, timeout_ms) <= 0) return timeout_ms > 0;  // timed out: keep waiting
    char buffer[4096];
    const ::ssize_t count = ::read(output_, buffer, sizeof buffer);
    if (count <= 0) return false;  // the service exited
    text_.append(buffer, static_cast<std::size_t>(count));
    return true;
  }

  pid_t pid_ = -1;
  int output_ = -1;
  std::string text_;
};

struct Reply {
  unsigned status = 0;
  json body;
  std::string allow;
};

Reply request(unsigned short port, http::verb method, const std::string& target, const std::string& body = "") {
  net::io_context io;
  tcp::socket socket(io);
  socket.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port));
  http::request<http::string_body> message{method, target, 11};
  message.set(http::field::host, "127.0.0.1");
  message.set(http::field::content_type, "application/json");
  message.body() = body;
  message.prepare_payload();
  http::write(socket, message);
  beast::flat_buffer buffer;
  http::response<http::string_body> response;
  http::read(socket, buffer, response);
  beast::error_code ignored;
  socket.shutdown(tcp::socket::shutdown_both, ignored);
  return {response.result_int(), json::parse(response.body()),
          std::string(response[http::field::allow].data(), response[http::field::allow].size())};
}

// Sends `bytes` as they are and returns everything the service answers.
std::string raw_exchange(unsigned short port, const std::string& bytes) {
  net::io_context io;
  tcp::socket socket(io);
  socket.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port));
  net::write(socket, net::buffer(bytes));
  std::string answer;
  beast::error_code error;
  net::read(socket, net::dynamic_buffer(answer), error);  // until the service closes
  return answer;
}

class Subscriber {
 public:
  explicit Subscriber(unsigned short port) : socket_(io_) {
    socket_.next_layer().connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port));
    socket_.handshake("127.0.0.1:" + std::to_string(port), "/ws");
  }

  json next() {
    buffer_.consume(buffer_.size());
    socket_.read(buffer_);
    return json::parse(beast::buffers_to_string(buffer_.data()));
  }

  // True when the next frame is the server's close frame.
  bool closed_by_server() {
    beast::error_code error;
    socket_.read(buffer_, error);
    return error == websocket::error::closed;
  }

 private:
  net::io_context io_;
  websocket::stream<tcp::socket> socket_;
  beast::flat_buffer buffer_;
};

// A reason from the rules file: "CASH_ABOVE_MODEL: cash 12.4 points above the model (> 5.0)".
bool has_reason(const json& recommendation, const std::string& rule) {
  for (const auto& text : recommendation["reasons"]) {
    if (text.get<std::string>().rfind(rule + ": cash ", 0) == 0) return true;
  }
  return false;
}

const std::string above = "CASH_ABOVE_MODEL";
const std::string below = "CASH_BELOW_MODEL";

void check_sample_data(const std::string& program, const std::filesystem::path& data,
                       const std::filesystem::path& scratch) {
  Service generate(program, {"generate", (scratch / "accounts.json").string(), "--truth",
                             (scratch / "accounts.truth.json").string()});
  check(generate.wait() == 0, "generate succeeds; output:\n" + generate.output());
  check(read_file(scratch / "accounts.json") == read_file(data / "accounts.json") &&
            read_file(scratch / "accounts.truth.json") == read_file(data / "accounts.truth.json"),
        "examples/portfolio/data is what `redflag_portfolio generate` writes");
}

void check_rejected(unsigned short port, const std::string& body, const std::string& path, const std::string& what) {
  const Reply reply = request(port, http::verb::post, "/analyze", body);
  check(reply.status == 400, what + ": status 400, got " + std::to_string(reply.status));
  check(reply.body.value("path", "") == path, what + ": path " + path + ", got " + reply.body.dump());
  check(!reply.body.value("error", "").empty(), what + ": an error message");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::cerr << "usage: portfolio_driver SERVICE DATA_DIR SCRATCH_DIR\n";
    return 2;
  }
  const std::string program = argv[1];
  const std::filesystem::path data = argv[2];
  const std::filesystem::path scratch = std::filesystem::path(argv[3]) / "portfolio";
  std::filesystem::remove_all(scratch);
  std::filesystem::create_directories(scratch);
  const std::filesystem::path state = scratch / "state";
  const std::vector<std::string> serve = {"serve", "--port", "0", "--state-dir", state.string()};

  try {
    const std::string batch_text = read_file(data / "accounts.json");
    const json truth = json::parse(read_file(data / "accounts.truth.json"));
    const std::set<std::string> drifted_above(truth["above"].begin(), truth["above"].end());
    const std::set<std::string> drifted_below(truth["below"].begin(), truth["below"].end());
    std::string viewed_id;
    std::size_t stored = 0;
    {
      Service service(program, serve);
      const unsigned short port = service.wait_until_listening();
      Subscriber subscriber(port);
      check(subscriber.next() == json{{"event", "subscribed"}}, "a subscriber is greeted");

      const Reply analyzed = request(port, http::verb::post, "/analyze", batch_text);
      check(analyzed.status == 200, "POST /analyze: 200, got " + std::to_string(analyzed.status));
      const json& recommendations = analyzed.body["recommendations"];
      stored = recommendations.size();
      check(recommendations.size() == json::parse(batch_text).size(), "one recommendation per account");
      const json event = subscriber.next();
      check(event["event"] == "recommendations" && event["recommendations"] == recommendations,
            "the subscriber receives the batch the POST returned");

      std::set<std::string> ids;
      for (const auto& recommendation : recommendations) {
        const std::string account = recommendation["accountId"];
        ids.insert(recommendation["id"].get<std::string>());
        check(recommendation["recommendationViewed"] == false, account + " starts not viewed");
        if (drifted_above.contains(account)) {
          check(recommendation["is_anomaly"] == true && has_reason(recommendation, above),
                account + " is flagged as cash above model: " + recommendation.dump());
        } else if (drifted_below.contains(account)) {
          check(recommendation["is_anomaly"] == true && has_reason(recommendation, below),
                account + " is flagged as cash below model: " + recommendation.dump());
        } else {
          check(!has_reason(recommendation, above) && !has_reason(recommendation, below),
                account + " has no cash drift reason");
        }
        if (recommendation["is_anomaly"] == true) {
          check(!recommendation["contributions"].empty(), account + " has the model's contributions");
        }
      }
      check(ids.size() == recommendations.size(), "recommendation ids are distinct");
      for (const auto& recommendation : recommendations) {
        if (recommendation["is_anomaly"] == true) {
          viewed_id = recommendation["id"];
          break;
        }
      }
      check(!viewed_id.empty(), "the batch has a flagged account");

      // Bad input: 400 with the JSON path; nothing is stored or broadcast.
      check_rejected(port, batch_text.substr(0, batch_text.size() / 2), "$", "truncated JSON");
      check_rejected(port, "{\"AccountId\": \"ACC-1\"}", "$", "an object instead of an array");
      // Regression: nlohmann-json's out_of_range escaped the handler.
      check_rejected(port, "[{\"TradeAmount\": 1e400}]", "$", "a number beyond double's range");
      json wrong_type = json::parse(batch_text);
      wrong_type[3]["RebalancingModels"][0]["Securities"][1]["ModelPercent"] = "12.5";
      check_rejected(port, wrong_type.dump(), "$[3].RebalancingModels[0].Securities[1].ModelPercent",
                     "ModelPercent as a string");
      json missing = json::parse(batch_text);
      missing[5].erase("TradeAmount");
      check_rejected(port, missing.dump(), "$[5].TradeAmount", "a missing TradeAmount");
      json bad_nesting = json::parse(batch_text);
      bad_nesting[1]["RebalancingModels"][0]["Securities"] = json::object();
      check_rejected(port, bad_nesting.dump(), "$[1].RebalancingModels[0].Securities", "Securities as an object");
      check(request(port, http::verb::get, "/recommendations").body["recommendations"].size() == stored,
            "rejected batches store nothing");

      // Routing.
      const Reply wrong_method = request(port, http::verb::get, "/analyze");
      check(wrong_method.status == 405 && wrong_method.allow == "POST", "GET /analyze: 405 with Allow: POST");
      check(request(port, http::verb::get, "/nowhere").status == 404, "unknown route: 404");
      check(request(port, http::verb::get, "/caf\xc3").status == 404, "a target that is not UTF-8: 404");
      check(raw_exchange(port, "GARBAGE\r\n\r\n").rfind("HTTP/1.1 400", 0) == 0, "a malformed request: 400");
      check(request(port, http::verb::post, "/recommendations/rec-unknown/viewed").status == 404,
            "marking an unknown recommendation: 404");

      const Reply viewed = request(port, http::verb::post, "/recommendations/" + viewed_id + "/viewed");
      check(viewed.status == 200 && viewed.body["recommendationViewed"] == true, "marking viewed: 200, viewed");

      // An idle keep-alive connection must not hold up the stop.
      net::io_context idle_io;
      tcp::socket idle(idle_io);
      idle.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port));
      http::request<http::string_body> keep_alive{http::verb::get, "/recommendations", 11};
      keep_alive.set(http::field::host, "127.0.0.1");
      keep_alive.keep_alive(true);
      http::write(idle, keep_alive);
      beast::flat_buffer idle_buffer;
      http::response<http::string_body> idle_response;
      http::read(idle, idle_buffer, idle_response);
      check(idle_response.result_int() == 200 && idle_response.keep_alive(), "a keep-alive connection stays open");

      // The subscriber waits for the close frame (and answers it) while the service stops.
      bool closed = false;
      std::thread listener([&] { closed = subscriber.closed_by_server(); });
      check(service.stop() == 0, "the service stops cleanly on SIGTERM; output:\n" + service.output());
      listener.join();
      check(closed, "the subscriber gets a close frame at stop");
      beast::error_code idle_error;
      http::read(idle, idle_buffer, idle_response, idle_error);
      check(idle_error == http::error::end_of_stream || idle_error == net::error::eof ||
                idle_error == net::error::connection_reset,
            "the idle connection is closed at stop, got: " + idle_error.message());
    }
    {
      Service service(program, serve);
      const unsigned short port = service.wait_until_listening();
      const Reply one = request(port, http::verb::get, "/recommendations/" + viewed_id);
      check(one.status == 200 && one.body["recommendationViewed"] == true, "still viewed after a restart");
      std::size_t viewed_count = 0;
      const json all = request(port, http::verb::get, "/recommendations").body["recommendations"];
      for (const auto& recommendation : all) viewed_count += recommendation["recommendationViewed"] == true ? 1 : 0;
      check(all.size() == stored && viewed_count == 1, "the restarted service has the batch, one viewed");

      // The same snapshots get the same ids, so a re-post keeps the flag.
      const Reply again = request(port, http::verb::post, "/analyze", batch_text);
      bool kept = false;
      for (const auto& recommendation : again.body["recommendations"]) {
        if (recommendation["id"] == viewed_id) kept = recommendation["recommendationViewed"] == true;
      }
      check(again.status == 200 && kept, "re-posting the batch keeps the viewed flag");
      check(service.stop() == 0, "the restarted service stops cleanly");
    }
    check_sample_data(program, data, scratch);
  } catch (const std::exception& failure) {
    std::cerr << "FAILED: " << failure.what() << "\n";
    return 1;
  }
  if (failures == 0) std::cout << "portfolio service: all checks passed\n";
  return failures == 0 ? 0 : 1;
}
