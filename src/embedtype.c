/*
 * embedtype.c — element types, metrics, and the resolver from an opclass's
 * distance support function to them (see embedtype.h for why).
 *
 * Each element type is one EmbedType below plus its rows in `resolvers`:
 * the C function of each distance support function it offers and the
 * metric that function computes.  Matching by function address is what
 * lets the engines call a kernel directly instead of going through fmgr
 * (and what makes a user-defined opclass over the same functions work too).
 */
#include "postgres.h"

#include <math.h>

#include "utils/varbit.h"

#include "embedtype.h"
#include "kernels.h"
#include "sparsevec.h"
#include "vector.h"

/* ---------- metrics over float32 ---------- */

double
embed_metric_dense(EmbedMetric metric, const float *a, const float *b, int n)
{
	switch (metric)
	{
		case EMBED_METRIC_L2SQ:
			return embed_l2sq(a, b, n);
		case EMBED_METRIC_NEG_IP:
			return -embed_dot(a, b, n);
		case EMBED_METRIC_COSINE:
			return embed_cosine_distance(a, b, n);
		case EMBED_METRIC_L1:
			return embed_l1(a, b, n);
		default:
			elog(ERROR, "embed: metric %s has no float32 kernel", embed_metric_name(metric));
	}
	return 0;					/* keep compiler quiet */
}

double
embed_metric_order_value(EmbedMetric metric, double dist)
{
	if (metric == EMBED_METRIC_L2SQ)
		return sqrt(Max(dist, 0));
	return dist;
}

const char *
embed_metric_name(EmbedMetric metric)
{
	switch (metric)
	{
		case EMBED_METRIC_NONE:
			return "none";
		case EMBED_METRIC_L2SQ:
			return "l2";
		case EMBED_METRIC_NEG_IP:
			return "inner product";
		case EMBED_METRIC_COSINE:
			return "cosine";
		case EMBED_METRIC_L1:
			return "l1";
		case EMBED_METRIC_HAMMING:
			return "hamming";
		case EMBED_METRIC_JACCARD:
			return "jaccard";
	}
	return "?";
}

/* ---------- vector: float32 components ---------- */

static int
vector_dims_of(const void *value)
{
	return ((const Vector *) value)->dim;
}

static void
vector_to_float(const void *value, float *out)
{
	const Vector *v = (const Vector *) value;

	memcpy(out, v->x, sizeof(float) * v->dim);
}

static const float *
vector_float_view(const void *value)
{
	return ((const Vector *) value)->x;
}

static double
vector_distance(EmbedMetric metric, const void *a, const void *b)
{
	const Vector *va = (const Vector *) a;
	const Vector *vb = (const Vector *) b;

	return embed_metric_dense(metric, va->x, vb->x, va->dim);
}

static Size
vector_value_size(int dim)
{
	return VECTOR_SIZE(dim);
}

static Size
vector_packed_size(int dim)
{
	return sizeof(float) * dim;
}

static const void *
vector_packed(const void *value)
{
	return ((const Vector *) value)->x;
}

static void
vector_packed_to_float(const void *packed, int dim, float *out)
{
	memcpy(out, packed, sizeof(float) * dim);
}

const EmbedType embed_type_vector = {
	.name = "vector",
	.max_dim = VECTOR_MAX_DIM,
	.max_index_dim = VECTOR_MAX_DIM,
	.metrics = EMBED_METRIC_BIT(EMBED_METRIC_L2SQ) | EMBED_METRIC_BIT(EMBED_METRIC_NEG_IP) |
	EMBED_METRIC_BIT(EMBED_METRIC_COSINE) | EMBED_METRIC_BIT(EMBED_METRIC_L1),
	.dense = true,
	.dims = vector_dims_of,
	.value_size = vector_value_size,
	.to_float = vector_to_float,
	.float_view = vector_float_view,
	.distance = vector_distance,
	.packed_size = vector_packed_size,
	.packed = vector_packed,
	.packed_to_float = vector_packed_to_float
};

