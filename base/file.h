// Whole-file reads for configuration and state files (kubeconfigs, tokens, manifests, resolv.conf, sysctls).
#pragma once

#include <cstddef>
#include <string>

#include "base/result.h"

namespace nodenet {

/// The default cap of readFile(): far above any config file nodenet reads, low enough that a wrong path (a
/// device, a huge log) fails fast instead of exhausting memory.
inline constexpr size_t kMaxReadFileBytes = 64u << 20;

/// Reads the whole file at `path`. Opens with O_NONBLOCK, so a FIFO put in a file's place cannot hang the caller.
/// Errors keep the errno (ENOENT lets a caller forget a file that went away) and name the path:
/// "open /x/token: No such file or directory"; a file larger than `maxBytes` is an error too.
Result<std::string> readFile(const std::string& path, size_t maxBytes = kMaxReadFileBytes);

}  // namespace nodenet
