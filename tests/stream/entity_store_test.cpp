#include <redflag/core/random.hpp>
#include <redflag/core/serialization.hpp>
#include <redflag/stream/entity_store.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <span>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

using redflag::EntityEvent;
using redflag::EntityState;
using redflag::EntityStore;
using redflag::EntityStoreParams;
using redflag::ObserveStatus;

static_assert(redflag::SerializableModel<EntityStore>);

namespace {

constexpr std::int64_t minute = 60'000;

EntityEvent event(std::string_view entity, std::int64_t time_ms, double amount, std::uint64_t city = 1,
                  std::uint64_t merchant = 1) {
  EntityEvent e;
  e.entity = entity;
  e.time_ms = time_ms;
  e.value = amount;
  e.place = city;
  e.counterparty = merchant;
  e.local_hour = static_cast<int>((time_ms / 3'600'000) % 24);
  e.local_weekday = static_cast<int>((time_ms / 86'400'000 + 3) % 7);
  return e;
}

}  // namespace

TEST_CASE("EntityStore shows the visitor the state before the event, then applies it") {
  EntityStore store;
  std::vector<std::uint64_t> counts_seen;
  std::vector<double> means_seen;
  for (int i = 0; i < 3; ++i) {
    const auto result =
        store.observe(event("alice", 1'000'000 + i * minute, 10.0 * (i + 1)), [&](const EntityState& before) {
          counts_seen.push_back(before.profile.count());
          means_seen.push_back(before.profile.mean_value());
        });
    CHECK(result.status == ObserveStatus::applied);
    CHECK(result.new_entity == (i == 0));
  }
  CHECK(counts_seen == std::vector<std::uint64_t>{0, 1, 2});
  CHECK(means_seen == std::vector<double>{0.0, 10.0, 15.0});
  const auto state = store.find("alice");
  REQUIRE(state.has_value());
  CHECK(state->profile.count() == 3);
  CHECK(state->profile.mean_value() == doctest::Approx(20.0));
  CHECK(state->profile.variance_value() == doctest::Approx(100.0));
  CHECK(state->window(1'000'000 + 2 * minute, minute + 1).count == 2);
  CHECK_FALSE(store.contains("bob"));
}

TEST_CASE("EntityStore applies events within the allowed lateness in time order and reports later ones") {
  EntityStoreParams params;
  params.allowed_lateness_ms = 5 * minute;
  EntityStore in_order(params);
  EntityStore shuffled(params);
  const std::int64_t t0 = 10'000'000;
  for (int i : {0, 1, 2, 3}) in_order.observe(event("a", t0 + i * minute, 1.0 + i, 10 + i));
  for (int i : {0, 2, 3, 1}) {
    CHECK(shuffled.observe(event("a", t0 + i * minute, 1.0 + i, 10 + i)).status == ObserveStatus::applied);
  }
  // Same aggregates (the sketch's buffers may hold items in another order).
  const EntityState x = *in_order.find("a");
  const EntityState y = *shuffled.find("a");
  CHECK(x.recent == y.recent);
  CHECK(x.profile.count() == y.profile.count());
  CHECK(x.profile.mean_value() == doctest::Approx(y.profile.mean_value()));
  CHECK(x.profile.variance_value() == doctest::Approx(y.profile.variance_value()));
  CHECK(x.profile.value_rank(2.5) == y.profile.value_rank(2.5));
  CHECK(x.profile.hour_histogram() == y.profile.hour_histogram());
  for (std::uint64_t city = 10; city < 14; ++city)
    CHECK(x.profile.places().count(city) == y.profile.places().count(city));
  CHECK(x.profile.first_time_ms() == y.profile.first_time_ms());
  CHECK(x.profile.last_time_ms() == y.profile.last_time_ms());

  // 10 minutes before the last event: reported, not applied.
  const EntityState before = *shuffled.find("a");
  bool visited = false;
  const auto late =
      shuffled.observe(event("a", t0 + 3 * minute - 10 * minute, 99.0), [&](const EntityState&) { visited = true; });
  CHECK(late.status == ObserveStatus::late);
  CHECK(visited);
  CHECK(*shuffled.find("a") == before);
}

