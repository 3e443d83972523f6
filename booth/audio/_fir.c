/*
 * booth.audio._fir: the framer's engine. One call per block mixes the channels down, runs
 * every polyphase FIR stage, the optional DC blocker and gain, rounding, saturation and framing
 * (booth/audio/framer.py loads the plans and keeps the public API; reference_resample in
 * booth/audio/framer_design.py is the definition).
 *
 * Why C: numpy's per-call overhead was the floor. A 20 ms block made ~10 numpy calls (copy
 * into the history, the matrix product, rounding, clipping, tobytes), and together they cost
 * more than soxr spends on the whole block. Here a block is one call.
 *
 * Why float64 sums are exact in any order: a stage's taps are integers times 2**-q, and the
 * input is int16, so every product and every partial sum is an integer multiple of
 * 2**-(sum of the stages' q). framer_design.design checks that the worst case stays below
 * 2**53 of those units, so float64 holds each one exactly. Independent accumulators, SIMD lanes and
 * fused multiply-adds therefore cannot change a bit: the sums equal reference_resample's
 * int64 arithmetic on every machine. fir_outputs is the only place that relies on this; it
 * alone may contract a*b+c into an FMA.
 *
 * The DC blocker and gain are not exact. They run sample by sample (so chunking cannot
 * change them) and the file is built with -ffp-contract=off (setup.py), so each operation
 * rounds as written, on every platform, as Python's floats do in reference_resample.
 *
 * Safety: this runs in a daemon. Every size comes from the constructor, which checks it; the
 * indices are derived from those sizes and the stage state, whose invariants are noted
 * where they are kept; the input is read only at the shape and strides its buffer exports.
 * Bad arguments raise; nothing is read or written out of bounds.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <float.h>
#include <stdint.h>
#include <string.h>

#if !defined(__GNUC__)
#error "booth.audio._fir needs GCC or Clang (vector extensions)"
#endif

/* Four float64 lanes: 256-bit registers with AVX2, two 128-bit ones with SSE2 or NEON,
 * scalar code on armv7. may_alias and aligned(8): loaded from any double in a buffer. */
typedef double v4d __attribute__((vector_size(32), aligned(8), may_alias));
#define LANES 4

/* On x86-64 with GCC, a second copy of fir_outputs for AVX2+FMA machines, picked at load
 * time (glibc's ifunc): SSE2, the baseline, takes ~4x as long. Other targets (and Clang)
 * build one copy. */
#if defined(__x86_64__) && defined(__GLIBC__) && !defined(__clang__) && \
    defined(__has_attribute)
#if __has_attribute(target_clones)
#define FIR_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#endif
#endif
#ifndef FIR_CLONES
#define FIR_CLONES
#endif
/* Contraction is exact in the FIR sums (above), and FMA is most of the AVX2 copy's gain. */
#if defined(__clang__)
#define FIR_CONTRACT _Pragma("clang fp contract(fast)")
#define FIR_OPTIMIZE
#else
#define FIR_CONTRACT
#define FIR_OPTIMIZE __attribute__((optimize("fp-contract=fast")))
#endif

#define MAX_STAGES 2
#define MAX_CHANNELS 8
#define MAX_UP 4096     /* phases a stage may have (shipped: 320) */
#define MAX_TAPS 4096   /* taps a phase may have (shipped: 139) */
#define CHUNK 2048      /* new inputs a stage's history takes at a time */
#define RUN 1024        /* outputs a stage computes at a time */
/* Inputs one push may bring: with MAX_STAGES and MAX_UP, every size below stays far inside
 * Py_ssize_t (2**31 * 4096**2 outputs at most). */
#define MAX_PUSH ((Py_ssize_t)1 << 31)

typedef struct {
    Py_ssize_t up, down;
    Py_ssize_t k;     /* taps a phase, padded with zeros to a multiple of LANES */
    double *taps;     /* [up][k]: phase p, reversed, so a window is a plain dot product */
    double *hist;     /* [cap]: the inputs still needed, then room for CHUNK more */
    Py_ssize_t cap;
    Py_ssize_t fill;  /* hist[0:fill] is valid */
    /* The next output is at position t (0 <= t < up) of the cycle whose first output's
     * window starts at hist[start]: its window starts at start + t*down/up (floored), its
     * phase is t*down % up. Invariant: start <= fill; after run_stage, fewer than k + down
     * inputs are kept from start on. */
    Py_ssize_t start, t;
    double *out;      /* [RUN]: outputs on their way to the next stage */
} Stage;

