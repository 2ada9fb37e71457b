#pragma once

// The storage of EntityStore (stream/entity_store.hpp): values keyed by a
// string id, spread over independent shards by the id's hash, each shard
// with its own mutex, id table (detail/id_table.hpp), slot array and LRU
// list. The map only stores: which entity to evict and when is the store's
// decision, and callers take a shard's mutex around every call on it.
//
// A shard's slots are one vector reused through a free list, linked from the
// most recently updated (lru_head) to the least (lru_tail) by slot index, so
// neither a lookup nor an update allocates once the shard is warm.

#include <redflag/core/checksum.hpp>
#include <redflag/stream/detail/id_table.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace redflag::detail {

// Value: the per-entity state. ShardData: what the owner keeps per shard,
// guarded by the same mutex.
template <class Value, class ShardData>
class ShardedLruMap {
 public:
  static constexpr std::uint32_t none = IdTable::none;

  // The id first: a lookup compares it, then reads the value right behind it.
  struct Slot {
    std::string id;
    std::uint64_t hash = 0;     // hash(id)
    std::uint32_t prev = none;  // towards the most recently updated
    std::uint32_t next = none;  // towards the least recently updated
    Value value;
  };

  // Cache-line aligned: threads working on neighbouring shards must not
  // share a line (each shard is its own allocation). Lock `mutex` around
  // every use; the members below it change only through the functions.
  struct alignas(64) Shard {
    mutable std::mutex mutex;
    IdTable index;
    std::vector<Slot> slots;
    std::vector<std::uint32_t> free;
    std::uint32_t lru_head = none;
    std::uint32_t lru_tail = none;
    ShardData data;

    [[nodiscard]] std::size_t size() const { return index.size(); }

    // The slot holding `id`, or none.
    [[nodiscard]] std::uint32_t find(std::uint64_t hash, std::string_view id) const {
      return index.find(hash, id, [&](std::uint32_t slot) -> std::string_view { return slots[slot].id; });
    }

    // A new entity at the front of the LRU list; returns its slot.
    std::uint32_t insert(std::uint64_t hash, std::string_view id, Value value) {
      std::uint32_t slot;
      if (!free.empty()) {
        slot = free.back();
        free.pop_back();
        slots[slot] = Slot{};
      } else {
        slot = static_cast<std::uint32_t>(slots.size());
        slots.emplace_back();
      }
      Slot& s = slots[slot];
      s.value = std::move(value);
      s.id.assign(id);
      s.hash = hash;
      index.insert(hash, slot);
      link_front(slot);
      return slot;
    }

    // A restored entity behind all others, so restoring entities from the
    // most to the least recently updated rebuilds the LRU order.
    void push_back(std::string id, std::uint64_t hash, Value value) {
      const auto slot = static_cast<std::uint32_t>(slots.size());
      slots.push_back(Slot{std::move(id), hash, none, none, std::move(value)});
      index.insert(hash, slot);
      link_back(slot);
    }

    void erase(std::uint32_t slot) {
      unlink(slot);
      index.erase(slots[slot].hash, slot);
      // Release the value's buffers; the slot is reused for another entity.
      slots[slot] = Slot{};
      free.push_back(slot);
    }

    // Moves `slot` to the front of the LRU list.
    void touch(std::uint32_t slot) {
      if (lru_head == slot) return;
      unlink(slot);
      link_front(slot);
    }

   private:
    void link_front(std::uint32_t slot) {
      Slot& s = slots[slot];
      s.prev = none;
      s.next = lru_head;
      if (lru_head != none) slots[lru_head].prev = slot;
      lru_head = slot;
      if (lru_tail == none) lru_tail = slot;
    }

    void link_back(std::uint32_t slot) {
      Slot& s = slots[slot];
      s.next = none;
      s.prev = lru_tail;
      if (lru_tail != none) slots[lru_tail].next = slot;
      lru_tail = slot;
      if (lru_head == none) lru_head = slot;
    }

    void unlink(std::uint32_t slot) {
      Slot& s = slots[slot];
      if (s.prev != none) slots[s.prev].next = s.next;
      else lru_head = s.next;
      if (s.next != none) slots[s.next].prev = s.prev;
      else lru_tail = s.prev;
      s.prev = s.next = none;
    }
  };

