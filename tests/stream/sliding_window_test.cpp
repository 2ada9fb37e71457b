#include <redflag/stream/sliding_window.hpp>

#include <doctest/doctest.h>

#include <cstdint>

using redflag::SlidingWindow;
using redflag::WindowEvent;

TEST_CASE("SlidingWindow aggregates count, sum, min, max and distinct keys over (end - length, end]") {
  SlidingWindow<8> window;
  window.insert({1'000, 10.0f, 1}, 60'000);
  window.insert({20'000, 5.0f, 2}, 60'000);
  window.insert({30'000, 7.0f, 1}, 60'000);
  const auto all = window.stats(30'000, 60'000);
  CHECK(all.count == 3);
  CHECK(all.sum == 22.0);
  CHECK(all.min == 5.0);
  CHECK(all.max == 10.0);
  CHECK(all.distinct_keys == 2);
  // (10 s, 30 s]: the event at 1 s is outside, the one at exactly 20 s inside.
  const auto recent = window.stats(30'000, 20'000);
  CHECK(recent.count == 2);
  CHECK(window.count(30'000, 20'000) == 2);
  CHECK(window.count(10'000, 10'000) == 1);
  CHECK(recent.sum == 12.0);
  CHECK(recent.distinct_keys == 2);
  // (0, 10 s] at end = 10 s does not see later events.
  const auto early = window.stats(10'000, 10'000);
  CHECK(early.count == 1);
  CHECK(early.max == 10.0);
  const auto none = window.stats(100'000, 1'000);
  CHECK(none.count == 0);
  CHECK(none.min == 0.0);
}

TEST_CASE("SlidingWindow inserts out-of-order events in time order") {
  SlidingWindow<8> in_order;
  SlidingWindow<8> shuffled;
  for (std::int64_t t : {1, 2, 3, 4, 5}) in_order.insert({t * 1000, static_cast<float>(t), 0}, 60'000);
  for (std::int64_t t : {2, 1, 5, 3, 4}) shuffled.insert({t * 1000, static_cast<float>(t), 0}, 60'000);
  CHECK(in_order == shuffled);
  CHECK(shuffled[0].time_ms == 1000);
  CHECK(shuffled.newest().time_ms == 5000);
  REQUIRE(shuffled.latest_at_or_before(3'500) != nullptr);
  CHECK(shuffled.latest_at_or_before(3'500)->time_ms == 3000);
  CHECK(shuffled.latest_at_or_before(500) == nullptr);
}

TEST_CASE("SlidingWindow drops events past the horizon and keeps the newest Capacity events") {
  SlidingWindow<4> window;
  for (std::int64_t t = 0; t < 6; ++t) window.insert({t * 1000, 1.0f, 0}, 60'000);
  CHECK(window.size() == 4);
  CHECK(window[0].time_ms == 2000);
  // Older than every kept event in a full window: not kept.
  window.insert({500, 1.0f, 0}, 60'000);
  CHECK(window[0].time_ms == 2000);
  // A jump past the horizon expires everything before it.
  window.insert({200'000, 1.0f, 0}, 60'000);
  CHECK(window.size() == 1);
  CHECK(window.stats(200'000, 1'000'000).count == 1);
}
