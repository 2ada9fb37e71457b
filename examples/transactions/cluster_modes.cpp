// The cluster modes of redflag_transactions (cluster_modes.hpp), built when
// libnats is found. docs/scale-out.md describes them and how to run them.

#include "cluster_modes.hpp"

#include "cluster.hpp"
#include "nats_client.hpp"
#include "trainer.hpp"
#include "transaction_json.hpp"
#include "worker.hpp"

#include <redflag/rules/rule_config.hpp>
#include <redflag/transactions/transaction_rules.hpp>

#include <signal.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <iostream>
#include <limits>
#include <map>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

namespace transactions_example {

namespace {

using namespace cluster;

extern "C" void on_stop_signal(int) { stop_requested() = true; }

void stop_on_signals() {
  struct sigaction action {};
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  sigaction(SIGTERM, &action, nullptr);
  sigaction(SIGINT, &action, nullptr);
}

class Args {
 public:
  explicit Args(const ClusterArguments& args) : args_(args) {}

  [[nodiscard]] std::optional<std::string> get(std::string_view name) const {
    std::optional<std::string> value;
    for (const auto& [key, v] : args_.options) {
      if (key == name) value = v;
    }
    return value;
  }
  [[nodiscard]] const std::optional<std::string>& positional() const { return args_.positional; }

  template <class Number>
  Number number(std::string_view name, Number fallback) const {
    return option_number(name, get(name), fallback);
  }

  [[nodiscard]] std::string servers() const { return get("--servers").value_or("nats://127.0.0.1:4222"); }
  [[nodiscard]] Layout layout() const {
    Layout layout;
    layout.partitions = number<std::uint32_t>("--partitions", 8);
    if (layout.partitions == 0) throw usage_error("--partitions must be at least 1");
    return layout;
  }
  [[nodiscard]] int replicas() const {
    const int r = number<int>("--replicas", 1);
    if (r < 1 || r > 5) throw usage_error("--replicas must be in [1, 5]");
    return r;
  }
  [[nodiscard]] std::chrono::seconds duplicates() const {
    return std::chrono::seconds(number<std::int64_t>("--duplicates", 600));
  }
  [[nodiscard]] milliseconds seconds_option(std::string_view name, double fallback) const {
    return milliseconds(static_cast<std::int64_t>(std::llround(number<double>(name, fallback) * 1000)));
  }
  [[nodiscard]] redflag::RulesEngine rules() const {
    const auto path = get("--rules");
    return path ? redflag::load_rules_file(*path, redflag::make_transaction_rule_features())
                : redflag::transaction_rules();
  }

