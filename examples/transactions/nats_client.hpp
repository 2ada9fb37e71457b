#pragma once

// RAII wrappers over nats.c (libnats, the NATS C client) for the
// card-transaction example's cluster modes: a connection with its JetStream
// contexts, streams, synchronous (optionally fenced) publishes, batched
// asynchronous publishes that are retried until stored, and an ordered pull
// reader of one subject filter. Only the cluster modes include this header;
// redflag's headers never use libnats.
//
// Every call is bounded in time: a failure is an exception (nats_error, with
// nats.c's status and JetStream's error code) or a result the caller checks,
// never a wait without end.

#include <nats/nats.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace transactions_example::nats {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

struct nats_error : std::runtime_error {
  nats_error(const std::string& what, natsStatus status_, jsErrCode code_ = static_cast<jsErrCode>(0))
      : std::runtime_error(what), status(status_), code(code_) {}
  natsStatus status;
  jsErrCode code;
};

inline std::string describe(natsStatus status, jsErrCode code = static_cast<jsErrCode>(0)) {
  std::string out = natsStatus_GetText(status);
  if (code != 0) out += " (JetStream error " + std::to_string(static_cast<int>(code)) + ")";
  return out;
}

inline void check(natsStatus status, std::string_view what, jsErrCode code = static_cast<jsErrCode>(0)) {
  if (status != NATS_OK) throw nats_error(std::string(what) + ": " + describe(status, code), status, code);
}

template <class T, auto Destroy>
struct Deleter {
  void operator()(T* p) const noexcept {
    if (p != nullptr) Destroy(p);
  }
};
using MsgPtr = std::unique_ptr<natsMsg, Deleter<natsMsg, natsMsg_Destroy>>;
using StreamInfoPtr = std::unique_ptr<jsStreamInfo, Deleter<jsStreamInfo, jsStreamInfo_Destroy>>;
using ConsumerInfoPtr = std::unique_ptr<jsConsumerInfo, Deleter<jsConsumerInfo, jsConsumerInfo_Destroy>>;
using PubAckPtr = std::unique_ptr<jsPubAck, Deleter<jsPubAck, jsPubAck_Destroy>>;
using MetaPtr = std::unique_ptr<jsMsgMetaData, Deleter<jsMsgMetaData, jsMsgMetaData_Destroy>>;
using OptionsPtr = std::unique_ptr<natsOptions, Deleter<natsOptions, natsOptions_Destroy>>;
using JsPtr = std::unique_ptr<jsCtx, Deleter<jsCtx, jsCtx_Destroy>>;

struct SubscriptionDeleter {
  void operator()(natsSubscription* sub) const noexcept {
    if (sub == nullptr) return;
    (void)natsSubscription_Unsubscribe(sub);  // deletes a consumer the library created, if the server answers
    natsSubscription_Destroy(sub);
  }
};
using SubscriptionPtr = std::unique_ptr<natsSubscription, SubscriptionDeleter>;

struct ConnectionDeleter {
  void operator()(natsConnection* nc) const noexcept {
    if (nc == nullptr) return;
    natsConnection_Close(nc);
    natsConnection_Destroy(nc);
  }
};
using ConnectionPtr = std::unique_ptr<natsConnection, ConnectionDeleter>;

inline std::string_view data_of(natsMsg* msg) {
  const char* data = natsMsg_GetData(msg);
  return data == nullptr ? std::string_view()
                         : std::string_view(data, static_cast<std::size_t>(natsMsg_GetDataLength(msg)));
}

inline std::optional<std::string> header_of(natsMsg* msg, const char* key) {
  const char* value = nullptr;
  if (natsMsgHeader_Get(msg, key, &value) != NATS_OK || value == nullptr) return std::nullopt;
  return std::string(value);
}

