#include "providers/qmp/qmp_client.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <regex>
#include <utility>

#include <fmt/format.h>

namespace ptrec::qmp {
namespace {

using Clock = std::chrono::steady_clock;

constexpr size_t kMaxQueuedEvents = 1024;
constexpr size_t kMaxMessageBytes = 64 << 20;  // query-qmp-schema is ~200 KiB; far below this

bool Contains(std::string_view text, std::string_view part) {
  return text.find(part) != std::string_view::npos;
}

/// Milliseconds left until \a deadline, clamped to [0, INT_MAX] for poll(2).
int MsLeft(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  if (left < 0) return 0;
  return left > 0x7fffffff ? 0x7fffffff : static_cast<int>(left);
}

/// "N" out of "group N" / "/dev/vfio/N" in \a desc, or "N" when absent.
std::string GroupNumber(std::string_view desc) {
  static const std::regex kGroup(R"((?:group |/dev/vfio/)(\d+))");
  std::match_results<std::string_view::const_iterator> m;
  if (std::regex_search(desc.begin(), desc.end(), m, kGroup)) return m[1].str();
  return "N";
}

}  // namespace

Error MapQmpError(std::string_view command, std::string_view error_class, std::string_view desc,
                  const std::string& socket_path) {
  Code code = Code::kIo;
  std::string hint;
  const std::string group = GroupNumber(desc);
  if (Contains(desc, "failed to open /dev/vfio/")) {
    if (Contains(desc, "Permission denied") || Contains(desc, "Operation not permitted")) {
      code = Code::kPermission;
      hint = fmt::format("QEMU's user cannot open /dev/vfio/{}: give it access to the group file "
                         "(owner or udev rule) or run QEMU as a user that may",
                         group);
    } else if (Contains(desc, "Device or resource busy")) {
      code = Code::kBusy;
      hint = fmt::format("IOMMU group {} is already open by another process (another VM?): "
                         "a group can be used by one VM at a time",
                         group);
    } else {
      code = Code::kNotFound;
      hint = fmt::format("/dev/vfio/{} does not exist: bind the device and every other device "
                         "of IOMMU group {} to vfio-pci first (modprobe vfio-pci)",
                         group, group);
    }
  } else if (Contains(desc, "no such host device")) {
    code = Code::kNotFound;
    hint = "no PCI device with that BDF exists on the host: check the address (lspci -D)";
  } else if (Contains(desc, "is not viable")) {
    code = Code::kBusy;
    hint = fmt::format("other devices of IOMMU group {} are still bound to host drivers: bind the "
                       "whole group to vfio-pci (or leave them unbound)",
                       group);
  } else if (Contains(desc, "error getting device from group")) {
    code = Code::kBusy;
    hint = fmt::format("the device is not bound to vfio-pci or is in use: bind every device of "
                       "IOMMU group {} to vfio-pci and make sure no other VM holds it",
                       group);
  } else if (Contains(desc, "device is already attached")) {
    code = Code::kInvalid;
    hint = "this host device is already assigned to this VM (perhaps under another id)";
  } else if (Contains(desc, "No available IOMMU models")) {
    code = Code::kUnsupported;
    hint = "no vfio IOMMU backend: modprobe vfio_iommu_type1 and enable the IOMMU "
           "(intel_iommu=on / amd_iommu=on)";
  } else if (Contains(desc, "Duplicate device ID") || Contains(desc, "Duplicate ID")) {
    code = Code::kInvalid;
    hint = "another device of this VM already has that id: pick another id";
  } else if (Contains(desc, "already in the process of unplug")) {
    code = Code::kBusy;
    hint = "the guest has not yet released the device: wait for DEVICE_DELETED";
  } else if (Contains(desc, "does not support hotplugging")) {
    code = Code::kUnsupported;
    hint = "hot-plug needs a hotplug-capable bus, e.g. a free pcie-root-port "
           "(-device pcie-root-port,id=rpN,chassis=N,bus=pcie.0 at VM start); pcie.0 refuses";
  } else if (error_class == "DeviceNotFound" ||
             ((desc.starts_with("Bus '") || desc.starts_with("Property '")) &&
              desc.ends_with("' not found"))) {
    code = Code::kNotFound;
  } else if (error_class == "CommandNotFound") {
    code = Code::kUnsupported;
    hint = "this QEMU does not know the command";
  }
  std::string message = fmt::format("QMP {}: {}: {}", socket_path, command, desc);
  if (!hint.empty()) message += fmt::format(" (hint: {})", hint);
  return Error{code, std::move(message), socket_path, 0};
}

Client::Client(int fd, std::string socket_path) : fd_(fd), socket_path_(std::move(socket_path)) {}

Client::Client(Client&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)),
      socket_path_(std::move(other.socket_path_)),
      buffer_(std::move(other.buffer_)),
      events_(std::move(other.events_)),
      greeting_(std::move(other.greeting_)),
      next_id_(other.next_id_),
      command_timeout_(other.command_timeout_) {}

