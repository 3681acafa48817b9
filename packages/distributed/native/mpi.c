// SPDX-License-Identifier: MIT
// heed_mpi.node: the Node-API binding to Open MPI behind @heed/distributed's 'mpi' transport.
// Invariants:
// - Every MPI call runs on one dedicated thread (the "MPI thread", which also called
//   MPI_Init_thread, so MPI_THREAD_FUNNELED is enough); the JS thread only queues jobs and
//   gets each job's promise settled through a thread-safe function. The event loop, timers and
//   timeouts keep running while a collective waits.
// - Collectives are built from non-blocking point-to-point messages polled against a deadline,
//   never from a blocking MPI call, so a timeout knows exactly which peers did not arrive, and
//   a failure notice from a peer (control communicator) ends a pending collective at once.
// - allreduce is a reduce-scatter + allgather whose reduction folds the contributions in rank
//   order 0..N-1 (acc = x0; acc = op(acc, x1); ...), so results are bitwise identical on every
//   rank and do not depend on MPI's implementation-defined reduction order or arrival order.
// - After a timeout or a peer failure the group is broken: its buffers stay referenced (a late
//   message may still land in them) and every later collective is refused.
#include <node_api.h>
#include <mpi.h>
#include <dlfcn.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum kind { K_INIT, K_ALLREDUCE, K_REDUCE_SCATTER, K_BCAST, K_ALLGATHER, K_BARRIER, K_FINALIZE, K_NOTIFY, K_ABORT };
enum dtype { D_F32, D_F64, D_I32, D_BYTES };
enum rop { OP_SUM, OP_MAX, OP_MIN, OP_MEAN }; // mean folds as a sum; JS divides by the world size
enum status { S_OK, S_TIMEOUT, S_PEER, S_MPI, S_BROKEN, S_USAGE, S_MISMATCH };
static const char *const STATUS_CODE[] = {"ok", "timeout", "peer", "mpi", "broken", "usage", "mismatch"};
static const char *const KIND_NAME[] = {"init", "allReduce", "reduceScatter", "broadcast", "allGather", "barrier"};
static const char *const DTYPE_NAME[] = {"float32", "float64", "int32", "bytes"};
static const char *const OP_NAME[] = {"sum", "max", "min", "mean"};

#define MSG_LEN 1024
#define MAX_LISTED 256
#define CTRL_TAG 1
#define BLOCK 1024

typedef struct job {
  int kind, dtype, op, root, sync, done, abandoned, leak;
  int vdtype;    // the caller's dtype and element count, for the signature check
  size_t vcount;
  char *data, *out;
  size_t count; // elements (bytes for D_BYTES)
  double timeout_s;
  napi_deferred deferred;
  napi_ref keep_in, keep_out;
  int status;
  char message[MSG_LEN];
  int missing[MAX_LISTED], nmissing;
  struct job *next;
} job;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t work_cv = PTHREAD_COND_INITIALIZER;
static pthread_cond_t done_cv = PTHREAD_COND_INITIALIZER;
static job *q_head, *q_tail, *urgent; // guarded by mu
static int started, finalized, env_gone, polling_stopped;
static int g_rank = -1, g_size = 0;
static int fail_rank = -1;             // first peer that sent a failure notice (guarded by mu)
static char fail_msg[MSG_LEN];         // its notice
static unsigned char *failed;          // failed[r]: rank r sent a notice (guarded by mu)
static char *fail_text;                // rank r's notice at r * MSG_LEN (guarded by mu)
static int broken;                     // MPI thread only
static char broken_msg[MSG_LEN];
static napi_threadsafe_function tsfn;
static int js_pending;                 // JS thread only
static pthread_t mpi_thread;
static MPI_Comm data_comm = MPI_COMM_NULL, ctrl_comm = MPI_COMM_NULL;
static char ctrl_buf[MSG_LEN];
static char barrier_buf[1];
static MPI_Request ctrl_req = MPI_REQUEST_NULL;
static unsigned seq;
static int wait_list[MAX_LISTED], wait_n = -1; // peers the running collective still waits for (guarded by mu)

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static void sleep_us(long us) {
  struct timespec t = {us / 1000000, (us % 1000000) * 1000};
  nanosleep(&t, NULL);
}

static size_t elsize(int dtype) { return dtype == D_F32 || dtype == D_I32 ? 4 : dtype == D_F64 ? 8 : 1; }

static void chunk(size_t n, int parts, int r, size_t *off, size_t *len) {
  size_t base = n / (size_t)parts, rem = n % (size_t)parts, ur = (size_t)r;
  *off = ur * base + (ur < rem ? ur : rem);
  *len = base + (ur < rem ? 1 : 0);
}

