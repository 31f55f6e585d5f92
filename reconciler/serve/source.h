// Pulls the desired-state document from an HTTP(S) URL (`ptrec serve --source URL`), with
// If-None-Match so an unchanged document costs a 304, a timeout, a size bound, and up to 5
// redirects followed (also to another host). Uses cpp-httplib's client (OpenSSL for https).
#pragma once

#include <chrono>
#include <string>

#include "reconciler/error.h"

namespace ptrec::serve {

/// One fetch's result.
struct FetchResult {
  bool not_modified = false;  ///< 304: the document behind the ETag sent is still current
  std::string body;           ///< 200: the document
  std::string etag;           ///< 200: the ETag header ("" when none)
};

/// Fetches one URL again and again.
class SourceFetcher {
 public:
  /// \a url: "http://host[:port]/path[?query]" or "https://..."; \a ca_file: PEM bundle ("" =
  /// the system's). Errors: kInvalid for a URL that is not http(s)://host..., or that carries
  /// credentials (user:password@), which would end up in logs.
  static Result<SourceFetcher> Make(const std::string& url, const std::string& ca_file,
                                    std::chrono::milliseconds timeout);

  /// The URL as shown in logs, errors, /v1/status and plans: RedactUrl(url).
  const std::string& url() const { return url_; }

  /// GETs the URL, sending If-None-Match: \a etag when not empty. Errors (kIo): connection or
  /// TLS failure, timeout, an HTTP status other than 200/304 (named), a body over 4 MiB.
  Result<FetchResult> Fetch(const std::string& etag) const;

 private:
  std::string url_, scheme_host_port_, path_, ca_file_;
  std::chrono::milliseconds timeout_{10000};
};

/// \a url without its query string (it may carry a token): "https://h/p?token=x" ->
/// "https://h/p?...".
std::string RedactUrl(const std::string& url);

/// Largest desired-state document accepted from a source, in bytes.
inline constexpr size_t kMaxSourceBytes = 4u << 20;

}  // namespace ptrec::serve
