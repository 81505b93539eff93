/*
 * client.c — the bench's query loop in C over libpq: one connection, one
 * prepared statement, binary parameters, one query at a time.  bench.py also
 * measures through psycopg, whose pure-Python build (Debian's) spends about
 * 0.06 ms of client CPU per query; this loop measures what the database
 * serves when the client costs next to nothing, as FAISS's loop does.
 *
 * Usage: client SQL QUERYFILE WARMUP MAX_SECONDS [SETUP_SQL...]
 *   connection from the PG* environment; SQL has one parameter, $1
 *   QUERYFILE: records of a uint32 length (host order) and that many bytes,
 *              each the binary wire form of one query parameter
 * Output: "cpu_s C wall_s W", then one line per query run, in file order:
 *   the latency in seconds, then the first result column of each row.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

static double
now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec * 1e-9;
}

/* CPU seconds (user + system) of a process on this machine, -1 if unknown */
static double
proc_cpu(int pid)
{
	char		path[64],
				buf[1024];
	FILE	   *f;
	size_t		n;
	char	   *p;
	unsigned long ut,
				st;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* fields after the command name, which may hold spaces: state is field 3 */
	if ((p = strrchr(buf, ')')) == NULL ||
		sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
		return -1;
	return (double) (ut + st) / sysconf(_SC_CLK_TCK);
}

static void
die(PGconn *conn, const char *what)
{
	fprintf(stderr, "client: %s: %s", what, conn ? PQerrorMessage(conn) : "\n");
	exit(1);
}

int
main(int argc, char **argv)
{
	PGconn	   *conn;
	PGresult   *res;
	FILE	   *f;
	char	  **vals = NULL;
	int		   *lens = NULL;
	int			nq = 0,
				cap = 0,
				warmup,
				fmt = 1,
				done = 0;
	uint32_t	len;
	double		max_seconds,
				cpu0,
				t0,
				deadline,
			   *lat;
	char	  **out;

	if (argc < 5)
	{
		fprintf(stderr, "usage: client SQL QUERYFILE WARMUP MAX_SECONDS [SETUP_SQL...]\n");
		return 2;
	}
	warmup = atoi(argv[3]);
	max_seconds = atof(argv[4]);
	if ((f = fopen(argv[2], "rb")) == NULL)
		die(NULL, "cannot open the query file");
	while (fread(&len, sizeof(len), 1, f) == 1)
	{
		if (nq == cap)
		{
			cap = cap ? cap * 2 : 1024;
			vals = realloc(vals, sizeof(char *) * cap);
			lens = realloc(lens, sizeof(int) * cap);
		}
		vals[nq] = malloc(len ? len : 1);
		if (fread(vals[nq], 1, len, f) != len)
			die(NULL, "truncated query file");
		lens[nq++] = (int) len;
	}
	fclose(f);

	conn = PQconnectdb("");
	if (PQstatus(conn) != CONNECTION_OK)
		die(conn, "connect");
	for (int i = 5; i < argc; i++)
	{
		res = PQexec(conn, argv[i]);
		if (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK)
			die(conn, argv[i]);
		PQclear(res);
	}
	res = PQprepare(conn, "q", argv[1], 1, NULL);
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		die(conn, "prepare");
	PQclear(res);

	for (int i = 0; i < warmup && nq > 0; i++)
	{
		res = PQexecPrepared(conn, "q", 1, (const char *const *) &vals[i % nq], &lens[i % nq], &fmt, 0);
		if (PQresultStatus(res) != PGRES_TUPLES_OK)
			die(conn, "query");
		PQclear(res);
	}

	lat = malloc(sizeof(double) * (nq ? nq : 1));
	out = malloc(sizeof(char *) * (nq ? nq : 1));
	cpu0 = proc_cpu(PQbackendPID(conn));
	t0 = now();
	deadline = t0 + max_seconds;
	while (done < nq)
	{
		double		q0 = now(),
					q1;
		size_t		size = 1;
		char	   *s;

		res = PQexecPrepared(conn, "q", 1, (const char *const *) &vals[done], &lens[done], &fmt, 0);
		q1 = now();
		if (PQresultStatus(res) != PGRES_TUPLES_OK)
			die(conn, "query");
		lat[done] = q1 - q0;
		/* keep the ids as text; printing waits until the timing is over */
		for (int r = 0; r < PQntuples(res); r++)
			size += PQgetlength(res, r, 0) + 1;
		out[done] = s = malloc(size);
		for (int r = 0; r < PQntuples(res); r++)
			s += sprintf(s, " %s", PQgetvalue(res, r, 0));
		*s = '\0';
		PQclear(res);
		done++;
		if (q1 > deadline)
			break;
	}
	{
		double		wall = now() - t0,
					cpu1 = proc_cpu(PQbackendPID(conn));

		printf("cpu_s %.6f wall_s %.6f\n", cpu0 < 0 || cpu1 < 0 ? -1.0 : cpu1 - cpu0, wall);
	}
	for (int i = 0; i < done; i++)
		printf("%.9f%s\n", lat[i], out[i]);
	PQfinish(conn);
	return 0;
}
