#pragma once

// redflag_transactions worker: one of N processes that share the input's P
// partitions (docs/scale-out.md, "Workers and the trainer").
//
// For each partition it holds a lease on (cluster.hpp, Lease), a worker
//   1. restores the newest checkpoint that loads (PartitionCheckpoint: the
//      users' EntityStore and the last input sequence it covers), refusing
//      one whose chunks or checksums do not match, and reads the partition
//      from the sequence after it;
//   2. applies each input once, in order, through the checkpoint's
//      SequenceGate: its Observation (feature row, rule columns) goes to the
//      trainer (FEAT), a refused input to the dead letters (DLQ);
//   3. scores each accepted input with the model in force at its sequence
//      (ModelFeed: the trainer's manifests and marks), waiting until the
//      trainer has said which model that is, and publishes the verdict with
//      Nats-Msg-Id v<sequence>, so that a verdict published again after a
//      restart is dropped by the stream;
//   4. checkpoints every `checkpoint_every` inputs or `checkpoint_interval`:
//      once every verdict up to the position is stored, the state goes to
//      CKPT in chunks and a record naming them is appended to the
//      partition's control stream, fenced on the worker's own last record.
//
// Leases are renewed by fenced appends every quarter term; a worker stops
// using a partition when it cannot renew within 80% of a term, and drops it
// as soon as an append finds another owner's record. Workers announce
// themselves on a heartbeat subject; each aims at ceil(P / workers alive)
// partitions, claiming free ones and releasing (after a checkpoint) what it
// holds beyond that while another worker holds fewer.

#include "cluster.hpp"
#include "monitor.hpp"
#include "nats_client.hpp"
#include "transaction_json.hpp"

#include <redflag/core/serialization.hpp>
#include <redflag/stream/checkpoint.hpp>

#include <unistd.h>

#include <atomic>
#include <cmath>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace transactions_example::cluster {

// The models in force along the input, as the trainer publishes them: a
// manifest per promoted model (the sequence it applies from) and marks
// ("every model applying at or before W is out"). Read through an ordered
// consumer, so a mark always comes after the manifests it covers.
class ModelFeed {
 public:
  struct Entry {
    ModelInForce model;  // nullptr: rules only
    redflag::RiskDecider decider;
  };

  ModelFeed(const nats::Client& client, MonitorParams params)
      : client_(&client), params_(std::move(params)), rules_only_{nullptr, decider_for(params_, nullptr)} {}

  // Reads what has arrived, without waiting.
  void poll() {
    if (!sub_ && Clock::now() >= retry_at_ && !subscribe()) retry_at_ = Clock::now() + milliseconds(500);
    for (int i = 0; sub_ && i < 1000; ++i) {
      natsMsg* raw = nullptr;
      const natsStatus status = natsSubscription_NextMsg(&raw, sub_.get(), 0);
      if (status != NATS_OK) break;
      const nats::MsgPtr msg(raw);
      backlog_.emplace_back(natsMsg_GetSubject(msg.get()), std::string(nats::data_of(msg.get())));
    }
    while (!backlog_.empty()) {
      const auto& [subject, data] = backlog_.front();
      if (subject == Layout::model_mark_subject) {
        try {
          through_ = std::max(through_, decode_mark(data));
        } catch (const std::exception& failure) {
          log_line(std::string("model feed: a mark that does not read was ignored: ") + failure.what());
        }
      } else if (!load(data)) {
        return;  // the stream cannot be reached: this manifest again at the next poll
      }
      backlog_.pop_front();
    }
  }

  // Every input sequence up to this one has its model known.
  [[nodiscard]] std::uint64_t through() const { return through_; }

  // The model and decider in force at `sequence` (at most through()).
  [[nodiscard]] const Entry& at(std::uint64_t sequence) const {
    auto it = timeline_.upper_bound(sequence);
    if (it == timeline_.begin()) return rules_only_;
    return std::prev(it)->second;
  }

