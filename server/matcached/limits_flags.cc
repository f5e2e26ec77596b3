// matcached's limit flags (see flags.h).
#include <cstdint>
#include <string>
#include <utility>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "server/core/format/byte_size.h"
#include "server/matcached/flags.h"

ABSL_FLAG(int32_t, max_receive_message_bytes, 8 << 20,
          "Largest message a client may send, in bytes (Put data chunks must "
          "fit; the clients send 2 MiB).");
ABSL_FLAG(int32_t, max_streams_per_connection, 100,
          "Calls one client connection may have open at once.");
ABSL_FLAG(std::string, grpc_memory, "1G",
          "Memory gRPC may use for all connections and their buffers, with "
          "an optional K, M, G or T suffix.");
ABSL_FLAG(int32_t, stream_idle_seconds, 120,
          "A Put, Read or Preview stream that moves no message for this long "
          "is cancelled, releasing what it holds.");
ABSL_FLAG(int32_t, fd_request_seconds, 2,
          "A connection to an fd socket that has not sent its lease within "
          "this long is closed.");
ABSL_FLAG(int32_t, http_connections, 256,
          "HTTP connections each gateway address serves at once; more wait "
          "in the listen backlog until one closes.");
ABSL_FLAG(int32_t, http_connections_per_ip, 64,
          "HTTP connections one client address may have open at once.");
ABSL_FLAG(int32_t, http_timeout_seconds, 30,
          "An HTTP connection that moves no byte for this long is closed, "
          "and so is one whose request line and headers take longer than "
          "this to arrive (from its start or its previous request's end).");
ABSL_FLAG(std::string, http_connection_memory, "64K",
          "Memory of one HTTP connection, with an optional K or M suffix: its "
          "request line and headers must fit (431 or 414 beyond).");
ABSL_FLAG(int64_t, http_json_max_elements, 1000000,
          "Most elements one HTTP data response with format=json may hold; "
          "larger slices are refused (400) and should use format=npy.");
ABSL_FLAG(std::string, http_answer_memory, "256M",
          "Memory the HTTP gateway may hold in whole answers (a JSON slice, "
          "a preview, a metrics scrape) until their clients have read them, "
          "with an optional K, M or G suffix; an answer that would pass it "
          "is refused (503, Retry-After) until others are read. .npy data "
          "downloads are streamed and do not count.");
ABSL_FLAG(int32_t, watch_queue_events, 1024,
          "Events a watcher (a Watch stream, an HTTP event stream) may fall "
          "behind; one that falls further is ended as having lost events.");
ABSL_FLAG(int32_t, sse_heartbeat_seconds, 15,
          "An HTTP event stream (/v1/events) with nothing to send gets a "
          "comment line this often.");
ABSL_FLAG(int32_t, worker_threads, 4,
          "Threads for blocking work: creating, hashing and removing "
          "segments, loading sources, and computing previews.");

namespace matcache {

absl::Status ApplyLimitFlags(ServerOptions* options) {
  options->max_receive_message_bytes =
      absl::GetFlag(FLAGS_max_receive_message_bytes);
  if (options->max_receive_message_bytes < (64 << 10)) {
    return absl::InvalidArgumentError(
        "--max_receive_message_bytes must be at least 64K");
  }
  options->max_concurrent_streams_per_connection =
      absl::GetFlag(FLAGS_max_streams_per_connection);
  if (options->max_concurrent_streams_per_connection <= 0) {
    return absl::InvalidArgumentError(
        "--max_streams_per_connection must be positive");
  }
  absl::StatusOr<int64_t> memory = ParseByteSize(absl::GetFlag(FLAGS_grpc_memory));
  if (!memory.ok() || *memory < (int64_t{16} << 20)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--grpc_memory=", absl::GetFlag(FLAGS_grpc_memory),
        " is not a size of at least 16M"));
  }
  options->grpc_memory_bytes = *memory;
  if (absl::GetFlag(FLAGS_stream_idle_seconds) <= 0) {
    return absl::InvalidArgumentError("--stream_idle_seconds must be positive");
  }
  options->stream_idle_timeout =
      absl::Seconds(absl::GetFlag(FLAGS_stream_idle_seconds));
  if (absl::GetFlag(FLAGS_fd_request_seconds) <= 0) {
    return absl::InvalidArgumentError("--fd_request_seconds must be positive");
  }
  options->fd_handoff_timeout =
      absl::Seconds(absl::GetFlag(FLAGS_fd_request_seconds));
  for (const auto& [flag, value] :
       {std::pair<const char*, int32_t>{"http_connections",
                                        absl::GetFlag(FLAGS_http_connections)},
        {"http_connections_per_ip", absl::GetFlag(FLAGS_http_connections_per_ip)},
        {"http_timeout_seconds", absl::GetFlag(FLAGS_http_timeout_seconds)}}) {
    if (value <= 0) {
      return absl::InvalidArgumentError(absl::StrCat("--", flag, " must be positive"));
    }
  }
  options->http.connections = static_cast<unsigned>(absl::GetFlag(FLAGS_http_connections));
  options->http.connections_per_ip =
      static_cast<unsigned>(absl::GetFlag(FLAGS_http_connections_per_ip));
  options->http.timeout_seconds =
      static_cast<unsigned>(absl::GetFlag(FLAGS_http_timeout_seconds));
  absl::StatusOr<int64_t> connection_memory =
      ParseByteSize(absl::GetFlag(FLAGS_http_connection_memory));
  if (!connection_memory.ok() || *connection_memory < (int64_t{8} << 10) ||
      *connection_memory > (int64_t{16} << 20)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--http_connection_memory=", absl::GetFlag(FLAGS_http_connection_memory),
        " is not a size between 8K and 16M"));
  }
  options->http.connection_memory_bytes = static_cast<size_t>(*connection_memory);
  if (absl::GetFlag(FLAGS_http_json_max_elements) <= 0) {
    return absl::InvalidArgumentError("--http_json_max_elements must be positive");
  }
  options->http_json_max_elements = absl::GetFlag(FLAGS_http_json_max_elements);
  absl::StatusOr<int64_t> answer_memory =
      ParseByteSize(absl::GetFlag(FLAGS_http_answer_memory));
  if (!answer_memory.ok() || *answer_memory < (int64_t{1} << 20)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--http_answer_memory=", absl::GetFlag(FLAGS_http_answer_memory),
        " is not a size of at least 1M"));
  }
  options->http_answer_memory_bytes = *answer_memory;
  if (absl::GetFlag(FLAGS_watch_queue_events) <= 0) {
    return absl::InvalidArgumentError("--watch_queue_events must be positive");
  }
  options->watch_queue_events =
      static_cast<size_t>(absl::GetFlag(FLAGS_watch_queue_events));
  if (absl::GetFlag(FLAGS_sse_heartbeat_seconds) <= 0) {
    return absl::InvalidArgumentError("--sse_heartbeat_seconds must be positive");
  }
  options->sse_heartbeat = absl::Seconds(absl::GetFlag(FLAGS_sse_heartbeat_seconds));
  if (absl::GetFlag(FLAGS_worker_threads) <= 0) {
    return absl::InvalidArgumentError("--worker_threads must be positive");
  }
  options->worker_threads = absl::GetFlag(FLAGS_worker_threads);
  return absl::OkStatus();
}

}  // namespace matcache
