#pragma once

// redflag_transactions trainer: the one process (a leased role, so a
// standby can take over) that decides which model scores which input.
//
// The workers publish every input's Observation (FEAT) as soon as they have
// applied it to the user's state; the trainer reads them all, puts them back
// in input order (the input stream's sequences are contiguous across
// partitions, so it knows when it has every observation up to a point), and
// runs the single process's ModelSchedule over them: the same retraining
// points, the same training rows, the same RetrainPolicy and registry, the
// same swap points. It scores each observation itself (the rules and the
// model in force, no explanation) only to know whether it was blocked, which
// decides whether its row joins the training window.
//
// It publishes (MODEL) each promoted model — its bytes in chunks, then a
// manifest naming the input sequence it applies from — and, after that,
// marks: "every model applying at or before input sequence W is out". A
// worker scores input s once a mark covers s. A trainer that takes over
// replays the observations from the first, so it retrains the same models
// (training is deterministic); manifests already out are not published again.

#include "cluster.hpp"
#include "monitor.hpp"
#include "nats_client.hpp"

#include <redflag/core/serialization.hpp>

#include <unistd.h>

#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace transactions_example::cluster {

struct TrainerOptions {
  MemberOptions member;
  int batch = 64;  // FEAT messages per fetch (each holds a worker's batch of observations)
};

