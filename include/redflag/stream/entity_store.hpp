#pragma once

// EntityStore: per-entity behaviour state (user, card, account) for
// real-time scoring, in bounded memory, safe to update from many threads.
//
// observe(event, visit) is the one update path, and it fixes the order that
// scoring needs: visit(before) is called with the entity's state *before*
// the event (so features compare the event with the entity's history), and
// only then is the event applied. Both happen under the lock of the entity's
// shard, so the state a visitor sees is exactly the one the event updates.
//
//   store.observe(txn, TransactionEntity{}, [&](const TransactionContext& context) {
//     features.write_row(context, row);     // context: the record, its event, the state before
//   });
//
// observe_batch(events, results, visit) does the same for a span of events,
// with the same results, prefetching later events' state meanwhile.
//
// Sharding: entities are spread over `shards` independent shards by a hash
// of their id; each shard has its own mutex, index and LRU list, so threads
// updating different entities rarely wait for each other. Events of one
// entity are serialised by its shard's lock.
//
// Memory is bounded two ways (see docs/entity-state.md):
//  - capacity: each shard holds at most max_entities / shards entities; a
//    new entity in a full shard evicts that shard's least recently updated
//    entity;
//  - idle TTL: an entity whose last event is more than idle_ttl_ms before its
//    shard's watermark (the latest event time the shard has seen) is evicted,
//    two at most per observe() from the LRU tail, and all at once by
//    evict_idle().
//
// Event time and lateness: an event more than allowed_lateness_ms before the
// entity's last event is not applied and observe() returns
// ObserveStatus::late (the visitor still sees the current state, so the
// caller can still score it); within the lateness it is applied in time
// order. An event more than max_future_ms after the latest event time the
// store has seen (tracked store-wide, to the second), or
// with an empty id, a non-finite value or an hour or weekday out of range,
// is rejected with data_error before anything changes.
//
// Snapshot and restore: the store is a SerializableModel, so
// redflag::save(store, path) and redflag::load<EntityStore>(path) write and
// read it through the checked envelope; the restored store holds the same
// entities, states, LRU order and watermarks. Take snapshots while no thread
// updates the store (save locks one shard at a time, so a snapshot taken
// during updates is consistent per shard only).

#include <redflag/core/error.hpp>
#include <redflag/core/schema.hpp>
#include <redflag/stream/behaviour_profile.hpp>
#include <redflag/stream/detail/sharded_lru_map.hpp>
#include <redflag/stream/entity.hpp>

#include <cereal/cereal.hpp>
#include <cereal/types/string.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace redflag {

struct EntityStoreParams {
  std::size_t max_entities = 1'000'000;
  std::size_t shards = 16;
  // 35 days: an entity quiet for longer than a monthly billing cycle has no
  // behaviour left worth comparing against.
  std::int64_t idle_ttl_ms = 35LL * 24 * 3600 * 1000;
  // Five minutes: the usual delivery delay of card-network events.
  std::int64_t allowed_lateness_ms = 5LL * 60 * 1000;
  // One day: anything further ahead of the data is a broken clock.
  std::int64_t max_future_ms = 24LL * 3600 * 1000;
  // Recent events kept for window aggregates (also capped at
  // EntityState::window_capacity events).
  std::int64_t window_horizon_ms = 3600LL * 1000;
  std::uint32_t sketch_k = KllSketch::default_k;

  friend bool operator==(const EntityStoreParams&, const EntityStoreParams&) = default;
};

enum class ObserveStatus : std::uint8_t {
  applied,  // the event updated the entity's state
  late,     // older than the allowed lateness: reported, state unchanged
};

struct ObserveResult {
  ObserveStatus status = ObserveStatus::applied;
  bool new_entity = false;  // the entity had no state before this event
  std::size_t evicted = 0;  // entities evicted to make room or by TTL
};

class EntityStore {
  // What the store keeps per shard beside the entities, under the shard's lock.
  struct ShardClock {
    std::int64_t watermark = 0;  // the latest event time the shard has seen
    bool has_events = false;
  };
  using Map = detail::ShardedLruMap<EntityState, ShardClock>;
  using Shard = Map::Shard;
  using Link = Map::Link;