static int mpi_fail(job *j, int rc, const char *what) {
  char s[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(rc, s, &len);
  s[len] = 0;
  j->status = S_MPI;
  snprintf(j->message, MSG_LEN, "%s failed: %s", what, s);
  return S_MPI;
}

// ---- control channel: failure notices from peers ----

static void post_ctrl(void) {
  MPI_Irecv(ctrl_buf, MSG_LEN, MPI_CHAR, MPI_ANY_SOURCE, CTRL_TAG, ctrl_comm, &ctrl_req);
}

static void poll_control(void) {
  if (ctrl_req == MPI_REQUEST_NULL) return;
  int flag = 0;
  MPI_Status st;
  if (MPI_Test(&ctrl_req, &flag, &st) != MPI_SUCCESS || !flag) return;
  ctrl_buf[MSG_LEN - 1] = 0;
  pthread_mutex_lock(&mu);
  int src = st.MPI_SOURCE;
  if (src >= 0 && src < g_size && !failed[src]) {
    failed[src] = 1;
    snprintf(fail_text + (size_t)src * MSG_LEN, MSG_LEN, "%s", ctrl_buf);
  }
  if (fail_rank < 0) {
    fail_rank = src;
    snprintf(fail_msg, MSG_LEN, "%s", ctrl_buf);
  }
  pthread_mutex_unlock(&mu);
  post_ctrl();
}

static void complete(job *j);

// Sends `msg` to every peer on the control communicator; waits up to 0.5 s for the sends.
static void send_notice(const char *msg) {
  if (g_size <= 1) return;
  MPI_Request *reqs = calloc((size_t)g_size, sizeof(MPI_Request));
  int n = 0;
  for (int p = 0; p < g_size; p++) {
    if (p == g_rank) continue;
    MPI_Isend(msg, (int)strlen(msg) + 1, MPI_CHAR, p, CTRL_TAG, ctrl_comm, &reqs[n++]);
  }
  double deadline = now_s() + 0.5;
  int flag = 0;
  while (!flag && now_s() < deadline) {
    MPI_Testall(n, reqs, &flag, MPI_STATUSES_IGNORE);
    if (!flag) sched_yield();
  }
  // Unfinished sends are left to complete (or not) in the background; reqs is leaked on purpose.
  if (flag) free(reqs);
}

static void process_urgent(void) {
  for (;;) {
    pthread_mutex_lock(&mu);
    job *j = urgent;
    if (j) urgent = j->next;
    pthread_mutex_unlock(&mu);
    if (!j) return;
    if (j->kind == K_ABORT) {
      fflush(stderr);
      MPI_Abort(MPI_COMM_WORLD, j->root);
      _exit(j->root); // not reached
    }
    send_notice(j->data);
    j->status = S_OK;
    complete(j);
  }
}

// ---- waiting on point-to-point requests against a deadline ----

static int cmp_int(const void *a, const void *b) { return *(const int *)a - *(const int *)b; }

static void fail_missing(job *j, int status, MPI_Request *reqs, const int *peer, int n, const char *what) {
  int k = 0;
  for (int i = 0; i < n; i++) {
    if (reqs[i] == MPI_REQUEST_NULL) continue;
    int seen = 0;
    for (int m = 0; m < k; m++) seen |= j->missing[m] == peer[i];
    if (!seen && k < MAX_LISTED) j->missing[k++] = peer[i];
  }
  qsort(j->missing, (size_t)k, sizeof(int), cmp_int);
  j->nmissing = k;
  j->status = status;
  j->leak = 1;
  for (int i = 0; i < n; i++) {
    if (reqs[i] == MPI_REQUEST_NULL) continue;
    MPI_Cancel(&reqs[i]); // a send that cannot be cancelled simply stays pending
    MPI_Request_free(&reqs[i]);
  }
  snprintf(broken_msg, MSG_LEN, "%s", what);
  broken = 1;
}

static void publish_waiting(MPI_Request *reqs, const int *peer, int n) {
  pthread_mutex_lock(&mu);
  wait_n = 0;
  for (int i = 0; i < n; i++) {
    if (reqs[i] == MPI_REQUEST_NULL) continue;
    int seen = 0;
    for (int m = 0; m < wait_n; m++) seen |= wait_list[m] == peer[i];
    if (!seen && wait_n < MAX_LISTED) wait_list[wait_n++] = peer[i];
  }
  pthread_mutex_unlock(&mu);
}

static int wait_reqs(job *j, MPI_Request *reqs, const int *peer, int n, double deadline) {
  int remaining = n;
  int *idx = malloc(sizeof(int) * (size_t)(n > 0 ? n : 1));
  double start = now_s();
  long iter = 0;
  while (remaining > 0) {
    // Control first, then the requests: a peer's data precedes its failure notice on the wire,
    // so a notice seen here means that peer's earlier messages are matched by the Testsome below
    // (a rank that failed after finishing its part of this collective does not spoil it).
    poll_control();
    process_urgent();
    int outcount = 0;
    int rc = MPI_Testsome(n, reqs, &outcount, idx, MPI_STATUSES_IGNORE);
    if (rc != MPI_SUCCESS) {
      free(idx);
      return mpi_fail(j, rc, "MPI_Testsome");
    }
    if (outcount == MPI_UNDEFINED) break;
    remaining -= outcount;
    if (remaining == 0) break;
    if (outcount > 0 || iter == 0) publish_waiting(reqs, peer, n);
    pthread_mutex_lock(&mu);
    int stopped = polling_stopped;
    // A notice matters only from a peer this collective still waits for (a peer that failed
    // after sending everything we need does not spoil this collective; the next one refuses).
    int fr = -1;
    char fm[MSG_LEN];
    for (int i = 0; fail_rank >= 0 && fr < 0 && i < n; i++)
      if (reqs[i] != MPI_REQUEST_NULL && failed[peer[i]]) fr = peer[i];
    if (fr >= 0) snprintf(fm, MSG_LEN, "%s", fail_text + (size_t)fr * MSG_LEN);
    pthread_mutex_unlock(&mu);
    if (stopped) { // the Node environment is going away: stop making MPI calls
      j->leak = 1;
      free(idx);
      return S_BROKEN;
    }
    if (fr >= 0) {
      char what[MSG_LEN];
      snprintf(what, MSG_LEN, "rank %d failed (%s)", fr, fm);
      fail_missing(j, S_PEER, reqs, peer, n, what);
      j->missing[0] = fr;
      j->nmissing = 1;
      snprintf(j->message, MSG_LEN, "%s", what);
      free(idx);
      return S_PEER;
    }
    double t = now_s();
    if (j->timeout_s > 0 && t > deadline) {
      fail_missing(j, S_TIMEOUT, reqs, peer, n, "a collective timed out");
      char list[MSG_LEN] = "";
      size_t used = 0;
      for (int m = 0; m < j->nmissing && used < MSG_LEN - 16; m++)
        used += (size_t)snprintf(list + used, MSG_LEN - used, m ? ", %d" : "%d", j->missing[m]);
      snprintf(j->message, MSG_LEN, "timed out after %.0f ms: rank%s %s did not arrive", j->timeout_s * 1e3,
               j->nmissing == 1 ? "" : "s", list);
      snprintf(broken_msg, MSG_LEN, "a collective timed out waiting for rank%s %s", j->nmissing == 1 ? "" : "s", list);
      free(idx);
      return S_TIMEOUT;
    }
    // Spin briefly (latency), then yield (oversubscribed cores), then sleep (long waits).
    iter++;
    double waited = t - start;
    if (iter < 200) continue;
    if (waited < 0.005) sched_yield();
    else sleep_us(waited < 0.1 ? 50 : 1000);
  }
  free(idx);
  return S_OK;
}

// ---- the collectives ----

#define FOLD(T, EXPR)                                                                                \
  do {                                                                                               \
    T acc[BLOCK];                                                                                    \
    for (size_t b = 0; b < len; b += BLOCK) {                                                        \
      size_t m = len - b < BLOCK ? len - b : BLOCK;                                                  \
      const T *x0 = (const T *)src[0] + b;                                                           \
      for (size_t i = 0; i < m; i++) acc[i] = x0[i];                                                 \
      for (int r = 1; r < parts; r++) {                                                              \
        const T *x = (const T *)src[r] + b;                                                          \
        for (size_t i = 0; i < m; i++) {                                                             \
          T a = acc[i], v = x[i];                                                                    \
          acc[i] = (EXPR);                                                                           \
        }                                                                                            \
      }                                                                                              \
      memcpy((T *)dst + b, acc, m * sizeof(T));                                                      \
    }                                                                                                \
  } while (0)

// dst[i] = op(...op(op(src[0][i], src[1][i]), src[2][i])..., src[parts-1][i]); dst may alias a src.
// The same combine as the JS transports (src/reduce.ts combineInto): the next rank's value v
// replaces the accumulator a when v > a (max) / v < a (min) or v is NaN (NaN wins, like
// PyTorch); ties keep the earlier rank's value (so -0/+0 follow rank order). int32 sums wrap
// modulo 2^32 like an Int32Array store.
static void fold(void *dst, char **src, int parts, size_t len, int dtype, int op) {
  if (dtype == D_F32) {
    if (op == OP_SUM || op == OP_MEAN) FOLD(float, a + v);
    else if (op == OP_MAX) FOLD(float, (v > a || v != v) ? v : a);
    else FOLD(float, (v < a || v != v) ? v : a);
  } else if (dtype == D_F64) {
    if (op == OP_SUM || op == OP_MEAN) FOLD(double, a + v);
    else if (op == OP_MAX) FOLD(double, (v > a || v != v) ? v : a);
    else FOLD(double, (v < a || v != v) ? v : a);
  } else {
    if (op == OP_SUM || op == OP_MEAN) FOLD(int32_t, (int32_t)((uint32_t)a + (uint32_t)v));
    else if (op == OP_MAX) FOLD(int32_t, v > a ? v : a);
    else FOLD(int32_t, v < a ? v : a);
  }
}

// Tags carry the collective's sequence number and kind, so messages of different collectives
// never match (a rank calling a different sequence of collectives shows up as a timeout).
static int tag_of(int kind, int phase) { return 8 + (int)(seq % (1u << 22)) * 64 + kind * 4 + phase; }

// The reduce-scatter's receive buffer, kept between calls (no page faults on every all-reduce).
static char *scratch_buf;
static size_t scratch_cap;
static char *scratch(size_t bytes) {
  if (bytes + 1 > scratch_cap) {
    free(scratch_buf);
    scratch_cap = bytes + 1;
    scratch_buf = malloc(scratch_cap);
  }
  return scratch_buf;
}

// Rank r receives every rank's chunk r of `data` and folds them in rank order into `dst`.
static int reduce_scatter_phase(job *j, char *data, char *dst, double deadline) {
  int N = g_size, me = g_rank, tag = tag_of(j->kind, 0);
  size_t es = elsize(j->dtype), moff, mlen;
  chunk(j->count, N, me, &moff, &mlen);
  char *tmp = scratch(mlen * es * (size_t)(N - 1));
  char **src = malloc(sizeof(char *) * (size_t)N);
  MPI_Request *reqs = malloc(sizeof(MPI_Request) * (size_t)(2 * N));
  int *peer = malloc(sizeof(int) * (size_t)(2 * N));
  int k = 0, rc = MPI_SUCCESS;
  for (int p = 0; p < N && rc == MPI_SUCCESS; p++) {
    src[p] = p == me ? data + moff * es : tmp + (size_t)(p < me ? p : p - 1) * mlen * es;
    if (p == me) continue;
    size_t off, len;
    chunk(j->count, N, p, &off, &len);
    peer[k] = p;
    rc = MPI_Irecv(src[p], (int)(mlen * es), MPI_BYTE, p, tag, data_comm, &reqs[k++]);
    if (rc != MPI_SUCCESS) break;
    peer[k] = p;
    rc = MPI_Isend(data + off * es, (int)(len * es), MPI_BYTE, p, tag, data_comm, &reqs[k++]);
  }
  int st = rc != MPI_SUCCESS ? mpi_fail(j, rc, "MPI_Isend/MPI_Irecv") : wait_reqs(j, reqs, peer, k, deadline);
  if (st == S_OK) fold(dst, src, N, mlen, j->dtype, j->op);
  if (st != S_OK) scratch_buf = NULL, scratch_cap = 0; // a late message may still land in it: leaked on purpose
  free(src);
  free(reqs);
  free(peer);
  return st;
}

// Every rank sends `mine` (its chunk of the layout given by count/N) and receives the others
// into `all`; with `uniform`, every block has `mine_len` bytes (allgather), else allreduce chunks.
static int gather_phase(job *j, char *all, const char *mine, int uniform, double deadline) {
  int N = g_size, me = g_rank, tag = tag_of(j->kind, 1);
  size_t es = uniform ? 1 : elsize(j->dtype);
  MPI_Request *reqs = malloc(sizeof(MPI_Request) * (size_t)(2 * N));
  int *peer = malloc(sizeof(int) * (size_t)(2 * N));
  int k = 0, rc = MPI_SUCCESS;
  size_t moff, mlen;
  if (uniform) moff = (size_t)me * j->count, mlen = j->count;
  else chunk(j->count, N, me, &moff, &mlen);
  for (int p = 0; p < N; p++) {
    if (p == me) continue;
    size_t off, len;
    if (uniform) off = (size_t)p * j->count, len = j->count;
    else chunk(j->count, N, p, &off, &len);
    peer[k] = p;
    rc = MPI_Irecv(all + off * es, (int)(len * es), MPI_BYTE, p, tag, data_comm, &reqs[k++]);
    if (rc != MPI_SUCCESS) break;
    peer[k] = p;
    rc = MPI_Isend(mine, (int)(mlen * es), MPI_BYTE, p, tag, data_comm, &reqs[k++]);
    if (rc != MPI_SUCCESS) break;
  }
  int st = rc != MPI_SUCCESS ? mpi_fail(j, rc, "MPI_Isend/MPI_Irecv") : wait_reqs(j, reqs, peer, k, deadline);
  free(reqs);
  free(peer);
  return st;
}

static int broadcast(job *j, double deadline) {
  int N = g_size, me = g_rank, tag = tag_of(j->kind, 2);
  MPI_Request *reqs = malloc(sizeof(MPI_Request) * (size_t)N);
  int *peer = malloc(sizeof(int) * (size_t)N);
  int k = 0, rc = MPI_SUCCESS;
  if (me == j->root) {
    for (int p = 0; p < N && rc == MPI_SUCCESS; p++) {
      if (p == me) continue;
      peer[k] = p;
      rc = MPI_Isend(j->data, (int)j->count, MPI_BYTE, p, tag, data_comm, &reqs[k++]);
    }
  } else {
    peer[k] = j->root;
    rc = MPI_Irecv(j->data, (int)j->count, MPI_BYTE, j->root, tag, data_comm, &reqs[k++]);
  }
  int st = rc != MPI_SUCCESS ? mpi_fail(j, rc, "MPI_Isend/MPI_Irecv") : wait_reqs(j, reqs, peer, k, deadline);
  free(reqs);
  free(peer);
  return st;
}

static void describe(char *out, size_t cap, const int64_t *sig) {
  int kind = (int)sig[0], dt = (int)sig[1], x = (int)sig[3];
  long long n = (long long)sig[2];
  if (kind < K_ALLREDUCE || kind > K_BARRIER || dt < 0 || dt > D_BYTES) snprintf(out, cap, "an unknown collective");
  else if (kind == K_BARRIER) snprintf(out, cap, "barrier");
  else if (kind == K_BCAST) snprintf(out, cap, "broadcast from rank %d of %lld %s", x, n, DTYPE_NAME[dt]);
  else if (kind == K_ALLGATHER) snprintf(out, cap, "allGather of %lld %s", n, DTYPE_NAME[dt]);
  else snprintf(out, cap, "%s(%s) of %lld %s", KIND_NAME[kind], x >= 0 && x <= OP_MEAN ? OP_NAME[x] : "?", n, DTYPE_NAME[dt]);
}

// Every rank sends every other rank (kind, dtype, count, op or root) under a tag that does not
// depend on the kind, so ranks calling different collectives, sizes or ops all stop at once
// with the same diagnosis (and the group stays usable) instead of truncating or hanging.
static int exchange_signatures(job *j, double deadline) {
  int N = g_size, me = g_rank, tag = 8 + (int)(seq % (1u << 22)) * 64 + 63;
  int64_t mine[4] = {j->kind, j->vdtype, (int64_t)j->vcount, j->kind == K_BCAST ? j->root : j->op};
  int64_t *theirs = calloc((size_t)N * 4, sizeof(int64_t));
  MPI_Request *reqs = malloc(sizeof(MPI_Request) * (size_t)(2 * N));
  int *peer = calloc((size_t)(2 * N), sizeof(int));
  int k = 0, rc = MPI_SUCCESS;
  for (int p = 0; p < N && rc == MPI_SUCCESS; p++) {
    if (p == me) continue;
    peer[k] = p;
    rc = MPI_Irecv(theirs + 4 * p, 4, MPI_INT64_T, p, tag, data_comm, &reqs[k++]);
    if (rc != MPI_SUCCESS) break;
    peer[k] = p;
    rc = MPI_Isend(mine, 4, MPI_INT64_T, p, tag, data_comm, &reqs[k++]);
  }
  int st = rc != MPI_SUCCESS ? mpi_fail(j, rc, "MPI_Isend/MPI_Irecv") : wait_reqs(j, reqs, peer, k, deadline);
  for (int p = 0; st == S_OK && p < N; p++) {
    if (p == me || memcmp(theirs + 4 * p, mine, sizeof(mine)) == 0) continue;
    char a[256], b[256];
    describe(a, sizeof(a), theirs + 4 * p);
    describe(b, sizeof(b), mine);
    snprintf(j->message, MSG_LEN, "rank %d called %s but rank %d called %s", p, a, me, b);
    j->missing[0] = p;
    j->nmissing = 1;
    st = j->status = S_MISMATCH;
  }
  if (st == S_OK || st == S_MISMATCH) free(theirs); // else a late message may still land: leaked
  free(reqs);
  free(peer);
  return st;
}

static void run_collective(job *j) {
  if (broken) {
    j->status = S_BROKEN;
    snprintf(j->message, MSG_LEN, "the process group is unusable: %s", broken_msg);
    return;
  }
  pthread_mutex_lock(&mu);
  int fr = fail_rank;
  if (fr >= 0) snprintf(j->message, MSG_LEN, "rank %d failed (%s)", fr, fail_msg);
  pthread_mutex_unlock(&mu);
  if (fr >= 0) {
    j->status = S_PEER;
    j->missing[0] = fr;
    j->nmissing = 1;
    return;
  }
  double deadline = now_s() + j->timeout_s;
  size_t es = elsize(j->dtype), moff, mlen;
  seq++;
  int st = g_size > 1 ? exchange_signatures(j, deadline) : S_OK;
  if (st != S_OK) {
    j->status = st;
    return;
  }
  switch (j->kind) {
  case K_ALLREDUCE:
    if (g_size == 1) break;
    chunk(j->count, g_size, g_rank, &moff, &mlen);
    st = reduce_scatter_phase(j, j->data, j->data + moff * es, deadline);
    if (st == S_OK) st = gather_phase(j, j->data, j->data + moff * es, 0, deadline);
    break;
  case K_REDUCE_SCATTER:
    if (g_size == 1) {
      memcpy(j->out, j->data, j->count * es);
      break;
    }
    st = reduce_scatter_phase(j, j->data, j->out, deadline);
    break;
  case K_ALLGATHER:
    memcpy(j->out + (size_t)g_rank * j->count, j->data, j->count);
    if (g_size > 1) st = gather_phase(j, j->out, j->data, 1, deadline);
    break;
  case K_BARRIER:
    j->count = 0;
    if (g_size > 1) st = gather_phase(j, barrier_buf, barrier_buf, 1, deadline);
    break;
  case K_BCAST:
    if (g_size > 1) st = broadcast(j, deadline);
    break;
  default:
    break;
  }
  j->status = st;
}

// ---- lifecycle on the MPI thread ----

static void run_init(job *j) {
  int provided = 0, flag = 0, rc;
  MPI_Initialized(&flag);
  rc = flag ? MPI_SUCCESS : MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided);
  if (rc != MPI_SUCCESS) {
    mpi_fail(j, rc, "MPI_Init_thread");
    return;
  }
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
  MPI_Comm_size(MPI_COMM_WORLD, &g_size);
  pthread_mutex_lock(&mu);
  failed = calloc((size_t)g_size, 1);
  fail_text = calloc((size_t)g_size, MSG_LEN);
  pthread_mutex_unlock(&mu);
  MPI_Comm_dup(MPI_COMM_WORLD, &data_comm);
  MPI_Comm_dup(MPI_COMM_WORLD, &ctrl_comm);
  post_ctrl();
  j->status = S_OK;
}

