// Fuzz target: the CSV reader.
//
// Input: byte 0: bits 0–1 give the rank of the sample shape minus 1, bit 2 a header line, bit 3 a
// label column. Then one byte per dimension (its extent, 0–255; 0 must be refused), then, with a
// label column, one byte read as a signed column index (negative ones other than −1 must be
// refused). The rest is the CSV text, written to a scratch file and read with lrp::read_csv.
#include "fuzz_common.hpp"

#include "lrp/io/data.hpp"

#include <string>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  (void)lrp_fuzz::registry();  // logging off
  if (size < 1) return 0;
  const std::size_t rank = 1 + (data[0] & 3);
  const bool header = (data[0] & 4) != 0, labelled = (data[0] & 8) != 0;
  std::size_t at = 1;
  if (size < at + rank + (labelled ? 1 : 0)) return 0;
  lrp::Shape shape;
  for (std::size_t i = 0; i < rank; ++i) shape.push_back(data[at++]);
  const int label_column = labelled ? static_cast<int>(static_cast<int8_t>(data[at++])) : -1;
  const std::string path = lrp_fuzz::scratch().write("data.csv", lrp_fuzz::as_text(data + at, size - at));
  try {
    const lrp::Dataset d = lrp::read_csv(path, shape, label_column, header, {}, lrp_fuzz::limits());
    if (d.size() < 1 || d.inputs.shape != shape) std::abort();
    if (label_column >= 0 && d.labels.size() != static_cast<std::size_t>(d.size())) std::abort();
    if (label_column < 0 && !d.labels.empty()) std::abort();
  } catch (const lrp::Error& e) {
    lrp_fuzz::rejected(e);
  }
  return 0;
}
