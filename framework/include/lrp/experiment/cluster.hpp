// The processes one experiment runs on: a single process (the default), or the ranks of an MPI job
// (`mpirun -n K lrplab run CONFIG`, in a build with -DLRP_MPI=ON). run_experiment takes a Cluster
// and shards its work over the ranks; with the single process every collective is the identity,
// so one code path serves both.
//
// Every call below is collective: all ranks make it, in the same order.
#pragma once

#include "lrp/core/error.hpp"

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace lrp {

class Cluster {
 public:
  virtual ~Cluster() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  // Every rank's doubles, concatenated in rank order (the ranks may contribute different counts).
  virtual std::vector<double> all_gather(const std::vector<double>& mine) const = 0;
  // Rank `root`'s bytes on every rank.
  virtual std::string broadcast(const std::string& bytes, int root) const = 0;
  // Whether any rank failed: every rank passes its own error (none: nullopt) and gets the message
  // of the lowest failing rank, prefixed with "rank r: " when there is more than one rank.
  virtual std::optional<std::string> first_error(const std::optional<std::string>& mine) const = 0;
  // A short description for logs and the results file ("1 process", "MPI, 4 ranks").
  virtual std::string describe() const = 0;
};

// A failure every rank of a run shares (Cluster::first_error): thrown on all ranks with the failing
// rank's message; rank() is the rank that caught it (lrplab prints it on rank 0 only).
class CollectiveError : public Error {
 public:
  CollectiveError(const std::string& message, int rank) : Error(message), rank_(rank) {}
  int rank() const { return rank_; }

 private:
  int rank_;
};

// Runs this rank's part of a stage. If any rank failed, every rank throws the first failure (with
// more than one rank, prefixed "rank r: "), so no rank waits forever and none writes results.
template <typename Fn>
void collectively(const Cluster& cluster, Fn&& fn) {
  std::optional<std::string> error;
  try {
    fn();
  } catch (const std::exception& e) {
    error = e.what();
  } catch (...) {
    error = "an exception that is not a std::exception";
  }
  if (const std::optional<std::string> first = cluster.first_error(error)) throw CollectiveError(*first, cluster.rank());
}

// Per-rank values summed over the ranks (every rank passes as many; the sums in rank order).
std::vector<double> sum_over_ranks(const Cluster& cluster, const std::vector<double>& mine);

// The single process.
const Cluster& single_process();

// The ranks of MPI_COMM_WORLD (initializes MPI on first use and finalizes it at exit); nullptr in a
// build without MPI.
const Cluster* mpi_world();
// Whether this lrplab was built with MPI (-DLRP_MPI=ON).
bool built_with_mpi();

}  // namespace lrp
