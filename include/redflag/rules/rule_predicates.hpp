#pragma once

// Rule predicates: small conditions over a transaction and its entity's
// state, composed with &&, || and ! into the `when` of a rule.
//
//   namespace rules = redflag::rules;
//   rules::Predicate velocity = rules::window_count(std::chrono::seconds(60)) > 3 &&
//                               rules::window_distinct_cities(std::chrono::seconds(60)) >= 2;
//
// Leaves:
//   quantity(q) OP x          amount, amount_to_mean (amount / the entity's
//                             mean), event_count (past events), seconds_since_last
//   window_*(w) OP x          count, sum, min, max or distinct cities of the
//                             entity's events in (t - w, t], the current
//                             transaction included
//   local_hour_between(a, b)  local hour in [a, b) (wraps past midnight if a > b)
//   percent_change(base) OP x 100 (amount - base) / base, base = the entity's
//                             mean amount or its previous amount; false without history
// Each evaluated leaf records an Observation (what was measured, the value,
// the comparison and the threshold), so a fired rule can say why.

#include <redflag/core/error.hpp>
#include <redflag/transactions/transaction_features.hpp>

#include <array>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace redflag::rules {

enum class Quantity : std::uint8_t { amount, amount_to_mean, event_count, seconds_since_last };
enum class Aggregate : std::uint8_t { count, sum, min, max, distinct_cities };
enum class Compare : std::uint8_t { greater, greater_equal, less, less_equal };
enum class Baseline : std::uint8_t { mean_amount, previous_amount };

inline std::string_view to_string(Quantity q) {
  constexpr std::array<std::string_view, 4> names = {"amount", "amount_to_mean", "event_count", "seconds_since_last"};
  return names[static_cast<std::size_t>(q)];
}
inline std::string_view to_string(Aggregate a) {
  constexpr std::array<std::string_view, 5> names = {"count", "sum", "min", "max", "distinct_cities"};
  return names[static_cast<std::size_t>(a)];
}
inline std::string_view to_string(Compare c) {
  constexpr std::array<std::string_view, 4> names = {">", ">=", "<", "<="};
  return names[static_cast<std::size_t>(c)];
}
inline std::string_view to_string(Baseline b) {
  constexpr std::array<std::string_view, 2> names = {"mean_amount", "previous_amount"};
  return names[static_cast<std::size_t>(b)];
}

inline bool compare(double value, Compare op, double threshold) {
  switch (op) {
    case Compare::greater: return value > threshold;
    case Compare::greater_equal: return value >= threshold;
    case Compare::less: return value < threshold;
    case Compare::less_equal: return value <= threshold;
  }
  return false;
}

// One evaluated leaf.
struct Observation {
  enum class Kind : std::uint8_t { quantity, window, hour_between, percent_change };
  Kind kind = Kind::quantity;
  std::uint8_t what = 0;  // the Quantity, Aggregate or Baseline
  Compare op = Compare::greater;
  bool held = false;
  std::int64_t window_ms = 0;
  double value = 0.0;
  double threshold = 0.0;       // hour_between: the first hour
  double threshold_end = 0.0;   // hour_between: the end hour (exclusive)
};

// The observations of one rule evaluation, in evaluation order. Fixed
// capacity so evaluation never allocates; leaves past it are evaluated but
// not recorded (`dropped` counts them).
struct Evidence {
  static constexpr std::size_t capacity = 8;
  std::array<Observation, capacity> items{};
  std::size_t size = 0;
  std::size_t dropped = 0;

  void add(const Observation& o) {
    if (size < capacity) {
      items[size++] = o;
    } else {
      ++dropped;
    }
  }
  void clear() { size = dropped = 0; }
  [[nodiscard]] std::span<const Observation> observations() const { return {items.data(), size}; }
};