 public:
  using scalar_type = double;
  static constexpr std::string_view model_type = "EntityStore";
  static constexpr std::uint32_t format_version = 1;

  EntityStore() : EntityStore(EntityStoreParams{}) {}
  explicit EntityStore(const EntityStoreParams& params) : params_(params) {
    validate(params_, "EntityStore::EntityStore");
    make_shards();
  }

  EntityStore(EntityStore&&) noexcept = default;
  EntityStore& operator=(EntityStore&&) noexcept = default;

  [[nodiscard]] const EntityStoreParams& params() const { return params_; }
  // The store has no input columns; the empty schema satisfies SerializableModel.
  [[nodiscard]] const Schema& schema() const { return schema_; }

  // Validates `event`, calls visit(const EntityState& before), then applies
  // the event unless it is late. If visit throws, the state is unchanged
  // (an entity created for this event is removed again).
  template <class Visitor>
    requires std::is_invocable_v<Visitor&, const EntityState&> ObserveResult observe(const EntityEvent& event,
                                                                                     Visitor&& visit) {
      return observe_hashed(event, Map::hash(event.entity), visit);
    }

  ObserveResult observe(const EntityEvent& event) {
    return observe(event, [](const EntityState&) {});
  }

  // observe() for any record a host has: `description` (an
  // EntityDescription, stream/entity.hpp) says which fields feed the state,
  // and visit(const EntityContext<Record>&) sees the record, its event and
  // the entity's state before it.
  template <class Record, EntityDescription<Record> Description, class Visitor>
    requires std::is_invocable_v < Visitor&, const EntityContext<Record>
  & > ObserveResult observe(const Record& record, const Description& description, Visitor&& visit) {
    const auto& key = description.key(record);  // a key returned by value lives until the end of this call
    const EntityKeyText text(key);
    const EntityEvent event = make_entity_event(description, record, text.view());
    return observe(event, [&](const EntityState& before) { visit(EntityContext<Record>{record, event, before}); });
  }

  // observe() for events[0], events[1], ... in order, with visit(i, before)
  // and results[i] (results: empty or one per event) for events[i]: the same
  // visits, results and states as observe() one by one, but the cache misses
  // of later events are prefetched while event i is applied. If event k is
  // rejected, events before k stay applied, the data_error names k, later
  // events are not looked at; if visit throws at k, k is undone as in observe().
  template <class Visitor>
    requires std::is_invocable_v<Visitor&, std::size_t, const EntityState&>
  void observe_batch(std::span<const EntityEvent> events, std::span<ObserveResult> results, Visitor&& visit) {
    if (!results.empty() && results.size() != events.size()) {
      detail::raise<invalid_argument>("EntityStore::observe_batch", "results must be empty or hold one per event");
    }
    // While event i is applied: event i + 6's table entry, i + 3's slot, i + 1's
    // sketch buffer, each stage finding the link it reads already in cache.
    constexpr std::size_t table_ahead = 6, slot_ahead = 3, sketch_ahead = 1, ring = 8;
    const std::size_t n = events.size();
    std::array<std::uint64_t, ring> hashes{};  // computed once per event
    auto stage = [&](std::size_t j, Link link) {
      if (j >= n) return;
      if (link == Link::table_entry) hashes[j % ring] = Map::hash(events[j].entity);
      map_.prefetch(hashes[j % ring], link,
                    [](const EntityState& state) { return std::as_bytes(state.profile.value_sketch().items()); });
    };
    for (std::size_t j = 0; j < table_ahead; ++j) stage(j, Link::table_entry);
    for (std::size_t j = 0; j < slot_ahead; ++j) stage(j, Link::slot);
    for (std::size_t j = 0; j < sketch_ahead; ++j) stage(j, Link::value_and_neighbours);
    for (std::size_t i = 0; i < n; ++i) {
      stage(i + table_ahead, Link::table_entry);
      stage(i + slot_ahead, Link::slot);
      stage(i + sketch_ahead, Link::value_and_neighbours);
      auto visit_i = [&](const EntityState& before) { visit(i, before); };
      const ObserveResult result = observe_hashed(events[i], hashes[i % ring], visit_i, i);
      if (!results.empty()) results[i] = result;
    }
  }

