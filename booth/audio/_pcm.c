/*
 * booth.audio._pcm: the daemon's small per-block int16 PCM work, so that `booth run` needs
 * no numpy (numpy and its BLAS were 12.7 MB of the daemon's idle RSS; see README
 * "Performance"). Users: the level meter (booth/audio/levels.py), the jitter buffer's mix and
 * drain (booth/audio/jitter.py), mono to stereo for stereo-only speakers
 * (booth/audio/playback.py) and doctor's mic level.
 *
 * Every result is exact integer arithmetic, so it is the same on every platform and equal to
 * the numpy code it replaced (tests/audio/test_pcm.py holds it to a numpy reference).
 *
 * PCM is native-endian int16, taken through the buffer protocol: bytes, bytearray, a
 * memoryview of bytes (format 'B', an even length), or a C-contiguous 1-d int16 buffer such
 * as a numpy int16 array (format 'h'). Anything else raises TypeError; an odd byte count or
 * mismatched lengths raise ValueError. Nothing is allocated but the result.
 *
 * Samples are read and written with memcpy: a memoryview slice may start at any byte.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdint.h>
#include <string.h>

/* Acquire pcm as int16 samples (writable if asked); returns the sample count, or -1 with an
 * exception set and nothing to release. */
static Py_ssize_t
get_pcm(PyObject *pcm, Py_buffer *view, int writable, const char *what)
{
    if (PyObject_GetBuffer(pcm, view, PyBUF_STRIDES | PyBUF_FORMAT) < 0) {
        return -1;
    }
    if (writable && view->readonly) {
        PyErr_Format(PyExc_TypeError, "%s: PCM must be writable", what);
        goto fail;
    }
    const char *fmt = view->format == NULL ? "B" : view->format;
    if (fmt[0] == '@' || fmt[0] == '=' || fmt[0] == '<' || fmt[0] == '>' || fmt[0] == '!') {
        int native_little = PY_LITTLE_ENDIAN;
        int little = fmt[0] == '<' || ((fmt[0] == '@' || fmt[0] == '=') && native_little);
        if (little != native_little) {
            PyErr_Format(PyExc_TypeError, "%s: PCM must be in native byte order", what);
            goto fail;
        }
        fmt++;
    }
    int is_int16 = strcmp(fmt, "h") == 0 && view->itemsize == 2 && view->ndim == 1;
    /* Bytes-like only: a numpy uint8 array (also 'B') is not taken for PCM. */
    int is_bytes = strcmp(fmt, "B") == 0 && view->itemsize == 1 && view->ndim <= 1 &&
                   (PyBytes_Check(pcm) || PyByteArray_Check(pcm) || PyMemoryView_Check(pcm));
    if (!is_int16 && !is_bytes) {
        PyErr_Format(PyExc_TypeError, "%s: PCM must be a 1-d int16 buffer or bytes, got "
                     "format '%s' of item size %zd", what,
                     view->format == NULL ? "B" : view->format, view->itemsize);
        goto fail;
    }
    if (!PyBuffer_IsContiguous(view, 'C')) {
        PyErr_Format(PyExc_ValueError, "%s: PCM must be contiguous", what);
        goto fail;
    }
    if (view->len % 2) {
        PyErr_Format(PyExc_ValueError, "%s: %zd bytes is not whole int16 samples", what,
                     view->len);
        goto fail;
    }
    return view->len / 2;
fail:
    PyBuffer_Release(view);
    return -1;
}

static inline int16_t
load(const char *p, Py_ssize_t i)
{
    int16_t v;
    memcpy(&v, p + 2 * i, sizeof v);
    return v;
}

static inline void
store(char *p, Py_ssize_t i, int16_t v)
{
    memcpy(p + 2 * i, &v, sizeof v);
}

PyDoc_STRVAR(sum_squares_doc,
"sum_squares(pcm, /) -> int\n\n"
"The exact sum of the squares of the samples (0 for none).");

static PyObject *
sum_squares(PyObject *module, PyObject *pcm)
{
    Py_buffer view;
    Py_ssize_t n = get_pcm(pcm, &view, 0, "sum_squares");
    if (n < 0) {
        return NULL;
    }
    /* A square is at most 2**30, so 2**34 samples (32 GiB) fit in 64 bits. */
    const char *p = view.buf;
    uint64_t sum = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        int32_t v = load(p, i);
        sum += (uint64_t)(v * v);
    }
    PyBuffer_Release(&view);
    return PyLong_FromUnsignedLongLong(sum);
}

PyDoc_STRVAR(add_saturating_doc,
"add_saturating(dst, src, /) -> None\n\n"
"Add src into dst sample by sample, in place, saturating at -32768 and 32767. dst must be\n"
"writable and as long as src.");