typedef struct {
    PyObject_HEAD
    Stage stages[MAX_STAGES];
    int nstages;
    int channels;         /* interleaved in the input, mixed down to one */
    int dc_block;
    double dc_pole, gain, dc_x, dc_y;
    Py_ssize_t frame;     /* samples a frame */
    int16_t *pend;        /* [pend_cap]: rounded outputs not yet returned as whole frames */
    Py_ssize_t pend_fill, pend_cap;
    double *conv;         /* [CHUNK], with no stages only: int16 inputs as float64 */
} Chain;

/* -- the FIR ---------------------------------------------------------------------------- */

static inline double
hsum(v4d a)
{
    return (a[0] + a[1]) + (a[2] + a[3]);
}

/* Outputs of one phase R at a time, windows xstep apart, R accumulators sharing each load
 * of the taps. A macro, so R is a constant: the loops over r unroll and the accumulators
 * stay in registers. */
#define FIR_BLOCK(R)                                                                         \
    for (; o + (R) <= count; o += (R)) {                                                     \
        const double *w = x + o * xstep;                                                     \
        v4d acc[R];                                                                          \
        for (int r = 0; r < (R); r++) {                                                      \
            acc[r] = (v4d){0.0, 0.0, 0.0, 0.0};                                              \
        }                                                                                    \
        for (Py_ssize_t i = 0; i < k; i += LANES) {                                          \
            v4d tv = *(const v4d *)(taps + i);                                               \
            for (int r = 0; r < (R); r++) {                                                  \
                acc[r] += tv * *(const v4d *)(w + r * xstep + i);                            \
            }                                                                                \
        }                                                                                    \
        for (int r = 0; r < (R); r++) {                                                      \
            y[(o + r) * ystep] = hsum(acc[r]);                                               \
        }                                                                                    \
    }

/* count outputs of one phase: output o is taps . x[o*xstep : o*xstep + k], stored at
 * y[o*ystep]. */
FIR_CLONES FIR_OPTIMIZE static void
fir_outputs(const double *taps, Py_ssize_t k, const double *x, Py_ssize_t xstep,
            Py_ssize_t count, double *y, Py_ssize_t ystep)
{
    FIR_CONTRACT
    Py_ssize_t o = 0;
    FIR_BLOCK(8)
    FIR_BLOCK(4)
    FIR_BLOCK(1)
}

/* -- the output end: DC blocker, gain, rounding, saturation ----------------------------- */

/* 1.5 * 2**52: adding it to a double below 2**51 in magnitude rounds it to a whole number,
 * half to even (IEEE's default mode), and subtracting it gives that number back exactly.
 * Only where doubles are evaluated as doubles (not x87's 80 bits). */
#define ROUNDER 6755399441055744.0
#if !defined(FLT_EVAL_METHOD) || FLT_EVAL_METHOD != 0
#error "booth.audio._fir needs double arithmetic in double precision (FLT_EVAL_METHOD 0)"
#endif

static inline int16_t
round_saturate(double v)
{
    /* Clamping first gives the same result as rounding first: the rails are whole numbers.
     * Written so a NaN (impossible: every input is finite) would clamp too, never reaching
     * the conversion, and so that the loops below vectorize. */
    v = v >= -32768.0 ? v : -32768.0;
    v = v <= 32767.0 ? v : 32767.0;
    return (int16_t)(int32_t)((v + ROUNDER) - ROUNDER);
}

/* Sample by sample, so whatever the chunking. A gain of 1 is exact (x * 1.0 == x). */
static int
emit(Chain *c, const double *v, Py_ssize_t n)
{
    if (n > c->pend_cap - c->pend_fill) { /* push reserved room for every output: cannot be */
        PyErr_SetString(PyExc_RuntimeError, "framer engine: more outputs than reserved");
        return -1;
    }
    int16_t *dst = c->pend + c->pend_fill;
    const double gain = c->gain;
    if (c->dc_block) {
        const double pole = c->dc_pole;
        double xp = c->dc_x, yp = c->dc_y;
        for (Py_ssize_t i = 0; i < n; i++) {
            double d = v[i] - xp;
            double y = d + pole * yp;
            xp = v[i];
            yp = y;
            dst[i] = round_saturate(y * gain);
        }
        c->dc_x = xp;
        c->dc_y = yp;
    }
    else {
        for (Py_ssize_t i = 0; i < n; i++) {
            dst[i] = round_saturate(v[i] * gain);
        }
    }
    c->pend_fill += n;
    return 0;
}

