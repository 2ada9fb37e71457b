#pragma once

// The self-contained HTML report: inline SVG charts and a table, no scripts,
// no external fonts or style sheets, so it opens anywhere (also offline, or
// as an e-mail attachment) and renders the same in every browser.

#include <redflag/core/types.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace market {

using redflag::Index;

// Flagged bars no more than `gap` unflagged bars apart, in one part of the series.
struct Episode {
  Index start = 0;  // first flagged bar
  Index end = 0;    // last flagged bar
  Index flagged = 0;
  Index peak = 0;  // bar with the highest score
  double peak_score = 0.0;
  bool test = false;  // in the test part (else in the training part)
};

// Bars start .. start + length - 1 carry an injected anomaly called `name`.
struct Band {
  Index start = 0;
  Index length = 0;
  std::string name;
};

struct Report {
  std::string title;
  std::vector<std::pair<std::string, std::string>> summary;  // label, value
  std::vector<std::string> timestamps;
  std::vector<double> close;
  std::vector<double> scores;  // per bar
  std::vector<bool> flagged;
  Index train_end = 0;  // bars before it are the training part
  double threshold = 0.0;
  std::vector<Episode> episodes;
  std::vector<Band> injected;
};

namespace html {

inline std::string escape(std::string_view text) {
  std::string out;
  for (const char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

inline std::string format(const char* spec, double value) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, spec, value);
  return buffer;
}

// SVG coordinate with one decimal: enough for a screen, and short.
inline std::string px(double value) { return format("%.1f", value); }

// About `target` round tick values (1, 2, 2.5 or 5 times a power of ten) in [lo, hi].
inline std::vector<double> linear_ticks(double lo, double hi, int target) {
  const double raw = (hi - lo) / target;
  const double power = std::pow(10.0, std::floor(std::log10(raw)));
  double step = power;
  for (const double m : {1.0, 2.0, 2.5, 5.0, 10.0}) {
    step = m * power;
    if (step >= raw) break;
  }
  std::vector<double> ticks;
  for (double t = std::ceil(lo / step) * step; t <= hi + step * 1e-9; t += step) ticks.push_back(t);
  return ticks;
}

// Tick bars along the time axis: the first bar of each year when the series
// spans a few years, of each month when it spans a few months, else evenly
// spaced bars; labelled with the year, the month or the whole timestamp.
inline std::vector<std::pair<Index, std::string>> time_ticks(const std::vector<std::string>& timestamps) {
  const auto n = static_cast<Index>(timestamps.size());
  for (const std::size_t prefix : {std::size_t{4}, std::size_t{7}}) {
    std::vector<std::pair<Index, std::string>> ticks;
    for (Index i = 0; i < n; ++i) {
      const std::string key = timestamps[static_cast<std::size_t>(i)].substr(0, prefix);
      if (ticks.empty() || ticks.back().second != key) ticks.emplace_back(i, key);
    }
    if (ticks.size() >= 3 && ticks.size() <= 16) return ticks;
    if (prefix == 7 && ticks.size() > 16 && ticks.size() <= 48) {  // every third month
      std::vector<std::pair<Index, std::string>> thinned;
      for (std::size_t k = 0; k < ticks.size(); k += 3) thinned.push_back(ticks[k]);
      return thinned;
    }
  }
  std::vector<std::pair<Index, std::string>> ticks;
  for (Index k = 0; k < 6; ++k) {
    const Index i = k * (n - 1) / 5;
    ticks.emplace_back(i, timestamps[static_cast<std::size_t>(i)]);
  }
  return ticks;
}

constexpr double chart_width = 1160, left = 72, right = 24, top = 34;
constexpr const char* red = "#d62728";
constexpr const char* blue = "#1f5fa8";

// A chart's frame: x maps a bar, y a value; writes the background, the
// training/test split, the time axis and the value grid.
struct Frame {
  double height, bottom;  // total height and the bottom margin
  Index bars;
  Index train_end;

