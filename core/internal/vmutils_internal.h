/* The one internal header bindings/ may include besides the public ones:
 * the core's Go formatting, path and base64 helpers that the policy
 * runtime's document encoder and request decoder, and vmutils.go, share
 * with the core. They are not part of the installed API (not exported
 * from libvmutils.so), so code that uses them links the static library
 * (docs/design.md). */
#ifndef VMUTILS_INTERNAL_H
#define VMUTILS_INTERNAL_H

#include "../base64.h"
#include "../gopath.h"
#include "../log/gofmt.h"

#endif