/* ---------- halfvec: binary16 components, decoded to float32 ---------- */

static int
halfvec_dims_of(const void *value)
{
	return ((const HalfVec *) value)->dim;
}

static void
halfvec_to_float(const void *value, float *out)
{
	const HalfVec *v = (const HalfVec *) value;

	embed_active_kernels->half_to_float(v->x, out, v->dim);
}

/*
 * Decode both operands with the SIMD kernel (on the stack up to 1024
 * dimensions), then the float32 kernels.  A first version: kernels that
 * read binary16 directly would save the decoding pass.
 */
#define HALF_STACK_DIMS 1024

static double
halfvec_distance(EmbedMetric metric, const void *a, const void *b)
{
	const HalfVec *ha = (const HalfVec *) a;
	const HalfVec *hb = (const HalfVec *) b;
	int			n = ha->dim;
	float		sa[HALF_STACK_DIMS],
				sb[HALF_STACK_DIMS];
	float	   *x = n <= HALF_STACK_DIMS ? sa : palloc(sizeof(float) * n);
	float	   *y = n <= HALF_STACK_DIMS ? sb : palloc(sizeof(float) * n);
	double		d;

	embed_active_kernels->half_to_float(ha->x, x, n);
	embed_active_kernels->half_to_float(hb->x, y, n);
	d = embed_metric_dense(metric, x, y, n);
	if (x != sa)
	{
		pfree(x);
		pfree(y);
	}
	return d;
}

static Size
halfvec_value_size(int dim)
{
	return offsetof(HalfVec, x) + sizeof(uint16) * dim;
}

static Size
halfvec_packed_size(int dim)
{
	return sizeof(uint16) * dim;
}

static const void *
halfvec_packed(const void *value)
{
	return ((const HalfVec *) value)->x;
}

static void
halfvec_packed_to_float(const void *packed, int dim, float *out)
{
	embed_active_kernels->half_to_float((const uint16 *) packed, out, dim);
}

const EmbedType embed_type_halfvec = {
	.name = "halfvec",
	.max_dim = HALFVEC_MAX_DIM,
	.max_index_dim = HALFVEC_MAX_DIM,
	.metrics = EMBED_METRIC_BIT(EMBED_METRIC_L2SQ) | EMBED_METRIC_BIT(EMBED_METRIC_NEG_IP) |
	EMBED_METRIC_BIT(EMBED_METRIC_COSINE) | EMBED_METRIC_BIT(EMBED_METRIC_L1),
	.dense = true,
	.dims = halfvec_dims_of,
	.value_size = halfvec_value_size,
	.to_float = halfvec_to_float,
	.float_view = NULL,
	.distance = halfvec_distance,
	.packed_size = halfvec_packed_size,
	.packed = halfvec_packed,
	.packed_to_float = halfvec_packed_to_float
};

/*
 * ---------- sparsevec: float4 values at a few of up to 1e9 dimensions ----------
 *
 * Not dense: decoding to float32 would cost the dimensions, not the
 * non-zeros, and may not fit in memory at a billion dimensions.  The index
 * engines reach it through its own kernel (sparsevec.c: merge walks of the
 * two sorted index lists) or, like hnsw today, through the opclass's
 * support functions.  max_index_dim is its full range: hnsw stores values
 * as they are (up to 16,000 non-zeros, 128 KB, on overflow pages), so the
 * dimensions do not limit it.
 */
const EmbedType embed_type_sparsevec = {
	.name = "sparsevec",
	.max_dim = SPARSEVEC_MAX_DIM,
	.max_index_dim = SPARSEVEC_MAX_DIM,
	.metrics = EMBED_METRIC_BIT(EMBED_METRIC_L2SQ) | EMBED_METRIC_BIT(EMBED_METRIC_NEG_IP) |
	EMBED_METRIC_BIT(EMBED_METRIC_COSINE) | EMBED_METRIC_BIT(EMBED_METRIC_L1),
	.dense = false,
	.dims = embed_sparse_dims,
	.to_float = NULL,
	.float_view = NULL,
	.distance = embed_sparse_distance
};