TEST_CASE("EntityStore rejects bad events with data_error and leaves the state untouched") {
  EntityStore store;
  store.observe(event("a", 1'000'000, 5.0));
  store.observe(event("b", 1'000'000, 5.0));
  const EntityState a = *store.find("a");
  const double nan = std::numeric_limits<double>::quiet_NaN();
  CHECK_THROWS_AS(store.observe(event("", 1'000'000, 5.0)), redflag::data_error);
  CHECK_THROWS_AS(store.observe(event("a", 1'000'000, nan)), redflag::data_error);
  CHECK_THROWS_AS(store.observe(event("a", 1'000'000, std::numeric_limits<double>::infinity())), redflag::data_error);
  CHECK_THROWS_AS(store.observe(event("a", 1'000'000, 1e300)), redflag::data_error);  // beyond float
  CHECK_THROWS_AS(store.observe(event("a", -1, 5.0)), redflag::data_error);
  CHECK_THROWS_WITH_AS(store.observe(event("a", std::numeric_limits<std::int64_t>::max(), 5.0)),
                       doctest::Contains("event time after 9999-12-31"), redflag::data_error);
  auto bad_hour = event("a", 1'000'000, 5.0);
  bad_hour.local_hour = 24;
  CHECK_THROWS_AS(store.observe(bad_hour), redflag::data_error);
  // Two days ahead of everything the store has seen: a broken clock.
  CHECK_THROWS_WITH_AS(store.observe(event("a", 1'000'000 + 2 * 86'400'000LL, 5.0)), doctest::Contains("max_future_ms"),
                       redflag::data_error);
  CHECK_THROWS_AS(store.observe(event("new", 1'000'000 + 2 * 86'400'000LL, 5.0)), redflag::data_error);
  CHECK(*store.find("a") == a);
  CHECK(store.size() == 2);
  CHECK_FALSE(store.contains("new"));
}

TEST_CASE("EntityStore undoes a new entity when the visitor throws") {
  EntityStore store;
  CHECK_THROWS_AS(store.observe(event("a", 1'000'000, 5.0), [](const EntityState&) { throw std::runtime_error("x"); }),
                  std::runtime_error);
  CHECK(store.size() == 0);
  store.observe(event("a", 1'000'000, 5.0));
  CHECK(store.find("a")->profile.count() == 1);
}

TEST_CASE("EntityStore evicts the least recently updated entity of a full shard") {
  EntityStoreParams params;
  params.max_entities = 64;
  params.shards = 4;
  EntityStore store(params);
  std::size_t evicted = 0;
  for (int i = 0; i < 1000; ++i) {
    const std::string id = "user" + std::to_string(i);
    evicted += store.observe(event(id, 1'000'000 + i, 1.0)).evicted;
    // "user0" is kept alive by updating it every time.
    store.observe(event("user0", 1'000'000 + i, 1.0));
    CHECK(store.size() <= 64);
  }
  CHECK(evicted >= 1000 - 64);
  CHECK(store.contains("user0"));
  CHECK(store.contains("user999"));
  CHECK_FALSE(store.contains("user1"));
}

TEST_CASE("EntityStore's id table and LRU match a reference LRU under random traffic") {
  EntityStoreParams params;
  params.max_entities = 37;
  params.shards = 1;
  EntityStore store(params);
  std::vector<std::string> lru;  // most recent first
  redflag::Random random(99);
  for (int step = 0; step < 3'000; ++step) {
    const std::string id = "id" + std::to_string(random.uniform_int(120));
    store.observe(event(id, 1'000'000 + step, 1.0));
    lru.erase(std::remove(lru.begin(), lru.end(), id), lru.end());
    lru.insert(lru.begin(), id);
    if (lru.size() > 37) lru.pop_back();
    if (step % 97 == 0) {
      CHECK(store.size() == lru.size());
      for (int i = 0; i < 120; ++i) {
        const std::string probe = "id" + std::to_string(i);
        CHECK(store.contains(probe) == (std::find(lru.begin(), lru.end(), probe) != lru.end()));
      }
    }
  }
}