// A message to publish: subject, payload and headers (Nats-Msg-Id among them).
inline MsgPtr make_message(const std::string& subject, std::string_view data,
                           const std::vector<std::pair<std::string, std::string>>& headers = {}) {
  natsMsg* raw = nullptr;
  check(natsMsg_Create(&raw, subject.c_str(), nullptr, data.data(), static_cast<int>(data.size())), "natsMsg_Create");
  MsgPtr msg(raw);
  for (const auto& [key, value] : headers) check(natsMsgHeader_Set(msg.get(), key.c_str(), value.c_str()), "header");
  return msg;
}

// A stream as the cluster modes create it.
struct StreamSpec {
  std::string name;
  std::vector<std::string> subjects;
  int replicas = 1;
  std::int64_t duplicates_ns = 0;  // publisher de-duplication window; 0: the server's (2 minutes)
  std::int64_t max_msgs = -1;      // -1: unlimited
  std::int64_t max_msgs_per_subject = -1;
};

// The outcome of a synchronous publish.
struct PublishResult {
  enum class Status : std::uint8_t { stored, wrong_last_sequence, failed } status = Status::failed;
  std::uint64_t sequence = 0;  // stored: the message's stream sequence
  bool duplicate = false;      // stored earlier under the same Nats-Msg-Id
  std::string error;           // failed: why
};

