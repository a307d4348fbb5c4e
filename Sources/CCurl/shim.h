// libcurl for Swift: the system headers, nothing else. Typed wrappers live in CCurlShim.
#ifndef CCURL_SHIM_H
#define CCURL_SHIM_H
#include <curl/curl.h>
#endif
