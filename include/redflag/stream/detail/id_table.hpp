#pragma once

// The id index of one ShardedLruMap shard (sharded_lru_map.hpp): open addressing
// with linear probing over (id hash, slot) pairs, deletion by backward shift.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string_view>
#include <vector>

namespace redflag {

namespace detail {

// The id index of one shard: open addressing with linear probing over
// (id hash, slot) pairs. The ids live in the slots, so a lookup is a probe
// run in one flat array plus one string comparison, with no node to chase.
class IdTable {
 public:
  static constexpr std::uint32_t none = std::numeric_limits<std::uint32_t>::max();

  // The slot whose id is `id`, or none. id_of(slot) returns a slot's id.
  template <class IdOf>
  [[nodiscard]] std::uint32_t find(std::uint64_t hash, std::string_view id, const IdOf& id_of) const {
    if (entries_.empty()) return none;
    for (std::size_t i = home(hash);; i = (i + 1) & mask_) {
      const Entry& entry = entries_[i];
      if (entry.slot == none) return none;
      if (entry.hash == hash && id_of(entry.slot) == id) return entry.slot;
    }
  }

  // The entry a lookup of `hash` reads first, and the slot of the first
  // entry with that hash (ids not compared): what observe_batch prefetches.
  [[nodiscard]] const void* home_entry(std::uint64_t hash) const {
    return entries_.empty() ? nullptr : &entries_[home(hash)];
  }
  [[nodiscard]] std::uint32_t find_hash(std::uint64_t hash) const {
    if (entries_.empty()) return none;
    for (std::size_t i = home(hash);; i = (i + 1) & mask_) {
      if (entries_[i].slot == none || entries_[i].hash == hash) return entries_[i].slot;
    }
  }

  void insert(std::uint64_t hash, std::uint32_t slot) {
    if ((size_ + 1) * 2 > entries_.size()) grow();
    place(hash, slot);
    ++size_;
  }

  // Removes the entry of `slot` (inserted with `hash`), shifting later
  // entries of the probe run back so lookups never need tombstones.
  void erase(std::uint64_t hash, std::uint32_t slot) {
    std::size_t hole = home(hash);
    while (entries_[hole].slot != slot) hole = (hole + 1) & mask_;
    for (std::size_t j = (hole + 1) & mask_; entries_[j].slot != none; j = (j + 1) & mask_) {
      const std::size_t k = home(entries_[j].hash);
      const bool stays = hole <= j ? (hole < k && k <= j) : (hole < k || k <= j);
      if (!stays) {
        entries_[hole] = entries_[j];
        hole = j;
      }
    }
    entries_[hole] = Entry{};
    --size_;
  }

  [[nodiscard]] std::size_t size() const { return size_; }
  [[nodiscard]] std::size_t heap_bytes() const { return entries_.capacity() * sizeof(Entry); }

 private:
  struct Entry {
    std::uint64_t hash = 0;
    std::uint32_t slot = none;
  };

  // The low bits of the hash pick the shard; the table uses the high ones.
  [[nodiscard]] std::size_t home(std::uint64_t hash) const { return static_cast<std::size_t>(hash >> 32) & mask_; }

  void place(std::uint64_t hash, std::uint32_t slot) {
    std::size_t i = home(hash);
    while (entries_[i].slot != none) i = (i + 1) & mask_;
    entries_[i] = Entry{hash, slot};
  }

  void grow() {
    std::vector<Entry> old = std::move(entries_);
    entries_.assign(std::max<std::size_t>(16, old.size() * 2), Entry{});
    mask_ = entries_.size() - 1;
    for (const Entry& entry : old) {
      if (entry.slot != none) place(entry.hash, entry.slot);
    }
  }

  std::vector<Entry> entries_;
  std::size_t mask_ = 0;
  std::size_t size_ = 0;
};

}  // namespace detail

}  // namespace redflag