static void run_finalize(job *j) {
  pthread_mutex_lock(&mu);
  int failed = fail_rank >= 0;
  pthread_mutex_unlock(&mu);
  j->status = S_OK;
  if (broken || failed) {
    // MPI_Finalize synchronises with every rank; after a failure it could hang, so skip it.
    snprintf(j->message, MSG_LEN, "skipped MPI_Finalize after a failure");
    return;
  }
  if (ctrl_req != MPI_REQUEST_NULL) {
    MPI_Cancel(&ctrl_req);
    MPI_Wait(&ctrl_req, MPI_STATUS_IGNORE);
  }
  MPI_Comm_free(&data_comm);
  MPI_Comm_free(&ctrl_comm);
  int rc = MPI_Finalize();
  if (rc != MPI_SUCCESS) mpi_fail(j, rc, "MPI_Finalize");
}

static void *mpi_main(void *arg) {
  (void)arg;
  for (;;) {
    pthread_mutex_lock(&mu);
    while (!q_head && !urgent) {
      if (polling_stopped || finalized || g_size <= 0) {
        pthread_cond_wait(&work_cv, &mu);
        continue;
      }
      struct timespec ts;
      clock_gettime(CLOCK_REALTIME, &ts);
      ts.tv_nsec += 5 * 1000 * 1000;
      if (ts.tv_nsec >= 1000000000) ts.tv_sec++, ts.tv_nsec -= 1000000000;
      pthread_cond_timedwait(&work_cv, &mu, &ts);
      if (q_head || urgent) break;
      pthread_mutex_unlock(&mu);
      poll_control();
      pthread_mutex_lock(&mu);
    }
    int stopped = polling_stopped;
    pthread_mutex_unlock(&mu);
    if (stopped) continue; // the Node environment is going away: make no MPI calls
    process_urgent();
    pthread_mutex_lock(&mu);
    job *j = q_head;
    if (j) {
      q_head = j->next;
      if (!q_head) q_tail = NULL;
    }
    pthread_mutex_unlock(&mu);
    if (!j) continue;
    if (j->kind == K_INIT) run_init(j);
    else if (j->kind == K_FINALIZE) {
      run_finalize(j);
      pthread_mutex_lock(&mu);
      finalized = 1;
      pthread_mutex_unlock(&mu);
    } else if (finalized) {
      j->status = S_USAGE;
      snprintf(j->message, MSG_LEN, "the process group was destroyed");
    } else run_collective(j);
    pthread_mutex_lock(&mu);
    wait_n = -1;
    pthread_mutex_unlock(&mu);
    complete(j);
  }
  return NULL;
}

