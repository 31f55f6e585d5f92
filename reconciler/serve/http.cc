#include "reconciler/serve/http.h"

#include <httplib.h>
#include <spdlog/spdlog.h>
#include <strings.h>
#include <sys/stat.h>

#include <charconv>
#include <fstream>
#include <nlohmann/json.hpp>

#include "providers/host/host_fs.h"
#include "reconciler/json_io.h"
#include "reconciler/serve/metrics.h"

namespace ptrec::serve {
namespace {

using httplib::Request;
using httplib::Response;
using HandlerResponse = httplib::Server::HandlerResponse;

constexpr size_t kMaxBody = 64 * 1024;
constexpr size_t kMaxHeaderFields = 100;
constexpr size_t kMaxHeaderBytes = 32 * 1024;
constexpr const char* kJson = "application/json";
constexpr const char* kMetricsType = "text/plain; version=0.0.4; charset=utf-8";

const char* ErrorCodeFor(int status) {
  switch (status) {
    case 400: return "bad_request";
    case 401: return "unauthorized";
    case 403: return "forbidden";
    case 404: return "not_found";
    case 405: return "method_not_allowed";
    case 409: return "conflict";
    case 413: return "payload_too_large";
    case 414: return "uri_too_long";
    case 431: return "headers_too_large";
    case 503: return "not_ready";
    default: return status >= 500 ? "internal" : "error";
  }
}

void JsonError(Response& res, int status, const std::string& message, const char* code = nullptr) {
  res.status = status;
  res.set_content(nlohmann::json{{"format_version", kJsonFormatVersion},
                                 {"kind", "error"},
                                 {"error", {{"code", code ? code : ErrorCodeFor(status)}, {"message", message}}}}
                          .dump() + "\n",
                  kJson);
}

HandlerResponse MethodNotAllowed(const Request& req, Response& res, const char* allow) {
  res.set_header("Allow", allow);
  JsonError(res, 405, req.method + " is not allowed on " + req.path + "; allowed: " + allow);
  return HandlerResponse::Handled;
}

// Serves a large body without copying it: it stays alive until the response is sent.
void SendShared(Response& res, std::shared_ptr<const std::string> body, const char* type) {
  const size_t size = body->size();
  res.set_content_provider(size, type, [body = std::move(body)](size_t offset, size_t length, httplib::DataSink& sink) {
    return sink.write(body->data() + offset, length);
  });
}

Result<std::string> ReadToken(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Fail(Code::kIo, "cannot read the token file " + path + ": " + std::strerror(errno));
  std::string text(std::istreambuf_iterator<char>(in), {});
  std::string_view t = TrimRight(text);
  while (!t.empty() && (t.front() == ' ' || t.front() == '\t' || t.front() == '\n')) t.remove_prefix(1);
  if (t.empty()) return Fail(Code::kInvalid, "the token file " + path + " is empty: put a random token in it (e.g. openssl rand -hex 32)");
  if (t.find_first_of(" \t\r\n") != std::string_view::npos)
    return Fail(Code::kInvalid, "the token file " + path + " holds more than one word: it must hold the token alone");
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && (st.st_mode & 0077))
    spdlog::warn("msg=\"token file is readable by others than its owner; chmod 600 it\" path={}", path);
  return std::string(t);
}

}  // namespace

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  // Compare every byte of a against b (cycled), so the time depends on a's length only.
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  if (b.empty()) return a.empty();
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i % b.size()]);
  volatile unsigned char result = diff;
  return result == 0;
}

Result<std::pair<std::string, int>> ParseListen(const std::string& text) {
  size_t colon = text.rfind(':');
  if (colon == std::string::npos)
    return Fail(Code::kInvalid, "--listen " + text + ": give HOST:PORT, e.g. 127.0.0.1:9464 or [::1]:9464");
  std::string host = text.substr(0, colon);
  std::string port_text = text.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  else if (host.find(':') != std::string::npos)
    return Fail(Code::kInvalid, "--listen " + text + ": put an IPv6 address in brackets, e.g. [::1]:9464");
  if (host.empty()) host = "0.0.0.0";
  int port = -1;
  auto [p, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc() || p != port_text.data() + port_text.size() || port < 0 || port > 65535)
    return Fail(Code::kInvalid, "--listen " + text + ": the port must be a number from 0 to 65535");
  return std::pair{host, port};
}

HttpServer::HttpServer(Agent& agent) : agent_(agent) {}
HttpServer::~HttpServer() = default;

