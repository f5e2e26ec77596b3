// A closed-loop load generator for matcached, in the manner of ghz:
// --channels connections with --in_flight calls in flight on each, every
// call drawn from --mix, for --warmup and then --duration. Prints one JSON
// line: calls/s, p50/p99 latency (µs) and errors per kind of call, and the
// CPU this process (and, with --server_pid, the server) spent per call
// while measuring. Run by bench/run (the capacity family,
// bench/suite/capacity.py) or by hand:
//   build/bin/load_gen --address unix:/tmp/m.sock --mix info=1
//       --info_name prices --channels 4 --in_flight 8 --duration 10s
//
// Kinds of call: info (Info of --info_name), list (List of --list_prefix,
// one page), read (a --window square window of the float64 matrix
// --read_name at a random place, through matcache::Client::Read), http
// (the same window as .npy from GET /v1/matrices/{name}/data on --http).
// Info and List go through the generated stub of their channel, so that the
// generator measures the server rather than the client's conversions. A
// mix of only info and list runs each call in flight as a chain of
// callback calls; a mix with read or http runs each as a thread of
// blocking calls. The stubs' channels are connections of their own; reads
// go through one matcache::Client per channel, which gRPC may let share a
// connection.
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "bench/http_get.h"
#include "matcache/client.h"
#include "matcache/v1/matcache.grpc.pb.h"

ABSL_FLAG(std::string, address, "unix:/tmp/matcache/matcached.sock",
          "matcached's gRPC address");
ABSL_FLAG(int, channels, 1, "gRPC channels (HTTP: connections per call in "
                            "flight), each a connection of its own");
ABSL_FLAG(int, in_flight, 1, "calls in flight per channel");
ABSL_FLAG(absl::Duration, duration, absl::Seconds(10), "measured time");
ABSL_FLAG(absl::Duration, warmup, absl::Seconds(1),
          "time of calls before measuring");
ABSL_FLAG(std::string, mix, "info=1",
          "kinds of call and their weights, e.g. info=8,list=1,read=1");
ABSL_FLAG(std::string, info_name, "", "matrix that info calls ask for");
ABSL_FLAG(std::string, list_prefix, "", "prefix that list calls list");
ABSL_FLAG(std::string, read_name, "",
          "float64 matrix (2-d) that read and http calls take windows of");
ABSL_FLAG(int64_t, window, 1000, "side of the square windows read");
ABSL_FLAG(std::string, http, "", "HOST:PORT of the HTTP gateway (http calls)");
ABSL_FLAG(int, server_pid, 0,
          "matcached's pid: also report its CPU per call, from /proc");