  // The chain of dependent loads behind one lookup, in order.
  enum class Link : std::uint8_t { table_entry, slot, value_and_neighbours };

  ShardedLruMap() = default;

  // Drops every entity; `shards` empty shards from now on.
  void reset(std::size_t shards) {
    shards_.clear();
    for (std::size_t i = 0; i < shards; ++i) shards_.push_back(std::make_unique<Shard>());
  }

  static std::uint64_t hash(std::string_view id) { return Xxh64::hash(std::span<const char>(id.data(), id.size())); }

  [[nodiscard]] std::size_t shard_count() const { return shards_.size(); }
  [[nodiscard]] std::size_t shard_index(std::uint64_t hash) const { return hash % shards_.size(); }
  [[nodiscard]] Shard& shard(std::uint64_t hash) { return *shards_[shard_index(hash)]; }
  [[nodiscard]] const Shard& shard(std::uint64_t hash) const { return *shards_[shard_index(hash)]; }
  [[nodiscard]] Shard& shard_at(std::size_t index) { return *shards_[index]; }
  [[nodiscard]] const Shard& shard_at(std::size_t index) const { return *shards_[index]; }

  // Prefetches `link` of the entity with `hash`, reading the earlier links
  // (cached by then) under the shard's lock: other threads may grow the table
  // or reuse the slot meanwhile. A prefetch is only a hint, so a busy shard is
  // skipped rather than waited for. value_bytes(const Value&) returns the
  // span of bytes an update of the value reads (its heap buffer).
  template <class ValueBytes>
  void prefetch(std::uint64_t hash, Link link, const ValueBytes& value_bytes) const {
    const Shard& s = shard(hash);
    std::unique_lock lock(s.mutex, std::try_to_lock);
    if (!lock.owns_lock()) return;
    if (link == Link::table_entry) {
      prefetch_lines(s.index.home_entry(hash), 1);
      return;
    }
    const std::uint32_t slot = s.index.find_hash(hash);
    if (slot == none) return;
    const Slot& found = s.slots[slot];
    if (link == Link::slot) {
      prefetch_lines(&found, sizeof(Slot));
      return;
    }
    const std::span<const std::byte> bytes = value_bytes(found.value);
    prefetch_lines(bytes.data(), bytes.size());
    // touch() relinks the slot's LRU neighbours.
    if (found.prev != none) prefetch_lines(&s.slots[found.prev].next, sizeof(std::uint32_t));
    if (found.next != none) prefetch_lines(&s.slots[found.next].prev, sizeof(std::uint32_t));
  }

  // Bytes held by the shards: the shard objects, their slots (free ones
  // included) and id tables, ids longer than the small-string buffer, and
  // value_heap_bytes(const Value&) for each entity.
  template <class ValueHeapBytes>
  [[nodiscard]] std::size_t memory_bytes(const ValueHeapBytes& value_heap_bytes) const {
    std::size_t total = shards_.size() * sizeof(Shard);
    for (const auto& shard : shards_) {
      std::lock_guard lock(shard->mutex);
      total += shard->slots.capacity() * sizeof(Slot) + shard->free.capacity() * sizeof(std::uint32_t);
      total += shard->index.heap_bytes();
      for (std::uint32_t slot = shard->lru_head; slot != none; slot = shard->slots[slot].next) {
        const Slot& s = shard->slots[slot];
        if (s.id.capacity() > std::string().capacity()) total += s.id.capacity() + 1;
        total += value_heap_bytes(s.value);
      }
    }
    return total;
  }

 private:
  static void prefetch_lines([[maybe_unused]] const void* address, [[maybe_unused]] std::size_t bytes) {
#if defined(__GNUC__)
    if (address == nullptr) return;
    const auto first = reinterpret_cast<std::uintptr_t>(address) & ~std::uintptr_t{63};
    const auto end = reinterpret_cast<std::uintptr_t>(address) + bytes;
    for (std::uintptr_t line = first; line < end; line += 64) {
      __builtin_prefetch(reinterpret_cast<const void*>(line), 1);  // 1: for writing, the update follows
    }
#endif
  }

  std::vector<std::unique_ptr<Shard>> shards_;
};

}  // namespace redflag::detail
