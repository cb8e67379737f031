// Log ingestion on one core: yoke's tailer and classifier (supervisor/daemon/log_tailer.h) against
// a bare simdjson on-demand parse of the same NDJSON file, in one process: end to end (the file
// read from the page cache, then parsed) and, to separate the parts, with the file already in
// memory. Prints MB/s (median of REPS) and ratios, and checks every count against the file's.
//   yoke_log_bench FILE EXPECTED_ERRORS [REPS]
#include <simdjson.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "core/log_counts.h"
#include "supervisor/daemon/log_tailer.h"

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// The baseline: one on-demand parse per line, looking up "level" only.
uint64_t BareParse(const simdjson::padded_string& data) {
  simdjson::ondemand::parser parser;
  uint64_t errors = 0;
  const char* p = data.data();
  const char* end = p + data.size();
  while (p < end) {
    const char* nl = static_cast<const char*>(memchr(p, '\n', end - p));
    size_t len = (nl ? nl : end) - p;
    simdjson::ondemand::document doc;
    if (len && !parser.iterate(p, len, len + simdjson::SIMDJSON_PADDING).get(doc)) {
      std::string_view level;
      auto v = doc.find_field_unordered("level");
      if (!v.error() && !v.get_string().get(level)) errors += level == "ERROR";
    }
    p += len + 1;
  }
  return errors;
}

// yoke's classifier alone, on the file in memory: separates parsing from reading.
uint64_t ClassifyInMemory(const simdjson::padded_string& data) {
  yoke::LogClassifier classifier;
  yoke::LogCounts counts;
  const char* p = data.data();
  const char* end = p + data.size();
  while (p < end) {
    const char* nl = static_cast<const char*>(memchr(p, '\n', end - p));
    size_t len = (nl ? nl : end) - p;
    if (len) counts.Add(classifier.Classify(p, len, (end - p) + simdjson::SIMDJSON_PADDING), false);
    p += len + 1;
  }
  return counts.errors;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s FILE EXPECTED_ERRORS [REPS]\n", argv[0]);
    return 2;
  }
  fs::path file = fs::absolute(argv[1]);
  uint64_t expected = std::stoull(argv[2]);
  int reps = argc > 3 ? std::atoi(argv[3]) : 5;
  double mb = fs::file_size(file) / 1e6;

  simdjson::padded_string data;
  if (simdjson::padded_string::load(file.string()).get(data)) return 1;
  std::vector<double> bare, bare_e2e, yoke, classify;
  bool ok = true;
  for (int r = 0; r < reps; ++r) {
    // End to end, like the tailer: read the file (page cache), then parse it.
    auto t0 = Clock::now();
    simdjson::padded_string loaded;
    if (simdjson::padded_string::load(file.string()).get(loaded)) return 1;
    uint64_t e2e = BareParse(loaded);
    bare_e2e.push_back(mb / std::chrono::duration<double>(Clock::now() - t0).count());
    ok = ok && e2e == expected;

    t0 = Clock::now();
    uint64_t n = BareParse(data);
    bare.push_back(mb / std::chrono::duration<double>(Clock::now() - t0).count());
    ok = ok && n == expected;
    t0 = Clock::now();
    n = ClassifyInMemory(data);
    classify.push_back(mb / std::chrono::duration<double>(Clock::now() - t0).count());
    ok = ok && n == expected;

    // The tailer reads the file from disk (page cache) through a folder like an instance's.
    fs::path dir = fs::temp_directory_path() / ("yoke-log-bench-" + std::to_string(::getpid()));
    fs::create_directories(dir / "logs/json");
    fs::create_symlink(file, dir / "logs/json/app.log");
    yoke::LogTailer tailer(dir, "logs/json/*.log", yoke::LogFormat());
    yoke::LogCounts counts;
    t0 = Clock::now();
    while (tailer.Poll(counts, false, UINT64_MAX) > 0) {
    }
    yoke.push_back(mb / std::chrono::duration<double>(Clock::now() - t0).count());
    ok = ok && counts.errors == expected;
    fs::remove_all(dir);
  }
  double b = Median(bare), e = Median(bare_e2e), y = Median(yoke), c = Median(classify);
  std::printf("bare simdjson parse, file read in       %8.1f MB/s\n", e);
  std::printf("yoke tailer + classifier, file read in  %8.1f MB/s  (%.0f%% of bare)\n", y,
              100 * y / e);
  std::printf("bare simdjson parse, file in memory     %8.1f MB/s\n", b);
  std::printf("yoke classifier, file in memory         %8.1f MB/s  (%.0f%% of bare)\n", c,
              100 * c / b);
  std::printf("counts %s expected %llu ERROR lines\n", ok ? "match" : "DO NOT match",
              static_cast<unsigned long long>(expected));
  return ok ? 0 : 1;
}
