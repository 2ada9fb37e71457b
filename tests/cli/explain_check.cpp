// Checks the CSV `redflag score --explain K` writes, which CMake scripts
// cannot (their arithmetic is integer-only):
//
//   explain_check EXPLAINED.csv K D [--scores SCORES.csv] [--top TOP.csv K2] [--tolerance X]
//
// EXPLAINED.csv: the header anomaly_score,prediction,base_value,feature_1,
// contribution_1,...; per row a score in (0, 1], a 0/1 prediction, one base
// value shared by all rows, K distinct feature names with contributions in
// non-increasing order, and, when K = D (all features), base_value + the sum
// of the contributions = the score within the tolerance (default 1e-9).
// --scores: the score and prediction columns equal, as text, those of a plain
// `redflag score` run. --top: TOP.csv, written with --explain K2 < K, lists
// the first K2 features and contributions of each row of EXPLAINED.csv.
// Prints one summary line; exits 1 naming the first fault.
//
//   explain_check --proba EXPLAINED.csv K D [--scores PLAIN.csv] [--top TOP.csv K2] [--tolerance X]
//
// The same for a RandomForestClassifier's CSV: the header proba_<label>...,
// prediction,explained_class,expected_value,feature_1,contribution_1,...; per
// row probabilities in [0, 1] adding up to 1, the prediction the most
// probable label (the first on ties), with two classes the larger label
// explained on every row with one expected value, and with K = D
// expected_value + the contributions = proba_<explained_class>. --scores
// compares the probability and prediction columns with a plain run's.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace {

[[noreturn]] void fail(const std::string& what) {
  std::cerr << "explain_check: " << what << "\n";
  std::exit(1);
}

std::vector<std::string> split(const std::string& line) {
  std::vector<std::string> fields;
  std::stringstream in(line);
  std::string field;
  while (std::getline(in, field, ',')) fields.push_back(field);
  if (!line.empty() && line.back() == ',') fields.emplace_back();
  return fields;
}

std::vector<std::string> read_lines(const std::string& path) {
  std::ifstream in(path);
  if (!in) fail("cannot open " + path);
  std::vector<std::string> lines;
  std::string line;
  while (std::getline(in, line)) lines.push_back(line);
  if (lines.empty()) fail(path + " is empty");
  return lines;
}

double number(const std::string& text, const std::string& where) {
  char* end = nullptr;
  const double value = std::strtod(text.c_str(), &end);
  if (text.empty() || *end != '\0') fail(where + ": '" + text + "' is not a number");
  return value;
}

std::string expected_header(long k) {
  std::string header = "anomaly_score,prediction,base_value";
  for (long j = 1; j <= k; ++j) header += ",feature_" + std::to_string(j) + ",contribution_" + std::to_string(j);
  return header;
}

struct Options {
  std::string path, scores_path, top_path;
  long k = 0, d = 0, top_k = 0;
  double tolerance = 1e-9;
};

Options parse(int argc, char** argv, int first) {
  Options options;
  options.path = argv[first];
  options.k = std::atol(argv[first + 1]);
  options.d = std::atol(argv[first + 2]);
  for (int i = first + 3; i < argc; ++i) {
    const std::string option = argv[i];
    if (option == "--scores" && i + 1 < argc) {
      options.scores_path = argv[++i];
    } else if (option == "--top" && i + 2 < argc) {
      options.top_path = argv[++i];
      options.top_k = std::atol(argv[++i]);
    } else if (option == "--tolerance" && i + 1 < argc) {
      options.tolerance = number(argv[++i], "--tolerance");
    } else {
      fail("unknown argument " + option);
    }
  }
  return options;
}

