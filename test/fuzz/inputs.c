/*
 * inputs.c — libFuzzer harness for embed's input functions, outside the
 * server.
 *
 * Links the extension's own objects (vecparse, vector, sparsevec, kernels,
 * embedtype, detoast: built again by `make fuzz` with clang, ASan and UBSan)
 * against the small set of backend functions they call, written here for a
 * program without a server: palloc and friends (each chunk its own malloc,
 * so that ASan sees every overrun; all freed after each input), ereport (the
 * error's SQLSTATE is recorded and errfinish longjmps back here), and the
 * StringInfo message readers/writers of pqformat.  Functions the input paths
 * never reach abort, so that reaching one is a finding too.
 *
 * The target is chosen by EMBED_FUZZ_TARGET: vector, halfvec, sparsevec (text
 * input) or vector-bin, halfvec-bin, sparsevec-bin (binary input).  For each
 * input the harness calls the type's input function; a rejection must carry
 * an allowed SQLSTATE (the same lists as test/t/016_fuzz_inputs.pl); an
 * accepted value must round-trip: out -> in and send -> recv give the same
 * bytes, and for binary input send gives back the payload.  Anything else
 * aborts, which libFuzzer reports as a crash with the input saved.
 */
#include "postgres.h"

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>

#include "fmgr.h"
#include "lib/stringinfo.h"
#include "libpq/pqformat.h"
#include "utils/memutils.h"

extern Datum vector_in(PG_FUNCTION_ARGS);
extern Datum vector_out(PG_FUNCTION_ARGS);
extern Datum vector_recv(PG_FUNCTION_ARGS);
extern Datum vector_send(PG_FUNCTION_ARGS);
extern Datum halfvec_in(PG_FUNCTION_ARGS);
extern Datum halfvec_out(PG_FUNCTION_ARGS);
extern Datum halfvec_recv(PG_FUNCTION_ARGS);
extern Datum halfvec_send(PG_FUNCTION_ARGS);
extern Datum sparsevec_in(PG_FUNCTION_ARGS);
extern Datum sparsevec_out(PG_FUNCTION_ARGS);
extern Datum sparsevec_recv(PG_FUNCTION_ARGS);
extern Datum sparsevec_send(PG_FUNCTION_ARGS);

/* ---------- memory: every chunk tracked, all freed after each input ---------- */

static void **chunks;
static int	nchunks,
			capchunks;

static void *
track(void *p)
{
	if (nchunks == capchunks)
	{
		capchunks = capchunks ? capchunks * 2 : 64;
		chunks = realloc(chunks, sizeof(void *) * capchunks);
		if (chunks == NULL)
			abort();
	}
	chunks[nchunks++] = p;
	return p;
}

static int
find_chunk(void *p)
{
	for (int i = nchunks - 1; i >= 0; i--)
		if (chunks[i] == p)
			return i;
	fprintf(stderr, "pfree/repalloc of a pointer palloc did not return\n");
	abort();
}

static void
free_all(void)
{
	for (int i = 0; i < nchunks; i++)
		free(chunks[i]);
	nchunks = 0;
}

static void alloc_error(Size size);

void *
palloc(Size size)
{
	void	   *p;

	if (!AllocSizeIsValid(size))
		alloc_error(size);
	p = malloc(size ? size : 1);
	if (p == NULL)
		abort();
	return track(p);
}

void *
palloc0(Size size)
{
	void	   *p = palloc(size);

	memset(p, 0, size);
	return p;
}

void *
repalloc(void *ptr, Size size)
{
	int			i = find_chunk(ptr);
	void	   *p;

	if (!AllocSizeIsValid(size))
		alloc_error(size);
	p = realloc(ptr, size ? size : 1);
	if (p == NULL)
		abort();
	chunks[i] = p;
	return p;
}

void
pfree(void *ptr)
{
	int			i = find_chunk(ptr);

	free(ptr);
	chunks[i] = chunks[--nchunks];
}

/* ---------- ereport ---------- */

static sigjmp_buf *error_jump;
static int	error_elevel;
static int	error_code;
static char error_msg[1024];

bool
errstart(int elevel, const char *domain)
{
	if (elevel < ERROR)
		return false;			/* notices and below: not interesting */
	error_elevel = elevel;
	error_code = ERRCODE_INTERNAL_ERROR;	/* unless errcode says otherwise */
	error_msg[0] = '\0';
	return true;
}

bool
errstart_cold(int elevel, const char *domain)
{
	return errstart(elevel, domain);
}

int
errcode(int sqlerrcode)
{
	error_code = sqlerrcode;
	return 0;
}