// One connection to a NATS cluster with a JetStream context for requests.
class Client {
 public:
  // `servers`: comma-separated URLs (nats://127.0.0.1:4222,...). Once
  // connected, reconnects without end to any of them; requests time out
  // after `request_ms`.
  explicit Client(const std::string& servers, const std::string& name, std::int64_t request_ms = 2000,
                  std::int64_t connect_ms = 30'000)
      : request_ms_(request_ms) {
    static const bool opened = [] {
      check(nats_Open(-1), "nats_Open");
      return true;
    }();
    (void)opened;
    std::vector<std::string> urls;
    for (std::size_t start = 0; start <= servers.size();) {
      const std::size_t comma = std::min(servers.find(',', start), servers.size());
      if (comma > start) urls.push_back(servers.substr(start, comma - start));
      start = comma + 1;
    }
    if (urls.empty()) throw std::invalid_argument("no NATS server given");
    std::vector<const char*> pointers;
    for (const std::string& url : urls) pointers.push_back(url.c_str());
    natsOptions* raw = nullptr;
    check(natsOptions_Create(&raw), "natsOptions_Create");
    OptionsPtr options(raw);
    check(natsOptions_SetServers(options.get(), pointers.data(), static_cast<int>(pointers.size())), "servers");
    check(natsOptions_SetName(options.get(), name.c_str()), "name");
    check(natsOptions_SetMaxReconnect(options.get(), -1), "reconnect");
    check(natsOptions_SetReconnectWait(options.get(), 250), "reconnect wait");
    check(natsOptions_SetTimeout(options.get(), 2000), "connect timeout");
    check(natsOptions_SetPingInterval(options.get(), 1000), "ping interval");
    check(natsOptions_SetMaxPingsOut(options.get(), 3), "pings out");
    check(natsOptions_SetReconnectBufSize(options.get(), 64 * 1024 * 1024), "reconnect buffer");
    // Tries every server, again every half second, for `connect_ms` at most.
    natsConnection* nc = nullptr;
    const auto deadline = Clock::now() + milliseconds(connect_ms);
    for (;;) {
      const natsStatus status = natsConnection_Connect(&nc, options.get());
      if (status == NATS_OK) break;
      if (Clock::now() >= deadline) check(status, "connect to " + servers);
      std::this_thread::sleep_for(milliseconds(500));
    }
    nc_.reset(nc);
    js_ = context(nullptr, nullptr);
  }

  [[nodiscard]] natsConnection* connection() const { return nc_.get(); }
  [[nodiscard]] jsCtx* js() const { return js_.get(); }
  [[nodiscard]] std::int64_t request_ms() const { return request_ms_; }

  // A JetStream context; `ack` receives every asynchronous publish's outcome.
  JsPtr context(jsPubAckHandler ack, void* closure, std::int64_t max_pending = 4096) const {
    jsOptions options;
    check(jsOptions_Init(&options), "jsOptions_Init");
    options.Wait = request_ms_;
    options.PublishAsync.MaxPending = max_pending;
    options.PublishAsync.AckHandler = ack;
    options.PublishAsync.AckHandlerClosure = closure;
    options.PublishAsync.StallWait = 50;
    jsCtx* js = nullptr;
    check(natsConnection_JetStream(&js, nc_.get(), &options), "natsConnection_JetStream");
    return JsPtr(js);
  }

  // The stream's information, or nullptr if it does not exist; throws when
  // the cluster does not answer.
  StreamInfoPtr stream_info(const std::string& stream) const {
    jsStreamInfo* info = nullptr;
    jsErrCode code = static_cast<jsErrCode>(0);
    const natsStatus status = js_GetStreamInfo(&info, js_.get(), stream.c_str(), nullptr, &code);
    if (status == NATS_NOT_FOUND || code == JSStreamNotFoundErr) return nullptr;
    check(status, "stream info " + stream, code);
    return StreamInfoPtr(info);
  }

  // Creates the stream unless it exists (an existing stream is left as it
  // is). Returns true if it created it.
  bool ensure_stream(const StreamSpec& spec) const {
    if (stream_info(spec.name)) return false;
    jsStreamConfig config;
    check(jsStreamConfig_Init(&config), "jsStreamConfig_Init");
    std::vector<const char*> subjects;
    for (const std::string& s : spec.subjects) subjects.push_back(s.c_str());
    config.Name = spec.name.c_str();
    config.Subjects = subjects.data();
    config.SubjectsLen = static_cast<int>(subjects.size());
    config.Storage = js_FileStorage;
    config.Replicas = spec.replicas;
    config.Duplicates = spec.duplicates_ns;
    config.MaxMsgs = spec.max_msgs;
    config.MaxMsgsPerSubject = spec.max_msgs_per_subject;
    jsStreamInfo* info = nullptr;
    jsErrCode code = static_cast<jsErrCode>(0);
    const natsStatus status = js_AddStream(&info, js_.get(), &config, nullptr, &code);
    StreamInfoPtr owned(info);
    if (code == JSStreamNameExistErr) return false;  // created meanwhile by another process
    check(status, "create stream " + spec.name, code);
    return true;
  }

  // The stream's message at `sequence`, or nullptr if there is none.
  MsgPtr get_message(const std::string& stream, std::uint64_t sequence) const {
    natsMsg* msg = nullptr;
    jsErrCode code = static_cast<jsErrCode>(0);
    const natsStatus status = js_GetMsg(&msg, js_.get(), stream.c_str(), sequence, nullptr, &code);
    if (status == NATS_NOT_FOUND || code == JSNoMessageFoundErr) return nullptr;
    check(status, "get message " + std::to_string(sequence) + " of " + stream, code);
    return MsgPtr(msg);
  }

  // The stream's last message on `subject`, or nullptr if there is none.
  MsgPtr last_message(const std::string& stream, const std::string& subject) const {
    natsMsg* msg = nullptr;
    jsErrCode code = static_cast<jsErrCode>(0);
    const natsStatus status = js_GetLastMsg(&msg, js_.get(), stream.c_str(), subject.c_str(), nullptr, &code);
    if (status == NATS_NOT_FOUND || code == JSNoMessageFoundErr) return nullptr;
    check(status, "last message of " + stream + " on " + subject, code);
    return MsgPtr(msg);
  }

  // Publishes and waits for the stream's acknowledgement, once. With
  // `expect_last_sequence` (> 0) the stream stores the message only if its
  // last sequence is that one: a fenced write.
  PublishResult publish(const std::string& subject, std::string_view data, const std::string& msg_id = {},
                        std::uint64_t expect_last_sequence = 0, std::int64_t wait_ms = 0) const {
    jsPubOptions options;
    check(jsPubOptions_Init(&options), "jsPubOptions_Init");
    options.MaxWait = wait_ms > 0 ? wait_ms : request_ms_;
    if (!msg_id.empty()) options.MsgId = msg_id.c_str();
    options.ExpectLastSeq = expect_last_sequence;
    jsPubAck* ack = nullptr;
    jsErrCode code = static_cast<jsErrCode>(0);
    const natsStatus status =
        js_Publish(&ack, js_.get(), subject.c_str(), data.data(), static_cast<int>(data.size()), &options, &code);
    PubAckPtr owned(ack);
    PublishResult out;
    if (status == NATS_OK && ack != nullptr) {
      out.status = PublishResult::Status::stored;
      out.sequence = ack->Sequence;
      out.duplicate = ack->Duplicate;
    } else if (code == JSStreamWrongLastSequenceErr) {
      out.status = PublishResult::Status::wrong_last_sequence;
    } else {
      out.error = describe(status, code);
    }
    return out;
  }

  // publish() retried (same message id) until stored or `budget` has
  // passed; a fenced publish is not retried past a wrong last sequence.
  PublishResult publish_retrying(const std::string& subject, std::string_view data, const std::string& msg_id,
                                 std::chrono::milliseconds budget, std::uint64_t expect_last_sequence = 0) const {
    const auto deadline = Clock::now() + budget;
    for (int attempt = 0;; ++attempt) {
      PublishResult result = publish(subject, data, msg_id, expect_last_sequence);
      if (result.status != PublishResult::Status::failed || Clock::now() >= deadline) return result;
      std::this_thread::sleep_for(std::chrono::milliseconds(std::min(50 * (attempt + 1), 500)));
    }
  }

  // Removes the messages on `subject` below `below_sequence`, which must be
  // above 1 (nats-server 2.9.10 purges every message of the subject when
  // asked for those below 1).
  void purge(const std::string& stream, const std::string& subject, std::uint64_t below_sequence) const {
    if (below_sequence <= 1) return;
    jsOptions options;
    check(jsOptions_Init(&options), "jsOptions_Init");
    options.Wait = request_ms_;
    options.Stream.Purge.Subject = subject.c_str();
    options.Stream.Purge.Sequence = below_sequence;
    jsErrCode code = static_cast<jsErrCode>(0);
    check(js_PurgeStream(js_.get(), stream.c_str(), &options, &code), "purge " + stream, code);
  }

 private:
  std::int64_t request_ms_;
  ConnectionPtr nc_;
  JsPtr js_;
};

// Asynchronous publishes, acknowledged in batches: flush() returns once
// every message published so far is stored, publishing again (with its
// Nats-Msg-Id, so the stream drops a copy it already has) each one that
// failed or was not acknowledged in time.
class AsyncPublisher {
 public:
  explicit AsyncPublisher(const Client& client, std::int64_t ack_wait_ms = 2000, std::int64_t max_pending = 4096)
      : ack_wait_ms_(ack_wait_ms) {
    js_ = client.context(&AsyncPublisher::on_ack, this, max_pending);
  }
  AsyncPublisher(const AsyncPublisher&) = delete;
  AsyncPublisher& operator=(const AsyncPublisher&) = delete;
  ~AsyncPublisher() {
    // Takes back what is still unacknowledged, so that no acknowledgement
    // reaches this object once it is gone; what a caller did not flush is
    // not published.
    // (Only when some are: nats.c 3.4.1 crashes on an empty pending list.)
    bool in_flight = false;
    {
      const std::lock_guard lock(mutex_);
      in_flight = in_flight_ > 0;
    }
    natsMsgList pending{};
    if (in_flight && js_PublishAsyncGetPendingList(&pending, js_.get()) == NATS_OK) natsMsgList_Destroy(&pending);
    js_.reset();
    const std::lock_guard lock(mutex_);
    for (natsMsg* msg : failed_) natsMsg_Destroy(msg);
  }