// --proba: a RandomForestClassifier's probabilities and explanations.
int check_proba(const Options& o) {
  const std::vector<std::string> lines = read_lines(o.path);
  const std::vector<std::string> header = split(lines[0]);
  std::vector<std::string> labels;
  while (labels.size() < header.size() && header[labels.size()].rfind("proba_", 0) == 0) {
    labels.push_back(header[labels.size()].substr(6));
  }
  const std::size_t c = labels.size();
  if (c < 2) fail(o.path + ": fewer than 2 proba_ columns in '" + lines[0] + "'");
  std::string expected = "prediction,explained_class,expected_value";
  for (long j = 1; j <= o.k; ++j) expected += ",feature_" + std::to_string(j) + ",contribution_" + std::to_string(j);
  std::string rest;
  for (std::size_t f = c; f < header.size(); ++f) rest += (f == c ? "" : ",") + header[f];
  if (rest != expected) fail(o.path + ": header ends '" + rest + "', expected '" + expected + "'");
  std::vector<std::string> plain, top;
  if (!o.scores_path.empty()) plain = read_lines(o.scores_path);
  if (!o.top_path.empty()) top = read_lines(o.top_path);
  if (!plain.empty() && plain.size() != lines.size()) fail("--scores has another row count");
  if (!top.empty() && top.size() != lines.size()) fail("--top has another row count");

  std::string expected_text;
  double worst = 0.0;
  for (std::size_t r = 1; r < lines.size(); ++r) {
    const std::string where = o.path + " line " + std::to_string(r + 1);
    const std::vector<std::string> fields = split(lines[r]);
    if (fields.size() != c + 3 + 2 * static_cast<std::size_t>(o.k)) fail(where + ": wrong field count");
    double sum = 0.0;
    std::size_t best = 0;
    std::vector<double> proba(c);
    for (std::size_t k = 0; k < c; ++k) {
      proba[k] = number(fields[k], where);
      if (!(proba[k] >= 0.0 && proba[k] <= 1.0)) fail(where + ": probability " + fields[k] + " not in [0, 1]");
      if (proba[k] > proba[best]) best = k;
      sum += proba[k];
    }
    if (std::abs(sum - 1.0) > 1e-6) fail(where + ": probabilities add up to " + std::to_string(sum));
    if (fields[c] != labels[best]) fail(where + ": prediction " + fields[c] + ", most probable " + labels[best]);
    const std::string& explained = fields[c + 1];
    const auto at = std::find(labels.begin(), labels.end(), explained);
    if (at == labels.end()) fail(where + ": explained_class '" + explained + "' is not a class");
    if (c == 2) {
      if (explained != labels[1]) fail(where + ": explained class " + explained + ", expected " + labels[1]);
      if (r == 1) expected_text = fields[c + 2];
      if (fields[c + 2] != expected_text) fail(where + ": expected_value differs from the first row's");
    }
    double total = number(fields[c + 2], where);
    std::set<std::string> names;
    double previous = INFINITY;
    for (long j = 0; j < o.k; ++j) {
      const std::string& name = fields[c + 3 + 2 * static_cast<std::size_t>(j)];
      if (name.empty() || !names.insert(name).second) fail(where + ": feature '" + name + "' empty or repeated");
      const double contribution = number(fields[c + 4 + 2 * static_cast<std::size_t>(j)], where);
      if (contribution > previous) fail(where + ": contributions are not in non-increasing order");
      previous = contribution;
      total += contribution;
    }
    if (o.k == o.d) {
      const double error = std::abs(total - proba[static_cast<std::size_t>(at - labels.begin())]);
      worst = std::max(worst, error);
      if (error > o.tolerance) fail(where + ": expected_value + contributions = " + std::to_string(total));
    }
    if (!plain.empty()) {
      std::string head = fields[0];
      for (std::size_t f = 1; f <= c; ++f) head += "," + fields[f];
      if (plain[r] != head) fail(where + ": '" + head + "' but the plain run says '" + plain[r] + "'");
    }
    if (!top.empty()) {
      const std::vector<std::string> short_fields = split(top[r]);
      if (short_fields.size() != c + 3 + 2 * static_cast<std::size_t>(o.top_k))
        fail(o.top_path + ": wrong field count");
      for (std::size_t f = 0; f < short_fields.size(); ++f) {
        if (short_fields[f] != fields[f])
          fail(o.top_path + " line " + std::to_string(r + 1) + ": field " + std::to_string(f + 1));
      }
    }
  }
  std::cout << "ok: " << lines.size() - 1 << " rows, " << c << " classes";
  if (o.k == o.d) std::cout << ", max |expected_value + sum - proba| = " << worst;
  std::cout << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc >= 5 && std::string(argv[1]) == "--proba") return check_proba(parse(argc, argv, 2));
  if (argc < 4) fail("usage: explain_check EXPLAINED.csv K D [--scores S.csv] [--top T.csv K2] [--tolerance X]");
  const std::string path = argv[1];
  const long k = std::atol(argv[2]);
  const long d = std::atol(argv[3]);
  std::string scores_path, top_path;
  long top_k = 0;
  double tolerance = 1e-9;
  for (int i = 4; i < argc; ++i) {
    const std::string option = argv[i];
    if (option == "--scores" && i + 1 < argc) {
      scores_path = argv[++i];
    } else if (option == "--top" && i + 2 < argc) {
      top_path = argv[++i];
      top_k = std::atol(argv[++i]);
    } else if (option == "--tolerance" && i + 1 < argc) {
      tolerance = number(argv[++i], "--tolerance");
    } else {
      fail("unknown argument " + option);
    }
  }

  const std::vector<std::string> lines = read_lines(path);
  if (lines[0] != expected_header(k)) fail(path + ": header '" + lines[0] + "', expected '" + expected_header(k) + "'");
  std::vector<std::string> scores_lines, top_lines;
  if (!scores_path.empty()) scores_lines = read_lines(scores_path);
  if (!top_path.empty()) {
    if (top_k < 1 || top_k > k) fail("--top K2 must be in [1, K]");
    top_lines = read_lines(top_path);
    if (top_lines[0] != expected_header(top_k)) fail(top_path + ": header '" + top_lines[0] + "'");
  }
  if (!scores_lines.empty() && scores_lines.size() != lines.size()) fail("--scores has another row count");
  if (!top_lines.empty() && top_lines.size() != lines.size()) fail("--top has another row count");

  std::string base_text;
  double worst = 0.0;
  long flagged = 0;
  for (std::size_t r = 1; r < lines.size(); ++r) {
    const std::string where = path + " line " + std::to_string(r + 1);
    const std::vector<std::string> fields = split(lines[r]);
    if (fields.size() != static_cast<std::size_t>(3 + 2 * k)) {
      fail(where + ": " + std::to_string(fields.size()) + " fields, expected " + std::to_string(3 + 2 * k));
    }
    const double score = number(fields[0], where);
    if (!(score > 0.0 && score <= 1.0)) fail(where + ": score " + fields[0] + " is not in (0, 1]");
    if (fields[1] != "0" && fields[1] != "1") fail(where + ": prediction '" + fields[1] + "'");
    flagged += fields[1] == "1";
    if (r == 1) base_text = fields[2];
    if (fields[2] != base_text) fail(where + ": base_value " + fields[2] + " differs from the first row's");
    double total = number(fields[2], where);
    std::set<std::string> names;
    double previous = INFINITY;
    for (long j = 0; j < k; ++j) {
      const std::string& name = fields[static_cast<std::size_t>(3 + 2 * j)];
      if (name.empty() || !names.insert(name).second) fail(where + ": feature '" + name + "' empty or repeated");
      const double contribution = number(fields[static_cast<std::size_t>(4 + 2 * j)], where);
      if (contribution > previous) fail(where + ": contributions are not in non-increasing order");
      previous = contribution;
      total += contribution;
    }
    if (k == d) {
      const double error = std::abs(total - score);
      worst = std::max(worst, error);
      if (error > tolerance) {
        fail(where + ": base_value + contributions = " + std::to_string(total) + ", score " + fields[0]);
      }
    }
    if (!scores_lines.empty() && scores_lines[r] != fields[0] + "," + fields[1]) {
      fail(where + ": '" + fields[0] + "," + fields[1] + "' but the plain scores say '" + scores_lines[r] + "'");
    }
    if (!top_lines.empty()) {
      const std::vector<std::string> top = split(top_lines[r]);
      if (top.size() != static_cast<std::size_t>(3 + 2 * top_k)) fail(top_path + ": wrong field count");
      for (std::size_t f = 0; f < top.size(); ++f) {
        if (top[f] != fields[f])
          fail(top_path + " line " + std::to_string(r + 1) + ": field " + std::to_string(f + 1) + " '" + top[f] +
               "', expected '" + fields[f] + "'");
      }
    }
  }
  std::cout << "ok: " << lines.size() - 1 << " rows, " << flagged << " flagged, base_value " << base_text;
  if (k == d) std::cout << ", max |base_value + sum - score| = " << worst;
  std::cout << "\n";
  return 0;
}
