#include "cni/skel/exec.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "base/scope_guard.h"
#include "base/strings.h"

namespace nodenet::cni {
namespace {

struct ExecOutcome {
  int status = 0;  // wait status
  std::string out, err;
};

// fork/exec with three pipes, pumped with poll() so a chatty plugin cannot deadlock us.
nodenet::Result<ExecOutcome> runOnce(const std::string& path, const std::vector<std::string>& env,
                                     std::string_view stdinData, int& execErrno) {
  int in[2], out[2], err[2], ex[2];
  if (pipe2(in, O_CLOEXEC) || pipe2(out, O_CLOEXEC) || pipe2(err, O_CLOEXEC) || pipe2(ex, O_CLOEXEC))
    return nodenet::Error::fromErrno(errno, "pipe");
  std::vector<char*> envp;
  for (const auto& e : env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  char* argv[] = {const_cast<char*>(path.c_str()), nullptr};
  pid_t pid = fork();
  if (pid < 0) return nodenet::Error::fromErrno(errno, "fork");
  if (pid == 0) {
    dup2(in[0], 0);
    dup2(out[1], 1);
    dup2(err[1], 2);
    execve(path.c_str(), argv, envp.data());
    int e = errno;
    (void)!write(ex[1], &e, sizeof e);
    _exit(127);
  }
  close(in[0]);
  close(out[1]);
  close(err[1]);
  close(ex[1]);
  ExecOutcome o;
  size_t written = 0;
  int fdIn = in[1];
  if (stdinData.empty()) {
    close(fdIn);
    fdIn = -1;
  } else {
    fcntl(fdIn, F_SETFL, O_NONBLOCK);
  }
  int fdOut = out[0], fdErr = err[0];
  char buf[65536];
  while (fdOut >= 0 || fdErr >= 0 || fdIn >= 0) {
    pollfd p[3];
    int n = 0;
    if (fdIn >= 0) p[n++] = {fdIn, POLLOUT, 0};
    if (fdOut >= 0) p[n++] = {fdOut, POLLIN, 0};
    if (fdErr >= 0) p[n++] = {fdErr, POLLIN, 0};
    if (poll(p, n, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (int i = 0; i < n; ++i) {
      if (!p[i].revents) continue;
      if (p[i].fd == fdIn) {
        ssize_t w = write(fdIn, stdinData.data() + written, stdinData.size() - written);
        if (w > 0) written += static_cast<size_t>(w);
        if (w < 0 && errno != EAGAIN && errno != EINTR) written = stdinData.size();
        if (written >= stdinData.size()) {
          close(fdIn);
          fdIn = -1;
        }
      } else {
        ssize_t r = read(p[i].fd, buf, sizeof buf);
        if (r > 0) {
          (p[i].fd == fdOut ? o.out : o.err).append(buf, static_cast<size_t>(r));
        } else if (r == 0 || (errno != EINTR && errno != EAGAIN)) {
          close(p[i].fd);
          (p[i].fd == fdOut ? fdOut : fdErr) = -1;
        }
      }
    }
  }
  execErrno = 0;
  if (read(ex[0], &execErrno, sizeof execErrno) <= 0) execErrno = 0;
  close(ex[0]);
  while (waitpid(pid, &o.status, 0) < 0 && errno == EINTR) {
  }
  return o;
}

std::string describeStatus(int status) {
  if (WIFEXITED(status)) return strCat("exit status ", WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return strCat("signal: ", strsignal(WTERMSIG(status)));
  return "unknown status";
}

}  // namespace

nodenet::Result<std::string> findPlugin(const std::string& type, const std::vector<std::string>& dirs) {
  if (type.find('/') != std::string::npos) return nodenet::Error(strCat("invalid plugin name: ", type));
  if (dirs.empty()) return nodenet::Error("no paths provided");
  for (const auto& d : dirs) {
    std::string full = d + "/" + type;
    struct stat st;
    if (stat(full.c_str(), &st) == 0 && S_ISREG(st.st_mode)) return full;
  }
  return nodenet::Error(strCat("failed to find plugin \"", type, "\" in path [", join(dirs, " "), "]"));
}

CniResult<std::string> execPlugin(const std::string& path, const std::vector<std::string>& env,
                                  std::string_view stdinData) {
  // The reference retries "text file busy" (a plugin binary still being written) up to 5 times, 1s apart.
  constexpr int kBusyRetries = 5;
  for (int attempt = 0;; ++attempt) {
    int execErrno = 0;
    NN_ASSIGN_OR_RETURN(ExecOutcome o, runOnce(path, env, stdinData, execErrno));
    if (execErrno == ETXTBSY && attempt < kBusyRetries) {
      std::this_thread::sleep_for(std::chrono::seconds(1));
      continue;
    }
    if (execErrno) return Error::from(nodenet::Error::fromErrno(execErrno, strCat("exec ", path)));
    if (WIFEXITED(o.status) && WEXITSTATUS(o.status) == 0) return o.out;
    std::string why = describeStatus(o.status);
    if (o.out.empty()) {
      if (o.err.empty()) return Error{kErrInternal, strCat("netplugin failed with no error message: ", why), {}};
      return Error{kErrInternal, strCat("netplugin failed: \"", o.err, "\": ", why), {}};
    }
    auto j = nlohmann::json::parse(o.out, nullptr, false);
    if (j.is_discarded() || !j.is_object())
      return Error{kErrInternal, strCat("netplugin failed but error parsing its diagnostic message \"", o.out, "\""),
                   {}};
    Error e;
    e.code = j.value("code", 0u);
    e.msg = j.value("msg", std::string());
    e.details = j.value("details", std::string());
    return e;
  }
}

std::vector<std::string> delegateEnv(const Env& env, Command command) {
  std::vector<std::string> out;
  for (const auto& [k, v] : env)
    if (k != "CNI_COMMAND") out.push_back(k + "=" + v);
  out.push_back(std::string("CNI_COMMAND=") + commandName(command));
  return out;
}

namespace {
nodenet::Result<std::string> pluginFromEnv(const std::string& type, const Env& env) {
  auto it = env.find("CNI_PATH");
  CmdArgs a;
  if (it != env.end()) a.path = it->second;
  return findPlugin(type, a.cniPath());
}
}  // namespace

CniResult<AddResult> delegateAdd(const std::string& type, const Env& env, std::string_view stdinData,
                                 const std::string& cniVersion) {
  NN_ASSIGN_OR_RETURN(std::string path, pluginFromEnv(type, env));
  NN_ASSIGN_OR_RETURN(std::string out, execPlugin(path, delegateEnv(env, Command::Add), stdinData));
  auto j = nlohmann::json::parse(out, nullptr, false);
  if (j.is_discarded()) return Error{kErrDecodingFailure, strCat("delegated plugin ", type, ": invalid result JSON"), {}};
  // The delegate answers in the config's version; fall back to the version it names.
  std::string v = cniVersion;
  if (j.is_object() && j.contains("cniVersion") && j["cniVersion"].is_string()) v = j["cniVersion"].get<std::string>();
  return parseResult(j, v);
}

CniStatus delegateCommand(Command command, const std::string& type, const Env& env, std::string_view stdinData) {
  NN_ASSIGN_OR_RETURN(std::string path, pluginFromEnv(type, env));
  NN_TRY(execPlugin(path, delegateEnv(env, command), stdinData));
  return {};
}

}  // namespace nodenet::cni