// Hands a finished job back: sync jobs wake the waiting JS thread, async ones go to JS via tsfn.
static void complete(job *j) {
  pthread_mutex_lock(&mu);
  if (j->sync) {
    j->done = 1;
    int abandoned = j->abandoned;
    pthread_cond_broadcast(&done_cv);
    pthread_mutex_unlock(&mu);
    if (abandoned) free(j);
    return;
  }
  int gone = env_gone;
  pthread_mutex_unlock(&mu);
  if (!gone) napi_call_threadsafe_function(tsfn, j, napi_tsfn_blocking);
}

// ---- JS side ----

static napi_value make_error(napi_env env, job *j) {
  napi_value msg, err, code, ranks;
  napi_create_string_utf8(env, j->message, NAPI_AUTO_LENGTH, &msg);
  napi_create_error(env, NULL, msg, &err);
  napi_create_string_utf8(env, STATUS_CODE[j->status], NAPI_AUTO_LENGTH, &code);
  napi_set_named_property(env, err, "heedCode", code);
  napi_create_array_with_length(env, (size_t)j->nmissing, &ranks);
  for (int i = 0; i < j->nmissing; i++) {
    napi_value v;
    napi_create_int32(env, j->missing[i], &v);
    napi_set_element(env, ranks, (uint32_t)i, v);
  }
  napi_set_named_property(env, err, "ranks", ranks);
  return err;
}