static PyObject *
add_saturating(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2) {
        PyErr_Format(PyExc_TypeError, "add_saturating takes 2 arguments (%zd given)", nargs);
        return NULL;
    }
    Py_buffer dst, src;
    Py_ssize_t n = get_pcm(args[0], &dst, 1, "add_saturating dst");
    if (n < 0) {
        return NULL;
    }
    Py_ssize_t m = get_pcm(args[1], &src, 0, "add_saturating src");
    if (m < 0) {
        PyBuffer_Release(&dst);
        return NULL;
    }
    if (n != m) {
        PyBuffer_Release(&dst);
        PyBuffer_Release(&src);
        PyErr_Format(PyExc_ValueError, "add_saturating: dst has %zd samples, src %zd", n, m);
        return NULL;
    }
    /* First sample to last. dst may be src itself; a src overlapping dst at an offset would
     * see samples already written (no caller passes one). */
    char *d = dst.buf;
    const char *s = src.buf;
    for (Py_ssize_t i = 0; i < n; i++) {
        int32_t v = (int32_t)load(d, i) + load(s, i);
        v = v < -32768 ? -32768 : v;
        v = v > 32767 ? 32767 : v;
        store(d, i, (int16_t)v);
    }
    PyBuffer_Release(&dst);
    PyBuffer_Release(&src);
    Py_RETURN_NONE;
}

PyDoc_STRVAR(quiet_units_doc,
"quiet_units(pcm, unit, limit, /) -> bytes\n\n"
"One byte for each run of `unit` samples: 1 if every sample of it is within -limit..limit,\n"
"else 0. The sample count must be a whole number of units.");

static PyObject *
quiet_units(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 3) {
        PyErr_Format(PyExc_TypeError, "quiet_units takes 3 arguments (%zd given)", nargs);
        return NULL;
    }
    Py_ssize_t unit = PyLong_AsSsize_t(args[1]);
    if (unit == -1 && PyErr_Occurred()) {
        return NULL;
    }
    long limit = PyLong_AsLong(args[2]);
    if (limit == -1 && PyErr_Occurred()) {
        return NULL;
    }
    if (unit < 1) {
        PyErr_Format(PyExc_ValueError, "quiet_units: unit must be at least 1, got %zd", unit);
        return NULL;
    }
    if (limit < 0 || limit > 32768) {
        PyErr_Format(PyExc_ValueError, "quiet_units: limit must be 0..32768, got %ld", limit);
        return NULL;
    }
    Py_buffer view;
    Py_ssize_t n = get_pcm(args[0], &view, 0, "quiet_units");
    if (n < 0) {
        return NULL;
    }
    if (n % unit) {
        PyBuffer_Release(&view);
        PyErr_Format(PyExc_ValueError, "quiet_units: %zd samples is not whole units of %zd", n,
                     unit);
        return NULL;
    }
    PyObject *flags = PyBytes_FromStringAndSize(NULL, n / unit);
    if (flags == NULL) {
        PyBuffer_Release(&view);
        return NULL;
    }
    char *out = PyBytes_AS_STRING(flags);
    const char *p = view.buf;
    /* |v| <= limit as one unsigned compare: v + limit in 0..2*limit. */
    const uint32_t span = 2 * (uint32_t)limit;
    for (Py_ssize_t u = 0; u < n / unit; u++) {
        int quiet = 1;
        for (Py_ssize_t i = u * unit; i < (u + 1) * unit; i++) {
            quiet &= (uint32_t)((int32_t)load(p, i) + (int32_t)limit) <= span;
        }
        out[u] = (char)quiet;
    }
    PyBuffer_Release(&view);
    return flags;
}

PyDoc_STRVAR(to_stereo_doc,
"to_stereo(mono, /) -> bytes\n\n"
"Interleaved stereo with each sample in both channels.");

static PyObject *
to_stereo(PyObject *module, PyObject *mono)
{
    Py_buffer view;
    Py_ssize_t n = get_pcm(mono, &view, 0, "to_stereo");
    if (n < 0) {
        return NULL;
    }
    if (n > PY_SSIZE_T_MAX / 4) {
        PyBuffer_Release(&view);
        return PyErr_NoMemory();
    }
    PyObject *out = PyBytes_FromStringAndSize(NULL, 4 * n);
    if (out == NULL) {
        PyBuffer_Release(&view);
        return NULL;
    }
    char *d = PyBytes_AS_STRING(out);
    const char *s = view.buf;
    for (Py_ssize_t i = 0; i < n; i++) {
        int16_t v = load(s, i);
        store(d, 2 * i, v);
        store(d, 2 * i + 1, v);
    }
    PyBuffer_Release(&view);
    return out;
}

static PyMethodDef pcm_methods[] = {
    {"sum_squares", (PyCFunction)sum_squares, METH_O, sum_squares_doc},
    {"add_saturating", (PyCFunction)(void (*)(void))add_saturating, METH_FASTCALL,
     add_saturating_doc},
    {"quiet_units", (PyCFunction)(void (*)(void))quiet_units, METH_FASTCALL, quiet_units_doc},
    {"to_stereo", (PyCFunction)to_stereo, METH_O, to_stereo_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef pcm_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "booth.audio._pcm",
    .m_doc = "Small exact int16 PCM operations for the daemon (see booth/audio/_pcm.c).",
    .m_size = 0,
    .m_methods = pcm_methods,
};

PyMODINIT_FUNC
PyInit__pcm(void)
{
    return PyModuleDef_Init(&pcm_module);
}
