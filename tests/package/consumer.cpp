// Compiled by every packaging test: includes the umbrella header and uses the
// core so a missing include path, dependency or compile feature fails here.
#include <redflag/redflag.hpp>

#include <iostream>

int main() {
  redflag::Matrix<double> X(4, 2);
  X << 1, 2, 3, 4, 5, 6, 7, 8;
  redflag::StandardScaler<double> scaler;
  const redflag::Matrix<double> Z = scaler.fit(X).transform(X);
  redflag::LabelVector y(4);
  y << 0, 0, 1, 1;
  const double auc = redflag::roc_auc_score(y, Z.col(0));
  std::cout << "redflag " << redflag::version_string << " ROC AUC " << auc << "\n";
  return auc == 1.0 ? 0 : 1;
}
