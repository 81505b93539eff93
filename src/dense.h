/*
 * dense.h — the dense vector types' SQL layer, written once for every
 * element storage.
 *
 * `vector` and `halfvec` share their layout (varlena header | int16 dim |
 * int16 unused | dim elements) and every SQL function: I/O, typmods, casts,
 * arithmetic, ordering, distances, aggregates.  What differs is how an
 * element is stored, and that is all a DenseCodec says: its size, how to
 * decode elements to float32 and encode them back (with the range check),
 * the wire form of an element, and the type's EmbedType (name and limits,
 * the description the index engines use).
 *
 * vector.c writes each SQL function once as an always-inlined generic body
 * taking a codec, and a macro stamps out one fmgr entry point per type that
 * passes its codec as a constant.  The compiler then folds every codec test
 * away: for vector, "decoding" is the pointer to the stored float4s and
 * "encoding" writes into the result in place, so its code is what a
 * vector-only function would be; for halfvec, values are decoded with the
 * SIMD half_to_float kernel into a scratch array and results encoded with
 * embed_float_to_half.
 */
#ifndef EMBED_DENSE_H
#define EMBED_DENSE_H

#include "fmgr.h"
#include "lib/stringinfo.h"

#include "embedtype.h"

/* Any dense value: the common header; elements start at `data`. */
typedef struct DenseValue
{
	int32		vl_len_;		/* varlena header (do not touch directly) */
	int16		dim;
	int16		unused;			/* always 0 */
	char		data[FLEXIBLE_ARRAY_MEMBER];
} DenseValue;

#define DENSE_HDRSZ		offsetof(DenseValue, data)

typedef struct DenseCodec
{
	const EmbedType *type;		/* SQL name, max_dim */
	int			elem_size;		/* bytes per stored element */
	/* elements are float4: reading is a view, writing is in place */
	bool		float_storage;

	/* n stored elements -> float32 (not called when float_storage) */
	void		(*decode) (const void *src, float *out, int n);
	/*
	 * n finite float32 -> stored elements; returns the index of the first
	 * value outside the element's finite range, or -1 (not called when
	 * float_storage)
	 */
	int			(*encode) (const float *x, void *dst, int n);
	/* element i as float32 (ordering, checks) */
	float		(*elem) (const void *data, int i);
	/* n elements from / to the big-endian wire form; recv validates */
	void		(*recv) (StringInfo buf, void *dst, int n, const char *typname);
	void		(*send) (StringInfo buf, const void *src, int n);
} DenseCodec;

/* the codecs (defined in vector.c) */
extern const DenseCodec *const embed_dense_vector;
extern const DenseCodec *const embed_dense_halfvec;

/* how an out-of-range result is reported */
typedef enum DenseRange
{
	DENSE_RANGE_INPUT,			/* "X" is out of range for type T (22003) */
	DENSE_RANGE_ARITH			/* value out of range: overflow (22003) */
} DenseRange;

extern void embed_dense_range_error(const DenseCodec *c, float v, DenseRange how);
extern void embed_dense_underflow_error(void);

static inline DenseValue *
dense_new(const DenseCodec *c, int dim)
{
	Size		size = DENSE_HDRSZ + (Size) c->elem_size * dim;
	DenseValue *v = (DenseValue *) palloc0(size);

	SET_VARSIZE(v, size);
	v->dim = dim;
	return v;
}

/*
 * v's components as float32: the stored array itself for float storage,
 * else decoded into `stack` (room for stackdims floats) or, if larger, a
 * palloc'd array.  Release with dense_read_done.
 */
static inline const float *
dense_read(const DenseCodec *c, const DenseValue *v, float *stack, int stackdims)
{
	float	   *out;

	if (c->float_storage)
		return (const float *) v->data;
	out = v->dim <= stackdims ? stack : (float *) palloc(sizeof(float) * v->dim);
	c->decode(v->data, out, v->dim);
	return out;
}

static inline void
dense_read_done(const DenseCodec *c, const float *x, const float *stack)
{
	if (!c->float_storage && x != stack)
		pfree(unconstify(float *, x));
}

/*
 * Where to write r's components as float32: r's own array for float
 * storage, else a scratch array that dense_write_done encodes into r.
 */
static inline float *
dense_write(const DenseCodec *c, DenseValue *r)
{
	if (c->float_storage)
		return (float *) r->data;
	return (float *) palloc(sizeof(float) * r->dim);
}

/*
 * Encode x (from dense_write) into r.  Values beyond the element's range
 * are errors; with check_underflow, so are non-zero values that become
 * zero (as float4mul does).
 */
static inline void
dense_write_done(const DenseCodec *c, DenseValue *r, float *x, DenseRange how,
				 bool check_underflow)
{
	int			bad;

	if (c->float_storage)
		return;
	bad = c->encode(x, r->data, r->dim);
	if (bad >= 0)
		embed_dense_range_error(c, x[bad], how);
	if (check_underflow)
		for (int i = 0; i < r->dim; i++)
			if (x[i] != 0.0f && c->elem(r->data, i) == 0.0f)
				embed_dense_underflow_error();
	pfree(x);
}

#endif
