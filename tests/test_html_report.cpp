// The HTML report (output.report, docs/results.md "The HTML report"): index.html of a real
// Fashion-MNIST run read as XML and compared with the results file (the table's numbers, the layer
// ledger, the config), its pictures and texts, the output.report config rules, an unwritable
// heatmaps folder failing before any work, and the page rendered by headless chromium (no console
// errors, no file other than the page loaded, every picture in the DOM, a screenshot that is not
// blank).
#include "experiment_support.hpp"
#include "run_command.hpp"
#include "temp_dir.hpp"
#include "test_util.hpp"
#include "xml_check.hpp"

#include "lrp/core/error.hpp"
#include "lrp/experiment/experiment.hpp"
#include "lrp/io/hdf5.hpp"

#include <catch2/catch.hpp>
#include <zlib.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

using Catch::Contains;
using lrp::Index;
using lrp_test::builtins;
using lrp_test::TempDir;

namespace {

const std::vector<std::string> kMethods{"epsilon_plus_flat", "lrp0", "gradient"};

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE(in.good());
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// A config running the committed CNN on the first 16 Fashion-MNIST test images: two LRP methods and
// the gradient, conservation and a short pixel flipping, four samples drawn; `output` is appended
// to the output section.
std::string write_config(const TempDir& dir, const std::string& output, const std::string& images = "") {
  const std::string path = dir.file("report.yaml");
  std::ofstream(path) << "seed: 3\nthreads: 2\ndata:\n  format: idx\n  images: "
                      << (images.empty() ? lrp_test::kFashionMnistDir + "/t10k-images-idx3-ubyte.gz" : images)
                      << "\n  labels: " << lrp_test::kFashionMnistDir << "/t10k-labels-idx1-ubyte.gz\n"
                      << "  subset: {begin: 0, end: 16}\nmodel: {file: " << lrp_test::kModelsDir << "/fmnist_cnn.h5}\n"
                      << "explain:\n  - epsilon_plus_flat\n  - {name: lrp0, kind: lrp, rules: [{fallback: true, rule: zero}]}\n"
                      << "  - gradient\nevaluate:\n  conservation: true\n"
                      << "  pixel_flipping: {patch: 7, steps: 6, random_repeats: 2}\n"
                      << "output:\n  results: " << dir.file("r.h5") << "\n" << output;
  return path;
}

std::string run_with(const TempDir& dir, const std::string& output, lrp::ExperimentReport* report = nullptr) {
  const lrp::ExperimentConfig config = lrp::read_experiment_config(write_config(dir, output), {}, builtins());
  const lrp::ExperimentReport r = lrp::run_experiment(config, builtins());
  if (report != nullptr) *report = r;
  return config.resolved_yaml;
}

// The page without its DOCTYPE, checked as XML (tests/xml_check.hpp); returns its elements.
std::vector<lrp_test::Element> parse_page(const std::string& html) {
  const std::string doctype = "<!DOCTYPE html>\n";
  REQUIRE(html.rfind(doctype, 0) == 0);
  return lrp_test::parse_xml(html.substr(doctype.size()));
}

// The text of a fragment without its tags, entities decoded.
std::string text_of(const std::string& fragment) {
  std::string text;
  bool in_tag = false;
  for (const char c : fragment) {
    if (c == '<') in_tag = true;
    if (!in_tag) text += c;
    if (c == '>') in_tag = false;
  }
  return lrp_test::unescape(text);
}

// The cells' texts of every row of the page's <table class="`cls`">.
std::vector<std::vector<std::string>> table_rows(const std::string& html, const std::string& cls) {
  const std::size_t begin = html.find("<table class=\"" + cls + "\">");
  REQUIRE(begin != std::string::npos);
  const std::string table = html.substr(begin, html.find("</table>", begin) - begin);
  std::vector<std::vector<std::string>> rows;
  for (std::size_t tr = table.find("<tr>"); tr != std::string::npos; tr = table.find("<tr>", tr + 1)) {
    const std::string row = table.substr(tr, table.find("</tr>", tr) - tr);
    rows.emplace_back();
    for (std::size_t at = row.find("<t"); at != std::string::npos; at = row.find("<t", at + 1)) {
      if (row.compare(at, 3, "<td") != 0 && row.compare(at, 3, "<th") != 0) continue;
      const std::size_t start = row.find('>', at) + 1;
      rows.back().push_back(text_of(row.substr(start, row.find("</t", start) - start)));
    }
  }
  return rows;
}

std::string format(double value, const char* spec) {
  char text[64];
  std::snprintf(text, sizeof text, spec, value);
  return text;
}

std::size_t count_of(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (std::size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

// ---------------------------------------------------------------- chromium

// The browser's command, or empty when neither chromium nor chromium-browser is on PATH.
std::string chromium() {
  for (const std::string name : {"chromium", "chromium-browser"}) {
    int status = 0;
    const std::string path = lrp_test::run_command("command -v " + name, status);
    if (status == 0 && !path.empty()) return name;
  }
  return {};
}

// One headless chromium call on file `page` (≤ 60 s); `what`: "--screenshot=..." or "--dump-dom".
// Returns stdout; the browser's log goes to `log`.
std::string browse(const std::string& browser, const TempDir& dir, const std::string& page, const std::string& what,
                   std::string& log) {
  const std::string log_file = dir.file("chromium.log");
  const std::string command = "{ timeout 60 " + browser +
                              " --headless --no-sandbox --disable-gpu --allow-file-access-from-files "
                              "--disable-background-networking --disable-component-update --no-first-run "
                              "--enable-logging=stderr --v=1 --user-data-dir=" +
                              dir.file("profile") + " --window-size=1366,4000 " + what + " file://" + page + " 2>" +
                              log_file + "; }";
  int status = -1;
  const std::string out = lrp_test::run_command(command, status);
  log = slurp(log_file);
  INFO(log);
  REQUIRE(status == 0);
  return out;
}

// What a page's load went wrong at, from the browser's log: console messages (errors thrown,
// failed loads; the report has no script, so any message is a fault) and every file loaded other
// than the page itself (the report needs none).
std::vector<std::string> load_problems(const std::string& log, const std::string& page) {
  std::vector<std::string> problems;
  std::size_t begin = 0;
  while (begin < log.size()) {
    const std::size_t end = std::min(log.find('\n', begin), log.size());
    const std::string line = log.substr(begin, end - begin);
    begin = end + 1;
    if (line.find(":CONSOLE") != std::string::npos || line.find("Uncaught") != std::string::npos ||
        line.find("Failed to load resource") != std::string::npos)
      problems.push_back(line);
    const std::string loader = "FileURLLoader::Start: ";
    const std::size_t at = line.find(loader);
    if (at != std::string::npos && line.substr(at + loader.size()) != "file://" + page) problems.push_back(line);
  }
  return problems;
}

struct Png {
  std::uint32_t width = 0, height = 0;
  int channels = 0;
  std::vector<std::uint8_t> pixels{};  // rows of width × channels bytes
};

std::uint32_t big_endian(const std::string& s, std::size_t at) {
  return (std::uint32_t(std::uint8_t(s[at])) << 24) | (std::uint32_t(std::uint8_t(s[at + 1])) << 16) |
         (std::uint32_t(std::uint8_t(s[at + 2])) << 8) | std::uint32_t(std::uint8_t(s[at + 3]));
}

// An 8-bit RGB or RGBA PNG without interlacing (what chromium's screenshots are): IHDR, IDAT
// inflated with zlib, the rows unfiltered (PNG specification, section 9).
Png decode_png(const std::string& file) {
  REQUIRE(file.size() > 33);
  REQUIRE(file.compare(0, 8, "\x89PNG\r\n\x1a\n") == 0);
  REQUIRE(file.compare(12, 4, "IHDR") == 0);
  Png png;
  png.width = big_endian(file, 16);
  png.height = big_endian(file, 20);
  REQUIRE(file[24] == 8);  // bit depth
  REQUIRE((file[25] == 2 || file[25] == 6));
  REQUIRE(file[28] == 0);  // no interlacing
  png.channels = file[25] == 6 ? 4 : 3;
  std::string idat;
  for (std::size_t at = 8; at + 8 <= file.size();) {
    const std::uint32_t length = big_endian(file, at);
    if (file.compare(at + 4, 4, "IDAT") == 0) idat += file.substr(at + 8, length);
    at += 12 + length;
  }
  const std::size_t stride = png.width * static_cast<std::size_t>(png.channels);
  std::vector<std::uint8_t> raw((stride + 1) * png.height);
  uLongf size = raw.size();
  REQUIRE(uncompress(raw.data(), &size, reinterpret_cast<const Bytef*>(idat.data()), idat.size()) == Z_OK);
  REQUIRE(size == raw.size());
  png.pixels.assign(stride * png.height, 0);
  const auto bpp = static_cast<std::size_t>(png.channels);
  for (std::size_t y = 0; y < png.height; ++y) {
    const std::uint8_t filter = raw[y * (stride + 1)];
    const std::uint8_t* in = &raw[y * (stride + 1) + 1];
    std::uint8_t* out = &png.pixels[y * stride];
    const std::uint8_t* up = y > 0 ? &png.pixels[(y - 1) * stride] : nullptr;
    REQUIRE(filter <= 4);
    for (std::size_t x = 0; x < stride; ++x) {
      const int a = x >= bpp ? out[x - bpp] : 0, b = up ? up[x] : 0, c = up && x >= bpp ? up[x - bpp] : 0;
      int predicted = 0;
      if (filter == 1) predicted = a;
      if (filter == 2) predicted = b;
      if (filter == 3) predicted = (a + b) / 2;
      if (filter == 4) {
        const int p = a + b - c, pa = std::abs(p - a), pb = std::abs(p - b), pc = std::abs(p - c);
        predicted = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
      }
      out[x] = static_cast<std::uint8_t>(in[x] + predicted);
    }
  }
  return png;
}

}  // namespace

TEST_CASE("The HTML report holds the run table curves heatmaps ledger and config of a real run", "[html_report]") {
  const lrp_test::QuietLog quiet;
  REQUIRE(std::filesystem::exists(lrp_test::kFashionMnistDir + "/t10k-images-idx3-ubyte.gz"));
  TempDir dir("lrp_html_report");
  lrp::ExperimentReport report;
  const std::string resolved =
      run_with(dir, "  heatmaps: " + dir.file("pics") + "\n  heatmap_samples: 4\n  montage_columns: 2\n", &report);
  const std::string html = slurp(dir.file("pics/index.html"));
  const std::vector<lrp_test::Element> elements = parse_page(html);
  REQUIRE(elements.front().name == "html");
  CHECK(elements.front().attributes.at("xmlns") == "http://www.w3.org/1999/xhtml");
  const lrp::h5::File f = lrp::h5::File::open(dir.file("r.h5"));

  // Header: the config file and the run id of the results file.
  CHECK_THAT(html, Contains("<h1>lrplab run: report.yaml</h1>") &&
                       Contains(f.string_attribute("/meta", "run_id")) && Contains(f.string_attribute("/meta", "end_time")));
  // Every method, the samples drawn with their classes (ankle boot, pullover, trouser, trouser).
  for (const std::string& m : kMethods) CHECK_THAT(html, Contains(">" + m + "<"));
  CHECK_THAT(html, Contains(">true: ankle boot</text>") && Contains(">true: pullover</text>") &&
                       Contains(">true: trouser</text>") && Contains(">pred: ankle boot</text>") &&
                       Contains(">sample 3</text>"));

  SECTION("the table's numbers are the results file's") {
    const std::vector<std::vector<std::string>> rows = table_rows(html, "results");
    REQUIRE(rows.size() == 1 + kMethods.size());
    CHECK(rows[0] == std::vector<std::string>{"method", "AOPC-MoRF", "AOPC-LeRF", "ABPC", "MoRF − random", "cons. err",
                                              "seconds"});
    for (std::size_t k = 0; k < kMethods.size(); ++k) {
      INFO(kMethods[k]);
      const std::string pf = "/metrics/pixel_flipping/" + kMethods[k], cons = "/metrics/conservation/" + kMethods[k];
      const auto cell = [&](const std::string& score) {
        return format(f.double_attribute(pf, "mean_" + score), "%.4f") + " ± " +
               format(f.double_attribute(pf, "se_" + score), "%.4f");
      };
      REQUIRE(rows[k + 1].size() == 7);
      CHECK(rows[k + 1][0] == kMethods[k]);
      CHECK(rows[k + 1][1] == cell("aopc_morf"));
      CHECK(rows[k + 1][2] == cell("aopc_lerf"));
      CHECK(rows[k + 1][3] == cell("abpc"));
      CHECK(rows[k + 1][4] == cell("aopc_morf_vs_random"));
      CHECK(rows[k + 1][5] == format(f.double_attribute(cons, "mean_relative_error"), "%.3e"));
      const lrp::MethodSummary& m = report.methods[k];
      CHECK(rows[k + 1][5] == format(m.relative_error.mean, "%.3e"));
      CHECK(rows[k + 1][6] == format(m.explain_seconds + m.pixel_flipping_seconds, "%.2f"));
    }
    CHECK_THAT(html, Contains("over 16 samples"));
  }

  SECTION("the ledger is the mean of the per-sample layer sums over the logit") {
    const std::vector<std::vector<std::string>> rows = table_rows(html, "ledger");
    CHECK(rows[0] == std::vector<std::string>{"value", "epsilon_plus_flat", "lrp0"});  // LRP methods only
    for (std::size_t k = 0; k < 2; ++k) {
      const std::string g = "/metrics/conservation/" + kMethods[k];
      lrp::h5::Dims dims;
      const std::vector<double> sums = f.read<double>(g + "/layer_sums", &dims);
      const std::vector<double> seed = f.read<double>(g + "/output_seed");
      REQUIRE(dims.size() == 2);
      REQUIRE(dims[0] == 16);
      REQUIRE(rows.size() == 1 + dims[1]);
      for (hsize_t v = 0; v < dims[1]; ++v) {
        double sum = 0;
        Index count = 0;
        for (hsize_t i = 0; i < dims[0]; ++i) {
          const double ratio = sums[i * dims[1] + v] / seed[i];
          if (seed[i] == 0 || !std::isfinite(ratio)) continue;
          sum += ratio;
          ++count;
        }
        INFO(kMethods[k] << " value " << v);
        CHECK(rows[v + 1][k + 1] == format(sum / static_cast<double>(count), "%.4f"));
      }
    }
    CHECK(rows[1][0] == "input");
    CHECK_THAT(rows.back()[0], Contains("output of "));
    CHECK(rows.back()[1] == "1.0000");  // the seed's own sum
  }

  SECTION("pictures: the curves the methods grid and one montage per method") {
    CHECK_THAT(html, Contains("MoRF curves") && Contains("LeRF curves") && Contains("Heatmaps by method"));
    CHECK(count_of(html, "<details class=\"method\">") == kMethods.size());
    for (const std::string& m : kMethods) {
      CHECK_THAT(html, Contains("<summary>" + m + "</summary>") && Contains(m + " (input | relevance)") &&
                           Contains("pixel flipping: " + m));
    }
    // Every SVG of the folder is in the page, and every picture in them.
    std::size_t svgs = 0, images = 0;
    for (const auto& entry : std::filesystem::recursive_directory_iterator(dir.file("pics")))
      if (entry.path().extension() == ".svg") {
        ++svgs;
        images += count_of(slurp(entry.path().string()), "<image ");
      }
    CHECK(svgs == 3 + 2 * kMethods.size());  // morf, lerf, methods; each method's montage and curves
    CHECK(count_of(html, "<svg ") == svgs);
    CHECK(count_of(html, "<image ") == images);
    CHECK(images > 4 * kMethods.size() * 2);
  }

  SECTION("the config is the run's and nothing points outside the page") {
    const std::size_t begin = html.find("<pre class=\"config\">");
    REQUIRE(begin != std::string::npos);
    const std::size_t start = html.find('>', begin) + 1;
    const std::string config = lrp_test::unescape(html.substr(start, html.find("</pre>", start) - start));
    CHECK(config == resolved);
    CHECK(config == f.read_string("/config"));
    for (const std::string scheme : {"http://", "https://"})
      for (std::size_t at = html.find(scheme); at != std::string::npos; at = html.find(scheme, at + 1)) {
        const std::string uri = html.substr(at, html.find('"', at) - at);
        INFO(uri);
        CHECK((uri == "http://www.w3.org/1999/xhtml" || uri == "http://www.w3.org/2000/svg" ||
               uri == "http://www.w3.org/1999/xlink"));
      }
    for (const lrp_test::Element& e : elements) {
      CHECK(e.name != "script");
      CHECK(e.name != "link");
      if (e.attributes.count("src") != 0) CHECK(e.attributes.at("src").rfind("data:", 0) == 0);
      if (e.attributes.count("href") != 0) CHECK(e.attributes.at("href").rfind("#", 0) == 0);
      if (e.attributes.count("xlink:href") != 0) CHECK(e.attributes.at("xlink:href").rfind("data:image/png;base64,", 0) == 0);
    }
    CHECK_THAT(html, Contains(LRP_VERSION) && Contains("Eigen ") && Contains("HDF5 ") &&
                         Contains(f.string_attribute("/meta", "start_time")) && Contains(dir.file("r.h5")));
  }
}

TEST_CASE("output.report defaults to the heatmaps folder and needs one", "[html_report]") {
  const lrp_test::QuietLog quiet;
  TempDir dir("lrp_html_report_config");
  const auto read = [&](const std::string& output) {
    return lrp::read_experiment_config(write_config(dir, output), {}, builtins()).output.report;
  };
  CHECK(read("  heatmaps: " + dir.file("pics") + "\n"));
  CHECK_FALSE(read(""));
  CHECK_FALSE(read("  heatmaps: " + dir.file("pics") + "\n  report: false\n"));
  CHECK_THAT(lrp_test::error_of([&] { read("  report: true\n"); }),
             Contains(dir.file("report.yaml") + ":18:11: output.report needs output.heatmaps"));
  CHECK_THAT(lrp_test::error_of([&] { read("  heatmaps: " + dir.file("pics") + "\n  report: yes please\n"); }),
             Contains("output.report must be true or false"));

  SECTION("report: false writes pictures without index.html") {
    run_with(dir, "  heatmaps: " + dir.file("pics") + "\n  heatmap_samples: 2\n  report: false\n");
    CHECK(std::filesystem::exists(dir.file("pics/methods.svg")));
    CHECK_FALSE(std::filesystem::exists(dir.file("pics/index.html")));
  }
}

TEST_CASE("An unwritable heatmaps folder with a report fails before the run explains", "[html_report]") {
  const lrp_test::QuietLog quiet;
  TempDir dir("lrp_html_report_unwritable");
  std::ofstream(dir.file("plain")) << "a regular file\n";
  // Refused when the config is read: the folder's parent is a regular file.
  CHECK_THAT(lrp_test::error_of([&] {
               (void)lrp::read_experiment_config(write_config(dir, "  heatmaps: " + dir.file("plain/pics") + "\n"), {},
                                                 builtins());
             }),
             Contains("output.heatmaps"));
  // The same file appearing after the config was read: the run stops at its outputs, before it
  // reads the data (which is gone too, and would be the error of any later stage).
  const std::string images = dir.file("images.gz");
  std::filesystem::copy_file(lrp_test::kFashionMnistDir + "/t10k-images-idx3-ubyte.gz", images);
  const lrp::ExperimentConfig config = lrp::read_experiment_config(
      write_config(dir, "  heatmaps: " + dir.file("later/pics") + "\n  report: true\n", images), {}, builtins());
  REQUIRE(config.output.report);
  std::filesystem::remove(images);
  std::ofstream(dir.file("later")) << "a regular file\n";
  const std::string error = lrp_test::error_of([&] { (void)lrp::run_experiment(config, builtins()); });
  CHECK_THAT(error, Contains("output.heatmaps") && Contains(dir.file("later")) && !Contains("images.gz"));
  CHECK_FALSE(std::filesystem::exists(dir.file("r.h5")));
}

TEST_CASE("Headless chromium renders the report without errors and with its pictures", "[html_report][browser]") {
  const std::string browser = chromium();
  if (browser.empty()) {
    // Catch2 v2 (Debian 12) has no SKIP: the test passes with this warning.
    WARN("chromium is not installed; skipping the browser test of the HTML report (build.sh installs it: apt-get "
         "install chromium)");
    return;
  }
  const lrp_test::QuietLog quiet;
  TempDir dir("lrp_html_report_browser");
  std::string log;

  // The check sees faults: a script that throws, and a picture whose file is missing.
  const std::string thrower = dir.file("throws.html"), missing = dir.file("missing.html");
  std::ofstream(thrower) << "<!DOCTYPE html>\n<html><head><title>t</title></head><body><p>x</p>"
                            "<script>throw new Error('deliberate');</script></body></html>\n";
  std::ofstream(missing) << "<!DOCTYPE html>\n<html><head><title>t</title></head><body><p>x</p>"
                            "<img src=\"no_such_picture.png\" alt=\"gone\"/></body></html>\n";
  browse(browser, dir, thrower, "--screenshot=" + dir.file("t.png"), log);
  CHECK_THAT(log, Contains("deliberate"));
  CHECK(!load_problems(log, thrower).empty());
  browse(browser, dir, missing, "--screenshot=" + dir.file("m.png"), log);
  CHECK(!load_problems(log, missing).empty());

  run_with(dir, "  heatmaps: " + dir.file("pics") + "\n  heatmap_samples: 4\n  montage_columns: 2\n");
  const std::string page = dir.file("pics/index.html"), shot = dir.file("report.png");
  browse(browser, dir, page, "--screenshot=" + shot, log);
  {
    INFO(log);
    CHECK(load_problems(log, page).empty());
  }
  const Png png = decode_png(slurp(shot));
  CHECK(png.width == 1366);
  CHECK(png.height == 4000);
  // Not blank, and the heatmaps are drawn: bwr's saturated blue appears only in them and their
  // colour bars.
  std::size_t ink = 0, blue = 0;
  for (std::size_t p = 0; p + 2 < png.pixels.size(); p += static_cast<std::size_t>(png.channels)) {
    const int r = png.pixels[p], g = png.pixels[p + 1], b = png.pixels[p + 2];
    ink += r + g + b < 600 ? 1 : 0;
    blue += b > 200 && r < 60 && g < 60 ? 1 : 0;
  }
  const std::size_t pixels = std::size_t(png.width) * png.height;
  CHECK(ink > pixels / 100);
  CHECK(blue > 50);

  // The DOM after loading: every SVG and picture, the texts.
  const std::string dom = browse(browser, dir, page, "--dump-dom", log);
  CHECK(load_problems(log, page).empty());
  const std::string html = slurp(page);
  CHECK(count_of(dom, "<svg ") == count_of(html, "<svg "));
  CHECK(count_of(dom, "<image ") == count_of(html, "<image "));
  CHECK(count_of(dom, "<details") == kMethods.size());
  for (const std::string& m : kMethods) CHECK_THAT(dom, Contains(">" + m + "<"));
  CHECK_THAT(dom, Contains("true: ankle boot") && Contains("Ledger") && Contains("Provenance"));
}