  [[nodiscard]] double plot_height() const { return height - top - bottom; }
  [[nodiscard]] double x(double bar) const {
    return left + (chart_width - left - right) * bar / static_cast<double>(std::max<Index>(bars - 1, 1));
  }
  [[nodiscard]] double x_bar_width() const { return x(1) - x(0); }
};

inline void open_chart(std::ostream& out, std::string_view id, std::string_view label, const Frame& f) {
  out << "<svg id=\"" << id << "\" class=\"chart\" role=\"img\" aria-label=\"" << label << "\" viewBox=\"0 0 "
      << chart_width << ' ' << f.height << "\" width=\"" << chart_width << "\" height=\"" << f.height << "\">\n";
  // The training part on a grey ground, the test part on white.
  const double y0 = top, h = f.plot_height();
  out << "<rect x=\"" << left << "\" y=\"" << y0 << "\" width=\"" << px(chart_width - left - right) << "\" height=\""
      << px(h) << "\" fill=\"#fff\" stroke=\"#ccc\"/>\n";
  if (f.train_end > 0) {
    const double split = f.x(static_cast<double>(f.train_end) - 0.5);
    out << "<rect x=\"" << left << "\" y=\"" << y0 << "\" width=\"" << px(split - left) << "\" height=\"" << px(h)
        << "\" fill=\"#f1f2f4\"/>\n";
    out << "<line x1=\"" << px(split) << "\" y1=\"" << y0 << "\" x2=\"" << px(split) << "\" y2=\"" << px(y0 + h)
        << "\" stroke=\"#888\" stroke-dasharray=\"4 3\"/>\n";
    out << "<text x=\"" << px(split - 6) << "\" y=\"" << px(y0 + 14) << "\" class=\"part\" text-anchor=\"end\">"
        << "training</text>\n";
    out << "<text x=\"" << px(split + 6) << "\" y=\"" << px(y0 + 14) << "\" class=\"part\">test</text>\n";
  }
}

inline void time_axis(std::ostream& out, const Frame& f, const std::vector<std::string>& timestamps) {
  const double base = top + f.plot_height();
  auto ticks = time_ticks(timestamps);
  // A series that starts on a year's last days: label the full year after it, not the stub.
  if (ticks.size() > 2 && ticks[1].first - ticks[0].first < (ticks[2].first - ticks[1].first) / 4) {
    ticks.erase(ticks.begin());
  }
  double last_label = -1e9;
  for (const auto& [bar, label] : ticks) {
    const double x = f.x(static_cast<double>(bar));
    // A series starting on a year's last day would put two labels on top of each other.
    if (x - last_label < 7.0 * static_cast<double>(label.size()) + 12) continue;
    last_label = x;
    out << "<line x1=\"" << px(x) << "\" y1=\"" << px(base) << "\" x2=\"" << px(x) << "\" y2=\"" << px(base + 5)
        << "\" stroke=\"#555\"/>\n";
    out << "<text x=\"" << px(x) << "\" y=\"" << px(base + 19) << "\" text-anchor=\"middle\">" << escape(label)
        << "</text>\n";
  }
}

inline void value_grid(std::ostream& out, const Frame& f, const std::vector<std::pair<double, std::string>>& ticks,
                       std::string_view axis_label) {
  for (const auto& [y, label] : ticks) {
    out << "<line x1=\"" << left << "\" y1=\"" << px(y) << "\" x2=\"" << px(chart_width - right) << "\" y2=\"" << px(y)
        << "\" stroke=\"#e3e3e3\"/>\n";
    out << "<text x=\"" << left - 6 << "\" y=\"" << px(y + 4) << "\" text-anchor=\"end\">" << label << "</text>\n";
  }
  const double middle = top + f.plot_height() / 2;
  out << "<text transform=\"translate(16 " << px(middle) << ") rotate(-90)\" text-anchor=\"middle\" class=\"axis\">"
      << axis_label << "</text>\n";
}

// Light bands over the bars of each episode (red) and injected event (orange).
inline void bands(std::ostream& out, const Frame& f, const Report& r) {
  const auto band = [&](Index start, Index end, const char* fill, double opacity) {
    const double x0 = f.x(static_cast<double>(start) - 0.5), x1 = f.x(static_cast<double>(end) + 0.5);
    out << "<rect x=\"" << px(x0) << "\" y=\"" << top << "\" width=\"" << px(std::max(x1 - x0, 2.0)) << "\" height=\""
        << px(f.plot_height()) << "\" fill=\"" << fill << "\" fill-opacity=\"" << opacity << "\"/>\n";
  };
  for (const Band& b : r.injected) band(b.start, b.start + b.length - 1, "#ff9f1c", 0.35);
  for (const Episode& e : r.episodes) band(e.start, e.end, red, 0.12);
}

inline void polyline(std::ostream& out, const Frame& f, const std::vector<double>& values, auto&& y, const char* colour,
                     std::string_view cls) {
  out << "<path class=\"" << cls << "\" fill=\"none\" stroke=\"" << colour
      << "\" stroke-width=\"1.2\" stroke-linejoin=\"round\" d=\"";
  bool pen_down = false;
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (!std::isfinite(values[i])) {
      pen_down = false;
      continue;
    }
    out << (pen_down ? 'L' : 'M') << px(f.x(static_cast<double>(i))) << ',' << px(y(values[i]));
    pen_down = true;
  }
  out << "\"/>\n";
}

