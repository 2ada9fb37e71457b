#pragma once

// A small HTTP + WebSocket server for redflag's example services, on
// Boost.Beast (header-only) and nlohmann-json. Examples only: redflag's own
// headers never include it.
//
//   redflag::examples::HttpService service("127.0.0.1", 0);      // port 0: the system picks one
//   service.route(http::verb::post, "/items/{id}/done", [](const HttpRequest& request) {
//     if (request.body.empty()) throw HttpError(400, {{"error", "empty body"}});
//     return HttpResponse{200, {{"id", request.param("id")}}};
//   });
//   service.websocket("/ws", R"({"event":"subscribed"})");      // clients get every broadcast()
//   service.stop_on_signals();                                  // SIGINT / SIGTERM -> stop()
//   std::cout << "listening on " << service.port() << std::endl;
//   service.run();                                              // until stop()
//
// Everything runs on the thread that calls run(): handlers are called one at
// a time and need no locking, and a slow handler delays every client (fine
// for examples; a production service would hand work to a pool).
//
// Responses are JSON. A path that matches no route is 404, a path that
// matches with another method 405 (with an Allow header); a handler's
// HttpError becomes its status and body, any other exception a 500 with
// {"error": what()}. A request that cannot be parsed gets 400 and a body over
// 16 MiB 413, both closing the connection; a WebSocket upgrade on any path
// but the subscription path is answered as a plain request. stop() closes the listener, lets responses being written
// finish, closes idle connections and sends WebSocket close frames; run()
// returns when all of that is done.

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstddef>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace redflag::examples {

struct HttpRequest {
  boost::beast::http::verb method = boost::beast::http::verb::get;
  std::string path;                                        // the target without its query string
  std::map<std::string, std::string, std::less<>> params;  // the route's {name} segments
  std::string body;

  // The value of the route's {name} segment (the route guarantees it exists).
  [[nodiscard]] const std::string& param(std::string_view name) const { return params.find(name)->second; }
};

struct HttpResponse {
  unsigned status = 200;
  nlohmann::json body = nlohmann::json::object();
};

// Thrown by a handler to answer with `status` and `body` (e.g. 400 with the
// place of a validation error, 404 for an unknown id).
class HttpError : public std::runtime_error {
 public:
  HttpError(unsigned status, nlohmann::json body)
      : std::runtime_error(body.dump()), status_(status), body_(std::move(body)) {}
  [[nodiscard]] unsigned status() const { return status_; }
  [[nodiscard]] const nlohmann::json& body() const { return body_; }

 private:
  unsigned status_;
  nlohmann::json body_;
};

using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;

namespace service_parts {

namespace beast = boost::beast;
namespace http = boost::beast::http;
namespace websocket = boost::beast::websocket;
namespace net = boost::asio;
using tcp = boost::asio::ip::tcp;

inline constexpr std::size_t body_limit = 16 * 1024 * 1024;
inline constexpr std::chrono::seconds read_timeout{30};
// How long a WebSocket peer gets to answer the close frame at stop().
inline constexpr std::chrono::seconds close_timeout{3};

inline std::vector<std::string_view> split_path(std::string_view path) {
  std::vector<std::string_view> segments;
  std::size_t start = 0;
  while (start <= path.size()) {
    const std::size_t slash = path.find('/', start);
    const std::size_t end = slash == std::string_view::npos ? path.size() : slash;
    if (end > start) segments.push_back(path.substr(start, end - start));
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return segments;
}

struct Route {
  http::verb method;
  std::vector<std::string> segments;  // "{name}" captures one segment
  HttpHandler handler;

  // The captured parameters when `path` matches.
  [[nodiscard]] std::optional<std::map<std::string, std::string, std::less<>>> match(
      const std::vector<std::string_view>& path) const {
    if (path.size() != segments.size()) return std::nullopt;
    std::map<std::string, std::string, std::less<>> params;
    for (std::size_t i = 0; i < path.size(); ++i) {
      const std::string& pattern = segments[i];
      if (pattern.size() > 2 && pattern.front() == '{' && pattern.back() == '}') {
        params.emplace(pattern.substr(1, pattern.size() - 2), std::string(path[i]));
      } else if (pattern != path[i]) {
        return std::nullopt;
      }
    }
    return params;
  }
};

class WebSocketSession;
class HttpSession;

// What the sessions share with the service; outlives them because run()
// returns only when every session has finished.
struct Core {
  net::io_context io{1};
  tcp::acceptor acceptor{io};
  net::signal_set signals{io};
  std::vector<Route> routes;
  std::string websocket_path;
  std::string greeting;
  std::vector<std::weak_ptr<HttpSession>> http_sessions;
  std::vector<std::weak_ptr<WebSocketSession>> subscribers;
  bool stopping = false;

  [[nodiscard]] http::response<http::string_body> respond(HttpRequest request, unsigned version,
                                                          bool keep_alive) const {
    HttpResponse result;
    std::string allow;  // the methods of the routes whose path matches
    bool routed = false;
    try {
      const auto path = split_path(request.path);
      for (const Route& route : routes) {
        auto params = route.match(path);
        if (!params) continue;
        if (route.method == request.method) {
          request.params = std::move(*params);
          routed = true;
          result = route.handler(request);
          break;
        }
        if (!allow.empty()) allow += ", ";
        allow += std::string(http::to_string(route.method));
      }
      if (!routed) {
        result = allow.empty() ? HttpResponse{404, {{"error", "no route for " + request.path}}}
                               : HttpResponse{405,
                                              {{"error", std::string(http::to_string(request.method)) +
                                                             " is not allowed on " + request.path}}};
      }
    } catch (const HttpError& failure) {
      result = {failure.status(), failure.body()};
    } catch (const std::exception& failure) {
      result = {500, {{"error", failure.what()}}};
    }
    auto response = json_response(result, version, keep_alive);
    if (!routed && !allow.empty()) response.set(http::field::allow, allow);
    return response;
  }

  static http::response<http::string_body> json_response(const HttpResponse& result, unsigned version,
                                                         bool keep_alive) {
    http::response<http::string_body> response{static_cast<http::status>(result.status), version};
    response.set(http::field::content_type, "application/json");
    response.keep_alive(keep_alive);
    // A path or message echoing the client's bytes may not be UTF-8: replace, never throw.
    response.body() = result.body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    response.prepare_payload();
    return response;
  }
};

class WebSocketSession : public std::enable_shared_from_this<WebSocketSession> {
 public:
  WebSocketSession(Core& core, tcp::socket socket) : core_(core), stream_(std::move(socket)) {}

  void accept(http::request<http::string_body> request) {
    upgrade_ = std::move(request);  // kept until the handshake completes
    websocket::stream_base::timeout timeouts{};
    timeouts.handshake_timeout = close_timeout;
    timeouts.idle_timeout = websocket::stream_base::none();
    timeouts.keep_alive_pings = false;
    stream_.set_option(timeouts);
    stream_.async_accept(upgrade_, [self = shared_from_this()](beast::error_code error) {
      if (error) return;
      if (self->core_.stopping) return self->close();
      self->core_.subscribers.push_back(self);
      self->send(self->core_.greeting);
      self->read();
    });
  }

  // Queues `text`; messages go out one at a time, in order.
  void send(std::string text) {
    if (closing_) return;
    queue_.push_back(std::move(text));
    if (queue_.size() == 1) write_next();
  }

  // Sends a close frame once the queue is drained.
  void close() {
    if (closing_) return;
    closing_ = true;
    if (queue_.empty()) start_close();
  }

 private:
  // Subscribers only listen; reading keeps the connection's control frames
  // (ping, close) answered and notices when the client goes away.
  void read() {
    stream_.async_read(buffer_, [self = shared_from_this()](beast::error_code error, std::size_t) {
      if (error) return;
      self->buffer_.consume(self->buffer_.size());
      self->read();
    });
  }

  void write_next() {
    stream_.text(true);
    stream_.async_write(net::buffer(queue_.front()), [self = shared_from_this()](beast::error_code error, std::size_t) {
      if (error) {
        self->queue_.clear();
        return;
      }
      self->queue_.pop_front();
      if (!self->queue_.empty()) {
        self->write_next();
      } else if (self->closing_) {
        self->start_close();
      }
    });
  }

  void start_close() {
    stream_.async_close(websocket::close_code::going_away, [self = shared_from_this()](beast::error_code) {});
  }

  Core& core_;
  websocket::stream<beast::tcp_stream> stream_;
  http::request<http::string_body> upgrade_;
  beast::flat_buffer buffer_;
  std::deque<std::string> queue_;  // unbounded: a subscriber that never reads costs memory
  bool closing_ = false;
};

class HttpSession : public std::enable_shared_from_this<HttpSession> {
 public:
  HttpSession(Core& core, tcp::socket socket) : core_(core), stream_(std::move(socket)) {}

  void start() { read(); }

  // At stop: an idle connection is closed now, a busy one after its response.
  void stop() {
    if (reading_) {
      beast::error_code ignored;
      stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
      stream_.close();
    }
  }

 private:
  void read() {
    parser_.emplace();
    parser_->body_limit(body_limit);
    stream_.expires_after(read_timeout);
    reading_ = true;
    http::async_read(stream_, buffer_, *parser_, [self = shared_from_this()](beast::error_code error, std::size_t) {
      self->reading_ = false;
      if (error == http::error::body_limit) return self->reject(413, "request body too large");
      const bool malformed = error && error != http::error::end_of_stream &&
                             error.category() == http::make_error_code(http::error::bad_target).category();
      if (malformed) return self->reject(400, "malformed HTTP request: " + error.message());
      if (error) return self->shut_down();
      self->dispatch(self->parser_->release());
    });
  }

  // Answers a request that could not be read, then closes the connection.
  void reject(unsigned status, std::string message) {
    response_ = Core::json_response({status, {{"error", std::move(message)}}}, 11, false);
    http::async_write(stream_, response_,
                      [self = shared_from_this()](beast::error_code, std::size_t) { self->shut_down(); });
  }

  void dispatch(http::request<http::string_body> request) {
    const std::string_view target(request.target().data(), request.target().size());
    const std::string_view path = target.substr(0, target.find('?'));
    const bool subscribing = websocket::is_upgrade(request) && !core_.websocket_path.empty() &&
                             path == core_.websocket_path && !core_.stopping;
    if (subscribing) {
      stream_.expires_never();
      auto session = std::make_shared<WebSocketSession>(core_, stream_.release_socket());
      session->accept(std::move(request));
      return;
    }
    HttpRequest parsed{request.method(), std::string(path), {}, std::move(request.body())};
    const bool keep_alive = request.keep_alive() && !core_.stopping;
    response_ = core_.respond(std::move(parsed), request.version(), keep_alive);
    stream_.expires_after(read_timeout);
    http::async_write(stream_, response_,
                      [self = shared_from_this(), keep_alive](beast::error_code error, std::size_t) {
                        if (error || !keep_alive || self->core_.stopping) return self->shut_down();
                        self->read();
                      });
  }

  void shut_down() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
  }

  Core& core_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  http::response<http::string_body> response_;
  bool reading_ = false;
};

}  // namespace service_parts

class HttpService {
 public:
  // Binds and listens on address:port at once, so port() is known before
  // run(); port 0 lets the system pick a free port.
  HttpService(const std::string& address, unsigned short port) : core_(std::make_unique<service_parts::Core>()) {
    namespace net = boost::asio;
    const service_parts::tcp::endpoint endpoint(net::ip::make_address(address), port);
    auto& acceptor = core_->acceptor;
    acceptor.open(endpoint.protocol());
    acceptor.set_option(net::socket_base::reuse_address(true));
    acceptor.bind(endpoint);
    acceptor.listen(net::socket_base::max_listen_connections);
  }
  // Pending handlers point at the service: it stays where it was built.
  HttpService(const HttpService&) = delete;
  HttpService& operator=(const HttpService&) = delete;

  // Adds a route; call before run(). `pattern` is a path whose segments may
  // be "{name}" placeholders, e.g. "/recommendations/{id}/viewed".
  void route(boost::beast::http::verb method, std::string_view pattern, HttpHandler handler) {
    std::vector<std::string> segments;
    for (const std::string_view segment : service_parts::split_path(pattern)) segments.emplace_back(segment);
    core_->routes.push_back({method, std::move(segments), std::move(handler)});
  }

  // Accepts WebSocket subscriptions on `path`. A new subscriber first gets
  // `greeting` (so it knows it is subscribed) and then every broadcast().
  void websocket(std::string path, std::string greeting) {
    core_->websocket_path = std::move(path);
    core_->greeting = std::move(greeting);
  }

  // Sends `text` to every current subscriber. Safe from any thread and from
  // handlers; messages reach each subscriber in the order of the calls.
  void broadcast(std::string text) {
    boost::asio::post(core_->io, [core = core_.get(), text = std::move(text)] {
      if (core->stopping) return;
      std::erase_if(core->subscribers, [](const auto& subscriber) { return subscriber.expired(); });
      for (const auto& subscriber : core->subscribers) subscriber.lock()->send(text);
    });
  }

  // SIGINT and SIGTERM call stop().
  void stop_on_signals() {
    core_->signals.add(SIGINT);
    core_->signals.add(SIGTERM);
    core_->signals.async_wait([this](boost::beast::error_code error, int) {
      if (!error) stop();
    });
  }

  [[nodiscard]] unsigned short port() const { return core_->acceptor.local_endpoint().port(); }

  // Serves on the calling thread until stop() has closed everything.
  void run() {
    accept();
    core_->io.run();
  }

  // Safe from any thread (and from a handler).
  void stop() {
    boost::asio::post(core_->io, [core = core_.get()] {
      if (core->stopping) return;
      core->stopping = true;
      boost::beast::error_code ignored;
      core->acceptor.close(ignored);
      core->signals.cancel(ignored);
      for (const auto& session : core->http_sessions) {
        if (auto alive = session.lock()) alive->stop();
      }
      for (const auto& subscriber : core->subscribers) {
        if (auto alive = subscriber.lock()) alive->close();
      }
    });
  }

 private:
  void accept() {
    core_->acceptor.async_accept([this](boost::beast::error_code error, service_parts::tcp::socket socket) {
      if (core_->stopping) return;  // the listener was closed by stop()
      if (error) return accept();   // e.g. out of descriptors: drop this one, keep listening
      auto session = std::make_shared<service_parts::HttpSession>(*core_, std::move(socket));
      std::erase_if(core_->http_sessions, [](const auto& known) { return known.expired(); });
      core_->http_sessions.push_back(session);
      session->start();
      accept();
    });
  }

  std::unique_ptr<service_parts::Core> core_;
};

}  // namespace redflag::examples