/* -- the stages ------------------------------------------------------------------------- */

/* Where a push's int16 input is: frame i's channel ch at p + i*frame_step + ch*chan_step. */
typedef struct {
    const char *p;
    Py_ssize_t frame_step, chan_step;
} Frames;

static int feed(Chain *c, int s, const double *x, Frames *in, Py_ssize_t n);

/* Every output whose window is complete, then on to the next stage or the output end. */
static int
run_stage(Chain *c, int s)
{
    Stage *st = &c->stages[s];
    for (;;) {
        Py_ssize_t avail = st->fill - st->k - st->start; /* the last window start possible */
        if (avail < 0) {
            return 0;
        }
        /* Cycle positions t .. last have floor(pos*down/up) <= avail. */
        Py_ssize_t last = ((avail + 1) * st->up - 1) / st->down;
        Py_ssize_t count = last - st->t + 1;
        if (count <= 0) {
            return 0;
        }
        if (count > RUN) { /* the rest on the next pass */
            count = RUN;
        }
        Py_ssize_t groups = count < st->up ? count : st->up;
        for (Py_ssize_t m = 0; m < groups; m++) {
            Py_ssize_t pos = st->t + m;
            Py_ssize_t phase = (pos * st->down) % st->up;
            Py_ssize_t first = st->start + (pos * st->down) / st->up;
            /* Outputs m, m + up, ... share the phase; their windows are down apart. */
            fir_outputs(st->taps + phase * st->k, st->k, st->hist + first, st->down,
                        (count - m + st->up - 1) / st->up, st->out + m, st->up);
        }
        Py_ssize_t end = st->t + count;
        st->start += (end / st->up) * st->down;
        st->t = end % st->up;
        if (feed(c, s + 1, st->out, NULL, count) < 0) {
            return -1;
        }
    }
}

/* m frames of int16 input as float64 at dst, in advances past them. More than one channel:
 * their mean, rounded half up, as floor((2*sum + channels) / (2*channels)) (the mean of
 * int16s is an int16). */
static void
load(const Chain *c, Frames *in, double *dst, Py_ssize_t m)
{
    const char *p = in->p;
    const Py_ssize_t fstep = in->frame_step, cstep = in->chan_step;
    const int chans = c->channels;
    if (chans == 1 && fstep == (Py_ssize_t)sizeof(int16_t) &&
        (uintptr_t)p % sizeof(int16_t) == 0) {
        const int16_t *src = (const int16_t *)p;
        for (Py_ssize_t i = 0; i < m; i++) {
            dst[i] = src[i];
        }
    }
    else if (chans == 1) { /* strided or misaligned: memcpy reads any address */
        for (Py_ssize_t i = 0; i < m; i++) {
            int16_t v;
            memcpy(&v, p + i * fstep, sizeof v);
            dst[i] = v;
        }
    }
    else {
        const int32_t den = 2 * chans;
        for (Py_ssize_t i = 0; i < m; i++) {
            int32_t sum = 0; /* at most 8 * 32768 in magnitude */
            for (int ch = 0; ch < chans; ch++) {
                int16_t v;
                memcpy(&v, p + i * fstep + ch * cstep, sizeof v);
                sum += v;
            }
            int32_t num = 2 * sum + chans;
            int32_t q = num / den; /* C truncates toward zero: step down to the floor */
            if (num % den < 0) {
                q--;
            }
            dst[i] = q;
        }
    }
    in->p = p + m * fstep;
}

/* n inputs into stage s (float64 x, or the int16 frames in), or into the output end when s
 * is past the last stage. */
