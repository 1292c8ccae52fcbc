/*
 * Batched NFQUEUE binding for intercept (Node-API, plain C, raw netlink).
 *
 * Why raw netlink instead of libnetfilter_queue: the interceptor needs control that the library
 * API hides or makes per-packet: recvmmsg() of many datagrams per wake-up, many verdict messages
 * in ONE sendmsg(), ENOBUFS reported (not suppressed), and the queue's config (copy range, max
 * length, flags) sent in one acknowledged message so a refusal is reported synchronously.
 * Only linux/netfilter/nfnetlink_queue.h (linux-libc-dev) is needed.
 *
 * JS contract (see src/io/nfqueue-tap.ts):
 *   const q = new NfqQueue({ queueNum, copyRange, maxLen, rcvbuf, failOpen, batchSize, gso });
 *   q.gso      true when the kernel queues GSO packets whole (NFQA_CFG_F_GSO; asked unless gso: 0)
 *   q.packets  Buffer      batchSize slots of `stride` bytes: the copied packet bytes
 *   q.meta     Uint32Array 4 per slot: packet id, original length, copied length, flags
 *   q.verdicts Uint8Array  1 per slot, pre-filled with 0 (DROP) before each call; 1 = ACCEPT
 *   q.start(cb)            cb(count) once per batch (not per packet); verdicts sent after it
 *   q.pause() / q.resume() stop/restart reading (tests: let the kernel queue fill)
 *   q.stats()              counters (enobufs, batches, …)
 *   q.close()              releases the queue (the kernel drops what is still queued)
 * Nothing here throws into the event loop: JS exceptions from cb are caught and counted, and
 * every packet read gets a verdict (DROP unless cb said otherwise).
 */
#define NAPI_VERSION 8
#define _GNU_SOURCE
#include <node_api.h>
#include <uv.h>

#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <linux/netlink.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_queue.h>

#define MSG_TYPE(m) ((NFNL_SUBSYS_QUEUE << 8) | (m))
#define META_WORDS 4
#define META_F_TRUNCATED 1u /* the datagram was cut (MSG_TRUNC): copied bytes may be short */
/* Room for the message around the payload: headers plus every attribute the kernel may add. */
#define RX_OVERHEAD 1024
#define VERDICT_MSG_BYTES (NLMSG_ALIGN(sizeof(struct nlmsghdr)) + NLMSG_ALIGN(sizeof(struct nfgenmsg)) + NLA_ALIGN(NLA_HDRLEN + sizeof(struct nfqnl_msg_verdict_hdr)))
#define STASH_MAX 1024
#define CONFIG_TIMEOUT_MS 2000
#define SEND_RETRIES 8

typedef struct {
  uint64_t wakeups, recv_calls, datagrams, packets, batches, max_batch;
  uint64_t enobufs, recv_errors, truncated, missing_id, foreign_msgs;
  uint64_t verdict_msgs, verdict_batch_msgs, send_calls, send_errors, kernel_errors;
  uint64_t callback_errors, stashed, stash_overflow, poll_errors;
  int last_recv_errno, last_send_errno, last_kernel_errno;
} Counters;

typedef struct {
  uint8_t *data;
  uint32_t len;
} Stashed;

typedef struct Nfq {
  napi_env env;
  int fd;
  uint32_t portid;
  uint16_t queue_num;
  uint32_t copy_range, max_len, batch_max, stride, rx_slot, rcvbuf;
  int fail_open;
  /* NFQA_CFG_F_GSO: a TSO/GSO response (up to ~64 KB) is queued as one packet, not segmented
   * into MSS-sized copies first; one message, one record, one ACK instead of dozens. */
  int gso;
  uint32_t seq;
  int closed, started, polling, in_callback;
  uint32_t poll_error_streak;
  uv_poll_t *poll;
  napi_ref self_ref, cb_ref, packets_ref, meta_ref, verdicts_ref;
  napi_async_context actx;
  uint8_t *packets;   /* owned by the JS Buffer */
  uint32_t *meta;     /* owned by the JS ArrayBuffer */
  uint8_t *verdicts;  /* owned by the JS ArrayBuffer */
  uint32_t *ids;      /* C-side copy of the ids: what the verdicts are sent for */
  uint32_t batch_n;
  struct mmsghdr *msgs;
  struct iovec *iovs;
  uint8_t *rx;
  uint8_t *tx;
  Stashed stash[STASH_MAX];
  uint32_t stash_n;
  Counters c;
} Nfq;

/* ---- small N-API helpers ------------------------------------------------------------------ */