Client& Client::operator=(Client&& other) noexcept {
  if (this != &other) {
    Close();
    fd_ = std::exchange(other.fd_, -1);
    socket_path_ = std::move(other.socket_path_);
    buffer_ = std::move(other.buffer_);
    events_ = std::move(other.events_);
    greeting_ = std::move(other.greeting_);
    next_id_ = other.next_id_;
    command_timeout_ = other.command_timeout_;
  }
  return *this;
}

Client::~Client() { Close(); }

void Client::Close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

Result<Client> Client::Connect(const std::string& socket_path, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (socket_path.empty() || socket_path.size() >= sizeof(addr.sun_path)) {
    return Fail(Code::kInvalid,
                fmt::format("QMP socket path '{}' is empty or longer than {} bytes", socket_path,
                            sizeof(addr.sun_path) - 1),
                socket_path);
  }
  std::memcpy(addr.sun_path, socket_path.data(), socket_path.size());
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    int err = errno;
    return Fail(Code::kIo, fmt::format("QMP {}: socket: {}", socket_path, std::strerror(err)),
                socket_path, err);
  }
  Client client(fd, socket_path);
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0) {
    int err = errno;
    Code code = CodeFromErrno(err);
    std::string why = std::strerror(err);
    if (err == ECONNREFUSED) {
      code = Code::kNotFound;
      why += " (nothing listens on it: is QEMU running with -qmp unix:PATH,server=on?)";
    } else if (err == ENOENT) {
      why += " (is QEMU running with -qmp unix:PATH,server=on?)";
    }
    return Fail(code, fmt::format("QMP {}: connect: {}", socket_path, why), socket_path, err);
  }
  auto greeting = client.ReadMessage(deadline);
  if (!greeting) {
    if (greeting.error().code == Code::kTimeout) {
      greeting.error().message +=
          " (no greeting: QEMU serves one QMP client per socket; is another client, e.g. "
          "libvirt, connected?)";
    }
    return std::unexpected(greeting.error());
  }
  if (!greeting->is_object() || !greeting->contains("QMP") || !(*greeting)["QMP"].is_object()) {
    return Fail(Code::kInvalid,
                fmt::format("QMP {}: the first message is not a QMP greeting: {}", socket_path,
                            greeting->dump().substr(0, 200)),
                socket_path);
  }
  client.greeting_ = (*greeting)["QMP"];
  auto saved = client.command_timeout_;
  client.command_timeout_ = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::max(Clock::duration::zero(), deadline - Clock::now()));
  auto caps = client.Execute("qmp_capabilities");
  client.command_timeout_ = saved;
  if (!caps) return std::unexpected(caps.error());
  return client;
}

Result<void> Client::Send(const nlohmann::json& message) {
  if (fd_ < 0) return Fail(Code::kIo, fmt::format("QMP {}: not connected", socket_path_), socket_path_);
  std::string line = message.dump() + "\n";
  size_t done = 0;
  while (done < line.size()) {
    ssize_t n = ::send(fd_, line.data() + done, line.size() - done, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      return Fail(Code::kIo, fmt::format("QMP {}: write: {}", socket_path_, std::strerror(err)),
                  socket_path_, err);
    }
    done += static_cast<size_t>(n);
  }
  return {};
}