TEST_CASE("EntityStore evicts idle entities by TTL") {
  EntityStoreParams params;
  params.idle_ttl_ms = 10 * minute;
  params.shards = 1;
  EntityStore store(params);
  store.observe(event("idle", 0, 1.0));
  store.observe(event("busy", 0, 1.0));
  for (int i = 1; i <= 20; ++i) store.observe(event("busy", i * minute, 1.0));
  // The idle entity sat at the LRU tail and went as soon as it expired.
  CHECK_FALSE(store.contains("idle"));
  CHECK(store.contains("busy"));
  store.observe(event("other", 21 * minute, 1.0));
  CHECK(store.evict_idle(std::numeric_limits<std::int64_t>::min()) == 0);  // saturates, never overflows
  CHECK(store.evict_idle(40 * minute) == 2);
  CHECK(store.size() == 0);
  // A new entity older than the TTL before the watermark is late, not stored.
  EntityStore fresh(params);
  fresh.observe(event("x", 100 * minute, 1.0));
  CHECK(fresh.observe(event("y", 50 * minute, 1.0)).status == ObserveStatus::late);
  CHECK_FALSE(fresh.contains("y"));
}

TEST_CASE("EntityStore memory stays within the documented bytes per entity") {
  EntityStoreParams params;
  params.max_entities = 2'000;
  EntityStore store(params);
  // 30 events per entity for 4,000 entities: the capacity bound holds 2,000.
  for (int round = 0; round < 30; ++round) {
    for (int i = 0; i < 4'000; ++i) {
      store.observe(event("entity-" + std::to_string(i), 1'000'000 + round * minute + i, 1.0 + (i * 31 + round) % 97,
                          1 + i % 5, 1 + (round * 7 + i) % 13));
    }
  }
  CHECK(store.size() <= 2'000);
  const double per_entity = static_cast<double>(store.memory_bytes()) / static_cast<double>(store.size());
  MESSAGE("bytes per entity: " << per_entity);
  // sizeof(slot) + index node + bucket + a KLL sketch with k = 32 (at most
  // about 3k floats plus level vectors); docs/entity-state.md explains it.
  CHECK(per_entity < 1'500.0);
}

TEST_CASE("EntityStore snapshot and restore resume with identical state") {
  EntityStoreParams params;
  params.max_entities = 256;
  params.shards = 4;
  auto events = [](int from, int to) {
    std::vector<std::pair<std::string, int>> out;
    for (int i = from; i < to; ++i) out.emplace_back("u" + std::to_string((i * 7) % 300), i);
    return out;
  };
  EntityStore original(params);
  for (const auto& [id, i] : events(0, 2'000))
    original.observe(event(id, 1'000'000 + i * 1'000LL, 1.0 + i % 50, 1 + i % 3));
  for (const auto format : {redflag::Format::portable_binary, redflag::Format::json}) {
    std::stringstream file;
    redflag::save(original, file, format);
    EntityStore restored = redflag::load<EntityStore>(file);
    CHECK(restored.params() == original.params());
    CHECK(restored.size() == original.size());
    EntityStore reference(params);
    for (const auto& [id, i] : events(0, 2'000))
      reference.observe(event(id, 1'000'000 + i * 1'000LL, 1.0 + i % 50, 1 + i % 3));
    // Both continue with the same events, evictions included.
    for (const auto& [id, i] : events(2'000, 3'000)) {
      const auto e = event(id, 1'000'000 + i * 1'000LL, 1.0 + i % 50, 1 + i % 3);
      const auto a = reference.observe(e);
      const auto b = restored.observe(e);
      CHECK(a.evicted == b.evicted);
      CHECK(a.new_entity == b.new_entity);
    }
    for (int u = 0; u < 300; ++u) {
      const std::string id = "u" + std::to_string(u);
      CHECK(reference.find(id) == restored.find(id));
    }
  }
}

TEST_CASE("EntityStore load rejects a corrupted snapshot") {
  EntityStore store;
  store.observe(event("a", 1'000'000, 5.0));
  std::stringstream file;
  redflag::save(store, file);
  std::string bytes = file.str();
  bytes[bytes.size() - 5] ^= 0x5a;
  std::stringstream corrupted(bytes);
  CHECK_THROWS_AS(redflag::load<EntityStore>(corrupted), redflag::serialization_error);
}

// Regression: times were not range-checked on load, so a hostile snapshot's
// times overflowed in the next observe() and in the transaction features.
TEST_CASE("EntityStore load rejects event times out of range, in every field that holds one") {
  EntityStore store;
  store.observe(event("a", 1'234'567, 5.0));
  std::stringstream file;
  redflag::save(store, file, redflag::Format::json);
  const std::string text = file.str();
  // The latest time, the shard's watermark, the profile's first and last
  // times and the window's event: each edited alone.
  std::vector<std::size_t> places;
  for (std::size_t at = text.find("1234567"); at != std::string::npos; at = text.find("1234567", at + 1)) {
    places.push_back(at);
  }
  CHECK(places.size() == 5);
  for (const std::string hostile : {"-9223372036854775807", "9223372036854775807", "-1"}) {
    for (const std::size_t at : places) {
      CAPTURE(at);
      CAPTURE(hostile);
      std::stringstream edited(std::string(text).replace(at, 7, hostile));
      CHECK_THROWS_WITH_AS((void)redflag::load<EntityStore>(edited), doctest::Contains("out of range"),
                           redflag::serialization_error);
    }
  }
  std::stringstream intact(text);
  CHECK(redflag::load<EntityStore>(intact).contains("a"));
}

TEST_CASE("EntityStore takes concurrent updates of different entities") {
  EntityStoreParams params;
  params.shards = 8;
  EntityStore store(params);
  constexpr int threads = 4;
  constexpr int per_thread_entities = 50;
  constexpr int events_per_entity = 40;
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&store, t] {
      for (int k = 0; k < events_per_entity; ++k) {
        for (int e = 0; e < per_thread_entities; ++e) {
          const std::string id = "t" + std::to_string(t) + "-" + std::to_string(e);
          store.observe(event(id, 1'000'000 + k * 1'000LL, 2.0));
        }
      }
    });
  }
  // A reader alongside the writers (what a monitoring endpoint would do).
  std::size_t seen = 0;
  std::thread reader([&store, &seen] {
    for (int i = 0; i < 200; ++i) seen = std::max(seen, store.size() + (store.find("t0-0") ? 1 : 0));
  });
  for (auto& worker : workers) worker.join();
  reader.join();
  CHECK(seen <= threads * per_thread_entities + 1);
  CHECK(store.size() == threads * per_thread_entities);
  for (int t = 0; t < threads; ++t) {
    for (int e = 0; e < per_thread_entities; ++e) {
      const auto state = store.find("t" + std::to_string(t) + "-" + std::to_string(e));
      REQUIRE(state.has_value());
      CHECK(state->profile.count() == events_per_entity);
    }
  }
}

namespace {

// A stream over `entities` ids with repeats, out-of-order and late events,
// new entities and TTL gaps; ids[i] backs events[i].entity.
struct TestStream {
  std::vector<std::string> ids;
  std::vector<EntityEvent> events;
};

TestStream make_stream(std::size_t count, int entities, std::uint64_t seed) {
  TestStream s;
  s.ids.reserve(count);
  redflag::Random random(seed);
  std::int64_t now = 1'000'000'000;
  for (std::size_t i = 0; i < count; ++i) {
    now += static_cast<std::int64_t>(random.uniform_int(30'000));
    if (random.uniform_int(500) == 0) now += 3 * 3'600'000;  // a quiet spell: idle entities expire
    // One event in 20 is 2 or 20 minutes old: applied out of order or late.
    const std::int64_t delay = random.uniform_int(20) == 0 ? (random.uniform_int(2) == 0 ? 2 : 20) * minute : 0;
    s.ids.push_back("e" + std::to_string(random.uniform_int(static_cast<std::uint64_t>(entities))));
    s.events.push_back(event("", now - delay, 1.0 + static_cast<double>(random.uniform_int(1'000)),
                             1 + random.uniform_int(4), 1 + random.uniform_int(12)));
  }
  for (std::size_t i = 0; i < count; ++i) s.events[i].entity = s.ids[i];
  return s;
}

EntityStoreParams small_store_params() {
  EntityStoreParams params;
  params.max_entities = 96;  // fewer than the stream's entities: evictions too
  params.shards = 4;
  params.idle_ttl_ms = 2 * 3'600'000;
  return params;
}

void check_same(const redflag::ObserveResult& a, const redflag::ObserveResult& b) {
  CHECK(a.status == b.status);
  CHECK(a.new_entity == b.new_entity);
  CHECK(a.evicted == b.evicted);
}

}  // namespace

TEST_CASE("EntityStore observe_batch gives the same visits, results and states as observe one by one") {
  const TestStream s = make_stream(6'000, 160, 11);
  EntityStore reference(small_store_params());
  std::vector<EntityState> seen;
  std::vector<redflag::ObserveResult> expected;
  for (const auto& e : s.events) {
    expected.push_back(reference.observe(e, [&](const EntityState& before) { seen.push_back(before); }));
  }
  std::size_t late = 0;
  std::size_t evicted = 0;
  for (const auto& r : expected) {
    late += r.status == ObserveStatus::late ? 1 : 0;
    evicted += r.evicted;
  }
  CHECK(late > 0);  // the stream exercises the late path and evictions
  CHECK(evicted > 0);
  for (const std::size_t batch : {std::size_t{1}, std::size_t{7}, std::size_t{64}, s.events.size()}) {
    CAPTURE(batch);
    EntityStore store(small_store_params());
    std::vector<redflag::ObserveResult> results(s.events.size());
    std::size_t visits = 0;
    bool same_visits = true;
    const std::span<const EntityEvent> all(s.events);
    for (std::size_t begin = 0; begin < all.size(); begin += batch) {
      const std::size_t n = std::min(batch, all.size() - begin);
      store.observe_batch(all.subspan(begin, n), std::span(results).subspan(begin, n),
                          [&](std::size_t i, const EntityState& before) {
                            same_visits = same_visits && visits == begin + i && before == seen[begin + i];
                            ++visits;
                          });
    }
    CHECK(visits == s.events.size());
    CHECK(same_visits);
    for (std::size_t i = 0; i < results.size(); ++i) check_same(results[i], expected[i]);
    CHECK(store.size() == reference.size());
    for (int u = 0; u < 160; ++u) {
      const std::string id = "e" + std::to_string(u);
      CHECK(store.find(id) == reference.find(id));
    }
  }
}

TEST_CASE("EntityStore observe_batch stops at a rejected event: earlier ones applied, later ones untouched") {
  EntityStore store;
  std::vector<EntityEvent> events = {
      event("a", 1'000'000, 5.0), event("b", 1'000'000, 6.0), event("a", 1'000'000 + minute, 7.0),
      event("c", 1'000'000, std::numeric_limits<double>::quiet_NaN()), event("d", 1'000'000, 8.0)};
  std::vector<redflag::ObserveResult> results(events.size());
  std::vector<std::size_t> visited;
  auto visit = [&](std::size_t i, const EntityState&) { visited.push_back(i); };
  CHECK_THROWS_WITH_AS(store.observe_batch(events, results, visit),
                       doctest::Contains("observe_batch: event 3 (entity 'c'): value must be finite"),
                       redflag::data_error);
  CHECK(visited == std::vector<std::size_t>{0, 1, 2});
  CHECK(store.find("a")->profile.count() == 2);
  CHECK(store.find("b")->profile.count() == 1);
  CHECK_FALSE(store.contains("c"));
  CHECK_FALSE(store.contains("d"));
  CHECK(results[0].new_entity);
  CHECK_FALSE(results[2].new_entity);
  // An empty id and a broken clock are named by index too.
  events = {event("e", 1'000'000, 1.0), event("", 1'000'000, 1.0)};
  CHECK_THROWS_WITH_AS(store.observe_batch(events, visit), doctest::Contains("event 1 (empty entity id)"),
                       redflag::data_error);
  events = {event("e", 1'000'000 + 2 * 86'400'000LL, 1.0)};
  CHECK_THROWS_WITH_AS(store.observe_batch(events, visit), doctest::Contains("event 0 (entity 'e'): event time"),
                       redflag::data_error);
  CHECK(store.find("e")->profile.count() == 1);
  std::vector<redflag::ObserveResult> too_many(2);
  CHECK_THROWS_AS(store.observe_batch(events, too_many, visit), redflag::invalid_argument);
}

TEST_CASE("EntityStore observe_batch reports late events and undoes an event whose visitor throws") {
  EntityStore store;
  const std::vector<EntityEvent> events = {event("a", 100 * minute, 1.0), event("a", 110 * minute, 2.0),
                                           event("a", 90 * minute, 3.0), event("a", 108 * minute, 4.0)};
  std::vector<redflag::ObserveResult> results(events.size());
  std::vector<std::uint64_t> counts;
  store.observe_batch(events, results,
                      [&](std::size_t, const EntityState& before) { counts.push_back(before.profile.count()); });
  CHECK(counts == std::vector<std::uint64_t>{0, 1, 2, 2});
  CHECK(results[2].status == ObserveStatus::late);     // 20 minutes behind the last event
  CHECK(results[3].status == ObserveStatus::applied);  // 2 minutes: within the lateness
  CHECK(store.find("a")->profile.count() == 3);

  const std::vector<EntityEvent> more = {event("a", 111 * minute, 1.0), event("new", 111 * minute, 1.0),
                                         event("a", 112 * minute, 1.0)};
  CHECK_THROWS_AS(store.observe_batch(more,
                                      [](std::size_t i, const EntityState&) {
                                        if (i == 1) throw std::runtime_error("visitor");
                                      }),
                  std::runtime_error);
  CHECK(store.find("a")->profile.count() == 4);
  CHECK_FALSE(store.contains("new"));
}

TEST_CASE("EntityStore takes concurrent batches of different entities") {
  EntityStoreParams params;
  params.shards = 4;  // shared by all threads: table growth and inserts race with the prefetches
  EntityStore store(params);
  constexpr int threads = 4;
  constexpr int per_thread_entities = 60;
  constexpr int events_per_entity = 20;
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&store, t] {
      std::vector<std::string> ids;
      for (int e = 0; e < per_thread_entities; ++e) ids.push_back("t" + std::to_string(t) + "-" + std::to_string(e));
      std::vector<EntityEvent> batch;
      for (int k = 0; k < events_per_entity; ++k) {
        batch.clear();
        for (const auto& id : ids) batch.push_back(event(id, 1'000'000 + k * 1'000LL, 2.0));
        if (t % 2 == 0) {
          store.observe_batch(batch, [](std::size_t, const EntityState&) {});
        } else {
          for (const auto& e : batch) store.observe(e);
        }
      }
    });
  }
  for (auto& worker : workers) worker.join();
  CHECK(store.size() == threads * per_thread_entities);
  for (int t = 0; t < threads; ++t) {
    for (int e = 0; e < per_thread_entities; ++e) {
      const auto state = store.find("t" + std::to_string(t) + "-" + std::to_string(e));
      REQUIRE(state.has_value());
      CHECK(state->profile.count() == events_per_entity);
    }
  }
}

TEST_CASE("EntityStore rejects bad parameters") {
  EntityStoreParams params;
  params.shards = 0;
  CHECK_THROWS_AS(EntityStore{params}, redflag::invalid_argument);
  params = {};
  params.max_entities = 4;
  params.shards = 8;
  CHECK_THROWS_AS(EntityStore{params}, redflag::invalid_argument);
  params = {};
  params.idle_ttl_ms = 0;
  CHECK_THROWS_AS(EntityStore{params}, redflag::invalid_argument);
}