static void throw_errno(napi_env env, const char *what, int err) {
  char msg[256];
  snprintf(msg, sizeof msg, "%s: %s (errno %d)", what, strerror(err), err);
  napi_throw_error(env, err == EPERM || err == EACCES ? "EPERM" : NULL, msg);
}

static int get_u32(napi_env env, napi_value obj, const char *key, uint32_t def, uint32_t *out) {
  bool has = false;
  if (napi_has_named_property(env, obj, key, &has) != napi_ok) return -1;
  if (!has) { *out = def; return 0; }
  napi_value v;
  napi_valuetype t;
  if (napi_get_named_property(env, obj, key, &v) != napi_ok || napi_typeof(env, v, &t) != napi_ok) return -1;
  if (t == napi_undefined || t == napi_null) { *out = def; return 0; }
  if (t != napi_number) {
    char msg[128];
    snprintf(msg, sizeof msg, "NfqQueue option '%s' must be a number", key);
    napi_throw_type_error(env, NULL, msg);
    return -1;
  }
  double d;
  napi_get_value_double(env, v, &d);
  if (!(d >= 0 && d <= 4294967295.0) || d != (double)(uint32_t)d) {
    char msg[128];
    snprintf(msg, sizeof msg, "NfqQueue option '%s' must be an integer 0..4294967295, got %g", key, d);
    napi_throw_range_error(env, NULL, msg);
    return -1;
  }
  *out = (uint32_t)d;
  return 0;
}

static void set_num(napi_env env, napi_value obj, const char *key, double v) {
  napi_value n;
  if (napi_create_double(env, v, &n) == napi_ok) napi_set_named_property(env, obj, key, n);
}

/* ---- netlink ------------------------------------------------------------------------------- */

static uint8_t *put_attr(uint8_t *p, uint16_t type, const void *data, uint16_t len) {
  struct nlattr *a = (struct nlattr *)p;
  a->nla_type = type;
  a->nla_len = (uint16_t)(NLA_HDRLEN + len);
  memcpy(p + NLA_HDRLEN, data, len);
  size_t padded = NLA_ALIGN(NLA_HDRLEN + len);
  memset(p + NLA_HDRLEN + len, 0, padded - NLA_HDRLEN - len);
  return p + padded;
}

static uint8_t *put_header(Nfq *q, uint8_t *p, uint16_t type, uint16_t flags, uint32_t seq) {
  struct nlmsghdr *h = (struct nlmsghdr *)p;
  h->nlmsg_len = 0;
  h->nlmsg_type = type;
  h->nlmsg_flags = (uint16_t)(NLM_F_REQUEST | flags);
  h->nlmsg_seq = seq;
  h->nlmsg_pid = 0;
  struct nfgenmsg *g = (struct nfgenmsg *)(p + NLMSG_ALIGN(sizeof *h));
  g->nfgen_family = AF_UNSPEC;
  g->version = NFNETLINK_V0;
  g->res_id = htons(q->queue_num);
  return p + NLMSG_ALIGN(sizeof *h) + NLMSG_ALIGN(sizeof *g);
}

static uint8_t *put_verdict(Nfq *q, uint8_t *p, int batch, uint32_t id, uint32_t verdict) {
  uint8_t *start = p;
  p = put_header(q, p, MSG_TYPE(batch ? NFQNL_MSG_VERDICT_BATCH : NFQNL_MSG_VERDICT), 0, 0);
  struct nfqnl_msg_verdict_hdr vh = {htonl(verdict), htonl(id)};
  p = put_attr(p, NFQA_VERDICT_HDR, &vh, sizeof vh);
  ((struct nlmsghdr *)start)->nlmsg_len = (uint32_t)(p - start);
  return p;
}

/* Sends `len` bytes (one or more netlink messages) to the kernel; retries transient failures. */
static int send_all(Nfq *q, const uint8_t *buf, size_t len) {
  for (int i = 0; i < SEND_RETRIES; i++) {
    q->c.send_calls++;
    ssize_t r = send(q->fd, buf, len, 0);
    if (r == (ssize_t)len) return 0;
    int e = r < 0 ? errno : EMSGSIZE;
    q->c.last_send_errno = e;
    if (e != EINTR && e != EAGAIN && e != ENOBUFS && e != ENOMEM) break;
  }
  q->c.send_errors++;
  return -1;
}

/* Wrap-safe "a comes after b" for the kernel's 32-bit packet ids. */
static int id_after(uint32_t a, uint32_t b) { return (int32_t)(a - b) > 0; }

/*
 * Verdicts for batch slots [0, n). A run of consecutive DROPs with increasing ids becomes one
 * VERDICT_BATCH for the run's last id (the kernel applies it to every queued packet up to that
 * id: all of them are ours and earlier in this run, or already verdicted). ACCEPTs are always
 * sent one by one, so a batch never lets through a packet it was not meant to. All messages go
 * out in one send().
 */