static void call_js(napi_env env, napi_value cb, void *ctx, void *data) {
  job *j = data;
  if (env) {
    if (j->status == S_OK) {
      napi_value v;
      if (j->kind == K_INIT) {
        napi_value r, s;
        napi_create_object(env, &v);
        napi_create_int32(env, g_rank, &r);
        napi_create_int32(env, g_size, &s);
        napi_set_named_property(env, v, "rank", r);
        napi_set_named_property(env, v, "size", s);
      } else napi_get_undefined(env, &v);
      napi_resolve_deferred(env, j->deferred, v);
    } else napi_reject_deferred(env, j->deferred, make_error(env, j));
    if (!j->leak) {
      if (j->keep_in) napi_delete_reference(env, j->keep_in);
      if (j->keep_out) napi_delete_reference(env, j->keep_out);
    }
    if (--js_pending == 0) napi_unref_threadsafe_function(env, tsfn);
  }
  if (!j->leak) free(j);
}

static void enqueue(job *j, int front) {
  pthread_mutex_lock(&mu);
  j->next = NULL;
  if (front) {
    job **p = &urgent;
    while (*p) p = &(*p)->next;
    *p = j;
  } else if (q_tail) q_tail->next = j, q_tail = j;
  else q_head = q_tail = j;
  pthread_cond_signal(&work_cv);
  pthread_mutex_unlock(&mu);
}

