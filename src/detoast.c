/*
 * detoast.c — reading vectors that PostgreSQL compressed inline.
 *
 * A vector column's storage is `main`, so a row over ~2 KB has its vector
 * compressed in place when that saves a quarter of it: integer-valued data
 * (pixels, quantized embeddings) usually does.  Every distance then starts
 * by decompressing, and with PostgreSQL's pglz decoder that is most of an
 * exact scan and a fifth of an index scan on such data (the executor
 * computes the distance of each returned row).  The decoder below reads the
 * same pglz stream, which is part of PostgreSQL's on-disk format, faster:
 * back-references are copied 8 bytes at a time, those of a period dividing
 * 8 (runs of zeros) by storing one word over and over, and a run of literals
 * in one copy.  It
 * checks the stream as strictly as PostgreSQL's; on anything it does not
 * take (lz4, out-of-line values, a stream it finds corrupt) the value goes
 * to pg_detoast_datum, which handles it or reports the corruption.
 *
 * The stream: a control byte, then up to eight items, bit 0 first; a 0 bit
 * is one literal byte, a 1 bit a back-reference of 2 or 3 bytes: length - 3
 * in the low nibble of the first (15: a third byte adds 0..255), offset in
 * its high nibble (bits 8-11) and the second byte (bits 0-7), 1..4095.
 */
#include "postgres.h"

#include "fmgr.h"
#include "port/pg_bitutils.h"
#if PG_VERSION_NUM >= 160000
#include "varatt.h"
#endif

#include "vector.h"

/* bytes past the end an 8-byte copy may write */
#define SLACK	8
/* where the stream starts in an inline compressed varlena */
#define COMPRESSED_HDRSZ	offsetof(varattrib_4b, va_compressed.va_data)

/*
 * Decode src[0..srclen) into dst, which has room for rawsize + SLACK bytes.
 * True when the whole stream yields exactly rawsize bytes and never refers
 * back before dst.
 */
static bool
pglz_decode(const unsigned char *src, int32 srclen, unsigned char *dst, int32 rawsize)
{
	const unsigned char *sp = src,
			   *srcend = src + srclen;
	unsigned char *dp = dst,
			   *dend = dst + rawsize;

	while (sp < srcend && dp < dend)
	{
		/* bit 8 set: the eight items end where that bit shows */
		uint32		ctrl = *sp++ | 0x100;

		while (ctrl != 1 && sp < srcend && dp < dend)
		{
			int			nlit = pg_rightmost_one_pos32(ctrl);
			int32		len,
						off;
			unsigned char *from;

			if (nlit > 0)
			{
				/* a run of literals (the bits before the next tag, or the end) */
				if (srcend - sp >= 8)
				{
					int			n = Min(nlit, dend - dp);

					memcpy(dp, sp, 8);	/* dst has SLACK bytes of room */
					dp += n;
					sp += n;
				}
				else
				{
					for (int i = 0; i < nlit && sp < srcend && dp < dend; i++)
						*dp++ = *sp++;
				}
				ctrl >>= nlit;
				continue;
			}

			/* a back-reference */
			ctrl >>= 1;
			if (srcend - sp < 2)
				return false;
			len = (sp[0] & 0x0f) + 3;
			off = ((sp[0] & 0xf0) << 4) | sp[1];
			sp += 2;
			if (len == 18)
			{
				if (sp >= srcend)
					return false;
				len += *sp++;
			}
			if (off == 0 || off > dp - dst)
				return false;
			len = Min(len, dend - dp);
			from = dp - off;
			if (off >= 8)
			{
				for (int32 j = 0; j < len; j += 8)
					memcpy(dp + j, from + j, 8);
			}
			else if (off == 1 || off == 2 || off == 4)
			{
				/* a period dividing 8 (runs of zeros): one word, stored over and over */
				uint64		w;

				if (off == 1)
					w = from[0] * UINT64CONST(0x0101010101010101);
				else if (off == 2)
					w = (uint64) (from[0] | (from[1] << 8)) * UINT64CONST(0x0001000100010001);
				else
				{
					uint32		w4;

					memcpy(&w4, from, 4);
					w = w4 | ((uint64) w4 << 32);
				}
				for (int32 j = 0; j < len; j += 8)
					memcpy(dp + j, &w, 8);
			}
			else
			{
				/*
				 * Periods 3, 5, 6, 7: the first 8 bytes one by one, then 8 at
				 * a time from a whole number of periods back, at least 8
				 * bytes away.
				 */
				int32		head = Min(len, 8);
				int32		back = off * ((8 + off - 1) / off);

				for (int j = 0; j < head; j++)
					dp[j] = from[j];
				for (int32 j = 8; j < len; j += 8)
					memcpy(dp + j, dp + j - back, 8);
			}
			dp += len;
		}
	}
	/* as PostgreSQL's: all of the stream, and exactly rawsize bytes */
	return dp == dend && sp == srcend;
}

/*
 * The vector in a datum, detoasted: an inline pglz-compressed one by the
 * decoder above, anything else by PostgreSQL.
 */
Vector *
embed_detoast_vector(Datum d)
{
	struct varlena *p = (struct varlena *) DatumGetPointer(d);

	if (VARATT_IS_4B_C(p))
	{
#if PG_VERSION_NUM >= 140000
		uint32		info = ((varattrib_4b *) p)->va_compressed.va_tcinfo;
#else
		uint32		info = ((varattrib_4b *) p)->va_compressed.va_rawsize;
#endif
		/* low 30 bits: the raw size; the top two: the method, 0 = pglz */
		int32		rawsize = info & 0x3FFFFFFF;
		struct varlena *out;

		if ((info >> 30) == 0 && rawsize >= (int32) (offsetof(Vector, x) - VARHDRSZ) &&
			rawsize <= (int32) (VECTOR_SIZE(VECTOR_MAX_DIM) - VARHDRSZ))
		{
			out = (struct varlena *) palloc(VARHDRSZ + rawsize + SLACK);
			if (pglz_decode((unsigned char *) p + COMPRESSED_HDRSZ,
							VARSIZE_4B(p) - COMPRESSED_HDRSZ,
							(unsigned char *) VARDATA(out), rawsize))
			{
				SET_VARSIZE(out, VARHDRSZ + rawsize);
				return (Vector *) out;
			}
			pfree(out);
		}
	}
	return (Vector *) PG_DETOAST_DATUM(d);
}