inline void dots(std::ostream& out, const Frame& f, const Report& r, const std::vector<double>& values, auto&& y) {
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (!r.flagged[i]) continue;
    out << "<circle class=\"anomaly\" cx=\"" << px(f.x(static_cast<double>(i))) << "\" cy=\"" << px(y(values[i]))
        << "\" r=\"2.6\" fill=\"" << red << "\"><title>" << escape(r.timestamps[i]) << ": close "
        << format("%.2f", r.close[i]) << ", score " << format("%.4g", r.scores[i]) << "</title></circle>\n";
  }
}

inline void legend(std::ostream& out, const std::vector<std::pair<std::string, std::string>>& items) {
  // items: (SVG snippet drawn in a 18 x 10 box at the origin, label), right-aligned along the top.
  double x = chart_width - right;
  std::vector<std::pair<double, std::size_t>> placed;
  for (std::size_t k = items.size(); k-- > 0;) {
    x -= 34 + 7.0 * static_cast<double>(items[k].second.size());
    placed.emplace_back(x, k);
  }
  for (const auto& [x0, k] : placed) {
    out << "<g transform=\"translate(" << px(x0) << " 12)\">" << items[k].first << "<text x=\"24\" y=\"9\">"
        << escape(items[k].second) << "</text></g>\n";
  }
}

inline void price_chart(std::ostream& out, const Report& r) {
  const Frame f{.height = 380, .bottom = 34, .bars = static_cast<Index>(r.close.size()), .train_end = r.train_end};
  const auto [lo_it, hi_it] = std::minmax_element(r.close.begin(), r.close.end());
  const double pad = (*hi_it - *lo_it) * 0.05;
  const double lo = *lo_it - pad, hi = *hi_it + pad;
  const auto y = [&](double price) { return top + f.plot_height() * (hi - price) / (hi - lo); };
  open_chart(out, "price-chart", "closing price with the anomalies marked", f);
  bands(out, f, r);
  std::vector<std::pair<double, std::string>> grid;
  for (const double t : linear_ticks(lo, hi, 6)) grid.emplace_back(y(t), format("%g", t));
  value_grid(out, f, grid, "close (USD)");
  time_axis(out, f, r.timestamps);
  polyline(out, f, r.close, y, blue, "close");
  dots(out, f, r, r.close, y);
  std::vector<std::pair<std::string, std::string>> items = {
      {"<line x1=\"0\" y1=\"5\" x2=\"18\" y2=\"5\" stroke=\"" + std::string(blue) + "\" stroke-width=\"2\"/>", "close"},
      {"<circle cx=\"9\" cy=\"5\" r=\"3\" fill=\"" + std::string(red) + "\"/>", "anomalous bar"},
      {"<rect width=\"18\" height=\"10\" fill=\"" + std::string(red) + "\" fill-opacity=\"0.2\"/>", "episode"}};
  if (!r.injected.empty()) {
    items.emplace_back("<rect width=\"18\" height=\"10\" fill=\"#ff9f1c\" fill-opacity=\"0.45\"/>", "injected");
  }
  legend(out, items);
  out << "</svg>\n";
}

