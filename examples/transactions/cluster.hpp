#pragma once

// What the card-transaction example's cluster modes (worker, trainer,
// publish, collect) agree on: the streams and their subjects, the messages
// and their encodings, chunked blobs (checkpoints, models) and leases.
// docs/scale-out.md describes the design; this header is its wire format.
//
// Streams (each with the replicas `setup` is given):
//   TX          tx.p.<partition>.<user token>   the input: one transaction (a JSON line) per message
//   FEAT        feat.<partition>                a worker's Observations, a batch per message, for the trainer
//   VERDICT     verdict.<partition>             one verdict (a JSON line) per input, Nats-Msg-Id v<sequence>
//   DLQ         dlq.<partition>                 inputs the pipeline refused, with the reason
//   MODEL       model.data.<version>.<chunk>    a model's bytes
//               model.ctl.head.<version>        the model's manifest: version, the input sequence it applies from
//               model.ctl.mark                  "every model applying up to input sequence W is out"
//   CKPT        ckpt.<partition>                checkpoint chunks
//   CTL_P<n>    ctl.p.<n>                       partition n's lease and checkpoint records (fenced appends)
//   CTL_TRAINER ctl.trainer                     the trainer's lease
// Heartbeats go over plain NATS (not stored) on redflag.heartbeat.

#include "monitor.hpp"
#include "nats_client.hpp"

#include <redflag/core/checksum.hpp>
#include <redflag/stream/partition.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <bit>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <iostream>
#include <map>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace transactions_example::cluster {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

static_assert(std::endian::native == std::endian::little, "the observation encoding is little-endian");

// Stream and subject names for `partitions` partitions.
struct Layout {
  std::uint32_t partitions = 8;

  static constexpr const char* input_stream = "TX";
  static constexpr const char* features_stream = "FEAT";
  static constexpr const char* verdict_stream = "VERDICT";
  static constexpr const char* dead_letter_stream = "DLQ";
  static constexpr const char* model_stream = "MODEL";
  static constexpr const char* checkpoint_stream = "CKPT";
  static constexpr const char* trainer_control_stream = "CTL_TRAINER";
  static constexpr const char* trainer_control_subject = "ctl.trainer";
  static constexpr const char* model_head_prefix = "model.ctl.head.";
  static constexpr const char* model_mark_subject = "model.ctl.mark";
  static constexpr const char* model_control_filter = "model.ctl.>";
  static constexpr const char* heartbeat_subject = "redflag.heartbeat";

  static std::string input_subject(std::uint32_t p, std::string_view token) {
    return "tx.p." + std::to_string(p) + "." + std::string(token);
  }
  static std::string input_filter(std::uint32_t p) { return "tx.p." + std::to_string(p) + ".*"; }
  static std::string features_subject(std::uint32_t p) { return "feat." + std::to_string(p); }
  static std::string verdict_subject(std::uint32_t p) { return "verdict." + std::to_string(p); }
  static std::string dead_letter_subject(std::uint32_t p) { return "dlq." + std::to_string(p); }
  static std::string checkpoint_subject(std::uint32_t p) { return "ckpt." + std::to_string(p); }
  static std::string control_stream(std::uint32_t p) { return "CTL_P" + std::to_string(p); }
  static std::string control_subject(std::uint32_t p) { return "ctl.p." + std::to_string(p); }
  static std::string model_data_subject(std::uint64_t version, std::size_t chunk) {
    return "model.data." + std::to_string(version) + "." + std::to_string(chunk);
  }
};

// A user id as one subject token: itself when it is letters, digits, '-'
// and '_' only, else "~" and its bytes in hex ('~' never appears in the
// first form, so the two cannot collide). The partition is the token's.
inline std::string subject_token(std::string_view user) {
  const bool plain = !user.empty() && std::all_of(user.begin(), user.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
  });
  if (plain) return std::string(user);
  std::string out = "~";
  for (const char c : user) {
    const auto byte = static_cast<unsigned char>(c);
    out += "0123456789abcdef"[byte >> 4];
    out += "0123456789abcdef"[byte & 15];
  }
  return out;
}