class Trainer {
 public:
  Trainer(TrainerOptions options, redflag::RulesEngine rules, MonitorParams params = {})
      : options_(std::move(options)),
        rules_(std::move(rules)),
        params_(std::move(params)),
        name_(options_.member.id.empty() ? "trainer-" + std::to_string(::getpid()) : options_.member.id),
        incarnation_(name_ + "/" + std::to_string(::getpid()) + "/" +
                     std::to_string(Clock::now().time_since_epoch().count() % 1'000'000'007)) {}

  int run() {
    client_ = std::make_unique<nats::Client>(options_.member.servers, name_);
    setup(*client_, options_.member.layout, options_.member.replicas, options_.member.duplicates);
    LeaseWatch watch(options_.member.lease);
    log_line("trainer " + name_ + ": started (" + incarnation_ + "), waiting for the trainer lease");
    started_ = Clock::now();
    last_work_ = started_;
    while (!stop_requested()) {
      try {
        const auto found = watch.look(*client_, Layout::trainer_control_stream, Layout::trainer_control_subject);
        if (found.free && found.sequence != 0) {
          Lease lease(*client_, Layout::trainer_control_stream, Layout::trainer_control_subject, incarnation_,
                      options_.member.lease);
          if (lease.claim(found.sequence, ControlRecord{})) {
            log_line("trainer " + name_ + ": lease claimed; replaying the observations from the first");
            session(lease);
            if (stop_requested()) break;
          }
        }
      } catch (const nats::nats_error&) {
        // the control stream has no leader right now
      }
      std::this_thread::sleep_for(milliseconds(500));
    }
    log_line("trainer " + name_ + ": stopped");
    return 0;
  }

 private:
  struct lease_lost : std::runtime_error {
    using std::runtime_error::runtime_error;
  };

  // Holds the lease: true while it does, renewing when due.
  bool keep(Lease& lease) {
    if (lease.renewal_due() || !lease.held()) {
      if (Clock::now() >= renew_retry_) {
        const auto result = lease.append(ControlRecord{"renew", "", {}});
        if (result == Lease::Append::lost) throw lease_lost("the trainer lease was taken over");
        if (result == Lease::Append::unreachable) renew_retry_ = Clock::now() + milliseconds(200);
      }
    }
    return lease.held();
  }

  void session(Lease& lease) {
    const std::filesystem::path registry =
        std::filesystem::temp_directory_path() /
        ("redflag-trainer-" + std::to_string(::getpid()) + "-" + std::to_string(++sessions_));
    std::filesystem::remove_all(registry);
    try {
      ModelSchedule schedule(registry, params_);
      Scorer scorer(rules_);
      nats::PullReader reader(*client_, Layout::features_stream, "feat.>", 1);
      std::map<std::uint64_t, ObservationEntry> buffer;  // observations beyond `next`, by input sequence
      std::uint64_t next = 1, marked = 0, processed_at_status = 0;
      std::vector<nats::StreamMessage> messages;
      auto last_status = Clock::now();
      while (!stop_requested()) {
        if (!keep(lease)) {
          std::this_thread::sleep_for(milliseconds(50));
          continue;
        }
        messages.clear();
        reader.fetch(messages, options_.batch, milliseconds(5));
        for (const nats::StreamMessage& m : messages) {
          try {
            for (ObservationEntry& e : decode_observations(m.data)) {
              if (e.sequence < next) continue;
              const auto [it, inserted] = buffer.emplace(e.sequence, e);
              if (!inserted && (it->second.accepted != e.accepted || it->second.observation != e.observation)) {
                log_line("trainer " + name_ + ": two different observations of input " + std::to_string(e.sequence));
              }
            }
          } catch (const format_error& failure) {
            log_line("trainer " + name_ + ": FEAT message " + std::to_string(m.sequence) +
                     " ignored: " + failure.what());
          }
        }
        const std::uint64_t before = next;
        while (!buffer.empty() && buffer.begin()->first == next) {
          const ObservationEntry& e = buffer.begin()->second;
          if (e.accepted) {
            // A swap may wait for its training: let the workers score up to here first.
            if (schedule.swap_due(e.observation.timestamp_ms) && marked + 1 < next)
              marked = mark(lease, next - 1, marked);
            if (const auto promoted = schedule.advance(e.observation.timestamp_ms)) {
              publish_model(lease, schedule, *promoted, next);
            }
            const ModelInForce model = schedule.model();
            const redflag::RiskDecision decision = scorer.decide(e.observation, model, schedule.decider());
            schedule.record(e.observation, decision.recommendation == redflag::Recommendation::block);
          }
          buffer.erase(buffer.begin());
          ++next;
        }
        if (next - 1 > marked) marked = mark(lease, next - 1, marked);
        const bool worked = next != before || !messages.empty();
        if (worked) last_work_ = Clock::now();
        if (options_.member.status_interval.count() > 0 &&
            Clock::now() - last_status >= options_.member.status_interval) {
          const double elapsed = seconds_since(last_status);
          last_status = Clock::now();
          log_line(nlohmann::json{
              {"trainer", name_},
              {"through", next - 1},
              {"marked", marked},
              {"buffered", buffer.size()},
              {"observations_per_s", std::round(static_cast<double>(next - 1 - processed_at_status) / elapsed)},
              {"model_version", schedule.model_version()},
              {"models_published", published_},
              {"waited_for_training_s", std::round(schedule.waited_seconds() * 100) / 100}}
                       .dump());
          processed_at_status = next - 1;
        }
        if (!worked) {
          std::this_thread::sleep_for(milliseconds(2));
          if (options_.member.exit_when_idle > 0 && seconds_since(last_work_) > options_.member.exit_when_idle) {
            stop_requested() = true;
          }
        }
      }
      (void)lease.append(ControlRecord{"release", "", {}});
    } catch (const lease_lost& failure) {
      log_line("trainer " + name_ + ": " + failure.what() + "; standing by");
    }
    std::error_code ignored;
    std::filesystem::remove_all(registry, ignored);
  }

  // Publishes the mark `through` (once the lease is held); returns the mark now out.
  std::uint64_t mark(Lease& lease, std::uint64_t through, std::uint64_t marked) {
    if (!keep(lease)) return marked;
    const auto result = client_->publish(Layout::model_mark_subject, encode_mark(through), {}, 0, 1000);
    return result.status == nats::PublishResult::Status::stored ? through : marked;
  }

  // Publishes the promoted model and its manifest, before any mark past
  // `apply_from`; retried until stored (the lease renewed meanwhile).
  void publish_model(Lease& lease, const ModelSchedule& schedule, std::uint64_t version, std::uint64_t apply_from) {
    const std::string head_subject = Layout::model_head_prefix + std::to_string(version);
    for (int attempt = 0;; ++attempt) {
      if (stop_requested()) throw lease_lost("stopping");
      try {
        if (keep(lease)) {
          if (const nats::MsgPtr existing = client_->last_message(Layout::model_stream, head_subject)) {
            const ModelHead head = decode_head(nats::data_of(existing.get()));
            if (head.apply_from == apply_from) return;  // out already (published before a takeover)
          }
          std::ostringstream out(std::ios::binary);
          redflag::save(schedule.model()->model, out);
          const std::string bytes = std::move(out).str();
          const std::string id = "m" + std::to_string(version);
          const BlobRef blob = write_blob(
              *client_, bytes, [&](std::size_t i) { return Layout::model_data_subject(version, i); },
              milliseconds(2'000), id);
          const auto result = client_->publish_retrying(head_subject, encode(ModelHead{version, apply_from, blob}),
                                                        "h" + std::to_string(version), milliseconds(2'000));
          if (result.status == nats::PublishResult::Status::stored) {
            ++published_;
            log_line("trainer " + name_ + ": model v" + std::to_string(version) + " published (" +
                     std::to_string(bytes.size()) + " bytes), applies from input sequence " +
                     std::to_string(apply_from));
            return;
          }
        }
      } catch (const nats::nats_error& failure) {
        if (attempt % 10 == 0) log_line("trainer " + name_ + ": model not published yet: " + failure.what());
      }
      std::this_thread::sleep_for(milliseconds(200));
    }
  }

  TrainerOptions options_;
  redflag::RulesEngine rules_;
  MonitorParams params_;
  std::string name_, incarnation_;
  std::unique_ptr<nats::Client> client_;
  Clock::time_point started_{}, last_work_{}, renew_retry_{};
  std::uint64_t published_ = 0;
  int sessions_ = 0;
};

}  // namespace transactions_example::cluster
