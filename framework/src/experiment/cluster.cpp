// lrp::Cluster: the single process, and (with -DLRP_MPI=ON) the ranks of MPI_COMM_WORLD.
#include "lrp/experiment/cluster.hpp"

#include "lrp/core/error.hpp"

#include <climits>
#include <cstdlib>

#ifdef LRP_WITH_MPI
#include <mpi.h>
#endif

namespace lrp {

std::vector<double> sum_over_ranks(const Cluster& cluster, const std::vector<double>& mine) {
  const std::vector<double> all = cluster.all_gather(mine);
  std::vector<double> sum(mine.size(), 0.0);
  for (std::size_t i = 0; i < all.size(); ++i) sum[i % mine.size()] += all[i];
  return sum;
}

namespace {

class SingleProcess final : public Cluster {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  std::vector<double> all_gather(const std::vector<double>& mine) const override { return mine; }
  std::string broadcast(const std::string& bytes, int) const override { return bytes; }
  std::optional<std::string> first_error(const std::optional<std::string>& mine) const override { return mine; }
  std::string describe() const override { return "1 process"; }
};

#ifdef LRP_WITH_MPI

void check_mpi(int code, const char* call) {
  if (code == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING] = {};
  int length = 0;
  MPI_Error_string(code, text, &length);
  LRP_FAIL("MPI: ", call, " failed: ", std::string(text, static_cast<std::size_t>(length)));
}

int to_int(std::size_t n, const char* what) {
  LRP_CHECK(n <= static_cast<std::size_t>(INT_MAX), "MPI: ", what, " of ", n, " values exceeds one message (", INT_MAX,
            "); use fewer samples per run or more ranks");
  return static_cast<int>(n);
}

class MpiWorld final : public Cluster {
 public:
  MpiWorld() {
    int initialized = 0;
    MPI_Initialized(&initialized);
    if (!initialized) {
      int provided = 0;
      check_mpi(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread");
      std::atexit([] {
        int finalized = 0;
        MPI_Finalized(&finalized);
        if (!finalized) MPI_Finalize();
      });
    }
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &size_);
  }
  int rank() const override { return rank_; }
  int size() const override { return size_; }

  std::vector<double> all_gather(const std::vector<double>& mine) const override {
    const int count = to_int(mine.size(), "a rank's share");
    std::vector<int> counts(static_cast<std::size_t>(size_)), offsets(static_cast<std::size_t>(size_));
    check_mpi(MPI_Allgather(&count, 1, MPI_INT, counts.data(), 1, MPI_INT, MPI_COMM_WORLD), "MPI_Allgather");
    std::size_t total = 0;
    for (int r = 0; r < size_; ++r) {
      offsets[static_cast<std::size_t>(r)] = to_int(total, "the gathered results");
      total += static_cast<std::size_t>(counts[static_cast<std::size_t>(r)]);
    }
    (void)to_int(total, "the gathered results");
    std::vector<double> all(total);
    check_mpi(MPI_Allgatherv(mine.data(), count, MPI_DOUBLE, all.data(), counts.data(), offsets.data(), MPI_DOUBLE,
                             MPI_COMM_WORLD),
              "MPI_Allgatherv");
    return all;
  }

  std::string broadcast(const std::string& bytes, int root) const override {
    long long size = rank_ == root ? static_cast<long long>(bytes.size()) : 0;
    check_mpi(MPI_Bcast(&size, 1, MPI_LONG_LONG, root, MPI_COMM_WORLD), "MPI_Bcast");
    std::string out = rank_ == root ? bytes : std::string(static_cast<std::size_t>(size), '\0');
    check_mpi(MPI_Bcast(out.data(), to_int(out.size(), "a broadcast"), MPI_CHAR, root, MPI_COMM_WORLD), "MPI_Bcast");
    return out;
  }

  std::optional<std::string> first_error(const std::optional<std::string>& mine) const override {
    const int failed = mine ? rank_ : size_;
    int first = size_;
    check_mpi(MPI_Allreduce(&failed, &first, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD), "MPI_Allreduce");
    if (first == size_) return std::nullopt;
    const std::string message = broadcast(mine ? *mine : std::string(), first);
    return size_ > 1 ? "rank " + std::to_string(first) + ": " + message : message;
  }

  std::string describe() const override { return "MPI, " + std::to_string(size_) + (size_ == 1 ? " rank" : " ranks"); }

 private:
  int rank_ = 0, size_ = 1;
};

#endif

}  // namespace

const Cluster& single_process() {
  static const SingleProcess one;
  return one;
}

const Cluster* mpi_world() {
#ifdef LRP_WITH_MPI
  static const MpiWorld world;
  return &world;
#else
  return nullptr;
#endif
}

bool built_with_mpi() {
#ifdef LRP_WITH_MPI
  return true;
#else
  return false;
#endif
}

}  // namespace lrp
