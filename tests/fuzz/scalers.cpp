// Scaler model files: StandardScaler, MinMaxScaler, RobustScaler.

#include <redflag/preprocessing/min_max_scaler.hpp>
#include <redflag/preprocessing/robust_scaler.hpp>
#include <redflag/preprocessing/standard_scaler.hpp>

#include "fuzz_support.hpp"

namespace redflag::fuzz {
namespace {

template <class Scaler>
void transform(const Scaler& scaler) {
  probe(scaler, [&](const auto& X) { (void)scaler.inverse_transform(scaler.transform(X)); });
}

template <template <class> class Scaler>
void both_scalars(std::string_view input) {
  load_and_use<Scaler<float>>(input, transform<Scaler<float>>);
  load_and_use<Scaler<double>>(input, transform<Scaler<double>>);
}

}  // namespace

void scalers(std::string_view input) {
  both_scalars<StandardScaler>(input);
  both_scalars<MinMaxScaler>(input);
  both_scalars<RobustScaler>(input);
}

}  // namespace redflag::fuzz