#define THROW(msg)                                                                                   \
  do {                                                                                               \
    napi_throw_error(env, NULL, msg);                                                                \
    return NULL;                                                                                     \
  } while (0)

static napi_value submit(napi_env env, job *j) {
  napi_value promise;
  napi_create_promise(env, &j->deferred, &promise);
  if (js_pending++ == 0) napi_ref_threadsafe_function(env, tsfn);
  enqueue(j, 0);
  return promise;
}

static napi_value get_args(napi_env env, napi_callback_info info, size_t want, napi_value *argv) {
  size_t argc = want;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < want) THROW("heed_mpi: missing arguments");
  return argv[0];
}

// Reads a TypedArray: its data pointer, its count (elements for float32/float64/int32 arrays,
// which get that dtype; bytes for every other TypedArray, which gets D_BYTES) and its dtype.
static int typed(napi_env env, napi_value v, char **data, size_t *count, int *dtype) {
  static const size_t sizes[] = {1, 1, 1, 2, 2, 4, 4, 4, 8, 8, 8}; // by napi_typedarray_type
  bool is = false;
  napi_is_typedarray(env, v, &is);
  if (!is) return 0;
  napi_typedarray_type t;
  size_t len;
  void *p;
  napi_get_typedarray_info(env, v, &t, &len, &p, NULL, NULL);
  *data = p;
  *dtype = t == napi_float32_array ? D_F32 : t == napi_float64_array ? D_F64 : t == napi_int32_array ? D_I32 : D_BYTES;
  *count = *dtype != D_BYTES ? len : len * ((size_t)t < sizeof(sizes) / sizeof(sizes[0]) ? sizes[t] : 1);
  return 1;
}

static job *new_job(int kind) {
  job *j = calloc(1, sizeof(job));
  j->kind = kind;
  return j;
}

static int check_ready(napi_env env) {
  pthread_mutex_lock(&mu);
  int ok = started && !finalized;
  pthread_mutex_unlock(&mu);
  if (!ok) napi_throw_error(env, NULL, "heed_mpi: MPI is not initialised (call init() first) or was finalised");
  return ok;
}

static napi_value js_init(napi_env env, napi_callback_info info) {
  pthread_mutex_lock(&mu);
  int was = started;
  started = 1;
  pthread_mutex_unlock(&mu);
  if (was) THROW("heed_mpi: init() may be called once per process");
  if (pthread_create(&mpi_thread, NULL, mpi_main, NULL) != 0) THROW("heed_mpi: cannot start the MPI thread");
  pthread_detach(mpi_thread);
  return submit(env, new_job(K_INIT));
}