static void send_verdicts(Nfq *q, uint32_t n) {
  if (n == 0 || q->closed) return;
  uint8_t *p = q->tx;
  uint32_t i = 0;
  while (i < n) {
    uint32_t v = q->verdicts[i] == 1 ? NF_ACCEPT : NF_DROP;
    uint32_t j = i;
    if (v == NF_DROP) {
      while (j + 1 < n && q->verdicts[j + 1] != 1 && id_after(q->ids[j + 1], q->ids[j])) j++;
    }
    if (j > i) {
      p = put_verdict(q, p, 1, q->ids[j], NF_DROP);
      q->c.verdict_batch_msgs++;
    } else {
      p = put_verdict(q, p, 0, q->ids[i], v);
    }
    q->c.verdict_msgs++;
    i = j + 1;
  }
  send_all(q, q->tx, (size_t)(p - q->tx));
}

/* Hands the filled batch to JS (one call), then sends its verdicts. */
static void flush_batch(Nfq *q) {
  uint32_t n = q->batch_n;
  if (n == 0) return;
  q->batch_n = 0;
  q->c.batches++;
  if (n > q->c.max_batch) q->c.max_batch = n;
  memset(q->verdicts, 0, n);
  napi_env env = q->env;
  napi_handle_scope scope;
  if (q->cb_ref != NULL && napi_open_handle_scope(env, &scope) == napi_ok) {
    napi_value cb, self, arg, result;
    if (napi_get_reference_value(env, q->cb_ref, &cb) == napi_ok && cb != NULL &&
        napi_get_reference_value(env, q->self_ref, &self) == napi_ok && self != NULL &&
        napi_create_uint32(env, n, &arg) == napi_ok) {
      q->in_callback = 1;
      napi_status st = napi_make_callback(env, q->actx, self, cb, 1, &arg, &result);
      q->in_callback = 0;
      if (st != napi_ok) {
        q->c.callback_errors++;
        bool pending = false;
        napi_is_exception_pending(env, &pending);
        if (pending) {
          napi_value ex;
          napi_get_and_clear_last_exception(env, &ex);
        }
      }
    } else {
      q->c.callback_errors++;
    }
    napi_close_handle_scope(env, scope);
  } else {
    q->c.callback_errors++;
  }
  /* Closed inside the callback: the kernel has already dropped everything still queued. */
  if (!q->closed) send_verdicts(q, n);
}

/* One netlink datagram: packets go into the batch (flushed when full), errors are counted. */
static void parse_datagram(Nfq *q, const uint8_t *buf, size_t len, int truncated) {
  while (len >= sizeof(struct nlmsghdr)) {
    const struct nlmsghdr *h = (const struct nlmsghdr *)buf;
    size_t mlen = h->nlmsg_len;
    if (mlen < sizeof *h) break;
    int cut = 0;
    if (mlen > len) { mlen = len; cut = 1; }
    if (h->nlmsg_type == NLMSG_ERROR) {
      if (mlen >= NLMSG_HDRLEN + sizeof(int)) {
        const struct nlmsgerr *e = (const struct nlmsgerr *)NLMSG_DATA(h);
        if (e->error != 0) {
          q->c.kernel_errors++;
          q->c.last_kernel_errno = -e->error;
        }
      }
    } else if (h->nlmsg_type == MSG_TYPE(NFQNL_MSG_PACKET)) {
      const uint8_t *a = buf + NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(struct nfgenmsg));
      const uint8_t *end = buf + mlen;
      int have_id = 0;
      uint32_t id = 0, cap_len = 0, plen = 0;
      const uint8_t *payload = NULL;
      while (a + NLA_HDRLEN <= end) {
        const struct nlattr *na = (const struct nlattr *)a;
        if (na->nla_len < NLA_HDRLEN) break;
        size_t alen = na->nla_len - NLA_HDRLEN;
        const uint8_t *d = a + NLA_HDRLEN;
        int acut = d + alen > end;
        if (acut) alen = (size_t)(end - d);
        switch (na->nla_type & NLA_TYPE_MASK) {
          case NFQA_PACKET_HDR:
            if (alen >= 4) {
              uint32_t be;
              memcpy(&be, d, 4);
              id = ntohl(be);
              have_id = 1;
            }
            break;
          case NFQA_PAYLOAD:
            payload = d;
            plen = (uint32_t)alen;
            if (acut) cut = 1;
            break;
          case NFQA_CAP_LEN:
            if (alen >= 4) {
              uint32_t be;
              memcpy(&be, d, 4);
              cap_len = ntohl(be);
            }
            break;
          default:
            break;
        }
        if (acut) break;
        a += NLA_ALIGN(na->nla_len);
      }
      if (!have_id) {
        q->c.missing_id++;
      } else {
        uint32_t i = q->batch_n;
        uint32_t copy = plen < q->stride ? plen : q->stride;
        if (copy > 0) memcpy(q->packets + (size_t)i * q->stride, payload, copy);
        q->ids[i] = id;
        uint32_t *m = q->meta + (size_t)i * META_WORDS;
        m[0] = id;
        m[1] = cap_len > plen ? cap_len : plen;
        m[2] = copy;
        m[3] = (cut || truncated) ? META_F_TRUNCATED : 0;
        if (cut || truncated) q->c.truncated++;
        q->c.packets++;
        q->batch_n = i + 1;
        if (q->batch_n == q->batch_max) flush_batch(q);
        if (q->closed) return;
      }
    } else if (h->nlmsg_type != NLMSG_NOOP && h->nlmsg_type != NLMSG_DONE) {
      q->c.foreign_msgs++;
    }
    size_t step = NLMSG_ALIGN(mlen);
    if (step >= len) break;
    buf += step;
    len -= step;
  }
}

