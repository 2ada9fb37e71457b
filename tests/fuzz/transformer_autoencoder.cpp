// TransformerAutoencoder model files, binary or JSON, float or double.

#include <redflag/nn/transformer_autoencoder.hpp>

#include "fuzz_support.hpp"

namespace redflag::fuzz {
namespace {

template <class Model>
void score(const Model& model) {
  using T = typename Model::scalar_type;
  const Index columns = model.schema().size();
  if (columns < 1 || columns > max_probe_columns) return;
  try {
    (void)model.anomaly_score(probe_rows<T>(columns));
  } catch (const error&) {
  }
  save_again(model);
}

}  // namespace

void transformer_autoencoder(std::string_view input) {
  load_and_use<TransformerAutoencoder<float>>(input, score<TransformerAutoencoder<float>>);
  load_and_use<TransformerAutoencoder<double>>(input, score<TransformerAutoencoder<double>>);
}

}  // namespace redflag::fuzz