// "amount 12500 > 10000", "distinct cities in 60 s 3 >= 2", "local hour 3 in [2, 5)".
inline std::string describe(const Observation& o) {
  auto number = [](double v) {
    if (std::abs(v) < 1e15 && v == std::floor(v)) return std::to_string(static_cast<long long>(v));
    std::string text = std::to_string(v);
    while (!text.empty() && text.back() == '0') text.pop_back();
    return text;
  };
  std::string out = o.held ? "" : "not ";
  switch (o.kind) {
    case Observation::Kind::quantity:
      if (static_cast<Quantity>(o.what) == Quantity::amount_to_mean) {
        out += "amount " + number(std::round(o.value * 10.0) / 10.0) + "x this entity's average";
      } else {
        out += std::string(to_string(static_cast<Quantity>(o.what))) + " " + number(o.value);
      }
      out += " " + std::string(to_string(o.op)) + " " + number(o.threshold);
      break;
    case Observation::Kind::window: {
      const auto aggregate = static_cast<Aggregate>(o.what);
      const std::string seconds = number(static_cast<double>(o.window_ms) / 1000.0) + " s";
      if (aggregate == Aggregate::count) {
        out += number(o.value) + " transactions in " + seconds;
      } else if (aggregate == Aggregate::distinct_cities) {
        out += number(o.value) + " cities in " + seconds;
      } else {
        out += std::string(to_string(aggregate)) + " of amounts in " + seconds + " " + number(o.value);
      }
      out += " (" + std::string(to_string(o.op)) + " " + number(o.threshold) + ")";
      break;
    }
    case Observation::Kind::hour_between:
      out += "local hour " + number(o.value) + " in [" + number(o.threshold) + ", " + number(o.threshold_end) + ")";
      break;
    case Observation::Kind::percent_change:
      out += "amount " + number(std::round(o.value)) + "% vs " + std::string(to_string(static_cast<Baseline>(o.what))) +
             " " + std::string(to_string(o.op)) + " " + number(o.threshold) + "%";
      break;
  }
  return out;
}

class Predicate;

namespace detail {

struct QuantityNode {
  Quantity quantity;
  Compare op;
  double threshold;
};
struct WindowNode {
  Aggregate aggregate;
  std::int64_t window_ms;
  Compare op;
  double threshold;
};
struct HourNode {
  int from;
  int to;
};
struct PercentChangeNode {
  Baseline baseline;
  Compare op;
  double threshold;
};
struct AllNode {
  std::vector<Predicate> children;
};
struct AnyNode {
  std::vector<Predicate> children;
};
struct NotNode {
  std::vector<Predicate> child;  // exactly one; a vector because Predicate is incomplete here
};

using Node = std::variant<QuantityNode, WindowNode, HourNode, PercentChangeNode, AllNode, AnyNode, NotNode>;

inline double measure(Quantity q, const TransactionContext& c) {
  const BehaviourProfile& p = c.before.profile;
  switch (q) {
    case Quantity::amount: return c.txn.amount;
    case Quantity::amount_to_mean: return p.empty() ? 1.0 : c.txn.amount / p.mean_amount();
    case Quantity::event_count: return static_cast<double>(p.count());
    case Quantity::seconds_since_last: return TimeSinceLast{}.seconds_since_last(c);
  }
  return 0.0;
}

}  // namespace detail

// An immutable, cheaply copied condition tree.
class Predicate {
 public:
  explicit Predicate(detail::Node node) : node_(std::make_shared<const detail::Node>(std::move(node))) {}

  [[nodiscard]] bool evaluate(const TransactionContext& c, Evidence& evidence) const {
    return std::visit([&](const auto& node) { return eval(node, c, evidence); }, *node_);
  }
  [[nodiscard]] const detail::Node& node() const { return *node_; }

 private:
  static bool eval(const detail::QuantityNode& n, const TransactionContext& c, Evidence& e) {
    const double value = detail::measure(n.quantity, c);
    const bool held = compare(value, n.op, n.threshold);
    e.add({Observation::Kind::quantity, static_cast<std::uint8_t>(n.quantity), n.op, held, 0, value, n.threshold, 0.0});
    return held;
  }
  static bool eval(const detail::WindowNode& n, const TransactionContext& c, Evidence& e) {
    double value = 0.0;
    if (n.aggregate == Aggregate::count) {
      // The common velocity check: no need for the other aggregates.
      value = static_cast<double>(c.before.recent.count(c.event.time_ms, n.window_ms) + 1);
    } else {
      const WindowEvent current = to_window_event(c.event);
      const WindowStats s = c.before.recent.stats(c.event.time_ms, n.window_ms, &current);
      switch (n.aggregate) {
        case Aggregate::count: break;
        case Aggregate::sum: value = s.sum; break;
        case Aggregate::min: value = s.min; break;
        case Aggregate::max: value = s.max; break;
        case Aggregate::distinct_cities: value = static_cast<double>(s.distinct_keys); break;
      }
    }
    const bool held = compare(value, n.op, n.threshold);
    e.add({Observation::Kind::window, static_cast<std::uint8_t>(n.aggregate), n.op, held, n.window_ms, value,
           n.threshold, 0.0});
    return held;
  }
  static bool eval(const detail::HourNode& n, const TransactionContext& c, Evidence& e) {
    const int h = c.event.local_hour;
    const bool held = n.from <= n.to ? (h >= n.from && h < n.to) : (h >= n.from || h < n.to);
    e.add({Observation::Kind::hour_between, 0, Compare::greater_equal, held, 0, static_cast<double>(h),
           static_cast<double>(n.from), static_cast<double>(n.to)});
    return held;
  }
  static bool eval(const detail::PercentChangeNode& n, const TransactionContext& c, Evidence& e) {
    const BehaviourProfile& p = c.before.profile;
    double base = 0.0;
    if (n.baseline == Baseline::mean_amount) {
      base = p.empty() ? 0.0 : p.mean_amount();
    } else if (const WindowEvent* previous = c.before.recent.latest_at_or_before(c.event.time_ms)) {
      base = previous->value;
    }
    // No history, no change to measure: the leaf does not hold.
    const double value = base > 0.0 ? 100.0 * (c.txn.amount - base) / base : 0.0;
    const bool held = base > 0.0 && compare(value, n.op, n.threshold);
    e.add({Observation::Kind::percent_change, static_cast<std::uint8_t>(n.baseline), n.op, held, 0, value,
           n.threshold, 0.0});
    return held;
  }
  static bool eval(const detail::AllNode& n, const TransactionContext& c, Evidence& e) {
    for (const Predicate& child : n.children) {
      if (!child.evaluate(c, e)) return false;
    }
    return true;
  }
  static bool eval(const detail::AnyNode& n, const TransactionContext& c, Evidence& e) {
    for (const Predicate& child : n.children) {
      if (child.evaluate(c, e)) return true;
    }
    return false;
  }
  static bool eval(const detail::NotNode& n, const TransactionContext& c, Evidence& e) {
    return !n.child.front().evaluate(c, e);
  }