// What every member of the cluster (worker, trainer) is told: where the
// servers are, its name, the streams' layout, its lease, how often to report.
struct MemberOptions {
  std::string servers = "nats://127.0.0.1:4222";
  std::string id;  // default: <role>-<pid>
  Layout layout;
  int replicas = 1;                      // for streams the member has to create
  std::chrono::seconds duplicates{600};  // ... and their de-duplication window
  milliseconds lease{10'000};            // a lease expires after this long without renewal
  milliseconds status_interval{5'000};   // one JSON status line on stderr per interval; 0: none
  double exit_when_idle = 0;             // > 0: stop after this many seconds with nothing to do
};

// The streams, for `replicas` servers each. `duplicates`: the publisher
// de-duplication window of the streams written with message ids.
inline std::vector<nats::StreamSpec> stream_specs(const Layout& layout, int replicas, std::chrono::seconds duplicates) {
  const std::int64_t window = std::chrono::nanoseconds(duplicates).count();
  std::vector<nats::StreamSpec> specs = {
      {Layout::input_stream, {"tx.p.>"}, replicas, window, -1},
      {Layout::features_stream, {"feat.>"}, replicas, window, -1},
      {Layout::verdict_stream, {"verdict.>"}, replicas, window, -1},
      {Layout::dead_letter_stream, {"dlq.>"}, replicas, window, -1},
      {Layout::model_stream, {"model.>"}, replicas, window, -1, 1},
      {Layout::checkpoint_stream, {"ckpt.>"}, replicas, 0, -1},
      {Layout::trainer_control_stream, {Layout::trainer_control_subject}, replicas, 0, 1000},
  };
  for (std::uint32_t p = 0; p < layout.partitions; ++p) {
    specs.push_back({Layout::control_stream(p), {Layout::control_subject(p)}, replicas, 0, 1000});
  }
  return specs;
}

// A control stream's first record, so that every later append can be
// fenced on a sequence above 0 (nats.c takes ExpectLastSeq = 0 for "unset").
inline constexpr std::string_view seed_record = R"({"type":"seed","owner":"","checkpoints":[]})";

// Creates what is missing (streams, control streams' seed records); leaves
// what exists as it is.
inline void setup(const nats::Client& client, const Layout& layout, int replicas, std::chrono::seconds duplicates) {
  for (const nats::StreamSpec& spec : stream_specs(layout, replicas, duplicates)) {
    client.ensure_stream(spec);
    if (spec.name.starts_with("CTL_")) {
      const auto info = client.stream_info(spec.name);
      if (info && info->State.LastSeq == 0) {
        const auto result =
            client.publish_retrying(spec.subjects.front(), seed_record, "seed", std::chrono::seconds(20));
        if (result.status != nats::PublishResult::Status::stored) {
          throw std::runtime_error("cannot seed " + spec.name + ": " + result.error);
        }
      }
    }
  }
}

// ---------------------------------------------------------------------------
// Observations: what a worker tells the trainer about each input, a batch
// per FEAT message. Binary, little-endian:
//   "RFOB" | u32 version 1 | u32 count | u32 features | u32 rule columns |
//   count x ( u64 sequence | u8 accepted | i64 timestamp_ms | features x f64 | rule columns x f64 )
// A refused input (accepted 0) has zero timestamp and values: it only keeps
// the input sequences contiguous for the trainer.

struct ObservationEntry {
  std::uint64_t sequence = 0;
  bool accepted = false;
  Observation observation;
};

struct format_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

inline std::string encode_observations(std::span<const ObservationEntry> entries) {
  constexpr std::size_t entry_bytes = 8 + 1 + 8 + 8 * (feature_count + RuleRow().size());
  std::string out;
  out.reserve(20 + entries.size() * entry_bytes);
  const auto put = [&out](const auto& value) {
    char bytes[sizeof(value)];
    std::memcpy(bytes, &value, sizeof(value));
    out.append(bytes, sizeof(value));
  };
  out += "RFOB";
  put(std::uint32_t{1});
  put(static_cast<std::uint32_t>(entries.size()));
  put(static_cast<std::uint32_t>(feature_count));
  put(static_cast<std::uint32_t>(RuleRow().size()));
  for (const ObservationEntry& e : entries) {
    put(e.sequence);
    put(static_cast<std::uint8_t>(e.accepted ? 1 : 0));
    put(e.observation.timestamp_ms);
    for (const double x : e.observation.row) put(x);
    for (const double x : e.observation.rule_row) put(x);
  }
  return out;
}

inline std::vector<ObservationEntry> decode_observations(std::string_view bytes) {
  std::size_t at = 0;
  const auto take = [&]<class T>(T& value) {
    if (bytes.size() - at < sizeof(T)) throw format_error("observation batch: truncated");
    std::memcpy(&value, bytes.data() + at, sizeof(T));
    at += sizeof(T);
  };
  if (bytes.substr(0, 4) != "RFOB") throw format_error("observation batch: bad magic");
  at = 4;
  std::uint32_t version = 0, count = 0, features = 0, rules = 0;
  take(version);
  take(count);
  take(features);
  take(rules);
  if (version != 1 || features != feature_count || rules != RuleRow().size()) {
    throw format_error("observation batch: version or widths differ from this program's");
  }
  constexpr std::size_t entry_bytes = 8 + 1 + 8 + 8 * (feature_count + RuleRow().size());
  if ((bytes.size() - at) != static_cast<std::size_t>(count) * entry_bytes) {
    throw format_error("observation batch: size does not match its count");
  }
  std::vector<ObservationEntry> out(count);
  for (ObservationEntry& e : out) {
    std::uint8_t accepted = 0;
    take(e.sequence);
    take(accepted);
    e.accepted = accepted == 1;
    take(e.observation.timestamp_ms);
    for (double& x : e.observation.row) take(x);
    for (double& x : e.observation.rule_row) take(x);
  }
  return out;
}

// ---------------------------------------------------------------------------
// Blobs: bytes stored as chunks of at most 512 KB (the server's default
// max_payload is 1 MB), named by a manifest that the reader checks them
// against: every chunk present, the total size and the XXH64 of the whole.

inline constexpr std::size_t chunk_bytes = 512 * 1024;

struct blob_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct BlobRef {
  std::vector<std::uint64_t> chunks;  // stream sequences, in order
  std::uint64_t bytes = 0;
  std::uint64_t xxh64 = 0;
};

inline std::uint64_t checksum(std::string_view bytes) {
  return redflag::detail::Xxh64::hash(std::span<const char>(bytes.data(), bytes.size()));
}

inline nlohmann::json to_json(const BlobRef& blob) {
  char hex[17];
  std::snprintf(hex, sizeof(hex), "%016llx", static_cast<unsigned long long>(blob.xxh64));
  return {{"chunks", blob.chunks}, {"bytes", blob.bytes}, {"xxh64", hex}};
}

inline BlobRef blob_from_json(const nlohmann::json& j) {
  BlobRef out;
  out.chunks = j.at("chunks").get<std::vector<std::uint64_t>>();
  out.bytes = j.at("bytes").get<std::uint64_t>();
  out.xxh64 = std::stoull(j.at("xxh64").get<std::string>(), nullptr, 16);
  return out;
}

// Stores `bytes` as chunks on `subject(i)`, each publish retried within
// `budget`. Throws nats_error when the stream cannot be reached in time.
template <class SubjectOf>
BlobRef write_blob(const nats::Client& client, std::string_view bytes, SubjectOf subject, milliseconds budget,
                   const std::string& id_prefix = {}) {
  BlobRef out;
  out.bytes = bytes.size();
  out.xxh64 = checksum(bytes);
  for (std::size_t i = 0, at = 0; at < bytes.size() || i == 0; ++i, at += chunk_bytes) {
    const std::string_view chunk = bytes.substr(std::min(at, bytes.size()), chunk_bytes);
    const std::string id = id_prefix.empty() ? std::string() : id_prefix + "." + std::to_string(i);
    const auto result = client.publish_retrying(subject(i), chunk, id, budget);
    if (result.status != nats::PublishResult::Status::stored) {
      throw nats::nats_error("storing a chunk on " + subject(i) + ": " + result.error, NATS_TIMEOUT);
    }
    out.chunks.push_back(result.sequence);
    if (bytes.empty()) break;
  }
  return out;
}

// The blob's bytes. Throws blob_error when a chunk is missing or the bytes
// do not match the manifest; nats_error when the stream cannot be reached.
inline std::string read_blob(const nats::Client& client, const std::string& stream, const BlobRef& blob) {
  std::string out;
  if (blob.bytes > (std::uint64_t{1} << 34) || blob.chunks.size() > blob.bytes / chunk_bytes + 1) {
    throw blob_error("the manifest's size and chunk count disagree");
  }
  out.reserve(static_cast<std::size_t>(blob.bytes));
  for (const std::uint64_t sequence : blob.chunks) {
    const nats::MsgPtr msg = client.get_message(stream, sequence);
    if (!msg) throw blob_error("chunk at sequence " + std::to_string(sequence) + " of " + stream + " is missing");
    out += nats::data_of(msg.get());
    if (out.size() > blob.bytes) throw blob_error("the chunks hold more bytes than the manifest says");
  }
  if (out.size() != blob.bytes) {
    throw blob_error("the chunks hold " + std::to_string(out.size()) + " bytes, the manifest says " +
                     std::to_string(blob.bytes));
  }
  if (checksum(out) != blob.xxh64) throw blob_error("checksum mismatch: the chunks are not the bytes written");
  return out;
}

// ---------------------------------------------------------------------------
// Control records: one JSON object per message of a partition's control
// stream. The owner is the `owner` of the stream's last record, unless that
// record is a seed or a release, or has stayed the last one for a lease
// term. Every record carries the partition's newest checkpoints (newest
// first), so the last record alone says where to restore from.

struct CheckpointRef {
  std::uint64_t sequence = 0;  // the last input sequence the checkpoint covers
  BlobRef blob;
};

struct ControlRecord {
  std::string type = "seed";  // seed, claim, renew, checkpoint, release
  std::string owner;
  std::vector<CheckpointRef> checkpoints;
};

inline std::string encode(const ControlRecord& record) {
  nlohmann::json checkpoints = nlohmann::json::array();
  for (const CheckpointRef& c : record.checkpoints) {
    checkpoints.push_back({{"sequence", c.sequence}, {"blob", to_json(c.blob)}});
  }
  return nlohmann::json{{"type", record.type}, {"owner", record.owner}, {"checkpoints", checkpoints}}.dump();
}

// A record that cannot be read counts as a free one without checkpoints.
inline ControlRecord decode_control(std::string_view text) {
  ControlRecord out;
  try {
    const nlohmann::json j = nlohmann::json::parse(text);
    out.type = j.at("type").get<std::string>();
    out.owner = j.at("owner").get<std::string>();
    for (const auto& c : j.at("checkpoints")) {
      out.checkpoints.push_back({c.at("sequence").get<std::uint64_t>(), blob_from_json(c.at("blob"))});
    }
  } catch (const std::exception&) {
    out = ControlRecord{"unreadable", "", {}};
  }
  return out;
}

// A lease on one control stream: held from a successful claim until the
// holder fails to append (renew) for most of a term. Appends are fenced on
// the holder's own last record (ExpectLastSeq), so once anyone else has
// appended, every later append of the old holder fails: it finds out before
// it writes a checkpoint, and stops.
class Lease {
 public:
  enum class Append : std::uint8_t { appended, lost, unreachable };

  Lease(const nats::Client& client, std::string stream, std::string subject, std::string owner, milliseconds term)
      : client_(&client),
        stream_(std::move(stream)),
        subject_(std::move(subject)),
        owner_(std::move(owner)),
        term_(term) {}

  // Claims the lease over the record at `last_sequence` (which the caller
  // found free). True if the claim was appended.
  bool claim(std::uint64_t last_sequence, ControlRecord record) {
    sequence_ = last_sequence;
    record.type = "claim";
    return append(std::move(record)) == Append::appended;
  }

  // Appends `record` (as this owner) after the holder's last record.
  Append append(ControlRecord record) {
    record.owner = owner_;
    const auto sent = Clock::now();
    const auto result = client_->publish(subject_, encode(record), {}, sequence_, 1000);
    if (result.status == nats::PublishResult::Status::stored) {
      accept(result.sequence, std::move(record), sent);
      return Append::appended;
    }
    if (result.status == nats::PublishResult::Status::wrong_last_sequence) {
      // Someone appended; it may be this holder's own earlier append whose
      // acknowledgement was lost.
      try {
        const nats::MsgPtr last = client_->last_message(stream_, subject_);
        if (last && decode_control(nats::data_of(last.get())).owner == owner_) {
          const std::uint64_t sequence = natsMsg_GetSequence(last.get());
          if (sequence > sequence_) {
            sequence_ = sequence;
            return append(std::move(record));
          }
        }
      } catch (const nats::nats_error&) {
        return Append::unreachable;
      }
      lost_ = true;
      return Append::lost;
    }
    return Append::unreachable;
  }

  // Held: the last append was sent less than 80% of a term ago (observers
  // take over after a full term of no change, counted from when they saw the
  // record, which is after it was sent).
  [[nodiscard]] bool held() const { return !lost_ && sequence_ != 0 && Clock::now() < valid_until_; }
  [[nodiscard]] bool lost() const { return lost_; }
  [[nodiscard]] bool renewal_due() const { return Clock::now() >= renew_at_; }
  [[nodiscard]] const ControlRecord& record() const { return record_; }
  [[nodiscard]] std::uint64_t sequence() const { return sequence_; }
  [[nodiscard]] milliseconds term() const { return term_; }

 private:
  void accept(std::uint64_t sequence, ControlRecord record, Clock::time_point sent) {
    sequence_ = sequence;
    record_ = std::move(record);
    valid_until_ = sent + term_ * 4 / 5;
    renew_at_ = sent + term_ / 4;
  }

  const nats::Client* client_;
  std::string stream_, subject_, owner_;
  milliseconds term_;
  std::uint64_t sequence_ = 0;
  ControlRecord record_;
  Clock::time_point valid_until_{};
  Clock::time_point renew_at_{};
  bool lost_ = false;
};

// Watches control streams for leases that are free to claim: the last
// record is a seed or a release, or it has been the last one for a whole
// term as this watcher saw it (a watcher's clock, not the writer's, so
// clocks need not agree).
class LeaseWatch {
 public:
  struct Found {
    std::uint64_t sequence = 0;
    ControlRecord record;
    bool free = false;
  };

  explicit LeaseWatch(milliseconds term) : term_(term) {}

  // Reads the stream's last record. Throws nats_error when unreachable.
  Found look(const nats::Client& client, const std::string& stream, const std::string& subject) {
    const nats::MsgPtr last = client.last_message(stream, subject);
    Found out;
    if (!last) return out;  // not seeded: nothing can be fenced on it yet
    out.sequence = natsMsg_GetSequence(last.get());
    out.record = decode_control(nats::data_of(last.get()));
    Seen& seen = seen_[stream];
    const auto now = Clock::now();
    if (seen.sequence != out.sequence) seen = {out.sequence, now};
    out.free = out.record.type == "seed" || out.record.type == "release" || now - seen.since >= term_;
    return out;
  }

 private:
  struct Seen {
    std::uint64_t sequence = 0;
    Clock::time_point since{};
  };
  milliseconds term_;
  std::map<std::string, Seen> seen_;
};

// ---------------------------------------------------------------------------
// Model manifests and marks (MODEL stream).

struct ModelHead {
  std::uint64_t version = 0;     // the registry's version
  std::uint64_t apply_from = 0;  // the first input sequence scored with it
  BlobRef blob;                  // the model as redflag::save wrote it
};

inline std::string encode(const ModelHead& head) {
  return nlohmann::json{{"version", head.version}, {"apply_from", head.apply_from}, {"blob", to_json(head.blob)}}
      .dump();
}

inline ModelHead decode_head(std::string_view text) {
  const nlohmann::json j = nlohmann::json::parse(text);
  return {j.at("version").get<std::uint64_t>(), j.at("apply_from").get<std::uint64_t>(), blob_from_json(j.at("blob"))};
}

inline std::string encode_mark(std::uint64_t through) { return nlohmann::json{{"through", through}}.dump(); }
inline std::uint64_t decode_mark(std::string_view text) {
  return nlohmann::json::parse(text).at("through").get<std::uint64_t>();
}

// Set by SIGTERM and SIGINT: finish what is in hand, checkpoint, release.
inline std::atomic<bool>& stop_requested() {
  static std::atomic<bool> flag{false};
  return flag;
}

// One line on stderr, flushed (status lines and events, for people and the tests).
inline void log_line(const std::string& line) { std::cerr << line + "\n" << std::flush; }

inline double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

}  // namespace transactions_example::cluster
