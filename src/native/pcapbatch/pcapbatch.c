/*
 * Batched live capture for the copier (Node-API, plain C, linked against libpcap).
 *
 * Why: the `cap` package makes one JS call per packet, stamps nothing, has no pcap_stats and a
 * fixed 65535 snap length (so each kernel ring frame is 64 KiB in immediate mode). Here a uv_poll
 * watcher on libpcap's selectable fd runs pcap_dispatch, copies packets into a JS slab with their
 * metadata, and calls JS ONCE per batch.
 *
 * JS contract (see src/io/pcap-batch-capture.ts):
 *   const c = new PcapCapture({ device, snaplen, bufferSize, timeoutMs, filter }, onBatch)
 *       opens and activates the handle; throws an Error with libpcap's message when it cannot.
 *       timeoutMs 0: immediate mode; > 0: libpcap's packet buffer timeout (see open_pcap).
 *   c.linkType   pcap_datalink()
 *   c.bind(slab, meta)   slab: Uint8Array; meta: Uint32Array of 5 × slots (offset, caplen,
 *       origlen, ts sec, ts usec per packet). Kept alive until close().
 *   c.start()    starts the watcher. onBatch(count, null): packets 0..count-1 are in the slab,
 *       valid only during the call. onBatch(-1, message): the handle failed (device gone, …);
 *       the watcher is stopped, nothing is thrown.
 *   c.stats()    { recv, drop, ifdrop } from pcap_stats, or { error } when it fails.
 *   c.close()    idempotent.
 */
#define NAPI_VERSION 8
#define _GNU_SOURCE
#include <node_api.h>
#include <uv.h>

#include <pcap/pcap.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define META 5
/* Batches delivered per wakeup at most, so one busy device cannot starve the event loop. */
#define MAX_ROUNDS 16

typedef struct {
  napi_env env;
  pcap_t *p;
  int closed, started, failed;
  int snaplen;
  uv_poll_t *poll;
  napi_ref self_ref, cb_ref, slab_ref, meta_ref;
  napi_async_context actx;
  uint8_t *slab;
  size_t slab_len;
  uint32_t *meta;
  uint32_t slots;
  /* Fill state of the current batch. */
  uint32_t n;
  size_t used;
  uint64_t batches, packets, wakeups;
} Cap;

static void set_num(napi_env env, napi_value obj, const char *key, double v) {
  napi_value n;
  if (napi_create_double(env, v, &n) == napi_ok) napi_set_named_property(env, obj, key, n);
}

static void on_poll_closed(uv_handle_t *h) { free(h); }

static void do_close(Cap *c) {
  if (c->closed) return;
  c->closed = 1;
  if (c->poll != NULL) {
    uv_poll_stop(c->poll);
    c->poll->data = NULL;
    uv_close((uv_handle_t *)c->poll, on_poll_closed);
    c->poll = NULL;
  }
  if (c->p != NULL) pcap_close(c->p);
  c->p = NULL;
  if (c->self_ref != NULL) {
    uint32_t rc = 0;
    napi_reference_unref(c->env, c->self_ref, &rc);
  }
}

static void cleanup_hook(void *arg) { do_close((Cap *)arg); }

static void finalize(napi_env env, void *data, void *hint) {
  Cap *c = (Cap *)data;
  napi_remove_env_cleanup_hook(env, cleanup_hook, c);
  do_close(c);
  napi_ref refs[4] = {c->cb_ref, c->self_ref, c->slab_ref, c->meta_ref};
  for (int k = 0; k < 4; k++)
    if (refs[k] != NULL) napi_delete_reference(env, refs[k]);
  if (c->actx) napi_async_destroy(env, c->actx);
  free(c);
}

static Cap *unwrap(napi_env env, napi_callback_info info, size_t *argc, napi_value *argv) {
  napi_value self;
  if (napi_get_cb_info(env, info, argc, argv, &self, NULL) != napi_ok) return NULL;
  Cap *c = NULL;
  if (napi_unwrap(env, self, (void **)&c) != napi_ok || c == NULL) {
    napi_throw_type_error(env, NULL, "PcapCapture method called on a wrong object");
    return NULL;
  }
  return c;
}

/* onBatch(count, message|null); a throwing listener becomes an uncaught exception. */
static void call_js(Cap *c, int32_t count, const char *msg) {
  napi_env env = c->env;
  napi_handle_scope scope;
  if (c->cb_ref == NULL || napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value cb, self, args[2], result;
  if (napi_get_reference_value(env, c->cb_ref, &cb) == napi_ok && cb != NULL && napi_get_reference_value(env, c->self_ref, &self) == napi_ok && self != NULL &&
      napi_create_int32(env, count, &args[0]) == napi_ok) {
    if (msg == NULL) napi_get_null(env, &args[1]);
    else napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &args[1]);
    if (napi_make_callback(env, c->actx, self, cb, 2, args, &result) != napi_ok) {
      bool pending = false;
      napi_is_exception_pending(env, &pending);
      if (pending) {
        napi_value ex;
        if (napi_get_and_clear_last_exception(env, &ex) == napi_ok) napi_fatal_exception(env, ex);
      }
    }
  }
  napi_close_handle_scope(env, scope);
}