/* format the message, so that its arguments are read as the server would */
int
errmsg(const char *fmt,...)
{
	va_list		ap;

	va_start(ap, fmt);
	vsnprintf(error_msg, sizeof(error_msg), fmt, ap);
	va_end(ap);
	return 0;
}

int
errmsg_internal(const char *fmt,...)
{
	va_list		ap;

	va_start(ap, fmt);
	vsnprintf(error_msg, sizeof(error_msg), fmt, ap);
	va_end(ap);
	return 0;
}

void
errfinish(const char *filename, int lineno, const char *funcname)
{
	if (error_jump == NULL)
	{
		fprintf(stderr, "error outside an input function: %s\n", error_msg);
		abort();
	}
	siglongjmp(*error_jump, 1);
}

static void
alloc_error(Size size)
{
	/* what palloc raises: an internal error, which no input may cause */
	errstart(ERROR, NULL);
	snprintf(error_msg, sizeof(error_msg), "invalid memory alloc request size %zu", size);
	errfinish(__FILE__, __LINE__, __func__);
}

/* ---------- what the input paths call from the backend ---------- */

struct varlena *
pg_detoast_datum(struct varlena *datum)
{
	if (VARATT_IS_EXTENDED(datum))
		abort();				/* the harness only makes plain values */
	return datum;
}

void
pq_begintypsend(StringInfo buf)
{
	initStringInfo(buf);
	appendStringInfoSpaces(buf, VARHDRSZ);
}

bytea *
pq_endtypsend(StringInfo buf)
{
	bytea	   *result = (bytea *) buf->data;

	SET_VARSIZE(result, buf->len);
	return result;
}

void
pq_sendfloat4(StringInfo buf, float4 f)
{
	union
	{
		float4		f;
		uint32		i;
	}			u;

	u.f = f;
	pq_sendint32(buf, u.i);
}

static void
msg_short(void)
{
	ereport(ERROR,
			(errcode(ERRCODE_PROTOCOL_VIOLATION),
			 errmsg("no data left in message")));
}

unsigned int
pq_getmsgint(StringInfo msg, int b)
{
	const unsigned char *p;
	unsigned int v = 0;

	if (b != 1 && b != 2 && b != 4)
		abort();
	if (msg->cursor < 0 || b > msg->len - msg->cursor)
		msg_short();
	p = (const unsigned char *) msg->data + msg->cursor;
	for (int i = 0; i < b; i++)
		v = (v << 8) | p[i];
	msg->cursor += b;
	return v;
}

float4
pq_getmsgfloat4(StringInfo msg)
{
	union
	{
		float4		f;
		uint32		i;
	}			u;

	u.i = pq_getmsgint(msg, 4);
	return u.f;
}

/* what the input paths never reach aborts: test/fuzz/unreached.c */

/* ---------- the targets ---------- */

typedef struct Target
{
	const char *name;
	bool		binary;
	PGFunction	in,
				out,
				recv,
				send;
} Target;

static const Target targets[] = {
	{"vector", false, vector_in, vector_out, vector_recv, vector_send},
	{"halfvec", false, halfvec_in, halfvec_out, halfvec_recv, halfvec_send},
	{"sparsevec", false, sparsevec_in, sparsevec_out, sparsevec_recv, sparsevec_send},
	{"vector-bin", true, vector_in, vector_out, vector_recv, vector_send},
	{"halfvec-bin", true, halfvec_in, halfvec_out, halfvec_recv, halfvec_send},
	{"sparsevec-bin", true, sparsevec_in, sparsevec_out, sparsevec_recv, sparsevec_send},
};

static const Target *target;

/* set once the input function has accepted the input */
static volatile bool accepted;

/* the allowed SQLSTATEs, as in test/t/016_fuzz_inputs.pl */
static bool
allowed(int code, bool binary)
{
	if (binary)
		return code == ERRCODE_INVALID_BINARY_REPRESENTATION ||
			code == ERRCODE_DATA_EXCEPTION ||
			code == ERRCODE_PROGRAM_LIMIT_EXCEEDED;
	return code == ERRCODE_INVALID_TEXT_REPRESENTATION ||
		code == ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE ||
		code == ERRCODE_DATA_EXCEPTION ||
		code == ERRCODE_PROGRAM_LIMIT_EXCEEDED;
}

/* the five characters of a SQLSTATE packed by MAKE_SQLSTATE */
static const char *
sqlstate(int code)
{
	static char buf[6];

	for (int i = 0; i < 5; i++)
	{
		buf[i] = PGUNSIXBIT(code);
		code >>= 6;
	}
	buf[5] = '\0';
	return buf;
}