static napi_value js_allreduce(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (!get_args(env, info, 3, argv) || !check_ready(env)) return NULL;
  job *j = new_job(K_ALLREDUCE);
  double ms;
  if (!typed(env, argv[0], &j->data, &j->count, &j->dtype) || j->dtype == D_BYTES) {
    free(j);
    THROW("heed_mpi.allreduce: expected a Float32Array, Float64Array or Int32Array");
  }
  napi_get_value_int32(env, argv[1], &j->op);
  napi_get_value_double(env, argv[2], &ms);
  j->timeout_s = ms / 1e3;
  if (j->op < OP_SUM || j->op > OP_MEAN) {
    free(j);
    THROW("heed_mpi.allreduce: op must be 0 (sum), 1 (max), 2 (min) or 3 (mean)");
  }
  j->vdtype = j->dtype;
  j->vcount = j->count;
  if (j->count * elsize(j->dtype) > (size_t)INT32_MAX) {
    free(j);
    THROW("heed_mpi.allreduce: at most 2^31-1 bytes per call");
  }
  napi_create_reference(env, argv[0], 1, &j->keep_in);
  return submit(env, j);
}

static napi_value js_reduce_scatter(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  if (!get_args(env, info, 4, argv) || !check_ready(env)) return NULL;
  job *j = new_job(K_REDUCE_SCATTER);
  size_t out_count;
  int out_dtype;
  double ms;
  if (!typed(env, argv[0], &j->data, &j->count, &j->dtype) || !typed(env, argv[1], &j->out, &out_count, &out_dtype) ||
      j->dtype == D_BYTES || out_dtype != j->dtype || j->count % (size_t)g_size != 0 ||
      out_count != j->count / (size_t)g_size || j->count * elsize(j->dtype) > (size_t)INT32_MAX) {
    free(j);
    THROW("heed_mpi.reduceScatter: expected Float32/Float64/Int32 arrays of one type, input length = world size x output length");
  }
  napi_get_value_int32(env, argv[2], &j->op);
  napi_get_value_double(env, argv[3], &ms);
  j->timeout_s = ms / 1e3;
  if (j->op < OP_SUM || j->op > OP_MEAN) {
    free(j);
    THROW("heed_mpi.reduceScatter: op must be 0 (sum), 1 (max), 2 (min) or 3 (mean)");
  }
  j->vdtype = j->dtype;
  j->vcount = j->count;
  napi_create_reference(env, argv[0], 1, &j->keep_in);
  napi_create_reference(env, argv[1], 1, &j->keep_out);
  return submit(env, j);
}

static napi_value js_broadcast(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (!get_args(env, info, 3, argv) || !check_ready(env)) return NULL;
  job *j = new_job(K_BCAST);
  double ms;
  int dt;
  if (!typed(env, argv[0], &j->data, &j->count, &dt)) {
    free(j);
    THROW("heed_mpi.broadcast: expected a TypedArray");
  }
  j->vdtype = dt;
  j->vcount = j->count;
  j->count *= elsize(dt);
  j->dtype = D_BYTES;
  napi_get_value_int32(env, argv[1], &j->root);
  napi_get_value_double(env, argv[2], &ms);
  j->timeout_s = ms / 1e3;
  if (j->root < 0 || j->root >= g_size || j->count > (size_t)INT32_MAX) {
    free(j);
    THROW("heed_mpi.broadcast: root out of range or more than 2^31-1 bytes");
  }
  napi_create_reference(env, argv[0], 1, &j->keep_in);
  return submit(env, j);
}

static napi_value js_allgather(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (!get_args(env, info, 3, argv) || !check_ready(env)) return NULL;
  job *j = new_job(K_ALLGATHER);
  size_t out_count;
  int dt, out_dt;
  double ms;
  if (!typed(env, argv[0], &j->data, &j->count, &dt) || !typed(env, argv[1], &j->out, &out_count, &out_dt) ||
      out_count * elsize(out_dt) != j->count * elsize(dt) * (size_t)g_size || j->count * elsize(dt) > (size_t)INT32_MAX) {
    free(j);
    THROW("heed_mpi.allgather: the output must hold world size x the input's bytes");
  }
  j->vdtype = dt;
  j->vcount = j->count;
  j->count *= elsize(dt);
  j->dtype = D_BYTES;
  napi_get_value_double(env, argv[2], &ms);
  j->timeout_s = ms / 1e3;
  napi_create_reference(env, argv[0], 1, &j->keep_in);
  napi_create_reference(env, argv[1], 1, &j->keep_out);
  return submit(env, j);
}

static napi_value js_barrier(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!get_args(env, info, 1, argv) || !check_ready(env)) return NULL;
  job *j = new_job(K_BARRIER);
  j->vdtype = D_BYTES;
  double ms;
  napi_get_value_double(env, argv[0], &ms);
  j->timeout_s = ms / 1e3;
  return submit(env, j);
}

static napi_value js_finalize(napi_env env, napi_callback_info info) {
  if (!check_ready(env)) return NULL;
  return submit(env, new_job(K_FINALIZE));
}

// Runs a job on the MPI thread and waits for it on the JS thread for at most `ms` milliseconds.
static int run_sync(job *j, int front, double ms) {
  j->sync = 1;
  enqueue(j, front);
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  long long ns = (long long)ts.tv_nsec + (long long)(ms * 1e6);
  ts.tv_sec += (time_t)(ns / 1000000000LL);
  ts.tv_nsec = (long)(ns % 1000000000LL);
  pthread_mutex_lock(&mu);
  while (!j->done)
    if (pthread_cond_timedwait(&done_cv, &mu, &ts) != 0) break;
  int done = j->done;
  if (!done) j->abandoned = 1;
  pthread_mutex_unlock(&mu);
  if (done) free(j);
  return done;
}