Result<std::unique_ptr<HttpServer>> HttpServer::Make(Agent& agent) {
  const ServeOptions& o = agent.options();
  std::unique_ptr<HttpServer> s(new HttpServer(agent));
  if (o.tls_cert.empty() != o.tls_key.empty())
    return Fail(Code::kInvalid, "give --tls-cert and --tls-key together");
  if (!o.tls_cert.empty()) {
    auto tls = std::make_unique<httplib::SSLServer>(o.tls_cert.c_str(), o.tls_key.c_str());
    if (!tls->is_valid())
      return Fail(Code::kInvalid, "cannot load the TLS certificate " + o.tls_cert + " and key " + o.tls_key +
                                      " (PEM files, readable by this user, key matching the certificate)");
    s->server_ = std::move(tls);
  } else {
    s->server_ = std::make_unique<httplib::Server>();
  }
  if (o.allow_apply) {
    if (o.token_file.empty()) return Fail(Code::kInvalid, "--allow-apply needs --token-file FILE holding the bearer token");
    auto token = ReadToken(o.token_file);
    if (!token) return std::unexpected(token.error());
    s->token_ = std::move(*token);
  }
  s->Routes();
  return s;
}

Result<void> HttpServer::ReloadToken() {
  const ServeOptions& o = agent_.options();
  if (!o.allow_apply) return {};
  auto token = ReadToken(o.token_file);
  if (!token) return std::unexpected(token.error());
  std::lock_guard lock(token_mu_);
  token_ = std::move(*token);
  return {};
}

Result<int> HttpServer::Bind() {
  auto listen = ParseListen(agent_.options().listen);
  if (!listen) return std::unexpected(listen.error());
  auto [host, port] = *listen;
  if (port == 0) port = server_->bind_to_any_port(host);
  else if (!server_->bind_to_port(host, port)) port = -1;
  if (port < 0)
    return Fail(Code::kIo, "cannot listen on " + agent_.options().listen + ": " + std::strerror(errno) +
                               " (in use, or not an address of this host?)");
  return port;
}

void HttpServer::Run() { server_->listen_after_bind(); }

void HttpServer::Stop() { server_->stop(); }

void HttpServer::Routes() {
  httplib::Server& srv = *server_;
  const int threads = std::max(2, agent_.options().http_threads);
  srv.new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<size_t>(threads)); };
  srv.set_tcp_nodelay(true);  // headers and body go out in separate writes
  srv.set_keep_alive_max_count(100000);
  srv.set_keep_alive_timeout(5);
  srv.set_read_timeout(10);
  srv.set_write_timeout(10);
  srv.set_payload_max_length(kMaxBody);
  srv.set_default_headers({{"X-Content-Type-Options", "nosniff"}, {"Cache-Control", "no-store"}});

  // GET and HEAD are answered here, before the library's regex routing, from the snapshot.
  // Other methods go on to the handlers below, after the (bounded) body has been read.
  srv.set_pre_routing_handler([this](const Request& req, Response& res) {
    size_t header_bytes = 0;
    for (const auto& [k, v] : req.headers) header_bytes += k.size() + v.size() + 4;
    if (req.headers.size() > kMaxHeaderFields || header_bytes > kMaxHeaderBytes) {
      JsonError(res, 431, "too many or too large request headers");
      return HandlerResponse::Handled;
    }
    const std::string& path = req.path;
    if (req.method != "GET" && req.method != "HEAD") {
      if (req.method == "TRACE" || req.method == "CONNECT") {
        JsonError(res, 405, req.method + " is not allowed");
        return HandlerResponse::Handled;
      }
      // Without a body (`curl -X POST` sends no Content-Length, which the library would refuse
      // with 400) there is nothing to read first: answer here. Bodies go through the library.
      const std::string length = req.get_header_value("Content-Length");
      if (!req.has_header("Transfer-Encoding") && (length.empty() || length == "0")) {
        OtherMethods(req, res);
        return HandlerResponse::Handled;
      }
      return HandlerResponse::Unhandled;
    }
    if (path == "/v1/apply") return MethodNotAllowed(req, res, "POST");
    auto snap = agent_.snapshot();
    if (path == "/metrics") {
      res.set_content(snap->metrics, kMetricsType);
    } else if (path == "/healthz") {
      res.set_content("{\"status\":\"ok\"}\n", kJson);
    } else if (path == "/readyz") {
      if (snap->ready) res.set_content("{\"status\":\"ready\"}\n", kJson);
      else JsonError(res, 503, "the first reconcile has not produced a plan yet; see /v1/status", "not_ready");
    } else if (path == "/v1/state" || path == "/v1/plan") {
      if (!snap->ready) JsonError(res, 503, "the first reconcile has not produced a plan yet; see /v1/status", "not_ready");
      else {
        res.set_header("ETag", "\"" + snap->fingerprint + "\"");
        SendShared(res, path == "/v1/state" ? snap->state_json : snap->plan_json, kJson);
      }
    } else if (path == "/v1/status") {
      res.set_content(snap->status_json, kJson);
    } else {
      JsonError(res, 404, "no such endpoint: " + path +
                              " (try /metrics, /healthz, /readyz, /v1/state, /v1/plan, /v1/status, POST /v1/apply)");
    }
    return HandlerResponse::Handled;
  });

  auto other = [this](const Request& req, Response& res) { OtherMethods(req, res); };
  srv.Post(".*", other);
  srv.Put(".*", other);
  srv.Patch(".*", other);
  srv.Delete(".*", other);
  srv.Options(".*", other);

  // Bodies for errors the library answers itself (400, 413, 414, ...); ours already have one.
  srv.set_error_handler(httplib::Server::HandlerWithResponse([](const Request& req, Response& res) {
    if (!res.body.empty() || res.content_length_ > 0) return HandlerResponse::Unhandled;
    JsonError(res, res.status, "HTTP " + std::to_string(res.status) + " for " + req.method + " " + req.path);
    return HandlerResponse::Handled;
  }));
  srv.set_exception_handler([](const Request& req, Response& res, std::exception_ptr ep) {
    std::string what = "unknown exception";
    try {
      if (ep) std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    spdlog::error("msg=\"request failed\" method={} path=\"{}\" error=\"{}\"", req.method, EscapeLabelValue(req.path),
                  EscapeLabelValue(what));
    JsonError(res, 500, "internal error: " + what);
  });
}