static int
feed(Chain *c, int s, const double *x, Frames *in, Py_ssize_t n)
{
    if (s == c->nstages && x != NULL) {
        return emit(c, x, n);
    }
    Stage *st = s < c->nstages ? &c->stages[s] : NULL;
    while (n > 0) {
        double *dst = c->conv; /* no stage: int16 inputs to the output end */
        Py_ssize_t m = CHUNK;
        if (st != NULL) {
            if (st->cap - st->fill < n && st->start > 0) {
                /* Keep the inputs from start on (fewer than k + down: see Stage). */
                memmove(st->hist, st->hist + st->start,
                        (size_t)(st->fill - st->start) * sizeof(double));
                st->fill -= st->start;
                st->start = 0;
            }
            dst = st->hist + st->fill;
            m = st->cap - st->fill;
        }
        if (m > n) {
            m = n;
        }
        if (m <= 0) { /* run_stage leaves room (see Stage): cannot be */
            PyErr_SetString(PyExc_RuntimeError, "framer engine: no room in a stage's history");
            return -1;
        }
        if (x != NULL) {
            memcpy(dst, x, (size_t)m * sizeof(double));
            x += m;
        }
        else {
            load(c, in, dst, m);
        }
        n -= m;
        if (st == NULL) {
            if (emit(c, c->conv, m) < 0) {
                return -1;
            }
            continue;
        }
        st->fill += m;
        if (run_stage(c, s) < 0) {
            return -1;
        }
    }
    return 0;
}

/* -- the Python type -------------------------------------------------------------------- */

static void
Chain_dealloc(Chain *self)
{
    for (int s = 0; s < MAX_STAGES; s++) {
        PyMem_Free(self->stages[s].taps);
        PyMem_Free(self->stages[s].hist);
        PyMem_Free(self->stages[s].out);
    }
    PyMem_Free(self->pend);
    PyMem_Free(self->conv);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* One stage from (taps, up, down, k): taps a C-contiguous buffer of up*k float64, phase-major,
 * in signal units (the integer taps times 2**-q). */
static int
stage_init(Stage *st, PyObject *spec)
{
    Py_buffer taps;
    Py_ssize_t up, down, k;
    if (!PyTuple_Check(spec)) {
        PyErr_SetString(PyExc_TypeError, "a stage is a tuple (taps, up, down, k)");
        return -1;
    }
    if (!PyArg_ParseTuple(spec, "y*nnn;a stage is (taps, up, down, k)", &taps, &up, &down, &k)) {
        return -1;
    }
    int ok = 0;
    if (up < 1 || up > MAX_UP || down < 1 || down > MAX_UP || k < 1 || k > MAX_TAPS) {
        PyErr_Format(PyExc_ValueError, "stage sizes out of range: up %zd, down %zd, k %zd", up,
                     down, k);
    }
    else if (taps.len != up * k * (Py_ssize_t)sizeof(double)) {
        PyErr_Format(PyExc_ValueError, "taps: %zd bytes, expected %zd float64 (up %zd x k %zd)",
                     taps.len, up * k, up, k);
    }
    else {
        ok = 1;
    }
    if (!ok) {
        PyBuffer_Release(&taps);
        return -1;
    }
    Py_ssize_t kp = (k + LANES - 1) / LANES * LANES;
    st->up = up;
    st->down = down;
    st->k = kp;
    /* Room for the inputs kept between runs (< kp + down) and a CHUNK of new ones. */
    st->cap = kp + down + CHUNK;
    st->taps = PyMem_Calloc((size_t)(up * kp), sizeof(double));
    st->hist = PyMem_Calloc((size_t)st->cap, sizeof(double));
    st->out = PyMem_Calloc(RUN, sizeof(double));
    if (st->taps == NULL || st->hist == NULL || st->out == NULL) {
        PyBuffer_Release(&taps);
        PyErr_NoMemory();
        return -1;
    }
    const double *src = (const double *)taps.buf;
    for (Py_ssize_t p = 0; p < up; p++) {
        for (Py_ssize_t i = 0; i < k; i++) {
            double v = src[p * k + i];
            if (!(v > -1e300 && v < 1e300)) { /* inf or nan would spoil every sum it meets */
                PyBuffer_Release(&taps);
                PyErr_SetString(PyExc_ValueError, "taps must be finite");
                return -1;
            }
            /* Tap i weighs the input i samples before the newest, the window's last. */
            st->taps[p * kp + (kp - 1 - i)] = v;
        }
    }
    PyBuffer_Release(&taps);
    /* Zeros stand for the silence before the first input: kp - 1 of them. */
    st->fill = kp - 1;
    st->start = 0;
    st->t = 0;
    return 0;
}

static PyObject *
Chain_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"stages", "frame", "dc_block", "dc_pole", "gain", "channels", NULL};
    PyObject *stages;
    Py_ssize_t frame;
    int dc_block, channels = 1;
    double dc_pole, gain;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O!npdd|i:Chain", kwlist, &PyTuple_Type,
                                     &stages, &frame, &dc_block, &dc_pole, &gain, &channels)) {
        return NULL;
    }
    if (channels < 1 || channels > MAX_CHANNELS) {
        PyErr_Format(PyExc_ValueError, "channels must be 1 to %d, got %d", MAX_CHANNELS,
                     channels);
        return NULL;
    }
    Py_ssize_t nstages = PyTuple_GET_SIZE(stages);
    if (nstages > MAX_STAGES) {
        PyErr_Format(PyExc_ValueError, "at most %d stages, got %zd", MAX_STAGES, nstages);
        return NULL;
    }
    if (frame < 1 || frame > (1 << 24)) {
        PyErr_Format(PyExc_ValueError, "frame must be 1 to 2**24 samples, got %zd", frame);
        return NULL;
    }
    if (!(dc_pole > -1.0 && dc_pole < 1.0) || !(gain >= 0.0 && gain < 1e6)) {
        PyErr_SetString(PyExc_ValueError, "need -1 < dc_pole < 1 and 0 <= gain < 1e6");
        return NULL;
    }
    Chain *self = (Chain *)type->tp_alloc(type, 0); /* zeroed: dealloc frees only what is set */
    if (self == NULL) {
        return NULL;
    }
    for (Py_ssize_t s = 0; s < nstages; s++) {
        if (stage_init(&self->stages[s], PyTuple_GET_ITEM(stages, s)) < 0) {
            Py_DECREF(self);
            return NULL;
        }
    }
    if (nstages == 0 && (self->conv = PyMem_Calloc(CHUNK, sizeof(double))) == NULL) {
        Py_DECREF(self);
        return PyErr_NoMemory();
    }
    self->nstages = (int)nstages;
    self->channels = channels;
    self->dc_block = dc_block;
    self->dc_pole = dc_pole;
    self->gain = gain;
    self->frame = frame;
    return (PyObject *)self;
}