// finalizeSync(timeoutMs) -> boolean: for process 'exit' hooks, which cannot await.
static napi_value js_finalize_sync(napi_env env, napi_callback_info info) {
  napi_value argv[1], res;
  if (!get_args(env, info, 1, argv) || !check_ready(env)) return NULL;
  double ms;
  napi_get_value_double(env, argv[0], &ms);
  napi_get_boolean(env, run_sync(new_job(K_FINALIZE), 0, ms), &res);
  return res;
}

// notifyFailure(message, graceMs) -> boolean: tells every peer this rank failed, then waits graceMs
// so the peers can report it before the launcher tears the job down.
static napi_value js_notify_failure(napi_env env, napi_callback_info info) {
  napi_value argv[2], res;
  if (!get_args(env, info, 2, argv) || !check_ready(env)) return NULL;
  job *j = new_job(K_NOTIFY);
  static char text[MSG_LEN];
  size_t n;
  double grace;
  napi_get_value_string_utf8(env, argv[0], text, MSG_LEN, &n);
  napi_get_value_double(env, argv[1], &grace);
  j->data = text;
  int ok = run_sync(j, 1, 1000);
  if (grace > 0) sleep_us((long)(grace * 1e3));
  napi_get_boolean(env, ok, &res);
  return res;
}

static napi_value js_abort(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!get_args(env, info, 1, argv)) return NULL;
  int code = 1;
  napi_get_value_int32(env, argv[0], &code);
  pthread_mutex_lock(&mu);
  int ready = started && !finalized;
  pthread_mutex_unlock(&mu);
  if (ready) {
    job *j = new_job(K_ABORT);
    j->root = code;
    run_sync(j, 1, 3000);
  }
  fflush(stderr);
  _exit(code);
}

static napi_value js_peer_failure(napi_env env, napi_callback_info info) {
  napi_value v, r, m;
  pthread_mutex_lock(&mu);
  int fr = fail_rank;
  char fm[MSG_LEN];
  snprintf(fm, MSG_LEN, "%s", fail_msg);
  pthread_mutex_unlock(&mu);
  if (fr < 0) {
    napi_get_null(env, &v);
    return v;
  }
  napi_create_object(env, &v);
  napi_create_int32(env, fr, &r);
  napi_create_string_utf8(env, fm, NAPI_AUTO_LENGTH, &m);
  napi_set_named_property(env, v, "rank", r);
  napi_set_named_property(env, v, "message", m);
  return v;
}

// waiting() -> number[] | null: the ranks the running collective still waits for (null when idle).
static napi_value js_waiting(napi_env env, napi_callback_info info) {
  napi_value v;
  pthread_mutex_lock(&mu);
  int n = wait_n, list[MAX_LISTED];
  if (n > 0) memcpy(list, wait_list, sizeof(int) * (size_t)n);
  pthread_mutex_unlock(&mu);
  if (n < 0) {
    napi_get_null(env, &v);
    return v;
  }
  napi_create_array_with_length(env, (size_t)n, &v);
  for (int i = 0; i < n; i++) {
    napi_value r;
    napi_create_int32(env, list[i], &r);
    napi_set_element(env, v, (uint32_t)i, r);
  }
  return v;
}

static napi_value js_library_version(napi_env env, napi_callback_info info) {
  char s[MPI_MAX_LIBRARY_VERSION_STRING];
  int len = 0;
  MPI_Get_library_version(s, &len);
  napi_value v;
  napi_create_string_utf8(env, s, (size_t)len, &v);
  return v;
}

static void env_cleanup(void *arg) {
  (void)arg;
  pthread_mutex_lock(&mu);
  env_gone = 1;
  polling_stopped = 1;
  pthread_mutex_unlock(&mu);
}

static napi_value init_module(napi_env env, napi_value exports) {
  // Node dlopens addons RTLD_LOCAL; Open MPI's plugins need libmpi's symbols global.
  dlopen("libmpi.so.40", RTLD_NOW | RTLD_GLOBAL | RTLD_NOLOAD);
  napi_value name;
  napi_create_string_utf8(env, "heed_mpi", NAPI_AUTO_LENGTH, &name);
  napi_create_threadsafe_function(env, NULL, NULL, name, 0, 1, NULL, NULL, NULL, call_js, &tsfn);
  napi_unref_threadsafe_function(env, tsfn);
  napi_add_env_cleanup_hook(env, env_cleanup, NULL);
  napi_property_descriptor props[] = {
      {"init", NULL, js_init, NULL, NULL, NULL, napi_default, NULL},
      {"allreduce", NULL, js_allreduce, NULL, NULL, NULL, napi_default, NULL},
      {"reduceScatter", NULL, js_reduce_scatter, NULL, NULL, NULL, napi_default, NULL},
      {"broadcast", NULL, js_broadcast, NULL, NULL, NULL, napi_default, NULL},
      {"allgather", NULL, js_allgather, NULL, NULL, NULL, napi_default, NULL},
      {"barrier", NULL, js_barrier, NULL, NULL, NULL, napi_default, NULL},
      {"finalize", NULL, js_finalize, NULL, NULL, NULL, napi_default, NULL},
      {"finalizeSync", NULL, js_finalize_sync, NULL, NULL, NULL, napi_default, NULL},
      {"notifyFailure", NULL, js_notify_failure, NULL, NULL, NULL, napi_default, NULL},
      {"abort", NULL, js_abort, NULL, NULL, NULL, napi_default, NULL},
      {"peerFailure", NULL, js_peer_failure, NULL, NULL, NULL, napi_default, NULL},
      {"waiting", NULL, js_waiting, NULL, NULL, NULL, napi_default, NULL},
      {"libraryVersion", NULL, js_library_version, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init_module)
