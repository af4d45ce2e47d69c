// The `loopback` plugin: brings `lo` up in the pod namespace (ADD), down (DEL), verifies it (CHECK).
// Like the reference, ADD passes a prevResult through unchanged, and otherwise reports lo with its addresses.
#pragma once

#include "cni/skel/dispatcher.h"

namespace nodenet::cni::loopback {

PluginFuncs loopbackPlugin();

}  // namespace nodenet::cni::loopback