/* Make room in pend for n more inputs' outputs: each stage makes at most n*up/down + 2
 * outputs from n inputs (one more for a partly used cycle, one for the floor). */
static int
reserve(Chain *c, Py_ssize_t n)
{
    Py_ssize_t bound = n;
    for (int s = 0; s < c->nstages; s++) {
        bound = bound * c->stages[s].up / c->stages[s].down + 2;
    }
    Py_ssize_t need = c->pend_fill + bound;
    if (need <= c->pend_cap) {
        return 0;
    }
    Py_ssize_t cap = 2 * c->pend_cap > need ? 2 * c->pend_cap : need;
    int16_t *grown = PyMem_Realloc(c->pend, (size_t)cap * sizeof(int16_t));
    if (grown == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    c->pend = grown;
    c->pend_cap = cap;
    return 0;
}

PyDoc_STRVAR(Chain_push_doc,
"push(pcm) -> bytes\n\n"
"Append int16 frames of `channels` interleaved samples each (mixed down to their mean,\n"
"rounded half up): an int16 buffer (1-d, or 2-d with a column a channel, e.g. a numpy\n"
"array) or bytes of native int16. Return the frames now complete, joined, as native int16.");

/* The frames in a push's buffer (view, already taken): in and their count n, or -1 with an
 * exception set (the view is the caller's to release either way). */
static int
frames_of(const Chain *self, PyObject *pcm, const Py_buffer *view, Frames *in, Py_ssize_t *n)
{
    const char *fmt = view->format == NULL ? "B" : view->format;
    if (fmt[0] == '@' || fmt[0] == '=' || fmt[0] == '<' || fmt[0] == '>' || fmt[0] == '!') {
        int native_little = PY_LITTLE_ENDIAN;
        int little = fmt[0] == '<' || ((fmt[0] == '@' || fmt[0] == '=') && native_little);
        if (little != native_little) {
            PyErr_SetString(PyExc_TypeError, "PCM must be in native byte order");
            return -1;
        }
        fmt++;
    }
    const Py_ssize_t chans = self->channels;
    in->p = (const char *)view->buf;
    if (strcmp(fmt, "h") == 0 && view->itemsize == 2 && view->ndim == 2) {
        if (view->shape[1] != chans) {
            PyErr_Format(PyExc_ValueError, "expected %zd channels, got %zd", chans,
                         view->shape[1]);
            return -1;
        }
        *n = view->shape[0];
        in->frame_step = view->strides[0];
        in->chan_step = view->strides[1];
        return 0;
    }
    Py_ssize_t samples, step;
    if (strcmp(fmt, "h") == 0 && view->itemsize == 2 && view->ndim <= 1) {
        samples = view->ndim == 0 ? 1 : view->shape[0];
        step = view->ndim == 0 || view->strides == NULL ? 2 : view->strides[0];
    }
    else if (strcmp(fmt, "B") == 0 && view->itemsize == 1 && view->ndim <= 1 &&
             (PyBytes_Check(pcm) || PyByteArray_Check(pcm) || PyMemoryView_Check(pcm)) &&
             (view->ndim == 0 || view->strides == NULL || view->strides[0] == 1)) {
        if (view->len % 2) {
            PyErr_SetString(PyExc_ValueError, "PCM bytes must be whole int16 samples");
            return -1;
        }
        samples = view->len / 2;
        step = 2;
    }
    else {
        PyErr_Format(PyExc_TypeError,
                     "PCM must be a 1-d or 2-d int16 buffer or bytes, got format '%s' in %d-d",
                     view->format == NULL ? "B" : view->format, view->ndim);
        return -1;
    }
    if (samples % chans) {
        PyErr_Format(PyExc_ValueError, "%zd samples is not a whole number of %zd-channel frames",
                     samples, chans);
        return -1;
    }
    *n = samples / chans;
    in->frame_step = step * chans;
    in->chan_step = step;
    return 0;
}

static PyObject *
Chain_push(Chain *self, PyObject *pcm)
{
    Py_buffer view;
    if (PyObject_GetBuffer(pcm, &view, PyBUF_STRIDES | PyBUF_FORMAT) < 0) {
        return NULL;
    }
    Frames in;
    Py_ssize_t n;
    if (frames_of(self, pcm, &view, &in, &n) < 0) {
        PyBuffer_Release(&view);
        return NULL;
    }
    if (n > MAX_PUSH) {
        PyBuffer_Release(&view);
        PyErr_Format(PyExc_ValueError, "at most %zd frames a push, got %zd", MAX_PUSH, n);
        return NULL;
    }
    if (reserve(self, n) < 0) {
        PyBuffer_Release(&view);
        return NULL;
    }
    int failed = feed(self, 0, NULL, &in, n) < 0;
    PyBuffer_Release(&view);
    if (failed) {
        return NULL;
    }
    Py_ssize_t whole = self->pend_fill / self->frame * self->frame;
    PyObject *raw = PyBytes_FromStringAndSize((const char *)self->pend,
                                              whole * (Py_ssize_t)sizeof(int16_t));
    if (raw == NULL) {
        return NULL; /* the samples stay in pend for the next call */
    }
    self->pend_fill -= whole;
    memmove(self->pend, self->pend + whole, (size_t)self->pend_fill * sizeof(int16_t));
    return raw;
}

static PyMethodDef Chain_methods[] = {
    {"push", (PyCFunction)Chain_push, METH_O, Chain_push_doc},
    {NULL, NULL, 0, NULL},
};

PyDoc_STRVAR(Chain_doc,
"Chain(stages, frame, dc_block, dc_pole, gain, channels=1)\n\n"
"The mean of `channels` interleaved inputs (rounded half up), polyphase FIR stages, then\n"
"an optional DC blocker (y = x - x_prev + dc_pole * y_prev) and gain, rounded half to even\n"
"and saturated to int16, cut into frames of `frame` samples.\n"
"stages: a tuple of (taps, up, down, k), taps a buffer of up*k float64 (phase-major, the\n"
"integer taps times 2**-q). Output n of a stage is sum_i taps[p][i] * x[j - i] with\n"
"j = n*down // up and p = n*down % up; inputs before the first are zeros.");

static PyTypeObject ChainType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "booth.audio._fir.Chain",
    .tp_basicsize = sizeof(Chain),
    .tp_dealloc = (destructor)Chain_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = Chain_doc,
    .tp_methods = Chain_methods,
    .tp_new = Chain_new,
};

static struct PyModuleDef fir_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "booth.audio._fir",
    .m_doc = "The framer's fixed-point polyphase FIR engine (see booth/audio/framer.py).",
    .m_size = -1,
};

PyMODINIT_FUNC
PyInit__fir(void)
{
    if (PyType_Ready(&ChainType) < 0) {
        return NULL;
    }
    PyObject *m = PyModule_Create(&fir_module);
    if (m == NULL) {
        return NULL;
    }
    Py_INCREF(&ChainType);
    if (PyModule_AddObject(m, "Chain", (PyObject *)&ChainType) < 0) {
        Py_DECREF(&ChainType);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
