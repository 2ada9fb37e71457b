#pragma once

// The service's state: every recommendation produced, with its viewed flag,
// kept in <state-dir>/recommendations.json and rewritten atomically after
// each change (a crash leaves the previous file or the new one, never half of
// one). A change is applied to a copy first and made current only once it is
// on disk, so a failed write changes nothing.

#include <redflag/lifecycle/atomic_file.hpp>

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace portfolio {

class RecommendationStore {
 public:
  static constexpr int format_version = 1;

  // Loads the state left by an earlier run, if any; creates the directory.
  explicit RecommendationStore(const std::filesystem::path& state_dir) : file_(state_dir / "recommendations.json") {
    std::filesystem::create_directories(state_dir);
    if (!std::filesystem::exists(file_)) return;
    std::ifstream in(file_);
    std::stringstream text;
    text << in.rdbuf();
    const auto state = nlohmann::json::parse(text.str(), nullptr, false);
    if (state.is_discarded() || !state.is_object() || state.value("format_version", 0) != format_version ||
        !state.contains("recommendations") || !state["recommendations"].is_array()) {
      throw std::runtime_error("'" + file_.string() + "' is not a portfolio state file (format version " +
                               std::to_string(format_version) + ")");
    }
    for (const auto& recommendation : state["recommendations"]) {
      const std::string id = recommendation.at("id").get<std::string>();
      order_.push_back(id);
      by_id_[id] = recommendation;
    }
  }

  // Adds a batch; a recommendation already known (same snapshot) keeps its
  // viewed flag. Returns the batch as stored.
  std::vector<nlohmann::json> add(std::vector<nlohmann::json> batch) {
    RecommendationStore next = *this;
    for (auto& recommendation : batch) {
      const std::string id = recommendation["id"].get<std::string>();
      const auto known = next.by_id_.find(id);
      if (known == next.by_id_.end()) {
        next.order_.push_back(id);
      } else {
        recommendation["recommendationViewed"] = known->second["recommendationViewed"];
      }
      next.by_id_[id] = recommendation;
    }
    next.save();
    *this = std::move(next);
    return batch;
  }

  // Marks one viewed; nullopt for an unknown id.
  std::optional<nlohmann::json> mark_viewed(const std::string& id) {
    if (!by_id_.contains(id)) return std::nullopt;
    RecommendationStore next = *this;
    next.by_id_[id]["recommendationViewed"] = true;
    next.save();
    *this = std::move(next);
    return by_id_[id];
  }

  [[nodiscard]] std::optional<nlohmann::json> find(const std::string& id) const {
    const auto found = by_id_.find(id);
    if (found == by_id_.end()) return std::nullopt;
    return found->second;
  }

  // All recommendations, oldest first.
  [[nodiscard]] nlohmann::json all() const {
    nlohmann::json list = nlohmann::json::array();
    for (const std::string& id : order_) list.push_back(by_id_.at(id));
    return list;
  }

 private:
  void save() const {
    const nlohmann::json state = {{"format_version", format_version}, {"recommendations", all()}};
    redflag::write_file_atomically(file_, state.dump(1) + "\n");
  }

  std::filesystem::path file_;
  std::vector<std::string> order_;
  std::map<std::string, nlohmann::json> by_id_;
};

}  // namespace portfolio
