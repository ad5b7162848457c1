// Fuzz target: the HDF5 data reader.
//
// Input: byte 0 chooses the layout (bit 0: NHWC), the labels dataset (bits 1–2), the lengths
// dataset (bits 3–4) and the inputs dataset (bits 5–7) from the names below; byte 1 bit 0 the
// scale (1 or 1/255). The rest is the file, written to a scratch .h5 file and read with
// lrp::read_hdf5.
#include "fuzz_common.hpp"

#include "lrp/io/data.hpp"

#include <string>

namespace {

const char* const kInputs[8] = {"/images", "/inputs", "/x", "/data", "/logits", "images", "/nchw", "/g/x"};
const char* const kLabels[4] = {"", "/labels", "/y", "/logits"};
const char* const kLengths[4] = {"", "/lengths", "/labels", "/len"};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  (void)lrp_fuzz::registry();  // logging off
  if (size < 2) return 0;
  const lrp::Hdf5Layout layout = (data[0] & 1) ? lrp::Hdf5Layout::kNHWC : lrp::Hdf5Layout::kNCHW;
  const std::string labels = kLabels[(data[0] >> 1) & 3];
  const std::string lengths = kLengths[(data[0] >> 3) & 3];
  const std::string inputs = kInputs[(data[0] >> 5) & 7];
  const double scale = (data[1] & 1) ? 1.0 / 255.0 : 1.0;
  const std::string path = lrp_fuzz::scratch().write("data.h5", lrp_fuzz::as_text(data + 2, size - 2));
  try {
    const lrp::Dataset d = lrp::read_hdf5(path, inputs, labels, layout, scale, lengths, {}, lrp_fuzz::limits());
    if (d.size() < 1 || d.indices.size() != static_cast<std::size_t>(d.size())) std::abort();
    if (!labels.empty() && d.labels.size() != static_cast<std::size_t>(d.size())) std::abort();
    if (!lengths.empty() && d.inputs.lengths.size() != static_cast<std::size_t>(d.size())) std::abort();
  } catch (const lrp::Error& e) {
    lrp_fuzz::rejected(e);
  }
  return 0;
}