  [[nodiscard]] std::size_t refused() const { return refused_; }

 private:
  bool subscribe() {
    jsSubOptions options;
    nats::check(jsSubOptions_Init(&options), "jsSubOptions_Init");
    options.Stream = Layout::model_stream;
    options.Ordered = true;
    options.Config.DeliverPolicy = js_DeliverAll;
    natsSubscription* sub = nullptr;
    jsErrCode code = static_cast<jsErrCode>(0);
    if (js_SubscribeSync(&sub, client_->js(), Layout::model_control_filter, nullptr, &options, &code) != NATS_OK) {
      return false;
    }
    sub_.reset(sub);
    return true;
  }

  // False when the manifest's chunks cannot be reached now; a manifest that
  // is wrong (unreadable, chunks missing or not matching, a model that does
  // not load) is refused and logged, and the model in force stays.
  bool load(const std::string& text) {
    ModelHead head;
    try {
      head = decode_head(text);
      if (versions_.contains(head.version)) return true;  // published again by a trainer that took over
      const std::string bytes = read_blob(*client_, Layout::model_stream, head.blob);
      std::istringstream in(bytes, std::ios::binary);
      auto model = std::make_shared<const redflag::ModelSnapshot<Forest>>(redflag::ModelSnapshot<Forest>{
          head.version, redflag::load<Forest>(in, "model v" + std::to_string(head.version))});
      timeline_[head.apply_from] = Entry{model, decider_for(params_, model)};
      versions_.insert(head.version);
      log_line("model feed: model v" + std::to_string(head.version) + " applies from input sequence " +
               std::to_string(head.apply_from));
    } catch (const nats::nats_error&) {
      return false;
    } catch (const std::exception& failure) {
      ++refused_;
      if (head.version != 0) versions_.insert(head.version);
      log_line("model feed: model manifest refused (" + std::string(failure.what()) +
               "); scoring goes on with the model in force");
    }
    return true;
  }

  const nats::Client* client_;
  MonitorParams params_;
  Entry rules_only_;
  nats::SubscriptionPtr sub_;
  Clock::time_point retry_at_{};
  std::deque<std::pair<std::string, std::string>> backlog_;  // (subject, data) not yet applied
  std::map<std::uint64_t, Entry> timeline_;                  // by the sequence each applies from
  std::set<std::uint64_t> versions_;
  std::uint64_t through_ = 0;
  std::size_t refused_ = 0;
};