void HttpServer::OtherMethods(const Request& req, Response& res) {
  const std::string& path = req.path;
  if (path == "/v1/apply" && req.method == "POST") return ApplyHandler(req, res);
  if (path == "/v1/apply") return void(MethodNotAllowed(req, res, "POST"));
  for (const char* known : {"/metrics", "/healthz", "/readyz", "/v1/state", "/v1/plan", "/v1/status"})
    if (path == known) return void(MethodNotAllowed(req, res, "GET, HEAD"));
  JsonError(res, 404, "no such endpoint: " + path);
}

void HttpServer::ApplyHandler(const Request& req, Response& res) {
  const ServeOptions& o = agent_.options();
  if (!o.allow_apply) {
    JsonError(res, 403, "apply is disabled: start ptrec serve with --allow-apply --token-file FILE");
    return;
  }
  const std::string auth = req.get_header_value("Authorization");
  bool ok = false;
  if (auth.size() > 7 && ::strncasecmp(auth.c_str(), "Bearer ", 7) == 0) {
    std::string_view presented(auth);
    presented.remove_prefix(7);
    while (!presented.empty() && presented.front() == ' ') presented.remove_prefix(1);
    std::lock_guard lock(token_mu_);
    ok = ConstantTimeEquals(presented, token_);
  }
  if (!ok) {
    spdlog::warn("msg=\"apply rejected\" reason=\"{}\" remote={}", auth.empty() ? "no bearer token" : "wrong bearer token",
                 req.remote_addr);
    res.set_header("WWW-Authenticate", "Bearer realm=\"ptrec\"");
    JsonError(res, 401, "POST /v1/apply needs the header Authorization: Bearer TOKEN (the token in ptrec serve's --token-file)");
    return;
  }
  spdlog::info("msg=\"apply requested\" remote={}", req.remote_addr);
  ApiApplyOutcome out = agent_.Apply(req.get_param_value("fingerprint"));
  using K = ApiApplyOutcome::Kind;
  switch (out.kind) {
    case K::kApplied: res.status = 200; break;
    case K::kFailed: res.status = 500; break;
    case K::kRefused: res.status = 422; break;
    case K::kBusy: res.status = 409; break;
    case K::kStale: res.status = 409; break;
    case K::kNotReady: res.status = 503; break;
    case K::kError: res.status = 500; break;
  }
  res.set_content(out.body, kJson);
}

}  // namespace ptrec::serve