static Datum
call1(PGFunction fn, Datum arg)
{
	LOCAL_FCINFO(fcinfo, 3);

	InitFunctionCallInfoData(*fcinfo, NULL, 3, InvalidOid, NULL, NULL);
	fcinfo->args[0].value = arg;
	fcinfo->args[0].isnull = false;
	fcinfo->args[1].value = ObjectIdGetDatum(InvalidOid);
	fcinfo->args[1].isnull = false;
	fcinfo->args[2].value = Int32GetDatum(-1);
	fcinfo->args[2].isnull = false;
	return fn(fcinfo);
}

static void
failure(const char *what)
{
	fprintf(stderr, "%s: %s\n", target->name, what);
	abort();
}

static void
same_varlena(const void *a, const void *b, const char *what)
{
	if (VARSIZE(a) != VARSIZE(b) || memcmp(a, b, VARSIZE(a)) != 0)
		failure(what);
}

/* value -> send -> recv (all bytes consumed) -> the same value */
static bytea *
send_recv(Datum v)
{
	bytea	   *wire = DatumGetByteaP(call1(target->send, v));
	StringInfoData buf;
	Datum		back;

	buf.data = VARDATA(wire);
	buf.len = VARSIZE(wire) - VARHDRSZ;
	buf.maxlen = buf.len;
	buf.cursor = 0;
	back = call1(target->recv, PointerGetDatum(&buf));
	if (buf.cursor != buf.len)
		failure("recv of send() left bytes over");
	same_varlena(DatumGetPointer(back), DatumGetPointer(v), "send -> recv changed the value");
	return wire;
}

/* value -> out -> in -> the same value, and the text is stable */
static void
out_in(Datum v)
{
	char	   *text = DatumGetCString(call1(target->out, v));
	Datum		back = call1(target->in, CStringGetDatum(text));
	char	   *text2 = DatumGetCString(call1(target->out, back));

	same_varlena(DatumGetPointer(back), DatumGetPointer(v), "out -> in changed the value");
	if (strcmp(text, text2) != 0)
		failure("out -> in -> out changed the text");
}

static void
one_input(const uint8_t *data, size_t size)
{
	Datum		v;

	if (!target->binary)
	{
		char	   *str = palloc(size + 1);

		memcpy(str, data, size);
		str[size] = '\0';		/* a cstring ends at its first NUL, as in the server */
		v = call1(target->in, CStringGetDatum(str));
		accepted = true;
		out_in(v);
		send_recv(v);
	}
	else
	{
		StringInfoData buf;
		bytea	   *wire;

		/* like COPY's field buffer: palloc'd, NUL-terminated */
		buf.data = palloc(size + 1);
		memcpy(buf.data, data, size);
		buf.data[size] = '\0';
		buf.len = (int) size;
		buf.maxlen = buf.len + 1;
		buf.cursor = 0;
		v = call1(target->recv, PointerGetDatum(&buf));
		if (buf.cursor != buf.len)
			return;				/* COPY would reject the leftover bytes (22P03) */
		accepted = true;
		wire = send_recv(v);
		if ((size_t) (VARSIZE(wire) - VARHDRSZ) != size ||
			memcmp(VARDATA(wire), data, size) != 0)
			failure("send() does not give back the accepted payload");
		out_in(v);
	}
}

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int			LLVMFuzzerInitialize(int *argc, char ***argv);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *name = getenv("EMBED_FUZZ_TARGET");

	for (int i = 0; name && i < (int) lengthof(targets); i++)
		if (strcmp(targets[i].name, name) == 0)
			target = &targets[i];
	if (target == NULL)
	{
		fprintf(stderr, "set EMBED_FUZZ_TARGET to one of:");
		for (int i = 0; i < (int) lengthof(targets); i++)
			fprintf(stderr, " %s", targets[i].name);
		fprintf(stderr, "\n");
		exit(2);
	}
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	sigjmp_buf	jb;

	if (size > 1000000)
		return 0;
	accepted = false;
	if (sigsetjmp(jb, 0) == 0)
	{
		error_jump = &jb;
		one_input(data, size);
	}
	else if (accepted)
	{
		fprintf(stderr, "%s: accepted, then its round trip failed with SQLSTATE %s: %s\n",
				target->name, sqlstate(error_code), error_msg);
		abort();
	}
	else if (!allowed(error_code, target->binary))
	{
		fprintf(stderr, "%s: rejected with SQLSTATE %s (not allowed): %s\n",
				target->name, sqlstate(error_code), error_msg);
		abort();
	}
	error_jump = NULL;
	free_all();
	return 0;
}