struct WorkerOptions {
  MemberOptions member;
  int batch = 256;                          // inputs per fetch
  std::size_t checkpoint_every = 1000;      // inputs between checkpoints ...
  milliseconds checkpoint_interval{5'000};  // ... or this long, whichever comes first
  std::size_t max_pending = 4096;           // inputs of a partition observed and waiting for their model
};

class Worker {
 public:
  Worker(WorkerOptions options, redflag::RulesEngine rules, MonitorParams params = {})
      : options_(std::move(options)),
        params_(std::move(params)),
        scorer_(std::move(rules)),
        name_(options_.member.id.empty() ? "worker-" + std::to_string(::getpid()) : options_.member.id),
        incarnation_(name_ + "/" + std::to_string(::getpid()) + "/" +
                     std::to_string(Clock::now().time_since_epoch().count() % 1'000'000'007)) {}

  int run() {
    client_ = std::make_unique<nats::Client>(options_.member.servers, name_);
    setup(*client_, options_.member.layout, options_.member.replicas, options_.member.duplicates);
    publisher_ = std::make_unique<nats::AsyncPublisher>(*client_);
    feed_ = std::make_unique<ModelFeed>(*client_, params_);
    watch_ = std::make_unique<LeaseWatch>(options_.member.lease);
    natsSubscription* hb = nullptr;
    nats::check(natsConnection_SubscribeSync(&hb, client_->connection(), Layout::heartbeat_subject), "subscribe");
    heartbeats_.reset(hb);
    started_ = Clock::now();
    last_work_ = started_;
    last_status_ = started_;
    log_line("worker " + name_ + ": started (" + incarnation_ + "), " +
             std::to_string(options_.member.layout.partitions) + " partitions, lease " +
             std::to_string(options_.member.lease.count()) + " ms");

    std::optional<Clock::time_point> stop_deadline;
    for (int idle = 0;;) {
      if (stop_requested() && !stop_deadline) {
        stop_deadline = Clock::now() + std::chrono::seconds(15);
        for (auto& [index, p] : owned_) p->intent = Intent::release;
        log_line("worker " + name_ + ": stopping, releasing " + std::to_string(owned_.size()) + " partitions");
      }
      if (stop_deadline && (owned_.empty() || Clock::now() > *stop_deadline)) break;
      bool worked = false;
      feed_->poll();
      membership();
      for (auto it = owned_.begin(); it != owned_.end();) {
        Partition& p = *it->second;
        maintain(p);
        if (p.dropped) {
          it = owned_.erase(it);
          continue;
        }
        worked |= read(p);
        worked |= score(p);
        worked |= settle(p);
        it = p.dropped ? owned_.erase(it) : std::next(it);
      }
      if (!stop_deadline) rebalance();
      status();
      if (worked) {
        idle = 0;
        last_work_ = Clock::now();
      } else {
        if (publisher_->outstanding() > 0) (void)publisher_->flush(milliseconds(20));
        std::this_thread::sleep_for(milliseconds(std::min(1 + idle, 20)));
        ++idle;
        if (options_.member.exit_when_idle > 0 && seconds_since(last_work_) > options_.member.exit_when_idle &&
            caught_up()) {
          stop_requested() = true;
        }
      }
    }
    const bool flushed = publisher_->flush(milliseconds(5'000));
    log_line("worker " + name_ + ": stopped; " + std::to_string(verdicts_) + " verdicts, " +
             std::to_string(dead_letters_) + " dead letters" + (flushed ? "" : ", some publishes unacknowledged"));
    return 0;
  }

 private:
  enum class Intent : std::uint8_t { none, checkpoint, release };

  struct Pending {
    std::uint64_t sequence = 0;
    std::string transaction_id;
    Observation observation;
  };

  struct Partition {
    Partition(std::uint32_t index_, Lease lease_) : index(index_), lease(std::move(lease_)) {}
    std::uint32_t index;
    Lease lease;
    std::optional<redflag::PartitionCheckpoint> state;  // empty until restored
    std::vector<CheckpointRef> checkpoints;             // the ones that loaded or were written, newest first
    std::unique_ptr<nats::PullReader> reader;
    std::deque<Pending> pending;  // observed, waiting for their model
    Intent intent = Intent::none;
    std::uint64_t checkpoint_sequence = 0;
    Clock::time_point checkpoint_time = Clock::now();
    std::size_t since_checkpoint = 0;
    std::uint64_t last_scored = 0;
    Clock::time_point renew_retry{};
    bool dropped = false;
  };

  void drop(Partition& p, const std::string& why) {
    p.dropped = true;
    log_line("worker " + name_ + ": partition " + std::to_string(p.index) + " dropped: " + why);
  }

  // Lease renewal and, once claimed, the restore.
  void maintain(Partition& p) {
    if (p.lease.renewal_due() || !p.lease.held()) {
      if (Clock::now() >= p.renew_retry) {
        ControlRecord record{"renew", "", p.state ? p.checkpoints : p.lease.record().checkpoints};
        const auto result = p.lease.append(record);
        if (result == Lease::Append::lost) return drop(p, "its lease was taken over (a renewal found another record)");
        if (result == Lease::Append::unreachable) p.renew_retry = Clock::now() + milliseconds(200);
      }
    }
    if (!p.state && p.lease.held()) restore(p);
  }

  void restore(Partition& p) {
    const std::uint32_t P = options_.member.layout.partitions;
    std::vector<CheckpointRef> valid;
    std::optional<redflag::PartitionCheckpoint> state;
    for (const CheckpointRef& c : p.lease.record().checkpoints) {
      try {
        const std::string bytes = read_blob(*client_, Layout::checkpoint_stream, c.blob);
        std::istringstream in(bytes, std::ios::binary);
        auto loaded = redflag::load<redflag::PartitionCheckpoint>(
            in, "checkpoint of partition " + std::to_string(p.index) + " at sequence " + std::to_string(c.sequence));
        loaded.require_partition(p.index, P);
        if (loaded.position().sequence != c.sequence) throw blob_error("the checkpoint's position is not its record's");
        if (!state) state = std::move(loaded);
        valid.push_back(c);
      } catch (const nats::nats_error& failure) {
        log_line("worker " + name_ + ": partition " + std::to_string(p.index) +
                 ": checkpoint unreachable, trying again: " + failure.what());
        return;
      } catch (const std::exception& failure) {
        log_line("worker " + name_ + ": partition " + std::to_string(p.index) + ": checkpoint at sequence " +
                 std::to_string(c.sequence) + " refused: " + failure.what() +
                 (state ? "" : "; trying the previous one"));
      }
    }
    if (!state) state.emplace(redflag::PartitionPosition{p.index, P, 0});
    p.state = std::move(state);
    p.checkpoints = std::move(valid);
    p.checkpoint_sequence = p.state->position().sequence;
    p.checkpoint_time = Clock::now();
    p.reader = std::make_unique<nats::PullReader>(*client_, Layout::input_stream, Layout::input_filter(p.index),
                                                  p.checkpoint_sequence + 1);
    log_line("worker " + name_ + ": partition " + std::to_string(p.index) + " restored at sequence " +
             std::to_string(p.checkpoint_sequence) + " (" + std::to_string(p.state->store().size()) +
             " users); reading from " + std::to_string(p.checkpoint_sequence + 1));
  }

  // Fetches a batch and applies it: observations to the trainer, refusals
  // to the dead letters, accepted inputs to the pending queue.
  bool read(Partition& p) {
    if (!p.state || !p.lease.held() || p.intent != Intent::none || p.pending.size() >= options_.max_pending) {
      return false;
    }
    messages_.clear();
    if (p.reader->fetch(messages_, options_.batch, milliseconds(5)) == 0) return false;
    entries_.clear();
    for (const nats::StreamMessage& m : messages_) {
      bool accepted = false;
      std::string reason, id;
      Observation observation;
      const auto status = p.state->apply(m.sequence, [&](redflag::EntityStore& store) {
        try {
          const LabelledTransaction input = reader_.parse(m.data);
          observation = observer_.observe(store, input.txn);
          id = input.txn.id;
          accepted = true;
        } catch (const bad_line& failure) {
          reason = failure.what();
        } catch (const redflag::data_error& failure) {
          reason = failure.what();
        }
      });
      if (status == redflag::SequenceStatus::already_applied) continue;
      ++p.since_checkpoint;
      entries_.push_back({m.sequence, accepted, accepted ? observation : Observation{}});
      if (accepted) {
        p.pending.push_back({m.sequence, std::move(id), observation});
      } else {
        dead_letter(p, m, reason);
      }
    }
    if (!entries_.empty()) {
      const std::string id = "o" + std::to_string(p.index) + "-" + std::to_string(entries_.front().sequence) + "-" +
                             std::to_string(entries_.back().sequence);
      publisher_->publish(
          nats::make_message(Layout::features_subject(p.index), encode_observations(entries_), {{"Nats-Msg-Id", id}}));
    }
    return true;
  }

  void dead_letter(const Partition& p, const nats::StreamMessage& m, const std::string& reason) {
    const nlohmann::json letter = {
        {"sequence", m.sequence}, {"partition", p.index}, {"reason", reason}, {"message", m.data}};
    const std::string seq = std::to_string(m.sequence);
    publisher_->publish(nats::make_message(Layout::dead_letter_subject(p.index),
                                           letter.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace),
                                           {{"Nats-Msg-Id", "d" + seq}, {"Redflag-Seq", seq}}));
    ++dead_letters_;
    log_line("worker " + name_ + ": input " + seq + " (partition " + std::to_string(p.index) +
             ") to the dead letters: " + reason);
  }

  // Scores what has its model known; the lease must be held (a worker that
  // was paused past its lease finds out here, before it writes).
  bool score(Partition& p) {
    if (p.pending.empty() || p.pending.front().sequence > feed_->through()) return false;
    if (!p.lease.held()) return false;
    std::size_t n = 0;
    while (!p.pending.empty() && p.pending.front().sequence <= feed_->through()) {
      const Pending& item = p.pending.front();
      const ModelFeed::Entry& entry = feed_->at(item.sequence);
      const redflag::RiskDecision decision = scorer_.decide(item.observation, entry.model, entry.decider);
      const Verdict verdict =
          scorer_.verdict(item.transaction_id, item.observation, entry.model, entry.decider, decision);
      line_.clear();
      append_json(line_, verdict);
      const std::string seq = std::to_string(item.sequence);
      publisher_->publish(nats::make_message(Layout::verdict_subject(p.index), line_,
                                             {{"Nats-Msg-Id", "v" + seq}, {"Redflag-Seq", seq}}));
      p.last_scored = item.sequence;
      model_version_ = entry.model ? entry.model->version : 0;
      p.pending.pop_front();
      ++n;
    }
    verdicts_ += n;
    return n > 0;
  }

  // Checkpoints and releases, once the partition's pending inputs are
  // scored and every publish so far is stored.
  bool settle(Partition& p) {
    if (!p.state) {
      if (p.intent == Intent::release) return release_record(p, p.lease.record().checkpoints);
      return false;
    }
    if (p.intent == Intent::none && p.since_checkpoint > 0 &&
        (p.since_checkpoint >= options_.checkpoint_every ||
         Clock::now() - p.checkpoint_time >= options_.checkpoint_interval)) {
      p.intent = Intent::checkpoint;
    }
    if (p.intent == Intent::none || !p.pending.empty()) return false;
    if (!p.lease.held()) return false;
    if (!publisher_->flush(milliseconds(100))) return false;
    std::vector<CheckpointRef> list = p.checkpoints;
    const std::uint64_t sequence = p.state->position().sequence;
    if (sequence != p.checkpoint_sequence || list.empty()) {
      std::ostringstream out(std::ios::binary);
      redflag::save(*p.state, out);
      const std::string bytes = std::move(out).str();
      try {
        const std::string subject = Layout::checkpoint_subject(p.index);
        const BlobRef blob = write_blob(
            *client_, bytes, [&](std::size_t) { return subject; }, milliseconds(1'000));
        list.insert(list.begin(), CheckpointRef{sequence, blob});
        if (list.size() > 2) list.resize(2);
      } catch (const nats::nats_error& failure) {
        log_line("worker " + name_ + ": partition " + std::to_string(p.index) +
                 ": checkpoint not written yet: " + failure.what());
        return false;
      }
    }
    if (p.intent == Intent::release) return release_record(p, list);
    const auto result = p.lease.append(ControlRecord{"checkpoint", "", list});
    if (result == Lease::Append::lost) {
      drop(p, "its lease was taken over (the checkpoint record found another record)");
      return true;
    }
    if (result == Lease::Append::unreachable) return false;
    checkpointed(p, std::move(list), sequence);
    return true;
  }

  bool release_record(Partition& p, std::vector<CheckpointRef> list) {
    const auto result = p.lease.append(ControlRecord{"release", "", list});
    if (result == Lease::Append::unreachable) return false;
    if (result == Lease::Append::appended) {
      if (p.state) checkpointed(p, std::move(list), p.state->position().sequence);
      drop(p, "released");
    } else {
      drop(p, "its lease was taken over (the release found another record)");
    }
    return true;
  }

  void checkpointed(Partition& p, std::vector<CheckpointRef> list, std::uint64_t sequence) {
    p.checkpoints = std::move(list);
    p.checkpoint_sequence = sequence;
    p.checkpoint_time = Clock::now();
    p.since_checkpoint = 0;
    if (p.intent == Intent::checkpoint) p.intent = Intent::none;
    ++checkpoints_written_;
    // Chunks older than the oldest checkpoint kept are no longer needed.
    std::uint64_t oldest = std::numeric_limits<std::uint64_t>::max();
    for (const CheckpointRef& c : p.checkpoints) {
      for (const std::uint64_t s : c.blob.chunks) oldest = std::min(oldest, s);
    }
    // (Only above 1: nats-server 2.9 takes a subject purge "below 1" for "all".)
    if (oldest != std::numeric_limits<std::uint64_t>::max() && oldest > 1) {
      try {
        client_->purge(Layout::checkpoint_stream, Layout::checkpoint_subject(p.index), oldest);
      } catch (const nats::nats_error&) {
        // purged with the next checkpoint
      }
    }
  }

  // Heartbeats out and in.
  void membership() {
    const auto now = Clock::now();
    if (now - last_heartbeat_ >= milliseconds(1'000)) {
      last_heartbeat_ = now;
      const std::string beat = nlohmann::json{{"id", incarnation_}, {"owned", owned_.size()}}.dump();
      (void)natsConnection_Publish(client_->connection(), Layout::heartbeat_subject, beat.data(),
                                   static_cast<int>(beat.size()));
    }
    for (int i = 0; i < 1000; ++i) {
      natsMsg* raw = nullptr;
      if (natsSubscription_NextMsg(&raw, heartbeats_.get(), 0) != NATS_OK) break;
      const nats::MsgPtr msg(raw);
      try {
        const nlohmann::json beat = nlohmann::json::parse(nats::data_of(msg.get()));
        members_[beat.at("id").get<std::string>()] = {now, beat.at("owned").get<std::size_t>()};
      } catch (const std::exception&) {
        // not a heartbeat of this program
      }
    }
    members_[incarnation_] = {now, owned_.size()};
    std::erase_if(members_, [&](const auto& m) { return now - m.second.heard > alive_window(); });
  }

  [[nodiscard]] milliseconds alive_window() const { return std::min(milliseconds(3'000), options_.member.lease); }

  [[nodiscard]] std::size_t target() const {
    const std::size_t n = std::max<std::size_t>(1, members_.size());
    return (options_.member.layout.partitions + n - 1) / n;
  }

  // Claims free partitions up to the target; releases one beyond it while
  // another worker holds fewer.
  void rebalance() {
    const auto now = Clock::now();
    if (now - started_ < milliseconds(2'500) || now - last_scan_ < milliseconds(1'000)) return;
    last_scan_ = now;
    const std::size_t want = target();
    for (std::uint32_t k = 0; k < options_.member.layout.partitions; ++k) {
      // Each worker starts its scan elsewhere, so that claims rarely collide.
      const std::uint32_t index =
          static_cast<std::uint32_t>((k + std::hash<std::string>{}(incarnation_)) % options_.member.layout.partitions);
      if (owned_.contains(index)) continue;
      try {
        const LeaseWatch::Found found =
            watch_->look(*client_, Layout::control_stream(index), Layout::control_subject(index));
        if (!found.free || found.sequence == 0 || owned_.size() >= want) continue;
        auto p = std::make_unique<Partition>(
            index, Lease(*client_, Layout::control_stream(index), Layout::control_subject(index), incarnation_,
                         options_.member.lease));
        if (p->lease.claim(found.sequence, ControlRecord{"claim", "", found.record.checkpoints})) {
          log_line("worker " + name_ + ": partition " + std::to_string(index) + " claimed (previous record: " +
                   found.record.type + (found.record.owner.empty() ? "" : " by " + found.record.owner) + ")");
          owned_.emplace(index, std::move(p));
        }
      } catch (const nats::nats_error&) {
        // that control stream has no leader right now
      }
    }
    if (owned_.size() > want) {
      const bool releasing =
          std::any_of(owned_.begin(), owned_.end(), [](const auto& o) { return o.second->intent == Intent::release; });
      const bool someone_short =
          std::any_of(members_.begin(), members_.end(), [&](const auto& m) { return m.second.owned < want; });
      if (!releasing && someone_short) {
        Partition& p = *owned_.rbegin()->second;
        p.intent = Intent::release;
        log_line("worker " + name_ + ": releasing partition " + std::to_string(p.index) + " (holds " +
                 std::to_string(owned_.size()) + ", target " + std::to_string(want) + ")");
      }
    }
  }

  [[nodiscard]] bool caught_up() const {
    return std::all_of(owned_.begin(), owned_.end(), [](const auto& o) {
      const Partition& p = *o.second;
      return p.state && p.pending.empty() && p.reader && p.reader->pending() == 0;
    });
  }

  void status() {
    if (options_.member.status_interval.count() <= 0 || Clock::now() - last_status_ < options_.member.status_interval)
      return;
    const double elapsed = seconds_since(last_status_);
    last_status_ = Clock::now();
    nlohmann::json partitions = nlohmann::json::array();
    for (const auto& [index, p] : owned_) {
      nlohmann::json entry = {{"partition", index}};
      if (p->state) {
        entry["position"] = p->state->position().sequence;
        entry["lag"] = (p->reader ? p->reader->pending() : 0) + p->pending.size();
        entry["waiting_for_model"] = p->pending.size();
        entry["checkpoint"] = p->checkpoint_sequence;
        entry["checkpoint_age_s"] = std::round(seconds_since(p->checkpoint_time) * 10) / 10;
      } else {
        entry["restoring"] = true;
      }
      entry["lease_held"] = p->lease.held();
      partitions.push_back(entry);
    }
    const nlohmann::json line = {
        {"worker", name_},
        {"uptime_s", std::round(seconds_since(started_) * 10) / 10},
        {"partitions", partitions},
        {"transactions_per_s", std::round(static_cast<double>(verdicts_ - verdicts_at_status_) / elapsed)},
        {"verdicts", verdicts_},
        {"dead_letters", dead_letters_},
        {"checkpoints", checkpoints_written_},
        {"model_version", model_version_},
        {"model_through", feed_->through()},
        {"models_refused", feed_->refused()},
        {"workers_alive", members_.size()},
        {"target_partitions", target()},
        {"publishes_retried", publisher_->retried()}};
    verdicts_at_status_ = verdicts_;
    log_line(line.dump());
  }

  struct Member {
    Clock::time_point heard;
    std::size_t owned = 0;
  };

  WorkerOptions options_;
  MonitorParams params_;
  TransactionReader reader_;
  TransactionObserver observer_;
  Scorer scorer_;
  std::string name_, incarnation_;
  std::unique_ptr<nats::Client> client_;
  std::unique_ptr<nats::AsyncPublisher> publisher_;
  std::unique_ptr<ModelFeed> feed_;
  std::unique_ptr<LeaseWatch> watch_;
  nats::SubscriptionPtr heartbeats_;
  std::map<std::uint32_t, std::unique_ptr<Partition>> owned_;
  std::map<std::string, Member> members_;
  std::vector<nats::StreamMessage> messages_;
  std::vector<ObservationEntry> entries_;
  std::string line_;
  Clock::time_point started_{}, last_work_{}, last_status_{}, last_heartbeat_{}, last_scan_{};
  std::uint64_t verdicts_ = 0, verdicts_at_status_ = 0, dead_letters_ = 0, checkpoints_written_ = 0;
  std::uint64_t model_version_ = 0;
};

}  // namespace transactions_example::cluster
