// QMP peers for the QMP provider's tests: a scripted fake server (event ordering, timeouts, errors
// QEMU cannot be made to produce here) and a real QEMU process (TCG, -S) with a QMP socket.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

namespace ptrec::testing {

/// A QMP server on a unix socket that plays a script to the first client that connects, in a
/// thread. Build the script, then Start(); the destructor stops and joins. Each step:
///  - Send(line): writes \a line (one message, no newline needed) as is;
///  - Greet(): Send of a QEMU 7.2-shaped greeting;
///  - Expect(command, reply): reads one request, records it, checks its "execute" is \a command
///    (a mismatch goes to failures()), and answers \a reply (a JSON object such as
///    {"return": {}}) with the request's "id" added; an empty reply answers nothing;
///  - Sleep(ms): waits (cut short when the server stops);
///  - Close(): closes the connection.
/// After the last step the server keeps the connection open, reading and recording requests
/// without answering, until the client closes it or the server stops.
class FakeQmpServer {
 public:
  explicit FakeQmpServer(std::string socket_path);
  ~FakeQmpServer();
  FakeQmpServer(const FakeQmpServer&) = delete;
  FakeQmpServer& operator=(const FakeQmpServer&) = delete;

  FakeQmpServer& Send(std::string line);
  FakeQmpServer& Greet();
  FakeQmpServer& Expect(std::string command, std::string reply);
  FakeQmpServer& Sleep(int ms);
  FakeQmpServer& Close();
  /// Greet() + Expect("qmp_capabilities", {"return": {}}).
  FakeQmpServer& Handshake();

  /// Binds and listens (so a Connect after Start() cannot miss it), then plays in a thread.
  void Start();
  /// Stops and joins the thread (idempotent).
  void Stop();

  /// Requests the client sent, in order (all of them, including those after the script).
  std::vector<nlohmann::json> requests();
  /// Script mismatches ("step 3: expected device_del, got qom-list"), empty when all went well.
  std::vector<std::string> failures();
  /// The "execute" names of requests(), e.g. {"qmp_capabilities", "device_del"}.
  std::vector<std::string> commands();

 private:
  struct Step {
    enum Kind { kSend, kExpect, kSleep, kClose } kind;
    std::string text;   ///< line for kSend, command for kExpect
    std::string reply;  ///< kExpect
    int ms = 0;         ///< kSleep
  };
  void Run();
  /// Reads one line from the client into \a line; false on EOF or stop.
  bool ReadLine(int fd, std::string& buffer, std::string& line);

  std::string socket_path_;
  std::vector<Step> steps_;
  int listen_fd_ = -1;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::mutex mutex_;
  std::vector<nlohmann::json> requests_;
  std::vector<std::string> failures_;
};

/// A real qemu-system-x86_64: `-machine q35 -nodefaults -display none -m 64 -accel tcg
/// -qmp unix:SOCKET,server=on,wait=off -S` plus \a extra_args, started with posix_spawnp (no
/// shell), output to DIR/qemu.log. The constructor waits (up to 20 s) until the socket exists and
/// throws std::runtime_error with the log when QEMU is missing or exits. SIGKILLed and reaped on
/// destruction.
class QemuProcess {
 public:
  QemuProcess(const std::string& dir, const std::vector<std::string>& extra_args);
  ~QemuProcess();
  QemuProcess(const QemuProcess&) = delete;
  QemuProcess& operator=(const QemuProcess&) = delete;

  const std::string& socket_path() const { return socket_path_; }
  /// Contents of the QEMU log so far (stderr + stdout).
  std::string log() const;

 private:
  std::string socket_path_;
  std::string log_path_;
  pid_t pid_ = -1;
};

}  // namespace ptrec::testing
