// A QMP client: the QEMU Machine Protocol over a unix socket, for VMs run without libvirt.
//
// Protocol (QEMU docs/interop/qmp-spec.rst): the server sends a greeting
// {"QMP": {"version": {...}, "capabilities": [...]}}; the client sends
// {"execute": "qmp_capabilities"} to leave capabilities-negotiation mode; then every
// {"execute": C, "arguments": {...}, "id": N} gets exactly one {"return": R, "id": N} or
// {"error": {"class": K, "desc": D}, "id": N}, and asynchronous {"event": E, "data": {...},
// "timestamp": {...}} messages may arrive at any time in between. Messages are JSON objects, one
// per line (QEMU ends each with "\r\n"). QEMU serves ONE client per QMP socket: a second client
// connects but gets no greeting until the first disconnects.
#pragma once

#include <chrono>
#include <deque>
#include <functional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "reconciler/error.h"

namespace ptrec::qmp {

/// Turns a QMP error reply into a ptrec Error: \a command is the command that failed
/// ("device_add"), \a error_class and \a desc are the reply's "class" and "desc", \a socket_path the
/// QMP socket (for the message). The message is "QMP <socket>: <command>: <desc>" plus, for the
/// failures seen with vfio-pci on QEMU 7.2, a hint saying what to do:
///  - "failed to open /dev/vfio/N: No such file..."   -> kNotFound   (not bound to vfio-pci)
///  - "failed to open /dev/vfio/N: Permission denied" -> kPermission (QEMU's user lacks access)
///  - "failed to open /dev/vfio/N: Device or resource busy" -> kBusy (group open elsewhere)
///  - "no such host device"                           -> kNotFound   (no such BDF on the host)
///  - "group N is not viable"                         -> kBusy       (group partly on host drivers)
///  - "error getting device from group N"             -> kBusy
///  - "device is already attached"                    -> kInvalid    (already in this VM)
///  - "No available IOMMU models"                     -> kUnsupported (vfio_iommu_type1 missing)
///  - "Duplicate device ID" / "Duplicate ID"          -> kInvalid    (the id is taken)
///  - "Device X is already in the process of unplug"  -> kBusy
///  - "Bus 'X' does not support hotplugging"          -> kUnsupported (e.g. pcie.0)
///  - "Bus 'X' not found", "Property 'T.P' not found", class DeviceNotFound -> kNotFound
///  - class CommandNotFound                           -> kUnsupported
/// anything else -> kIo. The error's path is \a socket_path.
Error MapQmpError(std::string_view command, std::string_view error_class, std::string_view desc,
                  const std::string& socket_path);

/// A QMP session: connect, read the greeting, negotiate qmp_capabilities. Movable, not copyable;
/// closes the socket on destruction. Not thread-safe: one thread drives a Client at a time.
class Client {
 public:
  /// Connects to the unix socket \a socket_path, reads the greeting and runs qmp_capabilities,
  /// all within \a timeout. Errors: kNotFound (no socket file, or nothing listening on it),
  /// kPermission, kIo, kTimeout (no greeting: e.g. another client — libvirt? — holds the
  /// socket), kInvalid (the peer's first message is not a QMP greeting, or the path is too long
  /// for sockaddr_un). The message names the socket.
  static Result<Client> Connect(const std::string& socket_path, std::chrono::milliseconds timeout);

  Client(Client&& other) noexcept;
  Client& operator=(Client&& other) noexcept;
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;
  ~Client();

  /// Runs \a command with \a arguments (a JSON object, or null for none) and returns its "return"
  /// value ({} for most commands). A QMP error reply becomes MapQmpError(...). Events that arrive
  /// meanwhile are queued for WaitEvent. Waits at most command_timeout() for the reply (kTimeout;
  /// a late reply is recognised by its id and dropped). Errors also: kIo (QEMU closed the
  /// connection, a read/write failed), kInvalid (a reply that is not JSON).
  Result<nlohmann::json> Execute(std::string_view command, const nlohmann::json& arguments = nullptr);

  /// Waits for an event named \a event whose "data" member (null when absent) satisfies \a match
  /// (an empty std::function matches any). Queued events are looked at first, oldest first; other
  /// events that arrive meanwhile are queued. Returns the whole event message
  /// {"event": ..., "data": ..., "timestamp": {"seconds", "microseconds"}} and removes it from the
  /// queue. Errors: kTimeout after \a timeout, kIo, kInvalid as for Execute.
  Result<nlohmann::json> WaitEvent(std::string_view event,
                                   const std::function<bool(const nlohmann::json&)>& match,
                                   std::chrono::milliseconds timeout);

  /// The greeting's "QMP" object: {"version": {"qemu": {"major", "minor", "micro"}, "package"},
  /// "capabilities": [...]}.
  const nlohmann::json& greeting() const { return greeting_; }
  /// The socket this client talks to, as given to Connect.
  const std::string& socket_path() const { return socket_path_; }
  /// How long Execute waits for a reply; default 30 s. device_add of a vfio-pci device pins all
  /// guest memory for DMA, which takes longer for big guests: raise it for those.
  std::chrono::milliseconds command_timeout() const { return command_timeout_; }
  void set_command_timeout(std::chrono::milliseconds timeout) { command_timeout_ = timeout; }
  /// Events received and not yet taken by WaitEvent, oldest first (at most 1024 are kept).
  const std::deque<nlohmann::json>& pending_events() const { return events_; }

 private:
  Client(int fd, std::string socket_path);
  using Clock = std::chrono::steady_clock;
  /// Reads the next complete message, waiting until \a deadline. kTimeout, kIo, kInvalid.
  Result<nlohmann::json> ReadMessage(Clock::time_point deadline);
  /// Writes \a message as one line. kIo.
  Result<void> Send(const nlohmann::json& message);
  void QueueEvent(nlohmann::json event);
  void Close();

  int fd_ = -1;
  std::string socket_path_;
  std::string buffer_;  ///< bytes read but not yet split into messages
  std::deque<nlohmann::json> events_;
  nlohmann::json greeting_;
  long next_id_ = 1;
  std::chrono::milliseconds command_timeout_{30000};
};

}  // namespace ptrec::qmp
