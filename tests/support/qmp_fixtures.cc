#include "tests/support/qmp_fixtures.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

extern char** environ;

namespace ptrec::testing {

FakeQmpServer::FakeQmpServer(std::string socket_path) : socket_path_(std::move(socket_path)) {}

FakeQmpServer::~FakeQmpServer() { Stop(); }

FakeQmpServer& FakeQmpServer::Send(std::string line) {
  steps_.push_back({Step::kSend, std::move(line), "", 0});
  return *this;
}

FakeQmpServer& FakeQmpServer::Greet() {
  return Send(R"({"QMP": {"version": {"qemu": {"micro": 22, "minor": 2, "major": 7}, )"
              R"("package": "Debian 1:7.2+dfsg-7+deb12u18"}, "capabilities": ["oob"]}})");
}

FakeQmpServer& FakeQmpServer::Expect(std::string command, std::string reply) {
  steps_.push_back({Step::kExpect, std::move(command), std::move(reply), 0});
  return *this;
}

FakeQmpServer& FakeQmpServer::Sleep(int ms) {
  steps_.push_back({Step::kSleep, "", "", ms});
  return *this;
}

FakeQmpServer& FakeQmpServer::Close() {
  steps_.push_back({Step::kClose, "", "", 0});
  return *this;
}

FakeQmpServer& FakeQmpServer::Handshake() { return Greet().Expect("qmp_capabilities", R"({"return": {}})"); }

void FakeQmpServer::Start() {
  listen_fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, socket_path_.c_str(), sizeof(addr.sun_path) - 1);
  ::unlink(socket_path_.c_str());
  if (listen_fd_ < 0 || ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      ::listen(listen_fd_, 4) != 0) {
    throw std::runtime_error("fake QMP server: cannot listen on " + socket_path_ + ": " +
                             std::strerror(errno));
  }
  thread_ = std::thread([this] { Run(); });
}

void FakeQmpServer::Stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
  if (listen_fd_ >= 0) ::close(listen_fd_);
  listen_fd_ = -1;
}

std::vector<nlohmann::json> FakeQmpServer::requests() {
  std::lock_guard lock(mutex_);
  return requests_;
}

std::vector<std::string> FakeQmpServer::failures() {
  std::lock_guard lock(mutex_);
  return failures_;
}

std::vector<std::string> FakeQmpServer::commands() {
  std::vector<std::string> names;
  for (const auto& request : requests()) names.push_back(request.value("execute", "?"));
  return names;
}

bool FakeQmpServer::ReadLine(int fd, std::string& buffer, std::string& line) {
  for (;;) {
    auto eol = buffer.find('\n');
    if (eol != std::string::npos) {
      line = buffer.substr(0, eol);
      buffer.erase(0, eol + 1);
      return true;
    }
    if (stop_) return false;
    pollfd pfd{fd, POLLIN, 0};
    if (::poll(&pfd, 1, 20) <= 0) continue;
    char chunk[4096];
    ssize_t n = ::read(fd, chunk, sizeof(chunk));
    if (n <= 0) return false;
    buffer.append(chunk, static_cast<size_t>(n));
  }
}

void FakeQmpServer::Run() {
  int fd = -1;
  while (!stop_ && fd < 0) {
    pollfd pfd{listen_fd_, POLLIN, 0};
    if (::poll(&pfd, 1, 20) > 0) fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
  }
  if (fd < 0) return;
  auto write_line = [&](const std::string& text) {
    std::string data = text + "\r\n";  // QEMU ends messages with CRLF
    (void)!::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
  };
  std::string buffer, line;
  int index = 0;
  for (const auto& step : steps_) {
    ++index;
    if (stop_) break;
    switch (step.kind) {
      case Step::kSend:
        write_line(step.text);
        break;
      case Step::kSleep:
        for (int waited = 0; waited < step.ms && !stop_; waited += 5) {
          std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
        break;
      case Step::kClose:
        ::close(fd);
        fd = -1;
        break;
      case Step::kExpect: {
        if (fd < 0 || !ReadLine(fd, buffer, line)) {
          std::lock_guard lock(mutex_);
          failures_.push_back("step " + std::to_string(index) + ": expected " + step.text +
                              ", the client sent nothing more");
          break;
        }
        auto request = nlohmann::json::parse(line, nullptr, false);
        {
          std::lock_guard lock(mutex_);
          requests_.push_back(request);
          if (request.is_discarded() || request.value("execute", "") != step.text) {
            failures_.push_back("step " + std::to_string(index) + ": expected " + step.text +
                                ", got " + line);
          }
        }
        if (!step.reply.empty()) {
          auto reply = nlohmann::json::parse(step.reply);
          if (request.is_object() && request.contains("id")) reply["id"] = request["id"];
          write_line(reply.dump());
        }
        break;
      }
    }
    if (fd < 0) break;
  }
  while (fd >= 0 && ReadLine(fd, buffer, line)) {
    std::lock_guard lock(mutex_);
    requests_.push_back(nlohmann::json::parse(line, nullptr, false));
  }
  if (fd >= 0) ::close(fd);
}

QemuProcess::QemuProcess(const std::string& dir, const std::vector<std::string>& extra_args)
    : socket_path_(dir + "/qmp.sock"), log_path_(dir + "/qemu.log") {
  std::vector<std::string> argv = {"qemu-system-x86_64", "-machine", "q35", "-nodefaults",
                                   "-display", "none", "-m", "64", "-accel", "tcg",
                                   "-qmp", "unix:" + socket_path_ + ",server=on,wait=off", "-S"};
  argv.insert(argv.end(), extra_args.begin(), extra_args.end());
  std::vector<char*> args;
  for (auto& arg : argv) args.push_back(arg.data());
  args.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, log_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  int rc = ::posix_spawnp(&pid_, args[0], &fa, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) {
    pid_ = -1;
    throw std::runtime_error(std::string("cannot start qemu-system-x86_64 (install qemu-system-x86): ") +
                             std::strerror(rc));
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  struct stat st {};
  while (::stat(socket_path_.c_str(), &st) != 0) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      throw std::runtime_error("qemu-system-x86_64 exited at start-up: " + log());
    }
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
      pid_ = -1;
      throw std::runtime_error("qemu-system-x86_64 made no QMP socket in 20 s: " + log());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

QemuProcess::~QemuProcess() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
}

std::string QemuProcess::log() const {
  std::ifstream in(log_path_);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace ptrec::testing
