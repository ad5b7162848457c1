// Comparing two results files of `lrplab run`, dataset by dataset and attribute by attribute:
// what `lrplab compare A.h5 B.h5` prints, what the MPI tests check (a K-rank run writes the
// single-process file), and how a change is shown to change no number (tests/compare_shipped_configs.sh).
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace lrp {

struct ResultsComparison {
  // One line per difference: "/explanations/random/relevance", "/model @accuracy",
  // "/metrics: different members", ... (empty: the files agree).
  std::vector<std::string> differences;
  std::size_t datasets = 0;  // datasets compared
};

// Every dataset value (floats compared exactly, NaN equal to NaN) and every attribute, except what
// describes the circumstances of a run rather than its results: start and end times, wall and
// stage seconds, host, ranks and cluster, run id, git commit, and the resolved config text and its
// overrides (they name the output files). Throws lrp::Error for a file that cannot be read.
ResultsComparison compare_results(const std::string& a, const std::string& b);

}  // namespace lrp
