// The fd handoff protocol: how the client that called Create gets an open
// descriptor of its staging file. Staging files are mode 0600, the server's
// alone, so no client can open one by path; instead the server listens on a
// unix socket beside each unix gRPC socket (FdSocketPath) with the same mode
// and group, and hands the descriptor over with SCM_RIGHTS:
//
//   client: the lease from CreateResponse.lease, then "\n"
//           (kMaxFdRequestBytes in all at most);
//   server: one line, "OK\n" with the descriptor attached (opened O_RDWR on
//           the staging file, a file description of its own), or
//           "<CODE> <message>\n" (CODE an absl::StatusCode name such as
//           NOT_FOUND) without one; then it closes the connection.
//
// The descriptor of a lease is handed out once. The server closes its copy
// before the connection: a client that has read to the end of the reply
// knows the server no longer holds it.
#ifndef MATCACHE_SERVER_CORE_STORAGE_FD_HANDOFF_H_
#define MATCACHE_SERVER_CORE_STORAGE_FD_HANDOFF_H_

#include <cstddef>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace matcache {

// Appended to a unix gRPC socket's path to name its fd socket.
inline constexpr char kFdSocketSuffix[] = ".fds";
// Longest request (lease and newline) the server reads.
inline constexpr size_t kMaxFdRequestBytes = 128;
// Longest reply line, newline included; longer messages are cut.
inline constexpr size_t kMaxFdReplyBytes = 512;

// The fd socket beside the unix gRPC socket `socket_path`.
std::string FdSocketPath(absl::string_view socket_path);

// The reply line for `status`: "OK\n", or its code name, a space and its
// message (newlines replaced by spaces, cut to kMaxFdReplyBytes) and "\n".
std::string EncodeFdReply(const absl::Status& status);

// The status a reply line (with or without its newline) carries; UNKNOWN
// for a line that is not a reply.
absl::Status DecodeFdReply(absl::string_view line);

// Server side: sends the reply for `status` on the connected socket
// `socket` without blocking, with the descriptor `fd` attached if `status`
// is OK (the caller still owns and closes `fd`). The send error, if any.
absl::Status SendFdReply(int socket, const absl::Status& status, int fd);

// Client side: connects to the fd socket `fd_socket`, sends `lease`, reads
// the reply to its end and returns the descriptor (close-on-exec), all
// within `timeout`. UNAVAILABLE if the socket cannot be reached, the server
// is busy, or the connection ends without a reply (a client may then
// stream its put instead); DEADLINE_EXCEEDED if the reply does not come in
// time; otherwise the server's refusal (NOT_FOUND for an unknown lease,
// FAILED_PRECONDITION for one handed out already or being committed, ...).
absl::StatusOr<int> RequestStagingFd(const std::string& fd_socket,
                                     absl::string_view lease,
                                     absl::Duration timeout);

}  // namespace matcache

#endif  // MATCACHE_SERVER_CORE_STORAGE_FD_HANDOFF_H_
