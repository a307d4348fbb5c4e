// libnats (the NATS C client, Debian's libnats-dev) for Swift: the system headers, nothing else. Typed wrappers
// live in CNatsShim.
#ifndef CNATS_SHIM_H
#define CNATS_SHIM_H
#include <nats/nats.h>
#endif