namespace matcache {
namespace {

enum Kind { kInfo, kList, kRead, kHttp, kKinds };
constexpr std::array<const char*, kKinds> kKindNames = {"info", "list", "read",
                                                        "http"};

// The weights of --mix, indexed by Kind.
std::array<int, kKinds> ParseMix(const std::string& mix) {
  std::array<int, kKinds> weights{};
  for (absl::string_view part : absl::StrSplit(mix, ',', absl::SkipEmpty())) {
    const std::pair<std::string, std::string> kv = absl::StrSplit(part, '=');
    const auto* found =
        std::find(kKindNames.begin(), kKindNames.end(), kv.first);
    int weight = 0;
    if (found == kKindNames.end() || !absl::SimpleAtoi(kv.second, &weight) ||
        weight < 0) {
      std::fprintf(stderr, "load_gen: bad --mix part \"%s\"\n",
                   std::string(part).c_str());
      std::exit(2);
    }
    weights[found - kKindNames.begin()] = weight;
  }
  return weights;
}

// utime + stime of process `pid` in seconds; 0 without a pid, and exits
// if the process is gone.
double ProcessCpuSeconds(int pid) {
  if (pid == 0) return 0;
  std::ifstream file(absl::StrCat("/proc/", pid, "/stat"));
  const std::string stat((std::istreambuf_iterator<char>(file)),
                         std::istreambuf_iterator<char>());
  // Fields after the parenthesised command name; utime and stime are the
  // 14th and 15th of the line.
  const size_t name_end = stat.rfind(')');
  std::istringstream rest(name_end == std::string::npos
                              ? std::string()
                              : stat.substr(name_end + 1));
  const std::vector<std::string> fields{
      std::istream_iterator<std::string>(rest), {}};
  double utime = 0, stime = 0;
  if (fields.size() < 13 || !absl::SimpleAtod(fields[11], &utime) ||
      !absl::SimpleAtod(fields[12], &stime)) {
    std::fprintf(stderr, "load_gen: no CPU times in /proc/%d/stat\n", pid);
    std::exit(1);
  }
  return (utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

double OwnCpuSeconds() {
  rusage usage;
  getrusage(RUSAGE_SELF, &usage);
  auto seconds = [](const timeval& t) { return t.tv_sec + t.tv_usec / 1e6; };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

// What a run calls: fixed before the first call.
struct Plan {
  std::array<int, kKinds> weights;
  std::string info_name;
  std::string list_prefix;
  std::string read_name;
  int64_t rows = 0;  // of read_name
  int64_t cols = 0;
  int64_t window = 0;
  std::string http;
  absl::Duration timeout = absl::Seconds(60);
};

// One gRPC connection: the generated stub for unary calls, a Client for
// reads.
struct Channel {
  std::unique_ptr<v1::MatrixCache::Stub> stub;
  std::unique_ptr<Client> client;
};

enum Phase { kWarmup, kMeasuring, kDone };

// Latencies (µs) and errors of the calls one call in flight measured, per
// kind.
struct Tally {
  // Counts a call of `kind` that took `elapsed` if it started and ended
  // while measuring.
  void Record(int kind, int started_in, int ended_in,
              std::chrono::steady_clock::duration elapsed,
              const absl::Status& status) {
    if (started_in != kMeasuring || ended_in != kMeasuring) return;
    if (!status.ok()) {
      if (errors[kind]++ == 0 && first_error.empty()) {
        first_error = status.ToString();
      }
      return;
    }
    latencies[kind].push_back(static_cast<uint32_t>(
        std::chrono::duration_cast<std::chrono::microseconds>(elapsed).count()));
  }

  std::array<std::vector<uint32_t>, kKinds> latencies;
  std::array<int64_t, kKinds> errors{};
  std::string first_error;
};

absl::Status FromGrpc(const grpc::Status& status) {
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                      status.error_message());
}

std::chrono::system_clock::time_point Deadline(const Plan& plan) {
  return std::chrono::system_clock::now() +
         absl::ToChronoMilliseconds(plan.timeout);
}

// A call in flight as a chain of callback calls (Info and List only), each
// started by the end of the one before, until kDone; the generator then
// spends no thread of its own on it.
class UnaryChain {
 public:
  UnaryChain(const Plan& plan, v1::MatrixCache::Stub* stub, int seed,
             const std::atomic<int>* phase, Tally* tally)
      : plan_(plan),
        stub_(stub),
        random_(seed),
        pick_(plan.weights.begin(), plan.weights.end()),
        phase_(phase),
        tally_(tally) {
    info_request_.set_name(plan.info_name);
    list_request_.set_prefix(plan.list_prefix);
  }

  void Start() { Next(); }

  // Waits until the chain has stopped.
  void Wait() {
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(&stopped_));
  }

 private:
  void Next() {
    const int started_in = phase_->load(std::memory_order_relaxed);
    if (started_in == kDone) {
      absl::MutexLock lock(&mu_);
      stopped_ = true;
      return;
    }
    const int kind = pick_(random_);
    // The previous call has ended: its context may go.
    context_ = std::make_unique<grpc::ClientContext>();
    context_->set_deadline(Deadline(plan_));
    const auto start = std::chrono::steady_clock::now();
    auto done = [this, kind, started_in, start](grpc::Status status) {
      tally_->Record(kind, started_in, phase_->load(std::memory_order_relaxed),
                     std::chrono::steady_clock::now() - start,
                     FromGrpc(status));
      Next();
    };
    if (kind == kInfo) {
      stub_->async()->Info(context_.get(), &info_request_, &info_response_,
                           std::move(done));
    } else {
      stub_->async()->List(context_.get(), &list_request_, &list_response_,
                           std::move(done));
    }
  }

  const Plan& plan_;
  v1::MatrixCache::Stub* const stub_;
  std::mt19937 random_;
  std::discrete_distribution<int> pick_;
  const std::atomic<int>* const phase_;
  Tally* const tally_;
  v1::InfoRequest info_request_;
  v1::ListRequest list_request_;
  v1::MatrixInfo info_response_;
  v1::ListResponse list_response_;
  std::unique_ptr<grpc::ClientContext> context_;
  absl::Mutex mu_;
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
};

// A call in flight as a thread of blocking calls, one after another
// until kDone.
void Drive(const Plan& plan, Channel* channel, int seed,
           const std::atomic<int>* phase, Tally* tally) {
  std::mt19937 random(seed);
  std::discrete_distribution<int> pick(plan.weights.begin(), plan.weights.end());
  std::uniform_int_distribution<int64_t> row(0, std::max<int64_t>(plan.rows - plan.window, 0));
  std::uniform_int_distribution<int64_t> col(0, std::max<int64_t>(plan.cols - plan.window, 0));
  std::unique_ptr<HttpGet> http;
  v1::InfoRequest info_request;
  info_request.set_name(plan.info_name);
  v1::ListRequest list_request;
  list_request.set_prefix(plan.list_prefix);
  while (true) {
    const int started_in = phase->load(std::memory_order_relaxed);
    if (started_in == kDone) return;
    const int kind = pick(random);
    const int64_t r = row(random), c = col(random);
    const auto start = std::chrono::steady_clock::now();
    absl::Status status;
    if (kind == kInfo || kind == kList) {
      grpc::ClientContext context;
      context.set_deadline(Deadline(plan));
      if (kind == kInfo) {
        v1::MatrixInfo response;
        status = FromGrpc(channel->stub->Info(&context, info_request, &response));
      } else {
        v1::ListResponse response;
        status = FromGrpc(channel->stub->List(&context, list_request, &response));
      }
    } else if (kind == kRead) {
      status = channel->client
                   ->Read<double>(plan.read_name,
                                  {Index::Slice(r, r + plan.window, {}),
                                   Index::Slice(c, c + plan.window, {})})
                   .status();
    } else {
      if (http == nullptr) {
        absl::StatusOr<std::unique_ptr<HttpGet>> connected =
            HttpGet::Connect(plan.http);
        if (connected.ok()) http = *std::move(connected);
        status = connected.status();
      }
      if (http != nullptr) {
        status = http->Get(absl::StrCat("/v1/matrices/", plan.read_name,
                                        "/data?slice=", r, ":", r + plan.window,
                                        ",", c, ":", c + plan.window))
                     .status();
        if (absl::IsUnavailable(status)) http.reset();
      }
    }
    tally->Record(kind, started_in, phase->load(std::memory_order_relaxed),
                  std::chrono::steady_clock::now() - start, status);
  }
}

std::shared_ptr<grpc::Channel> NewChannel(const std::string& address, int id) {
  grpc::ChannelArguments arguments;
  arguments.SetMaxReceiveMessageSize(16 << 20);
  // Channels with the same arguments share one connection.
  arguments.SetInt("matcache.load_gen.channel", id);
  return grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(),
                                   arguments);
}

uint32_t Percentile(std::vector<uint32_t>& sorted, double q) {
  if (sorted.empty()) return 0;
  return sorted[std::min(sorted.size() - 1,
                         static_cast<size_t>(q * static_cast<double>(sorted.size())))];
}

// What one run measured, as the JSON line load_gen prints.
struct Measured {
  int channels;
  int in_flight;
  double seconds;
  double own_cpu;     // seconds of this process's CPU while measuring
  double server_cpu;  // and of the server's (0 without --server_pid)
};

void PrintJson(const Plan& plan, const std::vector<Tally>& tallies,
               const Measured& measured) {
  int64_t calls = 0, errors = 0;
  std::string first_error;
  std::vector<std::string> kinds;
  for (int kind = 0; kind < kKinds; ++kind) {
    if (plan.weights[kind] == 0) continue;
    std::vector<uint32_t> latencies;
    int64_t kind_errors = 0;
    for (const Tally& tally : tallies) {
      latencies.insert(latencies.end(), tally.latencies[kind].begin(),
                       tally.latencies[kind].end());
      kind_errors += tally.errors[kind];
      if (first_error.empty()) first_error = tally.first_error;
    }
    std::sort(latencies.begin(), latencies.end());
    calls += static_cast<int64_t>(latencies.size());
    errors += kind_errors;
    kinds.push_back(absl::StrFormat(
        "\"%s\":{\"calls\":%d,\"calls_per_s\":%.1f,\"p50_us\":%d,"
        "\"p99_us\":%d,\"errors\":%d}",
        kKindNames[kind], latencies.size(), latencies.size() / measured.seconds,
        Percentile(latencies, 0.50), Percentile(latencies, 0.99), kind_errors));
  }
  const double per_call = calls > 0 ? 1e6 / static_cast<double>(calls) : 0;
  std::string escaped;
  for (char ch : first_error) {
    if (ch == '"' || ch == '\\') escaped += '\\';
    escaped += (ch >= 0x20 ? ch : ' ');
  }
  absl::PrintF(
      "{\"seconds\":%.3f,\"channels\":%d,\"in_flight\":%d,\"calls\":%d,"
      "\"calls_per_s\":%.1f,\"errors\":%d,\"generator_cpu_s\":%.3f,"
      "\"generator_cpu_us_per_call\":%.2f,\"server_cpu_s\":%.3f,"
      "\"server_cpu_us_per_call\":%.2f,\"kinds\":{%s},\"first_error\":\"%s\"}\n",
      measured.seconds, measured.channels, measured.in_flight, calls,
      calls / measured.seconds, errors, measured.own_cpu,
      measured.own_cpu * per_call, measured.server_cpu,
      measured.server_cpu * per_call, absl::StrJoin(kinds, ","), escaped);
  std::fflush(stdout);
}

int Run() {
  Plan plan;
  plan.weights = ParseMix(absl::GetFlag(FLAGS_mix));
  plan.info_name = absl::GetFlag(FLAGS_info_name);
  plan.list_prefix = absl::GetFlag(FLAGS_list_prefix);
  plan.read_name = absl::GetFlag(FLAGS_read_name);
  plan.window = absl::GetFlag(FLAGS_window);
  plan.http = absl::GetFlag(FLAGS_http);
  const std::string address = absl::GetFlag(FLAGS_address);
  const int channels = std::max(1, absl::GetFlag(FLAGS_channels));
  const int in_flight = std::max(1, absl::GetFlag(FLAGS_in_flight));

  std::vector<Channel> connections(channels);
  for (int i = 0; i < channels; ++i) {
    connections[i].stub = v1::MatrixCache::NewStub(NewChannel(address, i));
    ClientOptions options;
    options.address = address;
    options.timeout = plan.timeout;
    connections[i].client = Client::Connect(options);
  }
  if (plan.weights[kRead] > 0 || plan.weights[kHttp] > 0) {
    absl::StatusOr<MatrixInfo> info = connections[0].client->Info(plan.read_name);
    if (!info.ok() || info->shape.size() != 2) {
      std::fprintf(stderr, "load_gen: --read_name %s: %s\n",
                   plan.read_name.c_str(),
                   info.ok() ? "not 2-d" : info.status().ToString().c_str());
      return 1;
    }
    plan.rows = info->shape[0];
    plan.cols = info->shape[1];
  }

  std::atomic<int> phase{kWarmup};
  std::vector<Tally> tallies(static_cast<size_t>(channels) * in_flight);
  // Threads only where a call blocks.
  const bool unary = plan.weights[kRead] == 0 && plan.weights[kHttp] == 0;
  std::vector<std::unique_ptr<UnaryChain>> chains;
  std::vector<std::thread> threads;
  for (size_t i = 0; i < tallies.size(); ++i) {
    Channel* channel = &connections[i % channels];
    if (unary) {
      chains.push_back(std::make_unique<UnaryChain>(
          plan, channel->stub.get(), static_cast<int>(i), &phase, &tallies[i]));
      chains.back()->Start();
    } else {
      threads.emplace_back(Drive, std::cref(plan), channel,
                           static_cast<int>(i), &phase, &tallies[i]);
    }
  }
  absl::SleepFor(absl::GetFlag(FLAGS_warmup));
  const int server_pid = absl::GetFlag(FLAGS_server_pid);
  const double own_before = OwnCpuSeconds();
  const double server_before = ProcessCpuSeconds(server_pid);
  const absl::Time start = absl::Now();
  phase = kMeasuring;
  absl::SleepFor(absl::GetFlag(FLAGS_duration));
  phase = kDone;
  const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
  const double own_cpu = OwnCpuSeconds() - own_before;
  const double server_cpu = ProcessCpuSeconds(server_pid) - server_before;
  for (std::thread& thread : threads) thread.join();
  for (const std::unique_ptr<UnaryChain>& chain : chains) chain->Wait();

  PrintJson(plan, tallies, {channels, in_flight, seconds, own_cpu, server_cpu});
  return 0;
}

}  // namespace
}  // namespace matcache

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  return matcache::Run();
}
