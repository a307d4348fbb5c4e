// Typed wrappers around libcurl's variadic calls (curl_easy_setopt, curl_easy_getinfo, curl_multi_setopt),
// which Swift cannot call. One wrapper per argument kind; each returns libcurl's own result code.
#ifndef CCURLSHIM_H
#define CCURLSHIM_H

#include <curl/curl.h>

CURLcode ccurl_setopt_long(CURL *handle, CURLoption option, long value);
CURLcode ccurl_setopt_off(CURL *handle, CURLoption option, curl_off_t value);
CURLcode ccurl_setopt_ptr(CURL *handle, CURLoption option, void *value);
CURLcode ccurl_setopt_str(CURL *handle, CURLoption option, const char *value);
CURLcode ccurl_setopt_slist(CURL *handle, CURLoption option, struct curl_slist *value);
CURLcode ccurl_setopt_write_cb(CURL *handle, CURLoption option, curl_write_callback callback);
CURLcode ccurl_setopt_read_cb(CURL *handle, curl_read_callback callback);
CURLcode ccurl_setopt_seek_cb(CURL *handle, curl_seek_callback callback);

CURLcode ccurl_getinfo_long(CURL *handle, CURLINFO info, long *out);
CURLcode ccurl_getinfo_ptr(CURL *handle, CURLINFO info, void **out);

CURLMcode ccurl_multi_setopt_long(CURLM *multi, CURLMoption option, long value);

#endif
