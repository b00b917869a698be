/*
 * vigil-decode: the decoder of a fed camera (lean-decoder.ts builds it).
 *
 *   vigil-decode WIDTH HEIGHT FPS BURST_FPS SOCKET
 *
 * Reads H.264 as ffmpeg's `-f h264` does (Annex B on stdin, an access unit
 * delimiter after each picture, which lets the parser finish the picture at
 * once), decodes it on one thread with libavcodec, keeps FPS frames a second by
 * their arrival (the rule of rate-filter.ts), scales each kept frame to WIDTH x
 * HEIGHT planar YUV 4:2:0 with libswscale, and writes it to the one client of
 * the Unix socket it listens on at SOCKET: what
 * `ffmpeg -f h264 -i pipe:0 -vf select,scale -f rawvideo -listen 1 unix:SOCKET`
 * does, without the libraries the ffmpeg program links beyond these (215
 * against 98 on Debian 12: libavformat, libavfilter, libavdevice and theirs).
 * Measured: half the memory of that ffmpeg per camera (docs/performance.md).
 *
 * The client switches the frames in between on and off by writing one byte to
 * the socket (1: on, 0: off; off at the start): while on, the frames of a
 * BURST_FPS grid come too (frame-source.ts `burst`). Each frame's decision reads
 * the latest byte, so a switch takes effect at the next picture. While off, a
 * frame of that grid still comes when its picture changed from the last one
 * sent (someone walking in): the client glances at its motion, and may start
 * looking 100 ms sooner. A still scene sends none.
 *
 * Exits 0 at the end of its input (or when the reader goes away), 2 on bad
 * arguments, 1 when it cannot set up or scale a picture; a broken picture is
 * skipped, as ffmpeg does.
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <libavcodec/avcodec.h>
#include <libavutil/imgutils.h>
#include <libavutil/log.h>
#include <libavutil/pixdesc.h>
#include <libswscale/swscale.h>

#define READ_BYTES 65536

static int fail(const char *what) {
  fprintf(stderr, "vigil-decode: %s\n", what);
  return 1;
}

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6;
}

/* rate-filter.ts's rule on arrival times: keep a frame when it is nearer to the next due time
 * than the frame after it would be; the grid restarts after a gap or a jump back of over 2 s. */
struct rate {
  double interval, due, previous;
  int started;
};

static int keep_frame(struct rate *r, double at) {
  double half_gap = r->started ? (at - r->previous) / 2 : 0;
  int first = !r->started;
  r->previous = at;
  r->started = 1;
  if (!first && at + half_gap < r->due && at >= r->due - 2000) return 0;
  r->due = first || (at > r->due ? at - r->due : r->due - at) > r->interval ? at + r->interval : r->due + r->interval;
  return 1;
}