/* One wake-up: at most batch_max datagrams in one recvmmsg, one JS call (more if a datagram
 * held several packets), one send of verdicts per JS call. */
static void on_readable(uv_poll_t *handle, int status, int events) {
  Nfq *q = (Nfq *)handle->data;
  if (q == NULL || q->closed) return;
  q->c.wakeups++;
  if (status < 0) {
    /*
     * libuv reports POLLERR as UV_EBADF and stops the handle. On a netlink socket that is the
     * pending ENOBUFS of an overrun: re-arm, and let the recv below consume the error (counted
     * there) and read on. A socket that keeps failing without delivering anything is given up
     * after a while (stats: pollErrors, recvErrors, lastRecvErrno) rather than spun on.
     */
    q->c.poll_errors++;
    if (++q->poll_error_streak > 1000) {
      q->polling = 0;
      q->c.recv_errors++;
      q->c.last_recv_errno = -status;
      return;
    }
    if (uv_poll_start(handle, UV_READABLE, on_readable) != 0) q->polling = 0;
  }
  for (uint32_t i = 0; i < q->batch_max; i++) {
    q->iovs[i].iov_base = q->rx + (size_t)i * q->rx_slot;
    q->iovs[i].iov_len = q->rx_slot;
    memset(&q->msgs[i].msg_hdr, 0, sizeof q->msgs[i].msg_hdr);
    q->msgs[i].msg_hdr.msg_iov = &q->iovs[i];
    q->msgs[i].msg_hdr.msg_iovlen = 1;
    q->msgs[i].msg_len = 0;
  }
  /* An ENOBUFS is reported once per overrun and then the socket reads on: count and retry. */
  int got = -1;
  for (int tries = 0; tries < 4; tries++) {
    q->c.recv_calls++;
    got = recvmmsg(q->fd, q->msgs, q->batch_max, MSG_DONTWAIT, NULL);
    if (got >= 0) break;
    int e = errno;
    if (e == ENOBUFS) {
      q->c.enobufs++;
      q->poll_error_streak = 0; /* the error was the overrun, now consumed */
      continue;
    }
    if (e == EINTR) continue;
    if (e != EAGAIN && e != EWOULDBLOCK) {
      q->c.recv_errors++;
      q->c.last_recv_errno = e;
    }
    break;
  }
  if (got <= 0) return;
  q->poll_error_streak = 0;
  q->c.datagrams += (uint64_t)got;
  for (int i = 0; i < got && !q->closed; i++) {
    parse_datagram(q, q->rx + (size_t)i * q->rx_slot, q->msgs[i].msg_len, (q->msgs[i].msg_hdr.msg_flags & MSG_TRUNC) != 0);
  }
  if (!q->closed) flush_batch(q);
}

/* ---- open / config ------------------------------------------------------------------------- */

/*
 * Binds the queue and configures it in ONE acknowledged message: the kernel creates the
 * instance, then applies copy mode/range, max length and flags. Packets that arrive before the
 * ack (the queue is live as soon as it is bound) are stashed and handed to JS at start().
 * Returns 0 or an errno (the kernel's answer).
 */