  void publish(MsgPtr msg) {
    ++published_;
    send(msg.release());
  }

  // Waits for every message so far to be stored, retrying failures, for at
  // most `budget`. True when none is outstanding.
  bool flush(std::chrono::milliseconds budget) {
    const auto deadline = Clock::now() + budget;
    for (int round = 0;; ++round) {
      jsPubOptions options;
      check(jsPubOptions_Init(&options), "jsPubOptions_Init");
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
      options.MaxWait = std::max<std::int64_t>(1, left);
      const natsStatus status = js_PublishAsyncComplete(js_.get(), &options);
      if (status == NATS_TIMEOUT && Clock::now() >= deadline) return false;
      std::vector<natsMsg*> retry;
      {
        const std::lock_guard lock(mutex_);
        retry.swap(failed_);
      }
      if (status == NATS_OK && retry.empty()) return true;
      if (!retry.empty()) {
        // A failure is usually a stream without a leader for a few seconds:
        // back off a little before publishing again.
        std::this_thread::sleep_for(std::chrono::milliseconds(std::min(20 * (round + 1), 200)));
        retried_ += retry.size();
        for (natsMsg* msg : retry) send(msg);
      }
      if (Clock::now() >= deadline) return outstanding() == 0;
    }
  }

  // Messages published and not yet stored.
  [[nodiscard]] std::size_t outstanding() const {
    const std::lock_guard lock(mutex_);
    return failed_.size() + static_cast<std::size_t>(in_flight_);
  }
  [[nodiscard]] std::uint64_t published() const { return published_; }
  [[nodiscard]] std::uint64_t retried() const { return retried_; }
  [[nodiscard]] std::string last_error() const {
    const std::lock_guard lock(mutex_);
    return last_error_;
  }