static int write_all(int fd, const uint8_t *data, size_t size) {
  while (size > 0) {
    ssize_t n = write(fd, data, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return 0;
    data += n;
    size -= (size_t)n;
  }
  return 1;
}

static int listen_once(const char *path) {
  struct sockaddr_un address = {.sun_family = AF_UNIX};
  if (strlen(path) >= sizeof address.sun_path) return -1;
  strcpy(address.sun_path, path);
  int server = socket(AF_UNIX, SOCK_STREAM, 0);
  if (server < 0 || bind(server, (struct sockaddr *)&address, sizeof address) < 0 || listen(server, 1) < 0) return -1;
  int client;
  do client = accept(server, NULL, NULL);
  while (client < 0 && errno == EINTR);
  close(server);
  return client;
}

/* The picture, coarsely: GATE_COLS x GATE_ROWS blocks of the luma plane, each the mean of the 4x4
 * pixels at its centre (sensor noise averages out well below GATE_LEVELS). It changed when
 * GATE_BLOCKS of them moved by more than GATE_LEVELS: a person at the edge of a 640x360 picture
 * covers a dozen blocks. False only for pictures whose luma is not 8-bit samples. */
#define GATE_COLS 32
#define GATE_ROWS 18
#define GATE_LEVELS 20
#define GATE_BLOCKS 3

static int glance(const AVFrame *f, uint8_t *blocks) {
  const AVPixFmtDescriptor *format = av_pix_fmt_desc_get(f->format);
  if (!format || format->comp[0].depth != 8 || format->comp[0].step != 1 || (format->flags & AV_PIX_FMT_FLAG_RGB) || f->width < 4 || f->height < 4) return 0;
  for (int r = 0; r < GATE_ROWS; r++) {
    int y = FFMIN((2 * r + 1) * f->height / (2 * GATE_ROWS), f->height - 2) - 2;
    for (int c = 0; c < GATE_COLS; c++) {
      int x = FFMIN((2 * c + 1) * f->width / (2 * GATE_COLS), f->width - 2) - 2, sum = 0;
      for (int dy = 0; dy < 4; dy++)
        for (int dx = 0; dx < 4; dx++) sum += f->data[0][(y + dy) * f->linesize[0] + x + dx];
      blocks[r * GATE_COLS + c] = (uint8_t)((sum + 8) >> 4);
    }
  }
  return 1;
}

static int changed(const uint8_t *now, const uint8_t *before) {
  int moved = 0;
  for (int i = 0; i < GATE_COLS * GATE_ROWS; i++) moved += abs(now[i] - before[i]) > GATE_LEVELS;
  return moved >= GATE_BLOCKS;
}

struct decoder {
  AVCodecContext *context;
  AVFrame *frame;
  struct SwsContext *scaler;
  struct rate rate, burst_rate;
  int burst, seen;
  /* The last picture sent, coarsely (glance), when `seen`. */
  uint8_t sent[GATE_COLS * GATE_ROWS], blocks[GATE_COLS * GATE_ROWS];
  uint8_t *planes[4];
  int strides[4];
  uint8_t *out;
  int out_bytes, width, height, client;
};

/* The client's latest switch (see above), read without waiting. 0 once the client is gone. */
static int read_switch(struct decoder *d) {
  uint8_t bytes[64];
  for (;;) {
    ssize_t n = recv(d->client, bytes, sizeof bytes, MSG_DONTWAIT);
    if (n > 0) d->burst = bytes[n - 1] != 0;
    else if (n == 0) return 0;
    else if (errno != EINTR) return 1; /* EAGAIN: nothing new */
  }
}

#define GO_ON -1

/* Sends one packet (NULL: the end) and writes out the frames it gives: GO_ON, or the exit code
 * (0 once the reader is gone, 1 when a picture cannot be scaled). */
static int decode(struct decoder *d, AVPacket *packet) {
  if (avcodec_send_packet(d->context, packet) < 0) return GO_ON; /* a broken picture: skipped */
  while (avcodec_receive_frame(d->context, d->frame) == 0) {
    AVFrame *f = d->frame;
    double at = now_ms();
    if (!read_switch(d)) return 0;
    /* Both grids see every frame, so each stays on time whichever way the switch is. */
    int regular = keep_frame(&d->rate, at);
    int in_burst = keep_frame(&d->burst_rate, at);
    int keep = regular || (d->burst && in_burst);
    /* The coarse look, for a frame sent and for one in between outside a burst (sent if it changed). */
    int looked = (keep || in_burst) && glance(f, d->blocks);
    if (!keep && in_burst && looked) keep = d->seen && changed(d->blocks, d->sent);
    if (keep) {
      if (looked) memcpy(d->sent, d->blocks, sizeof d->sent);
      d->seen = looked;
      d->scaler = sws_getCachedContext(d->scaler, f->width, f->height, f->format, d->width, d->height, AV_PIX_FMT_YUV420P, SWS_BILINEAR, NULL, NULL, NULL);
      if (!d->scaler) return fail("cannot scale this picture format");
      sws_scale(d->scaler, (const uint8_t *const *)f->data, f->linesize, 0, f->height, d->planes, d->strides);
    }
    av_frame_unref(f);
    if (keep && !write_all(d->client, d->out, (size_t)d->out_bytes)) return 0;
  }
  return GO_ON;
}

int main(int argc, char **argv) {
  if (argc != 6) {
    fprintf(stderr, "usage: vigil-decode WIDTH HEIGHT FPS BURST_FPS SOCKET\n");
    return 2;
  }
  struct decoder d = {.width = atoi(argv[1]), .height = atoi(argv[2])};
  double fps = atof(argv[3]), burst_fps = atof(argv[4]);
  if (d.width < 2 || d.height < 2 || d.width > 8192 || d.height > 8192 || !(fps > 0 && fps <= burst_fps && burst_fps <= 240)) {
    fprintf(stderr, "vigil-decode: WIDTH and HEIGHT must be 2-8192, and 0 < FPS <= BURST_FPS <= 240\n");
    return 2;
  }
  d.rate.interval = 1000.0 / fps;
  d.burst_rate.interval = 1000.0 / burst_fps;
  signal(SIGPIPE, SIG_IGN);
  av_log_set_level(AV_LOG_ERROR);

  const AVCodec *codec = avcodec_find_decoder(AV_CODEC_ID_H264);
  AVCodecParserContext *parser = av_parser_init(AV_CODEC_ID_H264);
  d.context = codec ? avcodec_alloc_context3(codec) : NULL;
  if (!parser || !d.context) return fail("this libavcodec has no H.264 decoder");
  d.context->thread_count = 1; /* the cheapest per frame; cameras run in parallel anyway */
  if (avcodec_open2(d.context, codec, NULL) < 0) return fail("cannot open the H.264 decoder");
  d.out_bytes = av_image_get_buffer_size(AV_PIX_FMT_YUV420P, d.width, d.height, 1);
  d.out = av_malloc((size_t)d.out_bytes);
  d.frame = av_frame_alloc();
  AVPacket *packet = av_packet_alloc();
  uint8_t *input = av_malloc(READ_BYTES + AV_INPUT_BUFFER_PADDING_SIZE);
  if (!d.out || !d.frame || !packet || !input) return fail("out of memory");
  av_image_fill_arrays(d.planes, d.strides, d.out, AV_PIX_FMT_YUV420P, d.width, d.height, 1);

  d.client = listen_once(argv[5]);
  if (d.client < 0) return fail("cannot listen on its socket");

  int open = 1;
  while (open) {
    ssize_t got = read(0, input, READ_BYTES);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) got = 0; /* the end: the parser gives what it holds */
    memset(input + got, 0, AV_INPUT_BUFFER_PADDING_SIZE);
    const uint8_t *at = input;
    int left = (int)got;
    do {
      int used = av_parser_parse2(parser, d.context, &packet->data, &packet->size, at, left, AV_NOPTS_VALUE, AV_NOPTS_VALUE, 0);
      if (used < 0) break;
      at += used;
      left -= used;
      int status = packet->size > 0 ? decode(&d, packet) : GO_ON;
      if (status != GO_ON) return status;
    } while (left > 0);
    if (got == 0) {
      decode(&d, NULL);
      open = 0;
    }
  }
  return 0;
}