static int configure(Nfq *q) {
  uint8_t buf[256];
  uint32_t seq = ++q->seq;
  uint8_t *p = put_header(q, buf, MSG_TYPE(NFQNL_MSG_CONFIG), NLM_F_ACK, seq);
  struct nfqnl_msg_config_cmd cmd = {NFQNL_CFG_CMD_BIND, 0, htons(AF_INET)};
  p = put_attr(p, NFQA_CFG_CMD, &cmd, sizeof cmd);
  struct nfqnl_msg_config_params params;
  params.copy_range = htonl(q->copy_range);
  params.copy_mode = NFQNL_COPY_PACKET;
  p = put_attr(p, NFQA_CFG_PARAMS, &params, sizeof params);
  uint32_t ml = htonl(q->max_len);
  p = put_attr(p, NFQA_CFG_QUEUE_MAXLEN, &ml, sizeof ml);
  if (q->fail_open || q->gso) {
    uint32_t m = htonl(NFQA_CFG_F_FAIL_OPEN | NFQA_CFG_F_GSO);
    uint32_t f = htonl((q->fail_open ? NFQA_CFG_F_FAIL_OPEN : 0u) | (q->gso ? NFQA_CFG_F_GSO : 0u));
    p = put_attr(p, NFQA_CFG_MASK, &m, sizeof m);
    p = put_attr(p, NFQA_CFG_FLAGS, &f, sizeof f);
  }
  ((struct nlmsghdr *)buf)->nlmsg_len = (uint32_t)(p - buf);
  if (send(q->fd, buf, (size_t)(p - buf), 0) < 0) return errno;

  int waited = 0;
  while (waited < CONFIG_TIMEOUT_MS) {
    struct pollfd pfd = {q->fd, POLLIN, 0};
    int r = poll(&pfd, 1, 50);
    waited += 50;
    if (r <= 0) continue;
    ssize_t len = recv(q->fd, q->rx, q->rx_slot, MSG_DONTWAIT);
    if (len < 0) {
      if (errno == ENOBUFS) q->c.enobufs++;
      continue;
    }
    /* Find our ack; keep whatever else came (queued packets) for start(). */
    const uint8_t *b = q->rx;
    size_t left = (size_t)len;
    int answered = 0, answer = 0, others = 0;
    while (left >= sizeof(struct nlmsghdr)) {
      const struct nlmsghdr *h = (const struct nlmsghdr *)b;
      if (h->nlmsg_len < sizeof *h || h->nlmsg_len > left) break;
      if (h->nlmsg_type == NLMSG_ERROR && h->nlmsg_seq == seq) {
        answered = 1;
        answer = -((const struct nlmsgerr *)NLMSG_DATA(h))->error;
      } else {
        others = 1;
      }
      size_t step = NLMSG_ALIGN(h->nlmsg_len);
      if (step >= left) break;
      b += step;
      left -= step;
    }
    if (others) {
      if (q->stash_n < STASH_MAX) {
        uint8_t *copy = malloc((size_t)len);
        if (copy != NULL) {
          memcpy(copy, q->rx, (size_t)len);
          q->stash[q->stash_n].data = copy;
          q->stash[q->stash_n].len = (uint32_t)len;
          q->stash_n++;
          q->c.stashed++;
        }
      } else {
        q->c.stash_overflow++;
      }
    }
    if (answered) return answer;
  }
  return ETIMEDOUT;
}

static void free_buffers(Nfq *q) {
  free(q->msgs);
  free(q->iovs);
  free(q->rx);
  free(q->tx);
  free(q->ids);
  q->msgs = NULL;
  q->iovs = NULL;
  q->rx = NULL;
  q->tx = NULL;
  q->ids = NULL;
  for (uint32_t i = 0; i < q->stash_n; i++) free(q->stash[i].data);
  q->stash_n = 0;
}

static void on_poll_closed(uv_handle_t *h) { free(h); }

/* Stops reading and releases the queue. Safe to call more than once, and from the callback. */
static void do_close(Nfq *q) {
  if (q->closed) return;
  q->closed = 1;
  if (q->poll != NULL) {
    if (q->polling) uv_poll_stop(q->poll);
    q->polling = 0;
    q->poll->data = NULL;
    uv_close((uv_handle_t *)q->poll, on_poll_closed);
    q->poll = NULL;
  }
  if (q->fd >= 0) close(q->fd); /* the kernel destroys the instance and drops what is queued */
  q->fd = -1;
  if (q->self_ref != NULL) {
    uint32_t rc = 0;
    napi_reference_unref(q->env, q->self_ref, &rc);
  }
}

static void cleanup_hook(void *arg) { do_close((Nfq *)arg); }