  std::shared_ptr<const detail::Node> node_;
};

// The left-hand side of a comparison; `lhs > 3` makes a Predicate.
template <class Make>
struct Operand {
  Make make;
  Predicate operator>(double x) const { return make(Compare::greater, x); }
  Predicate operator>=(double x) const { return make(Compare::greater_equal, x); }
  Predicate operator<(double x) const { return make(Compare::less, x); }
  Predicate operator<=(double x) const { return make(Compare::less_equal, x); }
};

namespace detail {

inline void require_finite(double x, std::string_view where) {
  if (!std::isfinite(x)) redflag::detail::raise<invalid_argument>(where, "threshold must be finite");
}

inline std::int64_t window_length(std::chrono::milliseconds window, std::string_view where) {
  if (window.count() <= 0) redflag::detail::raise<invalid_argument>(where, "window must be positive");
  return window.count();
}

}  // namespace detail

inline auto quantity(Quantity q) {
  auto make = [q](Compare op, double x) {
    detail::require_finite(x, "rules::quantity");
    return Predicate(detail::QuantityNode{q, op, x});
  };
  return Operand<decltype(make)>{make};
}
inline auto amount() { return quantity(Quantity::amount); }
inline auto amount_to_mean() { return quantity(Quantity::amount_to_mean); }

inline auto window(Aggregate aggregate, std::chrono::milliseconds length) {
  const std::int64_t ms = detail::window_length(length, "rules::window");
  auto make = [aggregate, ms](Compare op, double x) {
    detail::require_finite(x, "rules::window");
    return Predicate(detail::WindowNode{aggregate, ms, op, x});
  };
  return Operand<decltype(make)>{make};
}
inline auto window_count(std::chrono::milliseconds length) { return window(Aggregate::count, length); }
inline auto window_sum(std::chrono::milliseconds length) { return window(Aggregate::sum, length); }
inline auto window_distinct_cities(std::chrono::milliseconds length) {
  return window(Aggregate::distinct_cities, length);
}

inline Predicate local_hour_between(int from, int to) {
  if (from < 0 || from > 23 || to < 0 || to > 24 || from == to) {
    redflag::detail::raise<invalid_argument>("rules::local_hour_between",
                                             "hours must satisfy 0 <= from <= 23, 0 <= to <= 24, from != to; got " +
                                                 std::to_string(from) + ", " + std::to_string(to));
  }
  return Predicate(detail::HourNode{from, to});
}

inline auto percent_change(Baseline baseline) {
  auto make = [baseline](Compare op, double x) {
    detail::require_finite(x, "rules::percent_change");
    return Predicate(detail::PercentChangeNode{baseline, op, x});
  };
  return Operand<decltype(make)>{make};
}

inline Predicate all_of(std::vector<Predicate> children) {
  if (children.empty()) redflag::detail::raise<invalid_argument>("rules::all_of", "no conditions");
  return Predicate(detail::AllNode{std::move(children)});
}
inline Predicate any_of(std::vector<Predicate> children) {
  if (children.empty()) redflag::detail::raise<invalid_argument>("rules::any_of", "no conditions");
  return Predicate(detail::AnyNode{std::move(children)});
}
inline Predicate operator&&(const Predicate& a, const Predicate& b) { return all_of({a, b}); }
inline Predicate operator||(const Predicate& a, const Predicate& b) { return any_of({a, b}); }
inline Predicate operator!(const Predicate& a) { return Predicate(detail::NotNode{{a}}); }

}  // namespace redflag::rules