inline void error_chart(std::ostream& out, const Report& r) {
  const Frame f{.height = 300, .bottom = 34, .bars = static_cast<Index>(r.scores.size()), .train_end = r.train_end};
  // Log scale: the scores span orders of magnitude, and a linear axis would
  // flatten everything but the largest spike.
  double lo = r.threshold, hi = r.threshold;
  std::vector<double> finite;
  for (const double s : r.scores) {
    if (std::isfinite(s) && s > 0) finite.push_back(s);
  }
  std::sort(finite.begin(), finite.end());
  if (!finite.empty()) {
    lo = std::min(lo, finite[finite.size() / 200]);  // the 0.5 % quantile: the odd near-zero score is clipped
    hi = std::max(hi, finite.back());
  }
  const double log_lo = std::floor(std::log10(lo) * 4) / 4, log_hi = std::ceil(std::log10(hi) * 4) / 4;
  const auto y = [&](double s) {
    const double l = std::clamp(std::log10(std::max(s, 1e-300)), log_lo, log_hi);
    return top + f.plot_height() * (log_hi - l) / (log_hi - log_lo);
  };
  open_chart(out, "error-chart", "reconstruction error per bar with the threshold", f);
  bands(out, f, r);
  std::vector<std::pair<double, std::string>> grid;
  const bool few_decades = log_hi - log_lo < 2.5;
  for (int e = static_cast<int>(std::floor(log_lo)); e <= static_cast<int>(std::ceil(log_hi)); ++e) {
    for (const double m : {1.0, 2.0, 5.0}) {
      if (m != 1.0 && !few_decades) continue;
      const double v = m * std::pow(10.0, e);
      if (std::log10(v) >= log_lo - 1e-9 && std::log10(v) <= log_hi + 1e-9) grid.emplace_back(y(v), format("%g", v));
    }
  }
  value_grid(out, f, grid, "error per bar (log)");
  time_axis(out, f, r.timestamps);
  polyline(out, f, r.scores, y, "#444", "score");
  const double ty = y(r.threshold);
  out << "<line class=\"threshold\" x1=\"" << left << "\" y1=\"" << px(ty) << "\" x2=\"" << px(chart_width - right)
      << "\" y2=\"" << px(ty) << "\" stroke=\"" << red << "\" stroke-width=\"1.5\" stroke-dasharray=\"7 4\"/>\n";
  // At the right end, with a white halo so the score line does not cross it.
  out << "<text x=\"" << px(chart_width - right - 6) << "\" y=\"" << px(ty - 6) << "\" text-anchor=\"end\" fill=\""
      << red << "\" stroke=\"#fff\" stroke-width=\"4\" paint-order=\"stroke\">threshold " << format("%.4g", r.threshold)
      << "</text>\n";
  dots(out, f, r, r.scores, y);
  legend(out, {{"<line x1=\"0\" y1=\"5\" x2=\"18\" y2=\"5\" stroke=\"#444\" stroke-width=\"2\"/>", "error per bar"},
               {"<line x1=\"0\" y1=\"5\" x2=\"18\" y2=\"5\" stroke=\"" + std::string(red) +
                    "\" stroke-width=\"2\" stroke-dasharray=\"5 3\"/>",
                "threshold"},
               {"<circle cx=\"9\" cy=\"5\" r=\"3\" fill=\"" + std::string(red) + "\"/>", "anomalous bar"}});
  out << "</svg>\n";
}