static void finalize(napi_env env, void *data, void *hint) {
  Nfq *q = (Nfq *)data;
  napi_remove_env_cleanup_hook(env, cleanup_hook, q);
  do_close(q);
  if (q->cb_ref) napi_delete_reference(env, q->cb_ref);
  if (q->packets_ref) napi_delete_reference(env, q->packets_ref);
  if (q->meta_ref) napi_delete_reference(env, q->meta_ref);
  if (q->verdicts_ref) napi_delete_reference(env, q->verdicts_ref);
  if (q->self_ref) napi_delete_reference(env, q->self_ref);
  if (q->actx) napi_async_destroy(env, q->actx);
  free_buffers(q);
  free(q);
}

static Nfq *unwrap(napi_env env, napi_callback_info info, size_t *argc, napi_value *argv, napi_value *self) {
  napi_value this_;
  if (napi_get_cb_info(env, info, argc, argv, &this_, NULL) != napi_ok) return NULL;
  Nfq *q = NULL;
  if (napi_unwrap(env, this_, (void **)&q) != napi_ok || q == NULL) {
    napi_throw_type_error(env, NULL, "NfqQueue method called on a wrong object");
    return NULL;
  }
  if (self) *self = this_;
  return q;
}

static napi_value js_new(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], self;
  if (napi_get_cb_info(env, info, &argc, argv, &self, NULL) != napi_ok) return NULL;
  napi_valuetype t = napi_undefined;
  if (argc >= 1) napi_typeof(env, argv[0], &t);
  if (t != napi_object) {
    napi_throw_type_error(env, NULL, "new NfqQueue({ queueNum, copyRange, maxLen, rcvbuf, failOpen, batchSize, gso })");
    return NULL;
  }
  uint32_t queue_num, copy_range, max_len, rcvbuf, fail_open, batch, gso;
  if (get_u32(env, argv[0], "queueNum", 0, &queue_num) || get_u32(env, argv[0], "copyRange", 64, &copy_range) ||
      get_u32(env, argv[0], "maxLen", 65536, &max_len) || get_u32(env, argv[0], "rcvbuf", 16u << 20, &rcvbuf) ||
      get_u32(env, argv[0], "failOpen", 0, &fail_open) || get_u32(env, argv[0], "batchSize", 256, &batch) ||
      get_u32(env, argv[0], "gso", 1, &gso))
    return NULL;
  if (queue_num > 65535) { napi_throw_range_error(env, NULL, "queueNum must be 0..65535"); return NULL; }
  if (copy_range < 40 || copy_range > 65531) { napi_throw_range_error(env, NULL, "copyRange must be 40..65531 bytes"); return NULL; }
  if (max_len < 1) { napi_throw_range_error(env, NULL, "maxLen must be at least 1"); return NULL; }
  if (batch < 1 || batch > 4096) { napi_throw_range_error(env, NULL, "batchSize must be 1..4096"); return NULL; }

  Nfq *q = calloc(1, sizeof *q);
  if (q == NULL) { napi_throw_error(env, NULL, "out of memory"); return NULL; }
  q->env = env;
  q->fd = -1;
  q->queue_num = (uint16_t)queue_num;
  q->copy_range = copy_range;
  q->max_len = max_len;
  q->fail_open = fail_open != 0;
  q->gso = gso != 0;
  q->batch_max = batch;
  q->stride = (copy_range + 7u) & ~7u;
  q->rx_slot = (copy_range + RX_OVERHEAD + 7u) & ~7u;
  q->msgs = calloc(batch, sizeof *q->msgs);
  q->iovs = calloc(batch, sizeof *q->iovs);
  q->rx = malloc((size_t)batch * q->rx_slot);
  q->tx = malloc((size_t)batch * VERDICT_MSG_BYTES);
  q->ids = calloc(batch, sizeof *q->ids);
  if (!q->msgs || !q->iovs || !q->rx || !q->tx || !q->ids) {
    free_buffers(q);
    free(q);
    napi_throw_error(env, NULL, "out of memory");
    return NULL;
  }

  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER);
  if (fd < 0) {
    int e = errno;
    free_buffers(q);
    free(q);
    throw_errno(env, "cannot open a netfilter netlink socket", e);
    return NULL;
  }
  q->fd = fd;
  /* Root may exceed net.core.rmem_max (FORCE); others get what the sysctl allows. */
  int want = (int)(rcvbuf > 0x7fffffffu / 2 ? 0x7fffffffu / 2 : rcvbuf);
  if (want > 0 && setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &want, sizeof want) < 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &want, sizeof want);
  int got = 0;
  socklen_t gl = sizeof got;
  getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &got, &gl);
  q->rcvbuf = (uint32_t)got;
  /* Short acks: an error echoes only the header, not our whole request. */
  int one = 1;
  setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof one);
  struct sockaddr_nl sa;
  memset(&sa, 0, sizeof sa);
  sa.nl_family = AF_NETLINK;
  socklen_t sl = sizeof sa;
  if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 || getsockname(fd, (struct sockaddr *)&sa, &sl) < 0) {
    int e = errno;
    close(fd);
    free_buffers(q);
    free(q);
    throw_errno(env, "cannot bind the netlink socket", e);
    return NULL;
  }
  q->portid = sa.nl_pid;

  int err = configure(q);
  if ((err == EOPNOTSUPP || err == EINVAL) && q->gso) {
    /* A kernel without NFQA_CFG_F_GSO (< 3.10) refuses the flags before binding: segmented then. */
    q->gso = 0;
    err = configure(q);
  }
  if (err != 0) {
    close(fd);
    free_buffers(q);
    free(q);
    char what[160];
    const char *why = err == EPERM ? " (another process holds this queue, or no CAP_NET_ADMIN)"
                      : err == EBUSY ? " (already bound)"
                      : err == ETIMEDOUT ? " (no answer from the kernel)"
                                         : "";
    snprintf(what, sizeof what, "NFQUEUE %u: bind/config refused by the kernel%s", queue_num, why);
    throw_errno(env, what, err);
    return NULL;
  }

  /* Shared batch memory, allocated once: JS reads and writes it in place. */
  napi_value packets, meta_ab, meta, verd_ab, verd;
  void *pdata, *mdata, *vdata;
  if (napi_create_buffer(env, (size_t)batch * q->stride, &pdata, &packets) != napi_ok ||
      napi_create_arraybuffer(env, (size_t)batch * META_WORDS * 4, &mdata, &meta_ab) != napi_ok ||
      napi_create_typedarray(env, napi_uint32_array, (size_t)batch * META_WORDS, meta_ab, 0, &meta) != napi_ok ||
      napi_create_arraybuffer(env, batch, &vdata, &verd_ab) != napi_ok ||
      napi_create_typedarray(env, napi_uint8_array, batch, verd_ab, 0, &verd) != napi_ok) {
    close(fd);
    free_buffers(q);
    free(q);
    return NULL;
  }
  q->packets = pdata;
  q->meta = mdata;
  q->verdicts = vdata;
  napi_create_reference(env, packets, 1, &q->packets_ref);
  napi_create_reference(env, meta, 1, &q->meta_ref);
  napi_create_reference(env, verd, 1, &q->verdicts_ref);
  napi_set_named_property(env, self, "packets", packets);
  napi_set_named_property(env, self, "meta", meta);
  napi_set_named_property(env, self, "verdicts", verd);
  set_num(env, self, "queueNum", queue_num);
  set_num(env, self, "copyRange", copy_range);
  set_num(env, self, "maxLen", max_len);
  set_num(env, self, "rcvbuf", q->rcvbuf);
  set_num(env, self, "batchSize", batch);
  set_num(env, self, "stride", q->stride);
  set_num(env, self, "portId", q->portid);
  napi_value fo;
  napi_get_boolean(env, q->fail_open, &fo);
  napi_set_named_property(env, self, "failOpen", fo);
  napi_value gv;
  napi_get_boolean(env, q->gso, &gv);
  napi_set_named_property(env, self, "gso", gv);

  if (napi_wrap(env, self, q, finalize, NULL, NULL) != napi_ok) {
    close(fd);
    free_buffers(q);
    free(q);
    return NULL;
  }
  napi_value name;
  napi_create_string_utf8(env, "NfqQueue", NAPI_AUTO_LENGTH, &name);
  napi_async_init(env, NULL, name, &q->actx);
  /* Strong while open: the poll handle points at q, so the wrapper must outlive it. */
  napi_create_reference(env, self, 1, &q->self_ref);
  napi_add_env_cleanup_hook(env, cleanup_hook, q);
  return self;
}

