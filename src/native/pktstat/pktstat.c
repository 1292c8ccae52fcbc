/*
 * Kernel drop counters of a PF_PACKET socket (Node-API, plain C).
 *
 * Why: the `cap` package (libpcap) never exposes pcap_stats(), and for the mmap ring libpcap
 * uses (TPACKET_V3) the kernel counts ring overflows only in the socket's PACKET_STATISTICS,
 * which only a getsockopt() on that very socket reads (not /proc/net/packet, not sock_diag).
 * src/io/live-capture.ts finds the socket libpcap opened and polls it through this function.
 *
 * JS contract:
 *   packetStats(fd) -> [packets, drops]   counts since the previous call (the kernel resets
 *                                         them on every read, as libpcap's own pcap_stats does)
 *   throws an Error with the errno text when fd is not a packet socket.
 */
#define NAPI_VERSION 8
#define _GNU_SOURCE
#include <node_api.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <linux/if_packet.h>

#ifndef SOL_PACKET
#define SOL_PACKET 263
#endif

static napi_value throw_errno(napi_env env, const char *what, int err) {
  char msg[160];
  snprintf(msg, sizeof msg, "%s: %s", what, strerror(err));
  napi_throw_error(env, NULL, msg);
  return NULL;
}

static napi_value packet_stats(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t fd = -1;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1 ||
      napi_get_value_int32(env, argv[0], &fd) != napi_ok || fd < 0) {
    napi_throw_type_error(env, NULL, "packetStats(fd): fd must be a non-negative integer");
    return NULL;
  }
  /* tpacket_stats_v3 (TPACKET_V3 rings) starts with the same two counters as tpacket_stats;
   * the kernel copies min(len, its size), so the larger struct serves both versions. */
  struct tpacket_stats_v3 st;
  memset(&st, 0, sizeof st);
  socklen_t len = sizeof st;
  if (getsockopt(fd, SOL_PACKET, PACKET_STATISTICS, &st, &len) != 0) return throw_errno(env, "getsockopt(PACKET_STATISTICS)", errno);
  napi_value out, packets, drops;
  napi_create_array_with_length(env, 2, &out);
  napi_create_uint32(env, st.tp_packets, &packets);
  napi_create_uint32(env, st.tp_drops, &drops);
  napi_set_element(env, out, 0, packets);
  napi_set_element(env, out, 1, drops);
  return out;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_value fn;
  napi_create_function(env, "packetStats", NAPI_AUTO_LENGTH, packet_stats, NULL, &fn);
  napi_set_named_property(env, exports, "packetStats", fn);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