/* Stops the watcher and tells JS; the handle stays open (stats still readable) until close(). */
static void fail(Cap *c, const char *msg) {
  c->failed = 1;
  if (c->poll != NULL) uv_poll_stop(c->poll);
  call_js(c, -1, msg);
}

static void on_packet(u_char *user, const struct pcap_pkthdr *h, const u_char *bytes) {
  Cap *c = (Cap *)user;
  uint32_t len = h->caplen;
  if (len > (uint32_t)c->snaplen) len = (uint32_t)c->snaplen;
  uint32_t *m = c->meta + (size_t)c->n * META;
  m[0] = (uint32_t)c->used;
  m[1] = len;
  m[2] = h->len;
  m[3] = (uint32_t)h->ts.tv_sec;
  m[4] = (uint32_t)h->ts.tv_usec;
  memcpy(c->slab + c->used, bytes, len);
  c->used += len;
  c->n++;
  /* Full (no slot, or not room for a snaplen packet): the rest stays in libpcap's ring. */
  if (c->n >= c->slots || c->slab_len - c->used < (size_t)c->snaplen) pcap_breakloop(c->p);
}

static void on_poll(uv_poll_t *h, int status, int events) {
  Cap *c = (Cap *)h->data;
  if (c == NULL || c->closed || c->failed) return;
  c->wakeups++;
  /* A poll error (POLLERR: the device went away) is read through pcap_dispatch, which names it. */
  for (int round = 0; round < MAX_ROUNDS; round++) {
    c->n = 0;
    c->used = 0;
    int full = 0;
    while (c->n < c->slots) {
      int want = (int)(c->slots - c->n);
      int r = pcap_dispatch(c->p, want, on_packet, (u_char *)c);
      if (r == PCAP_ERROR_BREAK) { full = 1; break; }
      if (r == PCAP_ERROR) {
        char msg[PCAP_ERRBUF_SIZE + 32];
        snprintf(msg, sizeof msg, "%s", pcap_geterr(c->p));
        if (c->n > 0) call_js(c, (int32_t)c->n, NULL);
        if (!c->closed) fail(c, msg);
        return;
      }
      /* Fewer than asked: libpcap met a frame the kernel has not filled, the ring is drained.
       * Asking again would only cost libpcap a poll() syscall to find that out. */
      if (r < want) break;
    }
    if (c->n == 0) break;
    c->batches++;
    c->packets += c->n;
    call_js(c, (int32_t)c->n, NULL);
    if (c->closed || c->failed || (!full && c->n < c->slots)) break;
  }
  /* libuv stops a poll handle that reported an error: without this the capture would go silent. */
  if (status < 0 && !c->closed && !c->failed) fail(c, "the capture socket reported an error (the device may be gone)");
}

static int get_str(napi_env env, napi_value obj, const char *key, char *out, size_t cap) {
  napi_value v;
  napi_valuetype t;
  size_t len = 0;
  out[0] = 0;
  if (napi_get_named_property(env, obj, key, &v) != napi_ok || napi_typeof(env, v, &t) != napi_ok || t != napi_string) return -1;
  return napi_get_value_string_utf8(env, v, out, cap, &len) == napi_ok ? 0 : -1;
}

static int get_int(napi_env env, napi_value obj, const char *key, int32_t *out) {
  napi_value v;
  napi_valuetype t;
  if (napi_get_named_property(env, obj, key, &v) != napi_ok || napi_typeof(env, v, &t) != napi_ok || t != napi_number) return -1;
  return napi_get_value_int32(env, v, out) == napi_ok ? 0 : -1;
}

static void throw_pcap(napi_env env, const char *what, const char *detail) {
  char msg[1024];
  snprintf(msg, sizeof msg, "%s: %s", what, detail);
  napi_throw_error(env, NULL, msg);
}

/*
 * Opens like tcpdump -i DEV -s SNAP -B BUF with the filter; NULL + JS error if not.
 * timeout_ms 0 = --immediate-mode: libpcap then uses TPACKET_V2, one ring frame per packet, each
 * sized for the snap length. timeout_ms > 0 keeps TPACKET_V3: packets are packed by their real
 * length into blocks the kernel hands over when full or after timeout_ms, so the same -B holds
 * far more packets and each wake-up brings a block instead of a packet.
 */