Result<nlohmann::json> Client::ReadMessage(Clock::time_point deadline) {
  for (;;) {
    size_t eol = buffer_.find('\n');
    if (eol != std::string::npos) {
      std::string line = buffer_.substr(0, eol);
      buffer_.erase(0, eol + 1);
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      auto parsed = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
      if (parsed.is_discarded() || !parsed.is_object()) {
        return Fail(Code::kInvalid,
                    fmt::format("QMP {}: not a JSON object: {}", socket_path_, line.substr(0, 200)),
                    socket_path_);
      }
      return parsed;
    }
    if (buffer_.size() > kMaxMessageBytes) {
      return Fail(Code::kInvalid, fmt::format("QMP {}: a message longer than {} bytes", socket_path_,
                                              kMaxMessageBytes),
                  socket_path_);
    }
    if (fd_ < 0) return Fail(Code::kIo, fmt::format("QMP {}: not connected", socket_path_), socket_path_);
    pollfd pfd{fd_, POLLIN, 0};
    int ready = ::poll(&pfd, 1, MsLeft(deadline));
    if (ready < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      return Fail(Code::kIo, fmt::format("QMP {}: poll: {}", socket_path_, std::strerror(err)),
                  socket_path_, err);
    }
    if (ready == 0) {
      return Fail(Code::kTimeout, fmt::format("QMP {}: no answer in time", socket_path_), socket_path_);
    }
    char chunk[65536];
    ssize_t n = ::read(fd_, chunk, sizeof(chunk));
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      int err = errno;
      return Fail(Code::kIo, fmt::format("QMP {}: read: {}", socket_path_, std::strerror(err)),
                  socket_path_, err);
    }
    if (n == 0) {
      Close();
      return Fail(Code::kIo,
                  fmt::format("QMP {}: QEMU closed the connection (did the VM exit?)", socket_path_),
                  socket_path_);
    }
    buffer_.append(chunk, static_cast<size_t>(n));
  }
}

void Client::QueueEvent(nlohmann::json event) {
  if (events_.size() >= kMaxQueuedEvents) events_.pop_front();
  events_.push_back(std::move(event));
}

Result<nlohmann::json> Client::Execute(std::string_view command, const nlohmann::json& arguments) {
  const auto deadline = Clock::now() + command_timeout_;
  const long id = next_id_++;
  nlohmann::json request = {{"execute", command}, {"id", id}};
  if (!arguments.is_null()) request["arguments"] = arguments;
  if (auto sent = Send(request); !sent) return std::unexpected(sent.error());
  for (;;) {
    auto message = ReadMessage(deadline);
    if (!message) {
      if (message.error().code == Code::kTimeout) {
        message.error().message = fmt::format("QMP {}: {}: no reply within {} ms", socket_path_,
                                              command, command_timeout_.count());
      }
      return std::unexpected(message.error());
    }
    if (message->contains("event")) {
      QueueEvent(std::move(*message));
      continue;
    }
    // A reply to an earlier command that timed out carries an older id: drop it.
    if (!message->contains("id") || message->at("id") != id) continue;
    if (auto ret = message->find("return"); ret != message->end()) return *ret;
    if (auto err = message->find("error"); err != message->end() && err->is_object()) {
      return std::unexpected(MapQmpError(command, err->value("class", ""), err->value("desc", ""),
                                         socket_path_));
    }
    return Fail(Code::kInvalid,
                fmt::format("QMP {}: {}: a reply with neither return nor error: {}", socket_path_,
                            command, message->dump().substr(0, 200)),
                socket_path_);
  }
}

Result<nlohmann::json> Client::WaitEvent(std::string_view event,
                                         const std::function<bool(const nlohmann::json&)>& match,
                                         std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  auto matches = [&](const nlohmann::json& message) {
    if (message.value("event", "") != event) return false;
    if (!match) return true;
    auto data = message.find("data");
    return match(data == message.end() ? nlohmann::json() : *data);
  };
  for (auto it = events_.begin(); it != events_.end(); ++it) {
    if (matches(*it)) {
      nlohmann::json found = std::move(*it);
      events_.erase(it);
      return found;
    }
  }
  for (;;) {
    auto message = ReadMessage(deadline);
    if (!message) {
      if (message.error().code == Code::kTimeout) {
        message.error().message = fmt::format("QMP {}: no {} event within {} ms", socket_path_,
                                              event, timeout.count());
      }
      return std::unexpected(message.error());
    }
    if (!message->contains("event")) continue;  // a late reply to a timed-out command
    if (matches(*message)) return std::move(*message);
    QueueEvent(std::move(*message));
  }
}

}  // namespace ptrec::qmp