  template <class Visitor>
    requires std::is_invocable_v<Visitor&, std::size_t, const EntityState&>
  void observe_batch(std::span<const EntityEvent> events, Visitor&& visit) {
    observe_batch(events, std::span<ObserveResult>(), visit);
  }

  // A copy of the entity's state, if the store holds it.
  [[nodiscard]] std::optional<EntityState> find(std::string_view entity) const {
    const std::uint64_t hash = Map::hash(entity);
    const Shard& shard = map_.shard(hash);
    std::lock_guard lock(shard.mutex);
    const std::uint32_t found = shard.find(hash, entity);
    if (found == none) return std::nullopt;
    return shard.slots[found].value;
  }

  [[nodiscard]] bool contains(std::string_view entity) const { return find(entity).has_value(); }

  [[nodiscard]] std::size_t size() const {
    std::size_t total = 0;
    for (std::size_t s = 0; s < map_.shard_count(); ++s) {
      const Shard& shard = map_.shard_at(s);
      std::lock_guard lock(shard.mutex);
      total += shard.size();
    }
    return total;
  }

  // Evicts every entity whose last event is more than idle_ttl_ms before
  // now_ms. Returns how many were evicted.
  std::size_t evict_idle(std::int64_t now_ms) {
    std::size_t evicted = 0;
    // Saturates instead of overflowing for a now_ms near the int64 minimum.
    const std::int64_t cutoff = now_ms < std::numeric_limits<std::int64_t>::min() + params_.idle_ttl_ms
                                    ? std::numeric_limits<std::int64_t>::min()
                                    : now_ms - params_.idle_ttl_ms;
    for (std::size_t s = 0; s < map_.shard_count(); ++s) {
      Shard& shard = map_.shard_at(s);
      std::lock_guard lock(shard.mutex);
      std::uint32_t slot = shard.lru_head;
      while (slot != none) {
        const std::uint32_t next = shard.slots[slot].next;
        if (shard.slots[slot].value.profile.last_time_ms() < cutoff) {
          shard.erase(slot);
          ++evicted;
        }
        slot = next;
      }
    }
    return evicted;
  }

  // Bytes held by the store: slots (free ones included), the id tables,
  // entity ids longer than the small-string buffer, and the quantile
  // sketches' buffers.
  [[nodiscard]] std::size_t memory_bytes() const {
    return sizeof(EntityStore) +
           map_.memory_bytes([](const EntityState& state) { return state.profile.value_sketch().heap_bytes(); });
  }

  template <class Archive>
  void serialize(Archive& archive, std::uint32_t /*version*/) {
    if constexpr (Archive::is_loading::value) {
      load_from(archive);
    } else {
      save_to(archive);
    }
  }

 private:
  static constexpr std::uint32_t none = Map::none;

  static constexpr std::int64_t no_events = std::numeric_limits<std::int64_t>::min();
  // The store-wide latest event time moves in steps of at least a second, so
  // threads rarely write the shared cache line; the max_future_ms check only
  // needs it to within that second.
  static constexpr std::int64_t latest_granularity_ms = 1'000;

  void advance_latest(std::int64_t latest, std::int64_t time_ms) {
    while ((latest == no_events || time_ms - latest >= latest_granularity_ms) &&
           !latest_ms_->compare_exchange_weak(latest, time_ms, std::memory_order_relaxed)) {
    }
  }

