// Shared by the re-exec unit tests (fcgi/, events/): a listening unix
// socket as an exec hands one over, without close-on-exec, on an abstract
// name (nothing to clean up). Invalid if it could not be made.
#pragma once

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdio>
#include <string>

#include "schema/posix.h"

namespace parley {

inline Fd InheritedListeningSocket(const std::string& name) {
  Fd fd(socket(AF_UNIX, SOCK_STREAM, 0));
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  std::snprintf(sa.sun_path + 1, sizeof sa.sun_path - 1, "%s-%d", name.c_str(), getpid());
  if (!fd.valid() || bind(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 || listen(fd.get(), 8) != 0) {
    return Fd();
  }
  return fd;
}

}  // namespace parley