static napi_value js_start(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  Nfq *q = unwrap(env, info, &argc, argv, NULL);
  if (q == NULL) return NULL;
  napi_valuetype t = napi_undefined;
  if (argc >= 1) napi_typeof(env, argv[0], &t);
  if (t != napi_function) { napi_throw_type_error(env, NULL, "start(cb): cb(count) must be a function"); return NULL; }
  if (q->closed) { napi_throw_error(env, NULL, "NfqQueue is closed"); return NULL; }
  if (q->started) { napi_throw_error(env, NULL, "NfqQueue already started"); return NULL; }
  napi_create_reference(env, argv[0], 1, &q->cb_ref);
  uv_loop_t *loop;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok) return NULL;
  q->poll = malloc(sizeof *q->poll);
  if (q->poll == NULL || uv_poll_init(loop, q->poll, q->fd) != 0) {
    free(q->poll);
    q->poll = NULL;
    napi_throw_error(env, NULL, "cannot watch the netlink socket (uv_poll_init)");
    return NULL;
  }
  q->poll->data = q;
  q->started = 1;
  int r = uv_poll_start(q->poll, UV_READABLE, on_readable);
  if (r != 0) { napi_throw_error(env, NULL, uv_strerror(r)); return NULL; }
  q->polling = 1;
  /* Packets that came in while we waited for the config ack. */
  for (uint32_t i = 0; i < q->stash_n && !q->closed; i++) parse_datagram(q, q->stash[i].data, q->stash[i].len, 0);
  for (uint32_t i = 0; i < q->stash_n; i++) free(q->stash[i].data);
  q->stash_n = 0;
  if (!q->closed) flush_batch(q);
  return NULL;
}