  // observe() with the id's hash computed (once per event in a batch);
  // `index`: the event's position in a batch, named in errors, or not_batched.
  template <class Visitor>
  ObserveResult observe_hashed(const EntityEvent& event, std::uint64_t hash, Visitor& visit,
                               std::size_t index = not_batched) {
    validate(event, index);
    Shard& shard = map_.shard(hash);
    const std::int64_t latest = latest_ms_->load(std::memory_order_relaxed);
    if (latest != no_events && event.time_ms > latest && event.time_ms - latest > params_.max_future_ms) {
      detail::raise<data_error>(where(index),
                                subject(event, index) + ": event time " + std::to_string(event.time_ms) +
                                    " ms is more than max_future_ms = " + std::to_string(params_.max_future_ms) +
                                    " after the latest event (" + std::to_string(latest) + " ms)");
    }
    std::lock_guard lock(shard.mutex);
    ObserveResult result;
    const std::uint32_t found = shard.find(hash, event.entity);
    if (found == none) {
      if (shard.data.has_events && event.time_ms < shard.data.watermark - params_.idle_ttl_ms) {
        // A new entity this far in the past would be evicted by TTL at once.
        visit(static_cast<const EntityState&>(empty_state_));
        result.status = ObserveStatus::late;
        result.new_entity = true;
        return result;
      }
      if (shard.size() >= capacity_per_shard_) {
        shard.erase(shard.lru_tail);
        ++result.evicted;
      }
      const std::uint32_t slot =
          shard.insert(hash, event.entity, EntityState{.profile = BehaviourProfile(params_.sketch_k), .recent = {}});
      result.new_entity = true;
      try {
        visit(static_cast<const EntityState&>(shard.slots[slot].value));
      } catch (...) {
        shard.erase(slot);
        throw;
      }
      apply(shard, slot, event);
      result.evicted += evict_expired(shard, slot);
      return result;
    }
    const std::uint32_t slot = found;
    EntityState& state = shard.slots[slot].value;
    visit(static_cast<const EntityState&>(state));
    if (event.time_ms < state.profile.last_time_ms() - params_.allowed_lateness_ms) {
      result.status = ObserveStatus::late;
      return result;
    }
    apply(shard, slot, event);
    shard.touch(slot);
    result.evicted += evict_expired(shard, slot);
    return result;
  }

  static void validate(const EntityStoreParams& p, std::string_view where) {
    auto fail = [&](const std::string& what) { detail::raise<invalid_argument>(where, what); };
    if (p.shards == 0 || p.shards > 65536) fail("shards must be in [1, 65536], got " + std::to_string(p.shards));
    if (p.max_entities < p.shards || p.max_entities > (std::size_t{1} << 31)) {
      fail("max_entities must be in [shards, 2^31], got " + std::to_string(p.max_entities));
    }
    if (p.idle_ttl_ms <= 0) fail("idle_ttl_ms must be positive");
    if (p.allowed_lateness_ms < 0) fail("allowed_lateness_ms must be >= 0");
    if (p.max_future_ms < 0) fail("max_future_ms must be >= 0");
    if (p.window_horizon_ms <= 0) fail("window_horizon_ms must be positive");
    if (p.sketch_k < KllSketch::min_k || p.sketch_k > KllSketch::max_k) fail("sketch_k is out of range");
  }

  static constexpr std::size_t not_batched = std::numeric_limits<std::size_t>::max();

  static std::string_view where(std::size_t index) {
    return index == not_batched ? "EntityStore::observe" : "EntityStore::observe_batch";
  }

  // "entity 'id'", or "event 7 (entity 'id')" in a batch.
  static std::string subject(const EntityEvent& event, std::size_t index) {
    std::string entity = event.entity.empty() ? "empty entity id" : "entity '" + std::string(event.entity) + "'";
    return index == not_batched ? entity : "event " + std::to_string(index) + " (" + entity + ")";
  }

  static void validate(const EntityEvent& event, std::size_t index) {
    if (event.entity.empty()) detail::raise<data_error>(where(index), subject(event, index));
    auto fail = [&](const std::string& what) {
      detail::raise<data_error>(where(index), subject(event, index) + ": " + what);
    };
    // The sketch and the windows keep values as float.
    if (!(std::abs(event.value) <= static_cast<double>(std::numeric_limits<float>::max()))) {
      fail("value must be finite and within float range, got " + std::to_string(event.value));
    }
    if (event.time_ms < 0) fail("event time before 1970-01-01");
    if (event.time_ms > max_event_time_ms) fail("event time after 9999-12-31");
    if (event.local_hour < 0 || event.local_hour > 23) fail("local_hour must be in [0, 23]");
    if (event.local_weekday < 0 || event.local_weekday > 6) fail("local_weekday must be in [0, 6]");
  }

  void make_shards() {
    map_.reset(params_.shards);
    capacity_per_shard_ = params_.max_entities / params_.shards;
  }