 private:
  void send(natsMsg* msg) {
    jsPubOptions options;
    check(jsPubOptions_Init(&options), "jsPubOptions_Init");
    options.MaxWait = ack_wait_ms_;
    {
      const std::lock_guard lock(mutex_);
      ++in_flight_;
    }
    natsMsg* owned = msg;
    const natsStatus status = js_PublishMsgAsync(js_.get(), &owned, &options);
    if (status != NATS_OK) {  // not sent (stalled, closed): keep it for the next flush
      const std::lock_guard lock(mutex_);
      --in_flight_;
      last_error_ = describe(status);
      failed_.push_back(owned != nullptr ? owned : msg);
    }
  }

  static void on_ack(jsCtx*, natsMsg* msg, jsPubAck*, jsPubAckErr* error, void* closure) {
    auto* self = static_cast<AsyncPublisher*>(closure);
    const std::lock_guard lock(self->mutex_);
    --self->in_flight_;
    if (error != nullptr) {
      self->last_error_ = describe(error->Err, error->ErrCode);
      self->failed_.push_back(msg);  // ours now: published again by the next flush
    } else {
      natsMsg_Destroy(msg);
    }
  }

  std::int64_t ack_wait_ms_;
  JsPtr js_;
  mutable std::mutex mutex_;
  std::vector<natsMsg*> failed_;
  std::int64_t in_flight_ = 0;
  std::uint64_t published_ = 0;
  std::uint64_t retried_ = 0;
  std::string last_error_;
};

// A message read from a stream, its payload copied out.
struct StreamMessage {
  std::uint64_t sequence = 0;  // in the stream
  std::string subject;
  std::string data;
  std::uint64_t pending = 0;  // messages of the filter after this one, when it was delivered
  std::string header;         // the value of the reader's header_to_keep, if any
};

// Reads the messages of one subject filter of a stream in order, from a
// start sequence, in batches, through an ephemeral pull consumer that takes
// no acknowledgements: the reader's caller keeps its own position. When the
// consumer is lost (its server died, a delivery went missing: the consumer
// sequence skipped, a request went unanswered) the reader makes a new one
// from the position after the last message it returned, so nothing is
// skipped and nothing is returned twice.
//
// The pull requests are its own (a request to the consumer's
// CONSUMER.MSG.NEXT subject, one at a time, answered on an inbox it
// subscribes to) rather than nats.c's Fetch: nats.c 3.4.1's Fetch writes past
// the end of its message array when messages of an expired earlier request
// are still queued (it returned 373 messages for a batch of 256 here).
class PullReader {
 public:
  PullReader(const Client& client, std::string stream, std::string filter, std::uint64_t start_sequence,
             std::string header_to_keep = {})
      : client_(&client),
        stream_(std::move(stream)),
        filter_(std::move(filter)),
        header_(std::move(header_to_keep)),
        next_(start_sequence) {}
  PullReader(const PullReader&) = delete;
  PullReader& operator=(const PullReader&) = delete;
  ~PullReader() { reset(); }

