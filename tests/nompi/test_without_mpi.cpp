// A build without MPI (the default): the single process as a Cluster, and lrplab refusing to run
// as one of several processes that mpirun started (they would all write the same results file).
#include "run_command.hpp"
#include "temp_dir.hpp"
#include "test_util.hpp"

#include "lrp/experiment/cluster.hpp"

#include <sys/wait.h>

#include <cstdio>
#include <fstream>
#include <string>

using Catch::Matchers::Contains;

TEST_CASE("Without MPI the cluster is this process: its collectives return what they are given", "[cluster]") {
  CHECK_FALSE(lrp::built_with_mpi());
  CHECK(lrp::mpi_world() == nullptr);
  const lrp::Cluster& one = lrp::single_process();
  CHECK(one.rank() == 0);
  CHECK(one.size() == 1);
  CHECK(one.all_gather({1.5, -2.0}) == std::vector<double>{1.5, -2.0});
  CHECK(one.broadcast("model bytes", 0) == "model bytes");
  CHECK_FALSE(one.first_error(std::nullopt).has_value());
  CHECK(one.first_error(std::string("boom")).value() == "boom");  // no "rank 0:" prefix on one process
  CHECK(one.describe() == "1 process");
}

TEST_CASE("lrplab without MPI refuses to run as one of several mpirun processes", "[cluster]") {
  const lrp_test::TempDir dir("lrp_nompi");
  const std::string config = dir.file("experiment.yaml");
  std::ofstream(dir.file("mlp.yaml")) << "name: mlp\ninput_shape: [4]\nlayers:\n  - {kind: dense, out: 2}\n";
  std::ofstream(config) << "data: {format: synthetic, shape: [4], count: 4, classes: 2}\nmodel: {file: "
                        << dir.file("mlp.yaml") << "}\nexplain: [gradient]\noutput: {results: " << dir.file("out.h5")
                        << "}\n";
  int status = 0;
  const std::string out =
      lrp_test::run_command("env OMPI_COMM_WORLD_SIZE=3 " + std::string(LRPLAB_EXE) + " run " + config, status);
  CHECK(WEXITSTATUS(status) == 1);
  CHECK_THAT(out, Contains("started as one of 3 MPI processes, but this lrplab was built without MPI"));
  CHECK_FALSE(std::filesystem::exists(dir.file("out.h5")));
}
