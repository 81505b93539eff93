/*
 * pglz.c — src/detoast.c's pglz decoder against PostgreSQL's own.
 *
 * Compresses generated data with PostgreSQL's pglz_compress (libpgcommon),
 * corrupts a third of the streams (bit flips) and truncates another third,
 * then decodes each with both decoders from buffers of the exact size.  They
 * must accept the same streams and produce the same bytes.  Built with
 * AddressSanitizer, so any read or write out of bounds stops it.
 * `make fuzz-pglz` builds and runs it; it needs no server.
 */
#include "../../src/detoast.c"

#include <stdio.h>
#include <stdlib.h>

#include "common/pg_lzcompress.h"

/* what detoast.c calls, for a program without a server */
void *
palloc(Size size)
{
	return malloc(size);
}

void
pfree(void *p)
{
	free(p);
}

struct varlena *
pg_detoast_datum(struct varlena *d)
{
	return d;
}

static uint32 state = 12345;

static uint32
rnd(void)
{
	state = state * 1103515245u + 12345u;
	return state >> 8;
}

int
main(int argc, char **argv)
{
	long		iters = argc > 1 ? atol(argv[1]) : 200000;
	long		same = 0,
				rejected = 0,
				differ = 0;

	for (long it = 0; it < iters; it++)
	{
		int			n = 8 + rnd() % 6000;
		int			kind = rnd() % 5;
		unsigned char *raw = malloc(n);
		char	   *comp = malloc(PGLZ_MAX_OUTPUT(n));
		unsigned char *src,
				   *mine,
				   *theirs;
		int			clen,
					got;
		bool		ok;

		/* sparse bytes, short periods, pixel-like floats, few symbols, noise */
		for (int i = 0; i < n; i++)
			raw[i] = kind == 0 ? (rnd() % 4 == 0 ? rnd() : 0) :
				kind == 1 ? (i % (1 + it % 9)) + 1 :
				kind == 2 ? (i % 4 == 3 && rnd() % 3 == 0 ? 0x43 : (rnd() % 8 == 0 ? rnd() : 0)) :
				kind == 3 ? rnd() % 3 : rnd();
		clen = pglz_compress((char *) raw, n, comp, PGLZ_strategy_always);
		if (clen > 1)
		{
			switch (rnd() % 3)
			{
				case 1:
					for (int k = 0; k < 1 + (int) (rnd() % 3); k++)
						comp[rnd() % clen] ^= 1 << (rnd() % 8);
					break;
				case 2:
					clen = 1 + rnd() % (clen - 1);
					break;
			}
		}
		if (clen <= 0)
		{
			free(raw);
			free(comp);
			continue;
		}
		src = malloc(clen);
		memcpy(src, comp, clen);
		mine = malloc(n + SLACK);
		theirs = malloc(n);
		ok = pglz_decode(src, clen, mine, n);
		got = pglz_decompress((char *) src, clen, (char *) theirs, n, true);
		if (ok && got == n && memcmp(mine, theirs, n) == 0)
			same++;
		else if (!ok && got != n)
			rejected++;
		else
			differ++;
		free(raw);
		free(comp);
		free(src);
		free(mine);
		free(theirs);
	}
	printf("pglz: %ld streams decoded alike, %ld rejected by both, %ld different\n",
		   same, rejected, differ);
	return differ != 0;
}