  std::size_t evict_expired(Shard& shard, std::uint32_t current) {
    std::size_t evicted = 0;
    for (int i = 0; i < 2 && shard.lru_tail != none && shard.lru_tail != current; ++i) {
      const std::uint32_t tail = shard.lru_tail;
      if (shard.slots[tail].value.profile.last_time_ms() >= shard.data.watermark - params_.idle_ttl_ms) break;
      shard.erase(tail);
      ++evicted;
    }
    return evicted;
  }

  void apply(Shard& shard, std::uint32_t slot, const EntityEvent& event) {
    EntityState& state = shard.slots[slot].value;
    state.profile.update(event);
    state.recent.insert(to_window_event(event), params_.window_horizon_ms);
    advance_latest(latest_ms_->load(std::memory_order_relaxed), event.time_ms);
    ShardClock& clock = shard.data;
    if (!clock.has_events || event.time_ms > clock.watermark) clock.watermark = event.time_ms;
    clock.has_events = true;
  }

  template <class Archive>
  void save_to(Archive& archive) {
    archive(params_.max_entities, params_.shards, params_.idle_ttl_ms, params_.allowed_lateness_ms,
            params_.max_future_ms, params_.window_horizon_ms, params_.sketch_k);
    archive(static_cast<std::int64_t>(latest_ms_->load()));
    for (std::size_t s = 0; s < map_.shard_count(); ++s) {
      Shard& shard = map_.shard_at(s);
      std::lock_guard lock(shard.mutex);
      archive(shard.data.watermark, shard.data.has_events, static_cast<std::uint64_t>(shard.size()));
      // Most recently updated first, so the restored LRU order is the same.
      for (std::uint32_t slot = shard.lru_head; slot != none; slot = shard.slots[slot].next) {
        archive(shard.slots[slot].id, shard.slots[slot].value);
      }
    }
  }

  template <class Archive>
  void load_from(Archive& archive) {
    constexpr std::string_view where = "EntityStore::serialize";
    EntityStoreParams params;
    archive(params.max_entities, params.shards, params.idle_ttl_ms, params.allowed_lateness_ms, params.max_future_ms,
            params.window_horizon_ms, params.sketch_k);
    try {
      validate(params, where);
    } catch (const invalid_argument& failure) {
      throw serialization_error(failure.what());
    }
    params_ = params;
    make_shards();
    std::int64_t latest = no_events;
    archive(latest);
    if (latest != no_events && !valid_event_time(latest)) {
      detail::raise<serialization_error>(where, "latest event time " + std::to_string(latest) + " ms is out of range");
    }
    latest_ms_->store(latest);
    for (std::size_t s = 0; s < map_.shard_count(); ++s) {
      Shard& shard = map_.shard_at(s);
      ShardClock& clock = shard.data;
      std::uint64_t count = 0;
      archive(clock.watermark, clock.has_events, count);
      if (!valid_event_time(clock.watermark) || (!clock.has_events && (clock.watermark != 0 || count != 0))) {
        detail::raise<serialization_error>(where, "shard " + std::to_string(s) + " has a watermark of " +
                                                      std::to_string(clock.watermark) + " ms, out of range");
      }
      if (count > capacity_per_shard_) detail::raise<serialization_error>(where, "a shard holds too many entities");
      for (std::uint64_t i = 0; i < count; ++i) {
        std::string id;
        EntityState state;
        archive(id, state);
        const std::uint64_t hash = Map::hash(id);
        if (id.empty() || map_.shard_index(hash) != s || shard.find(hash, id) != none) {
          detail::raise<serialization_error>(where, "entity '" + id + "' is duplicated, empty or in the wrong shard");
        }
        shard.push_back(std::move(id), hash, std::move(state));
      }
    }
  }

  EntityStoreParams params_;
  std::size_t capacity_per_shard_ = 0;
  Map map_;
  // Behind a pointer so the store stays movable (redflag::load returns it by value).
  std::unique_ptr<std::atomic<std::int64_t>> latest_ms_ = std::make_unique<std::atomic<std::int64_t>>(no_events);
  Schema schema_;
  EntityState empty_state_;  // what a visitor sees for an entity that is not applied
};

}  // namespace redflag
