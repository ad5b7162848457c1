// compare_results: two results files, every object in turn (see results_compare.hpp).
#include "lrp/experiment/results_compare.hpp"

#include "lrp/io/hdf5.hpp"

#include <cmath>
#include <cstdint>
#include <set>
#include <vector>

namespace lrp {
namespace {

bool same_double(double a, double b) { return a == b || (std::isnan(a) && std::isnan(b)); }

// What may differ between two runs of one config: when, where and by which build it ran, on how
// many ranks, how long each part took, and the overrides (they name the results file).
bool circumstantial(const std::string& object, const std::string& attribute) {
  static const std::set<std::string> names{"seconds", "start_time", "end_time", "wall_seconds", "host",
                                           "ranks",   "cluster",    "run_id",   "git_commit", "libraries"};
  return object == "/meta/seconds" || names.count(attribute) > 0 || (object == "/config" && attribute == "overrides");
}

class Comparer {
 public:
  Comparer(const h5::File& a, const h5::File& b, ResultsComparison& out) : a_(a), b_(b), out_(out) {}

  void group(const std::string& path) {
    attributes(path);
    const std::vector<std::string> children = a_.children(path);
    if (children != b_.children(path)) out_.differences.push_back(path + ": different members");
    for (const std::string& child : children) {
      const std::string p = (path == "/" ? "" : path) + "/" + child;
      if (b_.kind(p) != a_.kind(p)) {
        out_.differences.push_back(p + ": kind");
      } else if (a_.kind(p) == h5::ObjectKind::kGroup) {
        group(p);
      } else if (a_.kind(p) == h5::ObjectKind::kDataset) {
        ++out_.datasets;
        attributes(p);
        if (p != "/config") dataset(p);  // the resolved YAML holds the overrides
      }
    }
  }

 private:
  void attributes(const std::string& object) {
    if (object == "/meta/seconds") return;  // stage times; several ranks add "exchange"
    auto relevant = [&](const h5::File& f) {  // the attribute names, without the circumstantial ones
      std::vector<std::string> names = f.attribute_names(object);
      std::erase_if(names, [&](const std::string& n) { return circumstantial(object, n); });
      return names;
    };
    const std::vector<std::string> names = relevant(a_);
    if (names != relevant(b_)) out_.differences.push_back(object + ": different attribute names");
    for (const std::string& name : names) {
      if (!b_.has_attribute(object, name)) continue;
      const h5::TypeInfo t = a_.attribute_type(object, name);
      bool same = true;
      if (t.type_class == h5::TypeClass::kString)
        same = a_.string_attribute(object, name) == b_.string_attribute(object, name);
      else if (t.type_class == h5::TypeClass::kFloat)
        same = same_double(a_.double_attribute(object, name), b_.double_attribute(object, name));
      else if (t.type_class == h5::TypeClass::kInteger && t.is_signed)
        same = a_.int_attribute(object, name) == b_.int_attribute(object, name);
      else if (t.type_class == h5::TypeClass::kInteger)
        same = a_.uint_attribute(object, name) == b_.uint_attribute(object, name);
      else
        out_.differences.push_back(object + " @" + name + ": type " + t.name() + " not compared");
      if (!same) out_.differences.push_back(object + " @" + name);
    }
  }

  void dataset(const std::string& path) {
    const h5::DatasetInfo ia = a_.dataset_info(path), ib = b_.dataset_info(path);
    if (ia.shape != ib.shape || ia.type.name() != ib.type.name()) {
      out_.differences.push_back(path + ": shape or type");
      return;
    }
    bool same = true;
    if (ia.type.type_class == h5::TypeClass::kString) {
      same = a_.read_string(path) == b_.read_string(path);
    } else if (ia.type.type_class == h5::TypeClass::kFloat) {  // float32 and float64 are exact as double
      const std::vector<double> va = a_.read<double>(path), vb = b_.read<double>(path);
      for (std::size_t i = 0; i < va.size() && same; ++i) same = same_double(va[i], vb[i]);
    } else if (ia.type.is_signed) {
      same = a_.read<std::int64_t>(path) == b_.read<std::int64_t>(path);
    } else {
      same = a_.read<std::uint64_t>(path) == b_.read<std::uint64_t>(path);
    }
    if (!same) out_.differences.push_back(path);
  }

  const h5::File& a_;
  const h5::File& b_;
  ResultsComparison& out_;
};

}  // namespace

ResultsComparison compare_results(const std::string& a, const std::string& b) {
  const h5::File fa = h5::File::open(a, "results file"), fb = h5::File::open(b, "results file");
  ResultsComparison out;
  Comparer(fa, fb, out).group("/");
  return out;
}

}  // namespace lrp
