// Fits an IsolationForest, saves it, loads it back and checks that the loaded
// model scores the data bit for bit like the original: this exercises Eigen
// and cereal (the model file) through the packaged headers.
#include <redflag/redflag.hpp>

#include <cstring>
#include <iostream>
#include <sstream>

int main() {
  if (redflag::version_string != REDFLAG_EXPECTED_VERSION) {
    std::cerr << "headers say redflag " << redflag::version_string << ", the package is " << REDFLAG_EXPECTED_VERSION
              << "\n";
    return 1;
  }

  redflag::Matrix<double> X(64, 3);
  for (redflag::Index i = 0; i < X.rows(); ++i) {
    X.row(i) << static_cast<double>(i % 8), static_cast<double>(i % 5) * 0.5, static_cast<double>(i % 3);
  }
  X.row(63) << 40.0, -20.0, 30.0;  // an outlier

  redflag::IsolationForest<double> model({.n_estimators = 20, .random_state = 7});
  model.fit(X);

  std::stringstream file(std::ios::in | std::ios::out | std::ios::binary);
  redflag::save(model, file);
  const auto loaded = redflag::load<redflag::IsolationForest<double>>(file);

  const redflag::Vector<double> original = model.anomaly_score(X);
  const redflag::Vector<double> reloaded = loaded.anomaly_score(X);
  const bool same =
      original.size() == reloaded.size() &&
      std::memcmp(original.data(), reloaded.data(), static_cast<std::size_t>(original.size()) * sizeof(double)) == 0;
  std::cout << "redflag " << redflag::version_string << ": outlier score " << original(63)
            << (same ? ", reloaded model scores identical\n" : ", RELOADED MODEL SCORES DIFFER\n");
  return same ? 0 : 1;
}
