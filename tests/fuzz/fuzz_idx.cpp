// Fuzz target: the IDX reader (MNIST-family images and labels, plain or gzip).
//
// Input: byte 0 says whether there is a labels file (bit 0). Without labels, the rest is the images
// file. With labels, bytes 1–2 (little-endian) give the length of the images file, which follows;
// the labels file is the rest. Both are written to scratch files and read with lrp::read_idx.
#include "fuzz_common.hpp"

#include "lrp/io/data.hpp"

#include <algorithm>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  (void)lrp_fuzz::registry();  // logging off
  if (size < 1) return 0;
  const bool with_labels = (data[0] & 1) != 0;
  std::string_view rest = lrp_fuzz::as_text(data + 1, size - 1);
  std::string_view images = rest, labels;
  if (with_labels) {
    if (rest.size() < 2) return 0;
    const std::size_t length = std::min<std::size_t>(static_cast<std::size_t>(data[1]) | (std::size_t{data[2]} << 8),
                                                     rest.size() - 2);
    images = rest.substr(2, length);
    labels = rest.substr(2 + length);
  }
  const std::string images_path = lrp_fuzz::scratch().write("images.idx", images);
  const std::string labels_path = with_labels ? lrp_fuzz::scratch().write("labels.idx", labels) : std::string();
  try {
    const lrp::Dataset d = lrp::read_idx(images_path, labels_path, 1.0 / 255.0, {}, lrp_fuzz::limits());
    if (d.size() < 1 || d.inputs.shape.size() != 3 || d.indices.size() != static_cast<std::size_t>(d.size()))
      std::abort();
    if (with_labels && d.labels.size() != static_cast<std::size_t>(d.size())) std::abort();
    if (d.value_min < 0 || d.value_max > 1) std::abort();  // bytes / 255
  } catch (const lrp::Error& e) {
    lrp_fuzz::rejected(e);
  }
  return 0;
}
