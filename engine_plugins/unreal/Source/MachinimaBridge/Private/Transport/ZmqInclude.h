// <zmq.hpp> (cppzmq over libzmq) for Transport/.  Inside Unreal on Windows, libzmq's <winsock2.h>
// must be included within Unreal's Windows header guards; elsewhere this is a plain include.
#pragma once

#if defined(MBRIDGE_IN_UNREAL) && defined(_WIN32)
#include "Windows/AllowWindowsPlatformTypes.h"
#include "Windows/PreWindowsApi.h"
#endif

#include <zmq.hpp>

#if defined(MBRIDGE_IN_UNREAL) && defined(_WIN32)
#include "Windows/PostWindowsApi.h"
#include "Windows/HideWindowsPlatformTypes.h"
#endif
