#pragma once

// Conditions: what a rule checks, over the named columns of a row.
//
//   namespace rules = redflag::rules;
//   using rules::column;
//   rules::Condition velocity = column("transactions_60s") > 3 && column("cities_60s") >= 2;
//   rules::Condition drift = column("cash_weight") > column("model_cash_weight");
//   rules::Condition night = column("local_hour").between(2, 5);       // [2, 5)
//   rules::Condition risky = column("country_risk").in({3, 4});        // a categorical column
//
// Leaves compare a column with a constant (>, >=, <, <=, ==, !=), with
// another column, test a half-open interval [from, to) (wrapping when
// from > to, for cyclical columns such as hours: between(22, 6)), or test a
// categorical column's code for membership; all_of, any_of (&&, ||) and !
// compose them. A Condition names columns; RulesEngine::add compiles it
// against the engine's Schema once, so evaluating a row looks nothing up.
// Comparisons with NaN are false.

#include <redflag/core/error.hpp>

#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace redflag::rules {

enum class Op : std::uint8_t { greater, greater_equal, less, less_equal, equal, not_equal };

inline constexpr std::array<std::string_view, 6> op_names = {">", ">=", "<", "<=", "==", "!="};

inline std::string_view to_string(Op op) { return op_names[static_cast<std::size_t>(op)]; }

// The operators that need an order (not allowed on categorical columns).
inline bool is_ordering(Op op) { return op != Op::equal && op != Op::not_equal; }

inline bool compare(double value, Op op, double other) {
  switch (op) {
    case Op::greater: return value > other;
    case Op::greater_equal: return value >= other;
    case Op::less: return value < other;
    case Op::less_equal: return value <= other;
    case Op::equal: return value == other;
    case Op::not_equal: return value != other;
  }
  return false;
}

inline bool in_interval(double value, double from, double to) {
  return from <= to ? (value >= from && value < to) : (value >= from || value < to);
}

class Condition;

namespace detail {

struct Compare {
  std::string column;
  Op op;
  double constant;
};
struct CompareColumns {
  std::string column;
  Op op;
  std::string other;
};
struct Between {
  std::string column;
  double from;
  double to;
};
struct Member {
  std::string column;
  std::vector<double> codes;
};
struct All {
  std::vector<Condition> children;
};
struct Any {
  std::vector<Condition> children;
};
struct Not {
  std::vector<Condition> child;  // exactly one; a vector because Condition is incomplete here
};

using Node = std::variant<Compare, CompareColumns, Between, Member, All, Any, Not>;

inline void require_finite(double x, std::string_view where) {
  if (!std::isfinite(x)) redflag::detail::raise<invalid_argument>(where, "constant must be finite");
}

}  // namespace detail

// An immutable, cheaply copied condition tree over column names.
class Condition {
 public:
  explicit Condition(detail::Node node) : node_(std::make_shared<const detail::Node>(std::move(node))) {}
  [[nodiscard]] const detail::Node& node() const { return *node_; }

 private:
  std::shared_ptr<const detail::Node> node_;
};

// A column by name: the left-hand side of a leaf.
class ColumnRef {
 public:
  explicit ColumnRef(std::string name) : name_(std::move(name)) {
    if (name_.empty()) redflag::detail::raise<invalid_argument>("rules::column", "empty column name");
  }
  [[nodiscard]] const std::string& name() const { return name_; }

  [[nodiscard]] Condition compare(Op op, double constant) const {
    detail::require_finite(constant, "rules::column");
    return Condition(detail::Compare{name_, op, constant});
  }
  [[nodiscard]] Condition compare(Op op, const ColumnRef& other) const {
    return Condition(detail::CompareColumns{name_, op, other.name_});
  }
  Condition operator>(double x) const { return compare(Op::greater, x); }
  Condition operator>=(double x) const { return compare(Op::greater_equal, x); }
  Condition operator<(double x) const { return compare(Op::less, x); }
  Condition operator<=(double x) const { return compare(Op::less_equal, x); }
  Condition operator==(double x) const { return compare(Op::equal, x); }
  Condition operator!=(double x) const { return compare(Op::not_equal, x); }
  Condition operator>(const ColumnRef& x) const { return compare(Op::greater, x); }
  Condition operator>=(const ColumnRef& x) const { return compare(Op::greater_equal, x); }
  Condition operator<(const ColumnRef& x) const { return compare(Op::less, x); }
  Condition operator<=(const ColumnRef& x) const { return compare(Op::less_equal, x); }

  // [from, to); from > to wraps (between(22, 6): from 22 to 6).
  [[nodiscard]] Condition between(double from, double to) const {
    detail::require_finite(from, "rules::column::between");
    detail::require_finite(to, "rules::column::between");
    if (from == to) redflag::detail::raise<invalid_argument>("rules::column::between", "empty interval");
    return Condition(detail::Between{name_, from, to});
  }
  // The column's categorical code is one of `codes`.
  [[nodiscard]] Condition in(std::vector<double> codes) const {
    if (codes.empty()) redflag::detail::raise<invalid_argument>("rules::column::in", "no codes");
    for (const double code : codes) detail::require_finite(code, "rules::column::in");
    return Condition(detail::Member{name_, std::move(codes)});
  }
  [[nodiscard]] Condition in(std::initializer_list<double> codes) const { return in(std::vector<double>(codes)); }

 private:
  std::string name_;
};

inline ColumnRef column(std::string name) { return ColumnRef(std::move(name)); }

inline Condition all_of(std::vector<Condition> children) {
  if (children.empty()) redflag::detail::raise<invalid_argument>("rules::all_of", "no conditions");
  return Condition(detail::All{std::move(children)});
}
inline Condition any_of(std::vector<Condition> children) {
  if (children.empty()) redflag::detail::raise<invalid_argument>("rules::any_of", "no conditions");
  return Condition(detail::Any{std::move(children)});
}
inline Condition operator&&(const Condition& a, const Condition& b) { return all_of({a, b}); }
inline Condition operator||(const Condition& a, const Condition& b) { return any_of({a, b}); }
inline Condition operator!(const Condition& a) { return Condition(detail::Not{{a}}); }

// One evaluated leaf: what was read and what it was held against.
struct Observation {
  enum class Kind : std::uint8_t { compare, compare_columns, between, member };
  Kind kind = Kind::compare;
  Op op = Op::greater;
  bool held = false;
  std::uint32_t column = 0;  // index in the engine's schema
  std::uint32_t other = 0;   // compare_columns: the right-hand column; member: the engine's node
  double value = 0.0;        // the row's value of `column`
  double against = 0.0;      // the constant, the other column's value, or between's `from`
  double to = 0.0;           // between: the end of the interval (exclusive)
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

}  // namespace redflag::rules