static napi_value js_pause(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  Nfq *q = unwrap(env, info, &argc, NULL, NULL);
  if (q != NULL && q->polling && q->poll != NULL) {
    uv_poll_stop(q->poll);
    q->polling = 0;
  }
  return NULL;
}

static napi_value js_resume(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  Nfq *q = unwrap(env, info, &argc, NULL, NULL);
  if (q != NULL && !q->closed && !q->polling && q->poll != NULL) {
    if (uv_poll_start(q->poll, UV_READABLE, on_readable) == 0) q->polling = 1;
  }
  return NULL;
}

static napi_value js_close(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  Nfq *q = unwrap(env, info, &argc, NULL, NULL);
  if (q != NULL) do_close(q);
  return NULL;
}

static napi_value js_stats(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  Nfq *q = unwrap(env, info, &argc, NULL, NULL);
  if (q == NULL) return NULL;
  napi_value o;
  napi_create_object(env, &o);
  const Counters *c = &q->c;
  set_num(env, o, "wakeups", (double)c->wakeups);
  set_num(env, o, "recvCalls", (double)c->recv_calls);
  set_num(env, o, "datagrams", (double)c->datagrams);
  set_num(env, o, "packets", (double)c->packets);
  set_num(env, o, "batches", (double)c->batches);
  set_num(env, o, "maxBatch", (double)c->max_batch);
  set_num(env, o, "enobufs", (double)c->enobufs);
  set_num(env, o, "recvErrors", (double)c->recv_errors);
  set_num(env, o, "pollErrors", (double)c->poll_errors);
  set_num(env, o, "lastRecvErrno", c->last_recv_errno);
  set_num(env, o, "truncated", (double)c->truncated);
  set_num(env, o, "missingId", (double)c->missing_id);
  set_num(env, o, "foreignMessages", (double)c->foreign_msgs);
  set_num(env, o, "verdictMessages", (double)c->verdict_msgs);
  set_num(env, o, "verdictBatchMessages", (double)c->verdict_batch_msgs);
  set_num(env, o, "sendCalls", (double)c->send_calls);
  set_num(env, o, "sendErrors", (double)c->send_errors);
  set_num(env, o, "lastSendErrno", c->last_send_errno);
  set_num(env, o, "kernelErrors", (double)c->kernel_errors);
  set_num(env, o, "lastKernelErrno", c->last_kernel_errno);
  set_num(env, o, "callbackErrors", (double)c->callback_errors);
  set_num(env, o, "stashed", (double)c->stashed);
  set_num(env, o, "stashOverflow", (double)c->stash_overflow);
  napi_value b;
  napi_get_boolean(env, q->closed, &b);
  napi_set_named_property(env, o, "closed", b);
  return o;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor methods[] = {
      {"start", NULL, js_start, NULL, NULL, NULL, napi_default_method, NULL},
      {"pause", NULL, js_pause, NULL, NULL, NULL, napi_default_method, NULL},
      {"resume", NULL, js_resume, NULL, NULL, NULL, napi_default_method, NULL},
      {"close", NULL, js_close, NULL, NULL, NULL, napi_default_method, NULL},
      {"stats", NULL, js_stats, NULL, NULL, NULL, napi_default_method, NULL},
  };
  napi_value cls;
  if (napi_define_class(env, "NfqQueue", NAPI_AUTO_LENGTH, js_new, NULL, sizeof methods / sizeof methods[0], methods, &cls) != napi_ok)
    return NULL;
  napi_set_named_property(env, exports, "NfqQueue", cls);
  napi_value v;
  napi_create_uint32(env, META_WORDS, &v);
  napi_set_named_property(env, exports, "META_WORDS", v);
  napi_create_uint32(env, META_F_TRUNCATED, &v);
  napi_set_named_property(env, exports, "META_F_TRUNCATED", v);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