 private:
  const ClusterArguments& args_;
};

MemberOptions member_options(const Args& args) {
  MemberOptions options;
  options.servers = args.servers();
  options.id = args.get("--id").value_or("");
  options.layout = args.layout();
  options.replicas = args.replicas();
  options.duplicates = args.duplicates();
  options.lease = args.seconds_option("--lease", 10);
  options.status_interval = args.seconds_option("--status-seconds", 5);
  options.exit_when_idle = args.number<double>("--exit-when-idle", 0);
  if (options.lease < milliseconds(1000)) throw usage_error("--lease must be at least 1 second");
  return options;
}

int worker(const Args& args) {
  WorkerOptions options;
  options.member = member_options(args);
  options.batch = args.number<int>("--batch", 256);
  options.checkpoint_every = args.number<std::size_t>("--checkpoint-every", 1000);
  options.checkpoint_interval = args.seconds_option("--checkpoint-seconds", 5);
  if (options.batch < 1) throw usage_error("--batch must be at least 1");
  stop_on_signals();
  return Worker(options, args.rules()).run();
}

int trainer(const Args& args) {
  TrainerOptions options;
  options.member = member_options(args);
  stop_on_signals();
  return Trainer(options, args.rules()).run();
}

int setup_mode(const Args& args) {
  const nats::Client client(args.servers(), "redflag-setup");
  setup(client, args.layout(), args.replicas(), args.duplicates());
  std::cout << "streams ready: " << stream_specs(args.layout(), args.replicas(), args.duplicates()).size()
            << " streams, " << args.replicas() << " replicas\n";
  return 0;
}

int stream_info(const Args& args) {
  const nats::Client client(args.servers(), "redflag-stream-info");
  const std::string name = args.get("--stream").value_or(Layout::input_stream);
  const auto info = client.stream_info(name);
  if (!info) throw std::runtime_error("no stream " + name);
  nlohmann::json out = {{"stream", name},
                        {"messages", info->State.Msgs},
                        {"first_sequence", info->State.FirstSeq},
                        {"last_sequence", info->State.LastSeq},
                        {"first_time_ns", info->State.FirstTime},
                        {"last_time_ns", info->State.LastTime}};
  if (info->Cluster != nullptr && info->Cluster->Leader != nullptr) out["leader"] = info->Cluster->Leader;
  std::cout << out.dump() << "\n";
  return 0;
}

int publish(const Args& args) {
  const Layout layout = args.layout();
  const nats::Client client(args.servers(), "redflag-publish");
  setup(client, layout, args.replicas(), args.duplicates());
  const std::string path = args.positional().value_or(REDFLAG_TRANSACTIONS_DATA);
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read " + path);
  const double rate = args.number<double>("--rate", 0);
  TransactionReader reader;
  std::vector<std::size_t> counts(layout.partitions, 0);
  const auto subject_of = [&](const std::string& line) {
    std::string token = "_invalid";  // a line that does not read still goes in, to be refused by its worker
    try {
      token = subject_token(reader.parse(line).txn.entity);
    } catch (const std::exception&) {
    }
    const std::uint32_t p = redflag::partition_of(token, layout.partitions);
    ++counts[p];
    return Layout::input_subject(p, token);
  };

  const auto start = Clock::now();
  std::size_t published = 0, line_number = 0;
  std::string line;
  if (rate > 0) {
    // One at a time, each fenced on the one before: the stream's order is
    // the file's even when a publish has to be retried.
    const auto info = client.stream_info(Layout::input_stream);
    std::uint64_t last = info ? info->State.LastSeq : 0;
    while (std::getline(in, line)) {
      ++line_number;
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      const std::string subject = subject_of(line);
      const std::string id = "l" + std::to_string(line_number);
      auto result = client.publish_retrying(subject, line, id, std::chrono::seconds(60), last);
      if (result.status == nats::PublishResult::Status::wrong_last_sequence) {
        // Stored by an attempt whose acknowledgement was lost?
        const nats::MsgPtr m = client.get_message(Layout::input_stream, last + 1);
        if (m && nats::data_of(m.get()) == line && subject == natsMsg_GetSubject(m.get())) {
          result = {nats::PublishResult::Status::stored, last + 1, true, {}};
        } else {
          throw std::runtime_error("the input stream moved under the publisher at line " + std::to_string(line_number) +
                                   " (another publisher?)");
        }
      }
      if (result.status != nats::PublishResult::Status::stored) {
        throw std::runtime_error("line " + std::to_string(line_number) + " not published: " + result.error);
      }
      last = std::max(last, result.sequence);
      ++published;
      std::this_thread::sleep_until(
          start + std::chrono::microseconds(static_cast<std::int64_t>(1e6 * static_cast<double>(published) / rate)));
    }
  } else {
    nats::AsyncPublisher publisher(client);
    while (std::getline(in, line)) {
      ++line_number;
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      const std::string subject = subject_of(line);
      publisher.publish(nats::make_message(subject, line, {{"Nats-Msg-Id", "l" + std::to_string(line_number)}}));
      if (++published % 2000 == 0 && !publisher.flush(std::chrono::seconds(60))) {
        throw std::runtime_error("publishes not acknowledged: " + publisher.last_error());
      }
    }
    if (!publisher.flush(std::chrono::seconds(60))) {
      throw std::runtime_error("publishes not acknowledged: " + publisher.last_error());
    }
    if (publisher.retried() > 0) {
      std::cerr << "redflag_transactions: publish: " << publisher.retried()
                << " publishes were retried, so the stream's order may differ from the file's; use --rate for an "
                   "order that holds through failures\n";
      return 1;
    }
  }
  const double seconds = seconds_since(start);
  const auto info = client.stream_info(Layout::input_stream);
  std::cout << "published " << published << " transactions to " << Layout::input_stream << " in " << seconds
            << " s; last sequence " << (info ? info->State.LastSeq : 0) << "; per partition:";
  for (const std::size_t c : counts) std::cout << " " << c;
  std::cout << "\n";
  return 0;
}

int collect(const Args& args) {
  const nats::Client client(args.servers(), "redflag-collect");
  const auto deadline = Clock::now() + args.seconds_option("--timeout", 60);
  std::uint64_t expect = args.number<std::uint64_t>("--expect", 0);
  if (expect == 0) {
    const auto info = client.stream_info(Layout::input_stream);
    if (!info) throw std::runtime_error("no input stream " + std::string(Layout::input_stream));
    expect = info->State.LastSeq;
  }
  std::map<std::uint64_t, std::string> verdicts;
  std::set<std::uint64_t> dead;
  std::uint64_t duplicated = 0, foreign = 0;
  const auto covered = [&] {
    std::size_t n = 0;
    for (std::uint64_t s = 1; s <= expect; ++s) n += verdicts.contains(s) || dead.contains(s);
    return n;
  };
  // Until every input has a verdict or a dead letter and both streams are
  // read to their ends (so that a copy stored late is counted too).
  nats::PullReader verdict_reader(client, Layout::verdict_stream, "verdict.>", 1, "Redflag-Seq");
  nats::PullReader dead_reader(client, Layout::dead_letter_stream, "dlq.>", 1, "Redflag-Seq");
  std::vector<nats::StreamMessage> batch;
  const auto take = [&](nats::PullReader& reader, bool verdict) {
    batch.clear();
    const std::size_t n = reader.fetch(batch, 1000, milliseconds(20));
    for (const nats::StreamMessage& m : batch) {
      std::uint64_t s = 0;
      try {
        s = std::stoull(m.header);
      } catch (const std::exception&) {
      }
      if (s == 0) {
        ++foreign;
      } else if (verdict ? !verdicts.emplace(s, m.data).second : !dead.insert(s).second) {
        ++duplicated;
      }
    }
    return n;
  };
  std::size_t have = 0;
  for (bool read_to_end = false; Clock::now() < deadline;) {
    const std::size_t n = take(verdict_reader, true) + take(dead_reader, false);
    if (n > 0) {
      read_to_end = false;
      continue;
    }
    have = covered();
    // Caught up with both streams (the server says nothing is pending after
    // what was read) and nothing missing: done.
    if (have == expect && verdict_reader.pending() == 0 && dead_reader.pending() == 0) {
      if (read_to_end) break;
      read_to_end = true;  // one more round, for what was stored meanwhile
    }
    std::this_thread::sleep_for(milliseconds(50));
  }
  have = covered();
  const std::uint64_t lost = expect - have;
  if (const auto out_path = args.get("--out")) {
    std::ofstream out(*out_path);
    if (!out) throw std::runtime_error("cannot write " + *out_path);
    for (const auto& [s, line] : verdicts) {
      if (s <= expect) out << line << "\n";
    }
  }
  std::uint64_t different = 0;
  if (const auto ref_path = args.get("--compare")) {
    std::ifstream ref(*ref_path);
    if (!ref) throw std::runtime_error("cannot read " + *ref_path);
    std::vector<std::string> lines;
    for (std::string line; std::getline(ref, line);) lines.push_back(line);
    std::size_t k = 0;  // the reference's line for the k-th input that was not refused
    for (std::uint64_t s = 1; s <= expect; ++s) {
      if (dead.contains(s)) continue;
      const auto it = verdicts.find(s);
      if (k >= lines.size()) {
        if (it != verdicts.end()) ++different;  // a verdict the reference does not have
      } else if (it != verdicts.end() && it->second != lines[k]) {
        ++different;
      }
      ++k;
    }
    if (lines.size() > k) different += lines.size() - k;  // reference verdicts with no input at all
  }
  std::string rate;
  if (const auto info = client.stream_info(Layout::verdict_stream); info && info->State.Msgs > 1) {
    const double span = static_cast<double>(info->State.LastTime - info->State.FirstTime) * 1e-9;
    if (span > 0) {
      rate = "; verdicts stored over " + std::to_string(span) + " s, " +
             std::to_string(static_cast<long long>(std::llround(static_cast<double>(info->State.Msgs) / span))) +
             " per second";
    }
  }
  std::cerr << "collect: " << verdicts.size() << " verdicts, " << dead.size() << " dead letters"
            << (foreign ? ", " + std::to_string(foreign) + " messages not understood" : "") << rate << "\n";
  std::cout << args.get("--label").value_or("collect") << ": " << expect << " transactions, lost " << lost
            << ", duplicated " << duplicated << ", different " << different << "\n";
  return lost == 0 && duplicated == 0 && different == 0 ? 0 : 1;
}

int inject(const Args& args) {
  const nats::Client client(args.servers(), "redflag-inject");
  const std::string what = args.positional().value_or("");
  if (what == "corrupt-checkpoint") {
    const std::uint32_t p = args.number<std::uint32_t>("--partition", 0);
    if (p >= args.layout().partitions) throw usage_error("--partition is beyond --partitions");
    const nats::MsgPtr last = client.last_message(Layout::control_stream(p), Layout::control_subject(p));
    if (!last) throw std::runtime_error("partition " + std::to_string(p) + " has no control record");
    ControlRecord record = decode_control(nats::data_of(last.get()));
    if (record.type != "release" && record.type != "seed") {
      throw std::runtime_error("partition " + std::to_string(p) + " is held (" + record.type +
                               "): stop its worker first");
    }
    if (record.checkpoints.empty()) throw std::runtime_error("partition " + std::to_string(p) + " has no checkpoint");
    // The newest checkpoint's bytes with one byte flipped, under a manifest
    // that keeps the original's size and checksum, ahead of the original.
    const CheckpointRef newest = record.checkpoints.front();
    std::string bytes = read_blob(client, Layout::checkpoint_stream, newest.blob);
    bytes[bytes.size() / 2] = static_cast<char>(bytes[bytes.size() / 2] ^ 0x10);
    BlobRef blob = write_blob(
        client, bytes, [&](std::size_t) { return Layout::checkpoint_subject(p); }, std::chrono::seconds(10));
    blob.xxh64 = newest.blob.xxh64;
    record.checkpoints.insert(record.checkpoints.begin(), CheckpointRef{newest.sequence, blob});
    record.type = "release";
    record.owner = "inject";
    const auto result = client.publish(Layout::control_subject(p), encode(record), {}, natsMsg_GetSequence(last.get()));
    if (result.status != nats::PublishResult::Status::stored) throw std::runtime_error("record not appended");
    std::cout << "partition " << p << ": a corrupted copy of the checkpoint at sequence " << newest.sequence
              << " is now the newest\n";
    return 0;
  }
  if (what == "bad-model") {
    const std::uint64_t apply_from = args.number<std::uint64_t>("--apply-from", 1);
    const std::uint64_t version = 999'999;
    const std::string bytes = "this is not a model";
    const BlobRef blob = write_blob(
        client, bytes, [&](std::size_t i) { return Layout::model_data_subject(version, i); }, std::chrono::seconds(10));
    const auto result =
        client.publish_retrying(Layout::model_head_prefix + std::to_string(version),
                                encode(ModelHead{version, apply_from, blob}), {}, std::chrono::seconds(10));
    if (result.status != nats::PublishResult::Status::stored) throw std::runtime_error("manifest not published");
    std::cout << "a model manifest v" << version << " that does not load, applying from " << apply_from << "\n";
    return 0;
  }
  throw usage_error("inject expects corrupt-checkpoint or bad-model, got '" + what + "'");
}

// JetStream's own consume-and-publish rate with the worker's settings: every
// partition read in batches through the same PullReader, one message per
// input (a verdict's size, with a message id) and one per batch (its
// observations' size) published through the same AsyncPublisher, and
// nothing else.
int broker_rate(const Args& args) {
  const Layout layout = args.layout();
  const nats::Client client(args.servers(), "redflag-broker-rate");
  client.ensure_stream({"BENCH", {"bench.>"}, args.replicas(), std::chrono::nanoseconds(args.duplicates()).count()});
  const auto info = client.stream_info(Layout::input_stream);
  if (!info || info->State.LastSeq == 0) throw std::runtime_error("the input stream is empty: publish first");
  const std::uint64_t total = info->State.Msgs;
  const int batch = args.number<int>("--batch", 256);
  std::vector<std::unique_ptr<nats::PullReader>> readers;
  for (std::uint32_t p = 0; p < layout.partitions; ++p) {
    readers.push_back(std::make_unique<nats::PullReader>(client, Layout::input_stream, Layout::input_filter(p), 1));
  }
  nats::AsyncPublisher publisher(client);
  constexpr std::size_t entry_bytes = 8 + 1 + 8 + 8 * (feature_count + RuleRow().size());
  const std::string verdict(260, 'v');
  std::vector<nats::StreamMessage> messages;
  std::uint64_t consumed = 0;
  std::optional<Clock::time_point> start;
  const auto deadline = Clock::now() + std::chrono::minutes(10);
  while (consumed < total && Clock::now() < deadline) {
    bool any = false;
    for (std::uint32_t p = 0; p < layout.partitions; ++p) {
      messages.clear();
      if (readers[p]->fetch(messages, batch, milliseconds(5)) == 0) continue;
      if (!start) start = Clock::now();
      any = true;
      for (const nats::StreamMessage& m : messages) {
        const std::string seq = std::to_string(m.sequence);
        publisher.publish(nats::make_message("bench.v." + std::to_string(p), verdict,
                                             {{"Nats-Msg-Id", "v" + seq}, {"Redflag-Seq", seq}}));
      }
      publisher.publish(nats::make_message("bench.f." + std::to_string(p),
                                           std::string(20 + messages.size() * entry_bytes, 'f'),
                                           {{"Nats-Msg-Id", "o" + std::to_string(messages.front().sequence)}}));
      consumed += messages.size();
    }
    if (!any) {
      (void)publisher.flush(milliseconds(20));
      std::this_thread::sleep_for(milliseconds(1));
    }
  }
  if (!publisher.flush(std::chrono::seconds(60))) throw std::runtime_error("publishes not acknowledged");
  const double seconds = start ? seconds_since(*start) : 0.0;
  std::cout << "broker-rate: " << consumed << " inputs read and " << publisher.published() << " messages published in "
            << seconds
            << " s: " << static_cast<long long>(std::llround(static_cast<double>(consumed) / std::max(seconds, 1e-9)))
            << " inputs per second (batch " << batch << ", " << args.replicas() << " replicas)";
  // The same measure as collect's for the verdicts: first to last stored.
  if (const auto bench = client.stream_info("BENCH"); bench && bench->State.LastTime > bench->State.FirstTime) {
    const double span = static_cast<double>(bench->State.LastTime - bench->State.FirstTime) * 1e-9;
    std::cout << "; stored over " << span
              << " s: " << static_cast<long long>(std::llround(static_cast<double>(consumed) / span))
              << " inputs per second";
  }
  std::cout << "\n";
  return 0;
}

}  // namespace

int run_cluster_mode(const std::string& mode, const ClusterArguments& arguments) {
  const Args args(arguments);
  // The common options are checked before anything connects.
  (void)args.layout();
  (void)args.replicas();
  (void)args.duplicates();
  if (mode == "worker") return worker(args);
  if (mode == "trainer") return trainer(args);
  if (mode == "publish") return publish(args);
  if (mode == "collect") return collect(args);
  if (mode == "setup") return setup_mode(args);
  if (mode == "stream-info") return stream_info(args);
  if (mode == "inject") return inject(args);
  if (mode == "broker-rate") return broker_rate(args);
  throw usage_error("unknown mode " + mode);
}

}  // namespace transactions_example