/* ---------- bit: PostgreSQL's bit strings, one bit per dimension ---------- */

/* the most bits embed indexes: 64,000 (8,000 bytes, one page's worth) */
#define BIT_MAX_INDEX_DIM	64000

static int
bit_dims_of(const void *value)
{
	return VARBITLEN((const VarBit *) value);
}

static double
bit_distance(EmbedMetric metric, const void *a, const void *b)
{
	const VarBit *ba = (const VarBit *) a;
	const VarBit *bb = (const VarBit *) b;
	int			nbytes = VARBITBYTES(ba);

	if (metric == EMBED_METRIC_HAMMING)
		return embed_hamming(VARBITS(ba), VARBITS(bb), nbytes);
	return embed_jaccard(VARBITS(ba), VARBITS(bb), nbytes);
}

/*
 * Bits as 0/1 floats, for ivfflat's k-means and list assignment: between
 * 0/1 points the squared L2 distance is the Hamming distance, so centroids
 * found in float space cluster the bit strings by Hamming distance.
 */
static void
bit_to_float(const void *value, float *out)
{
	const VarBit *b = (const VarBit *) value;
	const bits8 *p = VARBITS(b);
	int			n = VARBITLEN(b);

	for (int i = 0; i < n; i++)
		out[i] = (p[i / BITS_PER_BYTE] >> (BITS_PER_BYTE - 1 - i % BITS_PER_BYTE)) & 1;
}

static Size
bit_value_size(int dim)
{
	return VARBITTOTALLEN(dim);
}

static Size
bit_packed_size(int dim)
{
	return (dim + BITS_PER_BYTE - 1) / BITS_PER_BYTE;
}

static const void *
bit_packed(const void *value)
{
	return VARBITS((const VarBit *) value);
}

const EmbedType embed_type_bit = {
	.name = "bit",
	.max_dim = VARBITMAXLEN,
	.max_index_dim = BIT_MAX_INDEX_DIM,
	.metrics = EMBED_METRIC_BIT(EMBED_METRIC_HAMMING) | EMBED_METRIC_BIT(EMBED_METRIC_JACCARD),
	.dense = false,
	.dims = bit_dims_of,
	.value_size = bit_value_size,
	.to_float = bit_to_float,
	.float_view = NULL,
	.distance = bit_distance,
	.packed_size = bit_packed_size,
	.packed = bit_packed,
	.packed_to_float = NULL
};

/*
 * The SQL functions on bit strings.  PostgreSQL pads the last byte with
 * zeros, so whole bytes can be compared.
 */
static void
check_same_bits(const VarBit *a, const VarBit *b)
{
	if (VARBITLEN(a) != VARBITLEN(b))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("different bit lengths %d and %d", VARBITLEN(a), VARBITLEN(b))));
}

PG_FUNCTION_INFO_V1(embed_hamming_distance);
Datum
embed_hamming_distance(PG_FUNCTION_ARGS)
{
	VarBit	   *a = PG_GETARG_VARBIT_P(0);
	VarBit	   *b = PG_GETARG_VARBIT_P(1);

	check_same_bits(a, b);
	PG_RETURN_FLOAT8(bit_distance(EMBED_METRIC_HAMMING, a, b));
}

PG_FUNCTION_INFO_V1(embed_jaccard_distance);
Datum
embed_jaccard_distance(PG_FUNCTION_ARGS)
{
	VarBit	   *a = PG_GETARG_VARBIT_P(0);
	VarBit	   *b = PG_GETARG_VARBIT_P(1);

	check_same_bits(a, b);
	PG_RETURN_FLOAT8(bit_distance(EMBED_METRIC_JACCARD, a, b));
}

/* ---------- queries against packed values ---------- */

