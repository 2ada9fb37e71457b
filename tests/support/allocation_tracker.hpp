#pragma once

// Replaces the global operator new/delete to count allocations and record the
// largest one, so tests can show that a code path allocates nothing per
// record, or that a hostile length prefix is rejected before allocating.
// One definition per program: the test files of an area that include it are
// compiled as one unity translation unit (tests/CMakeLists.txt).

#include <atomic>
#include <cstddef>
#include <cstdlib>
#include <new>

namespace redflag::test {

inline std::atomic<std::size_t> allocation_count{0};
inline std::atomic<std::size_t> largest_allocation{0};

}  // namespace redflag::test

// GCC cannot see that these malloc/free pairs are the replacement functions.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

void* operator new(std::size_t size) {
  redflag::test::allocation_count.fetch_add(1, std::memory_order_relaxed);
  std::size_t seen = redflag::test::largest_allocation.load(std::memory_order_relaxed);
  while (size > seen && !redflag::test::largest_allocation.compare_exchange_weak(seen, size)) {
  }
  if (void* memory = std::malloc(size == 0 ? 1 : size)) return memory;
  throw std::bad_alloc();
}
void* operator new[](std::size_t size) { return ::operator new(size); }
void operator delete(void* memory) noexcept { std::free(memory); }
void operator delete[](void* memory) noexcept { std::free(memory); }
void operator delete(void* memory, std::size_t) noexcept { std::free(memory); }
void operator delete[](void* memory, std::size_t) noexcept { std::free(memory); }
// The nothrow forms too (std::stable_sort's buffer uses them): otherwise the
// library's nothrow new would be paired with the free above.
void* operator new(std::size_t size, const std::nothrow_t&) noexcept {
  try {
    return ::operator new(size);
  } catch (const std::bad_alloc&) {
    return nullptr;
  }
}
void* operator new[](std::size_t size, const std::nothrow_t& tag) noexcept { return ::operator new(size, tag); }
void operator delete(void* memory, const std::nothrow_t&) noexcept { std::free(memory); }
void operator delete[](void* memory, const std::nothrow_t&) noexcept { std::free(memory); }

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
