// Fuzz target: weir's HTTP server (api/http_server.cc) end to end: raw bytes from a client go
// through Beast's parser, weir's header handling, ParseTarget (percent-decoding, query), the
// Router (FindSegments: literal, {name} and {name*} routes, 404/405, HEAD), the body limits
// (413), 100-continue, in-memory and spooled bodies, handlers (one throws), file responses and
// the close/linger logic.
//
// Why sockets: the server's parsing lives inside its connection coroutine and is not reachable
// without a socket, and the framing decisions (keep-alive, pipelining, closing after an unread
// body) are exactly what must hold for hostile bytes. So one server per process listens on
// 127.0.0.1 (port 0); each input is written to a fresh connection, the write side is shut down
// and the answer read until the server closes.
//
// Input: the raw bytes a client sends (any number of pipelined requests).
// Invariants: the server never crashes; it always closes the connection once the client has
// stopped sending (no hang: a 30 s deadline aborts); whatever it answers starts with a status
// line "HTTP/1.x NNN".
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "api/http.h"
#include "fuzz_util.h"

namespace {

using namespace weir;
namespace fs = std::filesystem;

api::HttpResponse Echo(const api::HttpRequest& req) {
  std::string body = req.method + " " + req.path + "\n";
  for (const auto& [k, v] : req.params) body += k + "=" + v + "\n";
  for (const auto& [k, v] : req.query) body += "?" + k + "=" + v + "\n";
  body += "body " + std::to_string(req.body.size()) + "\n";
  if (!req.body_file.empty()) {
    std::error_code ec;
    body += "spooled " + std::to_string(fs::file_size(req.body_file, ec)) + "\n";
  }
  api::HttpResponse r = api::HttpResponse::Json(200, body, "text/plain");
  if (auto v = req.Header("x-echo")) r.SetHeader("X-Echo", *v);  // header values are cleaned
  return r;
}

struct Server {
  fs::path dir;
  fs::path file;
  std::unique_ptr<api::HttpServer> http;
  uint16_t port = 0;
};

const Server& GetServer() {
  static const Server* server = [] {
    ::signal(SIGPIPE, SIG_IGN);
    auto* s = new Server;
    std::string tmpl = (fs::temp_directory_path() / "weir-fuzz-http-XXXXXX").string();
    if (!::mkdtemp(tmpl.data())) fuzz::Fail(__FILE__, __LINE__, "mkdtemp", tmpl);
    s->dir = tmpl;
    s->file = s->dir / "stdout";
    std::ofstream(s->file) << std::string(1000, 'x');
    auto router = std::make_shared<api::Router>();
    const fs::path file = s->file;
    router->Add("GET", "/admin/health", [](api::HttpRequest& r) { return Echo(r); });
    router->Add("GET", "/api/v3/jobs", [](api::HttpRequest& r) { return Echo(r); });
    router->Add("POST", "/api/v3/jobs", [](api::HttpRequest& r) { return Echo(r); },
                {.max_body_bytes = 4096});
    router->Add("GET", "/api/v3/jobs/{id}", [](api::HttpRequest& r) { return Echo(r); });
    router->Add("DELETE", "/api/v3/jobs/{id}", [](api::HttpRequest& r) { return Echo(r); });
    router->Add("GET", "/api/v3/jobs/{id}/status", [](api::HttpRequest& r) { return Echo(r); });
    router->Add("GET", "/api/v3/jobs/{id}/output/{path*}", [file](api::HttpRequest& r) {
      // A file answer whose range comes from the query (bounds checked by the server).
      api::HttpResponse resp;
      api::FileBody fb{file, 0, 1000};
      if (auto o = r.Query("offset")) fb.offset = std::strtoull(o->c_str(), nullptr, 10);
      if (auto l = r.Query("length")) fb.length = std::strtoull(l->c_str(), nullptr, 10);
      if (r.Param("path") == "missing") fb.path = file.parent_path() / "missing";
      resp.file = fb;
      resp.status = r.Query("status") ? std::atoi(r.Query("status")->c_str()) : 200;
      return resp;
    });
    router->Add("PATCH", "/api/v3/applications/{id}", [](api::HttpRequest& r) { return Echo(r); },
                {.max_body_bytes = 1024});
    router->Add("DELETE", "/api/v3/applications/{id}/tags/{tag*}",
                [](api::HttpRequest& r) { return Echo(r); });
    router->Add("POST", "/api/weir/v1/workflows", [](api::HttpRequest& r) { return Echo(r); },
                {.max_body_bytes = 8192, .spool_body_to_file = true});
    router->Add("GET", "/throw", [](api::HttpRequest&) -> api::HttpResponse {
      throw std::runtime_error("handler failure");
    });
    api::HttpServerOptions options;
    options.host = "127.0.0.1";
    options.port = 0;
    options.spool_dir = s->dir;
    options.max_header_bytes = 8 * 1024;
    s->http = api::NewHttpServer(options, router);
    Status st = s->http->Start();
    if (!st.ok()) fuzz::Fail(__FILE__, __LINE__, "Start", st.message());
    s->port = s->http->port();
    return s;
  }();
  return *server;
}

// Sends `bytes` on a new connection, then reads until the server closes. Aborts on a hang.
std::string Exchange(uint16_t port, std::string_view bytes) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) fuzz::Fail(__FILE__, __LINE__, "socket", std::strerror(errno));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    fuzz::Fail(__FILE__, __LINE__, "connect", std::strerror(errno));
  }
  size_t sent = 0;
  while (sent < bytes.size()) {
    ssize_t n = ::send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // the server closed early (e.g. after a 400): fine
    sent += static_cast<size_t>(n);
  }
  ::shutdown(fd, SHUT_WR);
  std::string answer;
  char buf[16384];
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (true) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      fuzz::Fail(__FILE__, __LINE__, "server closes the connection",
                 "no close 30 s after the client stopped sending");
    }
    pollfd p{fd, POLLIN, 0};
    int pr = ::poll(&p, 1, static_cast<int>(left.count()));
    if (pr < 0 && errno == EINTR) continue;
    if (pr <= 0) continue;
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // closed (or reset)
    answer.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return answer;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 64 * 1024) return 0;
  const Server& server = GetServer();
  std::string answer = Exchange(server.port, fuzz::AsText(data, size));
  if (!answer.empty()) {
    FUZZ_CHECK(answer.rfind("HTTP/1.", 0) == 0 && answer.size() >= 12,
               "answer without a status line: " + answer.substr(0, 200));
  }
  return 0;
}