void
embed_packed_query(EmbedPackedQuery *pq, EmbedOpclass oc, const void *value)
{
	const EmbedType *type = oc.type;

	Assert(type != NULL && type->packed != NULL);
	memset(pq, 0, sizeof(*pq));
	pq->oc = oc;
	pq->dim = type->dims(value);
	pq->packed = type->packed(value);
	if (type->dense)
	{
		if (type->float_view != NULL)
			pq->x = type->float_view(value);
		else
		{
			float	   *x = palloc(sizeof(float) * Max(pq->dim, 1));

			type->to_float(value, x);
			pq->x = x;
			pq->scratch = palloc(sizeof(float) * Max(pq->dim, 1));
		}
	}
}

double
embed_packed_distance(const EmbedPackedQuery *pq, const void *packed)
{
	const EmbedType *type = pq->oc.type;

	if (!type->dense)
	{
		/* bit: the two bit strings' bytes */
		Size		nbytes = type->packed_size(pq->dim);

		if (pq->oc.metric == EMBED_METRIC_HAMMING)
			return embed_hamming(pq->packed, packed, nbytes);
		return embed_jaccard(pq->packed, packed, nbytes);
	}
	if (pq->scratch == NULL)
		return embed_metric_dense(pq->oc.metric, pq->x, (const float *) packed, pq->dim);
	type->packed_to_float(packed, pq->dim, pq->scratch);
	return embed_metric_dense(pq->oc.metric, pq->x, pq->scratch, pq->dim);
}

/* ---------- resolving an opclass ---------- */

typedef struct Resolver
{
	PGFunction	fn;
	const EmbedType *type;
	EmbedMetric metric;
} Resolver;

static const Resolver resolvers[] = {
	{vector_l2_squared_distance, &embed_type_vector, EMBED_METRIC_L2SQ},
	{vector_negative_inner_product, &embed_type_vector, EMBED_METRIC_NEG_IP},
	{vector_cosine_distance, &embed_type_vector, EMBED_METRIC_COSINE},
	{vector_l1_distance, &embed_type_vector, EMBED_METRIC_L1},
	{halfvec_l2_squared_distance, &embed_type_halfvec, EMBED_METRIC_L2SQ},
	{halfvec_negative_inner_product, &embed_type_halfvec, EMBED_METRIC_NEG_IP},
	{halfvec_cosine_distance, &embed_type_halfvec, EMBED_METRIC_COSINE},
	{halfvec_l1_distance, &embed_type_halfvec, EMBED_METRIC_L1},
	{sparsevec_l2_squared_distance, &embed_type_sparsevec, EMBED_METRIC_L2SQ},
	{sparsevec_negative_inner_product, &embed_type_sparsevec, EMBED_METRIC_NEG_IP},
	{sparsevec_cosine_distance, &embed_type_sparsevec, EMBED_METRIC_COSINE},
	{sparsevec_l1_distance, &embed_type_sparsevec, EMBED_METRIC_L1},
	{embed_hamming_distance, &embed_type_bit, EMBED_METRIC_HAMMING},
	{embed_jaccard_distance, &embed_type_bit, EMBED_METRIC_JACCARD},
};

EmbedOpclass
embed_opclass_of(FmgrInfo *distproc)
{
	EmbedOpclass oc = {NULL, EMBED_METRIC_NONE};

	for (int i = 0; i < (int) lengthof(resolvers); i++)
		if (distproc->fn_addr == resolvers[i].fn)
		{
			oc.type = resolvers[i].type;
			oc.metric = resolvers[i].metric;
			break;
		}
	return oc;
}

bool
embed_distance_direct(EmbedOpclass oc, Datum a, Datum b, double *dist)
{
	const void *pa = DatumGetPointer(a);
	const void *pb = DatumGetPointer(b);

	if (oc.type == NULL || VARATT_IS_EXTENDED(pa) || VARATT_IS_EXTENDED(pb) ||
		oc.type->dims(pa) != oc.type->dims(pb))
		return false;
	*dist = oc.type->distance(oc.metric, pa, pb);
	return true;
}