inline void episode_table(std::ostream& out, const Report& r) {
  out << "<table id=\"anomalies\">\n<thead><tr><th>#</th><th>part</th><th>from</th><th>to</th><th>bars flagged</th>"
         "<th>peak</th><th>peak score</th><th>close at peak</th><th>close change</th></tr></thead>\n<tbody>\n";
  int number = 0;
  // The test part first: its flags are the detector's findings. The training
  // part's are the contamination share of the bars it learned from.
  std::vector<Episode> ordered;
  for (const bool test : {true, false}) {
    for (const Episode& e : r.episodes) {
      if (e.test == test) ordered.push_back(e);
    }
  }
  for (const Episode& e : ordered) {
    const auto at = [&](Index i) { return r.close[static_cast<std::size_t>(i)]; };
    // From the close before the episode to its last close.
    const double before = at(std::max<Index>(e.start - 1, 0));
    out << "<tr" << (e.test ? " class=\"test\"" : "") << "><td>" << ++number << "</td><td>"
        << (e.test ? "test" : "training") << "</td><td>" << escape(r.timestamps[static_cast<std::size_t>(e.start)])
        << "</td><td>" << escape(r.timestamps[static_cast<std::size_t>(e.end)]) << "</td><td>" << e.flagged
        << "</td><td>" << escape(r.timestamps[static_cast<std::size_t>(e.peak)]) << "</td><td>"
        << format("%.4g", e.peak_score) << "</td><td>" << format("%.2f", at(e.peak)) << "</td><td>"
        << format("%+.1f %%", 100.0 * (at(e.end) / before - 1.0)) << "</td></tr>\n";
  }
  out << "</tbody>\n</table>\n";
}

}  // namespace html

inline void write_report(std::ostream& out, const Report& r) {
  out << R"(<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>)"
      << html::escape(r.title) << R"(</title>
<style>
body { font-family: "DejaVu Sans", Helvetica, Arial, sans-serif; color: #222; margin: 24px auto; max-width: 1180px; font-size: 14px; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 16px; margin: 22px 0 6px; }
p.note { color: #555; margin: 4px 0 10px; }
dl.summary { display: grid; grid-template-columns: max-content auto; gap: 2px 16px; margin: 10px 0; }
dl.summary dt { color: #555; }
dl.summary dd { margin: 0; }
svg.chart { display: block; font-size: 12px; }
svg.chart text { fill: #333; }
svg.chart text.part { fill: #777; font-style: italic; }
svg.chart text.axis { fill: #555; }
table { border-collapse: collapse; font-size: 13px; }
th, td { border-bottom: 1px solid #ddd; padding: 3px 10px; text-align: right; }
th { background: #f1f2f4; }
tr.test td { background: #fff4f4; }
</style>
</head>
<body>
)";
  out << "<h1>" << html::escape(r.title) << "</h1>\n<dl class=\"summary\">\n";
  for (const auto& [label, value] : r.summary) {
    out << "<dt>" << html::escape(label) << "</dt><dd>" << html::escape(value) << "</dd>\n";
  }
  out << "</dl>\n<h2>Price</h2>\n<p class=\"note\">Daily close; red dots are bars whose reconstruction error reaches "
         "the threshold, red bands the episodes they form.</p>\n";
  html::price_chart(out, r);
  out << "<h2>Reconstruction error</h2>\n<p class=\"note\">Each bar's error, averaged over every window that "
         "contains it; dashed: the threshold, the training bars' quantile at the contamination.</p>\n";
  html::error_chart(out, r);
  out << "<h2>Anomalies</h2>\n<p class=\"note\">Episodes of flagged bars, the test part first; in the training "
         "part the threshold flags the contamination share by construction. Close change: from the close before "
         "the episode to its last close.</p>\n";
  html::episode_table(out, r);
  out << "</body>\n</html>\n";
}

}  // namespace market
