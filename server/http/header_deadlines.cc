#include "server/http/header_deadlines.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <vector>

#include "server/core/base/logging.h"

namespace matcache {
namespace {

// The client's address, for the log.
std::string Peer(MHD_Connection* connection) {
  const MHD_ConnectionInfo* info =
      MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
  char text[INET6_ADDRSTRLEN] = "?";
  if (info == nullptr || info->client_addr == nullptr) return text;
  const sockaddr* address = info->client_addr;
  if (address->sa_family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(address)->sin_addr,
              text, sizeof(text));
  } else if (address->sa_family == AF_INET6) {
    inet_ntop(AF_INET6,
              &reinterpret_cast<const sockaddr_in6*>(address)->sin6_addr, text,
              sizeof(text));
  }
  return text;
}

}  // namespace

HeaderDeadlines::HeaderDeadlines(std::chrono::seconds limit)
    : limit_(limit), thread_([this] { Run(); }) {}

HeaderDeadlines::~HeaderDeadlines() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  wake_.notify_one();
  thread_.join();
}

void HeaderDeadlines::Await(MHD_Connection* connection) {
  const MHD_ConnectionInfo* info =
      MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CONNECTION_FD);
  if (info == nullptr) return;
  bool was_empty;
  {
    std::lock_guard<std::mutex> lock(mu_);
    was_empty = awaited_.empty();
    awaited_[connection] =
        Awaited{info->connect_fd, std::chrono::steady_clock::now() + limit_};
  }
  // Otherwise the thread wakes at an earlier deadline than this one, all
  // being the same time away from when they were set.
  if (was_empty) wake_.notify_one();
}

void HeaderDeadlines::Forget(MHD_Connection* connection) {
  std::lock_guard<std::mutex> lock(mu_);
  awaited_.erase(connection);
}

void HeaderDeadlines::Run() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    const auto now = std::chrono::steady_clock::now();
    auto next = std::chrono::steady_clock::time_point::max();
    std::vector<MHD_Connection*> late;
    for (const auto& [connection, awaited] : awaited_) {
      if (awaited.deadline <= now) {
        late.push_back(connection);
      } else {
        next = std::min(next, awaited.deadline);
      }
    }
    std::vector<std::string> peers;
    for (MHD_Connection* connection : late) {
      peers.push_back(Peer(connection));
      shutdown(awaited_[connection].fd, SHUT_RDWR);
      awaited_.erase(connection);
    }
    if (!peers.empty()) {
      lock.unlock();
      for (const std::string& peer : peers) {
        LogWarning("closing an HTTP connection from %s: its request line and "
                   "headers took over %d s",
                   peer, limit_.count());
      }
      lock.lock();
      continue;  // deadlines may have passed meanwhile
    }
    if (next == std::chrono::steady_clock::time_point::max()) {
      wake_.wait(lock);
    } else {
      wake_.wait_until(lock, next);
    }
  }
}

}  // namespace matcache