  // Appends the messages that have arrived to `out` (up to about `batch`
  // per request, one request in flight at a time), waiting at most `wait`
  // for the first. Returns how many it appended (0 while the consumer
  // cannot be reached).
  std::size_t fetch(std::vector<StreamMessage>& out, int batch, milliseconds wait) {
    auto now = Clock::now();
    if (!sub_) {
      if (now < retry_at_) return 0;
      if (!create()) {
        retry_at_ = now + milliseconds(500);
        return 0;
      }
    }
    if (!in_flight_ && !request(batch)) return 0;
    std::size_t added = 0;
    const auto deadline = now + wait;
    for (int i = 0; i < 4 * batch + 16; ++i) {
      // The first message may be waited for (at least a millisecond while
      // any of `wait` is left); the rest are taken as they are.
      const auto left = std::chrono::ceil<milliseconds>(deadline - Clock::now()).count();
      natsMsg* raw = nullptr;
      const natsStatus status = natsSubscription_NextMsg(&raw, sub_.get(), added == 0 && left > 0 ? left : 0);
      if (status != NATS_OK) break;
      const MsgPtr msg(raw);
      if (const auto code = header_of(msg.get(), "Status")) {
        // 404 no messages, 408 request expired: this request is over; 409
        // (consumer deleted, leadership changed, ...) and 503 (no
        // responders): start over with a new consumer.
        if (*code == "404" || *code == "408") {
          if (natsMsg_GetSubject(msg.get()) == reply_) in_flight_ = false;
          continue;
        }
        if (*code == "100") continue;  // heartbeat
        reset();
        break;
      }
      jsMsgMetaData* raw_meta = nullptr;
      if (natsMsg_GetMetaData(&raw_meta, msg.get()) != NATS_OK) continue;
      const MetaPtr meta(raw_meta);
      if (meta->Sequence.Consumer != consumer_next_ || meta->Sequence.Stream < next_) {
        reset();  // a delivery went missing (or came again): start over from next_
        break;
      }
      ++consumer_next_;
      next_ = meta->Sequence.Stream + 1;
      pending_ = meta->NumPending;
      StreamMessage m;
      m.sequence = meta->Sequence.Stream;
      m.subject = natsMsg_GetSubject(msg.get());
      m.data = data_of(msg.get());
      m.pending = meta->NumPending;
      if (!header_.empty()) m.header = header_of(msg.get(), header_.c_str()).value_or("");
      out.push_back(std::move(m));
      ++added;
      if (++received_ >= requested_) in_flight_ = false;
    }
    now = Clock::now();
    if (added > 0) {
      last_message_ = now;
    } else if (sub_ && in_flight_ && now - requested_at_ > request_expiry_ + milliseconds(3'000)) {
      reset();  // the request went unanswered: the consumer (or its server) is gone
    } else if (sub_ && now - last_message_ > std::chrono::seconds(3) && now - last_check_ > std::chrono::seconds(3)) {
      // Quiet for a while: make sure the consumer still exists.
      last_check_ = now;
      jsConsumerInfo* info = nullptr;
      jsErrCode code = static_cast<jsErrCode>(0);
      const natsStatus s = js_GetConsumerInfo(&info, client_->js(), stream_.c_str(), consumer_.c_str(), nullptr, &code);
      const ConsumerInfoPtr owned(info);
      if (s != NATS_OK) {
        reset();
      } else {
        pending_ = info->NumPending;
      }
    }
    return added;
  }

  // The sequence after the last message returned.
  [[nodiscard]] std::uint64_t next_sequence() const { return next_; }
  // Messages of the filter after the last one returned, as the server last said.
  [[nodiscard]] std::uint64_t pending() const { return pending_; }
  [[nodiscard]] std::uint64_t consumers_created() const { return created_; }

 private:
  bool create() {
    jsConsumerConfig config;
    check(jsConsumerConfig_Init(&config), "jsConsumerConfig_Init");
    config.DeliverPolicy = js_DeliverByStartSequence;
    config.OptStartSeq = next_;
    config.AckPolicy = js_AckNone;
    config.FilterSubject = filter_.c_str();
    config.InactiveThreshold = std::chrono::nanoseconds(std::chrono::seconds(30)).count();
    jsConsumerInfo* info = nullptr;
    jsErrCode code = static_cast<jsErrCode>(0);
    const natsStatus status = js_AddConsumer(&info, client_->js(), stream_.c_str(), &config, nullptr, &code);
    const ConsumerInfoPtr owned(info);
    if (status != NATS_OK || info == nullptr || info->Name == nullptr) {
      last_error_ = describe(status, code);
      return false;
    }
    consumer_ = info->Name;
    natsInbox* inbox = nullptr;
    check(natsInbox_Create(&inbox), "natsInbox_Create");
    inbox_ = inbox;
    natsInbox_Destroy(inbox);
    natsSubscription* sub = nullptr;
    if (natsConnection_SubscribeSync(&sub, client_->connection(), (inbox_ + ".*").c_str()) != NATS_OK) return false;
    sub_.reset(sub);
    consumer_next_ = 1;
    in_flight_ = false;
    last_message_ = Clock::now();
    last_check_ = Clock::now();
    ++created_;
    return true;
  }

  bool request(int batch) {
    reply_ = inbox_ + "." + std::to_string(++requests_);
    const std::string body = "{\"batch\":" + std::to_string(batch) +
                             ",\"expires\":" + std::to_string(std::chrono::nanoseconds(request_expiry_).count()) + "}";
    const std::string subject = "$JS.API.CONSUMER.MSG.NEXT." + stream_ + "." + consumer_;
    if (natsConnection_PublishRequest(client_->connection(), subject.c_str(), reply_.c_str(), body.data(),
                                      static_cast<int>(body.size())) != NATS_OK) {
      reset();
      return false;
    }
    in_flight_ = true;
    requested_ = batch;
    received_ = 0;
    requested_at_ = Clock::now();
    return true;
  }

  void reset() {
    if (sub_ && !consumer_.empty()) {  // (else its inactivity threshold removes it)
      jsOptions options;
      check(jsOptions_Init(&options), "jsOptions_Init");
      options.Wait = 500;
      jsErrCode code = static_cast<jsErrCode>(0);
      (void)js_DeleteConsumer(client_->js(), stream_.c_str(), consumer_.c_str(), &options, &code);
    }
    sub_.reset();
    consumer_.clear();
    in_flight_ = false;
  }

  static constexpr milliseconds request_expiry_{1'000};

  const Client* client_;
  std::string stream_, filter_, header_;
  std::uint64_t next_;
  std::uint64_t consumer_next_ = 1;
  std::uint64_t pending_ = 0;
  std::uint64_t created_ = 0;
  std::uint64_t requests_ = 0;
  std::string consumer_, inbox_, reply_;
  SubscriptionPtr sub_;
  bool in_flight_ = false;
  int requested_ = 0, received_ = 0;
  Clock::time_point requested_at_{};
  Clock::time_point retry_at_{};
  Clock::time_point last_message_{};
  Clock::time_point last_check_{};
  std::string last_error_;
};

}  // namespace transactions_example::nats