static pcap_t *open_pcap(napi_env env, const char *device, int snaplen, int bufsize, int timeout_ms, const char *filter) {
  char errbuf[PCAP_ERRBUF_SIZE] = "";
  pcap_t *p = pcap_create(device, errbuf);
  if (p == NULL) { throw_pcap(env, device, errbuf); return NULL; }
  const char *step = NULL;
  if (pcap_set_snaplen(p, snaplen) != 0) step = "pcap_set_snaplen";
  else if (pcap_set_promisc(p, 1) != 0) step = "pcap_set_promisc";
  else if (bufsize > 0 && pcap_set_buffer_size(p, bufsize) != 0) step = "pcap_set_buffer_size";
  else if (timeout_ms <= 0 && pcap_set_immediate_mode(p, 1) != 0) step = "pcap_set_immediate_mode";
  else if (timeout_ms > 0 && pcap_set_timeout(p, timeout_ms) != 0) step = "pcap_set_timeout";
  if (step != NULL) { throw_pcap(env, step, pcap_geterr(p)); pcap_close(p); return NULL; }
  int r = pcap_activate(p);
  if (r < 0) {
    /* Generic errors carry details in pcap_geterr; the others only in pcap_statustostr. */
    const char *why = r == PCAP_ERROR ? pcap_geterr(p) : pcap_statustostr(r);
    char msg[PCAP_ERRBUF_SIZE + 64];
    snprintf(msg, sizeof msg, "%s (%s)", why, r == PCAP_ERROR ? "pcap_activate" : pcap_geterr(p));
    throw_pcap(env, device, msg);
    pcap_close(p);
    return NULL;
  }
  struct bpf_program prog;
  if (pcap_compile(p, &prog, filter, 1, PCAP_NETMASK_UNKNOWN) != 0) { throw_pcap(env, "pcap_compile", pcap_geterr(p)); pcap_close(p); return NULL; }
  r = pcap_setfilter(p, &prog);
  pcap_freecode(&prog);
  if (r != 0) { throw_pcap(env, "pcap_setfilter", pcap_geterr(p)); pcap_close(p); return NULL; }
  if (pcap_setnonblock(p, 1, errbuf) != 0) { throw_pcap(env, "pcap_setnonblock", errbuf); pcap_close(p); return NULL; }
  if (pcap_get_selectable_fd(p) < 0) { throw_pcap(env, device, "no selectable descriptor"); pcap_close(p); return NULL; }
  return p;
}

/* new PcapCapture({ device, snaplen, bufferSize, timeoutMs, filter }, onBatch) */
static napi_value js_new(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2], self;
  if (napi_get_cb_info(env, info, &argc, argv, &self, NULL) != napi_ok) return NULL;
  napi_valuetype t0 = napi_undefined, t1 = napi_undefined;
  if (argc >= 1) napi_typeof(env, argv[0], &t0);
  if (argc >= 2) napi_typeof(env, argv[1], &t1);
  char device[256], filter[8192];
  int32_t snaplen = 65535, bufsize = 0, timeout_ms = 0;
  if (t0 != napi_object || t1 != napi_function || get_str(env, argv[0], "device", device, sizeof device) != 0 ||
      get_str(env, argv[0], "filter", filter, sizeof filter) != 0 || get_int(env, argv[0], "snaplen", &snaplen) != 0 ||
      get_int(env, argv[0], "bufferSize", &bufsize) != 0 || get_int(env, argv[0], "timeoutMs", &timeout_ms) != 0 || snaplen <= 0 ||
      timeout_ms < 0) {
    napi_throw_type_error(env, NULL, "new PcapCapture({ device, snaplen, bufferSize, timeoutMs, filter }, onBatch)");
    return NULL;
  }
  pcap_t *p = open_pcap(env, device, snaplen, bufsize, timeout_ms, filter);
  if (p == NULL) return NULL;
  Cap *c = calloc(1, sizeof *c);
  uv_loop_t *loop;
  if (c == NULL) { pcap_close(p); napi_throw_error(env, NULL, "out of memory"); return NULL; }
  c->env = env;
  c->p = p;
  c->snaplen = pcap_snapshot(p);
  c->poll = malloc(sizeof *c->poll);
  if (napi_get_uv_event_loop(env, &loop) != napi_ok || c->poll == NULL || uv_poll_init(loop, c->poll, pcap_get_selectable_fd(p)) != 0) {
    free(c->poll);
    pcap_close(p);
    free(c);
    napi_throw_error(env, NULL, "cannot watch the capture descriptor (uv_poll_init)");
    return NULL;
  }
  c->poll->data = c;
  if (napi_wrap(env, self, c, finalize, NULL, NULL) != napi_ok) {
    c->poll->data = NULL;
    uv_close((uv_handle_t *)c->poll, on_poll_closed);
    pcap_close(p);
    return NULL;
  }
  napi_create_reference(env, argv[1], 1, &c->cb_ref);
  napi_value name;
  napi_create_string_utf8(env, "PcapCapture", NAPI_AUTO_LENGTH, &name);
  napi_async_init(env, NULL, name, &c->actx);
  /* Strong while open: the watcher points at c, so the wrapper must outlive it. */
  napi_create_reference(env, self, 1, &c->self_ref);
  napi_add_env_cleanup_hook(env, cleanup_hook, c);
  set_num(env, self, "linkType", pcap_datalink(p));
  set_num(env, self, "snaplen", c->snaplen);
  return self;
}

