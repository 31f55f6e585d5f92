#include "reconciler/serve/source.h"

#include <httplib.h>

namespace ptrec::serve {

std::string RedactUrl(const std::string& url) {
  size_t query = url.find('?');
  return query == std::string::npos ? url : url.substr(0, query) + "?...";
}

Result<SourceFetcher> SourceFetcher::Make(const std::string& url, const std::string& ca_file,
                                          std::chrono::milliseconds timeout) {
  SourceFetcher f;
  f.url_ = RedactUrl(url);
  f.ca_file_ = ca_file;
  f.timeout_ = timeout;
  size_t scheme_end = url.find("://");
  std::string scheme = scheme_end == std::string::npos ? "" : url.substr(0, scheme_end);
  if (scheme != "http" && scheme != "https")
    return Fail(Code::kInvalid, "--source " + RedactUrl(url) + ": give an http:// or https:// URL");
  size_t path_start = url.find('/', scheme_end + 3);
  f.scheme_host_port_ = url.substr(0, path_start);
  f.path_ = path_start == std::string::npos ? "/" : url.substr(path_start);
  if (f.scheme_host_port_.size() <= scheme_end + 3)
    return Fail(Code::kInvalid, "--source " + f.url_ + ": the URL names no host");
  if (f.scheme_host_port_.find('@') != std::string::npos)
    return Fail(Code::kInvalid, "--source: credentials in the URL (user:password@) are not supported: they would be "
                                "logged; serve the document without them, or behind a token in the query string");
  return f;
}

Result<FetchResult> SourceFetcher::Fetch(const std::string& etag) const {
  // Redirects are followed here, not by the library: cpp-httplib 0.11 treats a 304 as a
  // redirect without Location when follow_location is on, and fails it.
  std::string origin = scheme_host_port_, path = path_;
  for (int hop = 0; hop < 5; ++hop) {
    httplib::Client client(origin);
    if (!client.is_valid()) return Fail(Code::kIo, "source " + url_ + ": cannot make a client for " + origin);
    client.set_connection_timeout(timeout_);
    client.set_read_timeout(timeout_);
    client.set_write_timeout(timeout_);
    client.set_keep_alive(false);
    if (!ca_file_.empty()) client.set_ca_cert_path(ca_file_);
    client.enable_server_certificate_verification(true);
    httplib::Headers headers = {{"Accept", "application/yaml, text/yaml, text/plain, */*"},
                                {"User-Agent", "ptrec-serve"}};
    if (!etag.empty()) headers.emplace("If-None-Match", etag);
    std::string body;
    bool too_big = false;
    auto res = client.Get(path, headers, [&](const char* data, size_t n) {
      if (body.size() + n > kMaxSourceBytes) {
        too_big = true;
        return false;
      }
      body.append(data, n);
      return true;
    });
    if (too_big) return Fail(Code::kIo, "source " + url_ + ": the document is larger than 4 MiB");
    if (!res) return Fail(Code::kIo, "source " + url_ + ": " + httplib::to_string(res.error()));
    FetchResult out;
    if (res->status == 304) {
      out.not_modified = true;
      return out;
    }
    std::string location = res->get_header_value("Location");
    if ((res->status == 301 || res->status == 302 || res->status == 303 || res->status == 307 || res->status == 308) &&
        !location.empty()) {
      if (location.front() == '/') {
        path = location;
      } else {
        auto next = Make(location, ca_file_, timeout_);
        if (!next) return Fail(Code::kIo, "source " + url_ + " redirects to " + RedactUrl(location) + ", which is not http(s)");
        origin = next->scheme_host_port_;
        path = next->path_;
      }
      continue;
    }
    if (res->status != 200)
      return Fail(Code::kIo, "source " + url_ + " answered HTTP " + std::to_string(res->status));
    out.body = std::move(body);
    out.etag = res->get_header_value("ETag");
    return out;
  }
  return Fail(Code::kIo, "source " + url_ + ": more than 5 redirects");
}

}  // namespace ptrec::serve
