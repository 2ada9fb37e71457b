// Must not compile: the description has no value(), so the record cannot
// feed an EntityStore; the compiler's message names the EntityDescription
// concept (tests/stream/tests.cmake checks it).
#include <redflag/stream/entity_store.hpp>

#include <cstdint>

namespace {

struct Login {
  std::int64_t user = 0;
  std::int64_t time_ms = 0;
};

struct LoginEntity {
  std::int64_t key(const Login& l) const { return l.user; }
  std::int64_t time_ms(const Login& l) const { return l.time_ms; }
};

}  // namespace

int main() {
  redflag::EntityStore store;
  store.observe(Login{1, 0}, LoginEntity{}, [](const redflag::EntityContext<Login>&) {});
}
