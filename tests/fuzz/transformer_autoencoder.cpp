// TransformerAutoencoder model files, binary or JSON, float or double.

#include <redflag/nn/transformer_autoencoder.hpp>

#include "fuzz_support.hpp"

namespace redflag::fuzz {
namespace {

template <class Model>
void score(const Model& model) {
  probe(model, [&](const auto& windows) { (void)model.anomaly_score(windows); });
}

}  // namespace

void transformer_autoencoder(std::string_view input) {
  load_and_use<TransformerAutoencoder<float>>(input, score<TransformerAutoencoder<float>>);
  load_and_use<TransformerAutoencoder<double>>(input, score<TransformerAutoencoder<double>>);
}

}  // namespace redflag::fuzz