static napi_value js_bind(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  Cap *c = unwrap(env, info, &argc, argv);
  if (c == NULL) return NULL;
  if (c->closed) { napi_throw_error(env, NULL, "PcapCapture is closed"); return NULL; }
  if (c->slab_ref != NULL) { napi_throw_error(env, NULL, "bind: already bound"); return NULL; }
  bool is0 = false, is1 = false;
  napi_typedarray_type t0, t1;
  size_t l0 = 0, l1 = 0, o;
  void *d0 = NULL, *d1 = NULL;
  napi_value ab;
  if (argc < 2 || napi_is_typedarray(env, argv[0], &is0) != napi_ok || !is0 || napi_is_typedarray(env, argv[1], &is1) != napi_ok || !is1 ||
      napi_get_typedarray_info(env, argv[0], &t0, &l0, &d0, &ab, &o) != napi_ok || napi_get_typedarray_info(env, argv[1], &t1, &l1, &d1, &ab, &o) != napi_ok ||
      t0 != napi_uint8_array || t1 != napi_uint32_array) {
    napi_throw_type_error(env, NULL, "bind(slab: Uint8Array, meta: Uint32Array)");
    return NULL;
  }
  if (l1 < META || l0 < (size_t)c->snaplen) { napi_throw_range_error(env, NULL, "bind: the slab must hold one snaplen packet and meta one slot"); return NULL; }
  c->slab = d0;
  c->slab_len = l0;
  c->meta = d1;
  c->slots = (uint32_t)(l1 / META);
  napi_create_reference(env, argv[0], 1, &c->slab_ref);
  napi_create_reference(env, argv[1], 1, &c->meta_ref);
  return NULL;
}

static napi_value js_start(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  Cap *c = unwrap(env, info, &argc, NULL);
  if (c == NULL) return NULL;
  if (c->closed || c->slab_ref == NULL) { napi_throw_error(env, NULL, "start: closed or not bound"); return NULL; }
  if (!c->started) uv_poll_start(c->poll, UV_READABLE, on_poll);
  c->started = 1;
  return NULL;
}

static napi_value js_stats(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  Cap *c = unwrap(env, info, &argc, NULL);
  if (c == NULL) return NULL;
  napi_value o;
  napi_create_object(env, &o);
  struct pcap_stat ps;
  if (c->closed || pcap_stats(c->p, &ps) != 0) {
    napi_value m;
    napi_create_string_utf8(env, c->closed ? "closed" : pcap_geterr(c->p), NAPI_AUTO_LENGTH, &m);
    napi_set_named_property(env, o, "error", m);
    return o;
  }
  set_num(env, o, "recv", ps.ps_recv);
  set_num(env, o, "drop", ps.ps_drop);
  set_num(env, o, "ifdrop", ps.ps_ifdrop);
  set_num(env, o, "batches", (double)c->batches);
  set_num(env, o, "packets", (double)c->packets);
  set_num(env, o, "wakeups", (double)c->wakeups);
  return o;
}

static napi_value js_close(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  Cap *c = unwrap(env, info, &argc, NULL);
  if (c != NULL) do_close(c);
  return NULL;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor methods[] = {
      {"bind", NULL, js_bind, NULL, NULL, NULL, napi_default_method, NULL},
      {"start", NULL, js_start, NULL, NULL, NULL, napi_default_method, NULL},
      {"stats", NULL, js_stats, NULL, NULL, NULL, napi_default_method, NULL},
      {"close", NULL, js_close, NULL, NULL, NULL, napi_default_method, NULL},
  };
  napi_value cls;
  if (napi_define_class(env, "PcapCapture", NAPI_AUTO_LENGTH, js_new, NULL, sizeof methods / sizeof methods[0], methods, &cls) != napi_ok) return NULL;
  napi_set_named_property(env, exports, "PcapCapture", cls);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
