# Scaling out with PostgreSQL's own tools: a coordinator whose table docs is
# hash partitioned on id into three postgres_fdw foreign tables, one per
# shard cluster, each shard with its own embed index (hnsw on two, ivfflat
# on the third).  Checked:
#   - without `extensions 'embed'` in the server options postgres_fdw does
#     not ship embed's operators: every row comes back and is sorted locally;
#     with it, ORDER BY embedding <=> $1 goes to every shard
#   - the partitioned query (Merge Append of the shards' ordered scans; the
#     LIMIT stays on the coordinator) and the UNION ALL form (one LIMIT per
#     shard, sent along, run by async Foreign Scans) return exactly the rows
#     one big table returns, also with a WHERE filter, which is pushed too
#   - the shards' GUCs (hnsw.ef_search, ivfflat.probes) are not forwarded
#     from the coordinator's session; the server's `options` sets them on the
#     shards' sessions (a tiny ef_search caps what an hnsw shard returns,
#     which also proves the shards answer from their indexes); without
#     those options, the shard's ALTER DATABASE ... SET does
#   - INSERT and COPY through the coordinator land on the shard the hash picks, and
#     the new rows are found through the coordinator
# Read scaling with streaming replicas is test/t/022_index_replica.pl.
use strict;
use warnings;

use FindBin;
use lib $FindBin::RealBin;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use EmbedTest;

my $db = 'postgres';
my $nshards = 3;
my @shards = map { start_node("shard$_") } 0 .. $nshards - 1;
my $co = start_node('coordinator');
my $pgver = $co->safe_psql($db, 'SHOW server_version_num');
my $async = $pgver >= 140000;    # async_capable and batch_size: PostgreSQL 14+

$co->safe_psql($db, 'CREATE EXTENSION postgres_fdw');
load_words($co, $db, 'words');

my $cols = 'id int NOT NULL, category int NOT NULL, embedding vector(100) NOT NULL';
$co->safe_psql($db, "CREATE TABLE docs ($cols) PARTITION BY HASH (id)");
for my $i (0 .. $nshards - 1)
{
	my $s = $shards[$i];
	my ($host, $port) = ($s->host, $s->port);
	my $more = $async ? q{, async_capable 'true', batch_size '100'} : '';
	$s->safe_psql($db, "CREATE TABLE docs ($cols)");
	# No `extensions` yet: see below.
	$co->safe_psql($db, qq{
		CREATE SERVER shard$i FOREIGN DATA WRAPPER postgres_fdw
		  OPTIONS (host '$host', port '$port', dbname '$db'$more);
		CREATE USER MAPPING FOR CURRENT_USER SERVER shard$i;
		CREATE FOREIGN TABLE docs_$i PARTITION OF docs
		  FOR VALUES WITH (MODULUS $nshards, REMAINDER $i)
		  SERVER shard$i OPTIONS (table_name 'docs');
	});
}

# Load through the coordinator: tuple routing sends each row to its shard.
$co->safe_psql($db, 'INSERT INTO docs SELECT id, id % 5, v FROM words WHERE id <= 2400');
# The same rows in one local table, the reference.
$co->safe_psql($db, qq{
	CREATE TABLE big ($cols);
	INSERT INTO big SELECT id, id % 5, v FROM words WHERE id <= 2400;
	ANALYZE big;
});

# Which ids shard $i holds, and which the hash sends there.
my $placed = sub {
	my ($i, $where) = @_;
	my $held = $shards[$i]->safe_psql($db,
		"SELECT count(*) || ':' || coalesce(sum(id), 0) FROM docs WHERE $where");
	my $want = $co->safe_psql($db, qq{
		SELECT count(*) || ':' || coalesce(sum(id), 0) FROM big
		WHERE $where AND satisfies_hash_partition('docs'::regclass, $nshards, $i, id)});
	return ($held, $want);
};
my $total = 0;
for my $i (0 .. $nshards - 1)
{
	my ($held, $want) = $placed->($i, 'true');
	is($held, $want, "shard$i holds exactly the rows its hash partition gets ($held)");
	my ($n) = split /:/, $held;
	cmp_ok($n, '>', 700, "shard$i holds a third of the rows");
	$total += $n;
}
is($total, 2400, 'the shards hold the 2,400 rows between them');

# Each shard indexes its own rows: hnsw on shard0 and shard1, ivfflat with
# 10 lists on shard2.
for my $i (0 .. $nshards - 1)
{
	my $how = $i < 2 ? 'hnsw (embedding vector_cosine_ops) WITH (m = 16, ef_construction = 64)'
	  : 'ivfflat (embedding vector_cosine_ops) WITH (lists = 10)';
	$shards[$i]->safe_psql($db, "CREATE INDEX docs_embedding ON docs USING $how; ANALYZE docs;");
}

# Generic plans, so that EXPLAIN shows the query vector as $1.
my $explain = sub {
	my ($sql) = @_;
	return $co->safe_psql($db, qq{
		SET plan_cache_mode = force_generic_plan;
		PREPARE q(vector) AS $sql;
		EXPLAIN (VERBOSE, COSTS OFF) EXECUTE q(NULL);
	});
};
my $knn = 'SELECT id FROM docs ORDER BY embedding <=> $1 LIMIT 10';
my $remote_order = qr/ORDER BY \(embedding OPERATOR\(public\.<=>\) \$1::public\.vector(?:\(100\))?\) ASC NULLS LAST/;
my @remote;

# Without `extensions 'embed'` postgres_fdw treats <=> as not shippable.
my $plan = $explain->($knn);
@remote = $plan =~ /Remote SQL: (.*)/g;
is(scalar @remote, $nshards, "without extensions 'embed': one remote query per shard");
is(scalar(grep { !/<=>|ORDER BY/ } @remote), $nshards,
	"without extensions 'embed': no shard is sent the ORDER BY")
  or diag($plan);
like($plan, qr/Sort Key: \(\(docs(_\d)?\.embedding <=> \$1\)\)/,
	"without extensions 'embed': the coordinator sorts every row itself");

$co->safe_psql($db, "ALTER SERVER shard$_ OPTIONS (ADD extensions 'embed')") for 0 .. $nshards - 1;

# The partitioned table: each shard gets the ORDER BY and returns rows in
# distance order; Merge Append merges them, the LIMIT stays here (as of
# PostgreSQL 15 the planner does not hand a LIMIT to the children of an
# Append); the remote cursor fetches fetch_size rows at a time.
$plan = $explain->($knn);
@remote = $plan =~ /Remote SQL: (.*)/g;
is(scalar(grep { /$remote_order/ } @remote), $nshards, 'partitioned: ORDER BY <=> sent to every shard')
  or diag($plan);
like($plan, qr/Merge Append/, 'partitioned: the coordinator merges the ordered shard scans')
  or diag($plan);
note "partitioned query plan:\n$plan";

# One subquery per shard: postgres_fdw sends ORDER BY ... LIMIT to each, and
# the Append runs them on the shards concurrently.
my $union = join("\n  UNION ALL ",
	map { "(SELECT id, embedding <=> \$1 AS d FROM docs_$_ ORDER BY embedding <=> \$1 LIMIT 10)" }
	  0 .. $nshards - 1);
my $knn_union = "SELECT id FROM ($union) s ORDER BY d, id LIMIT 10";
$plan = $explain->($knn_union);
@remote = $plan =~ /Remote SQL: (.*)/g;
is(scalar(grep { /$remote_order LIMIT 10(::bigint)?$/ } @remote), $nshards,
	'UNION ALL: ORDER BY <=> ... LIMIT 10 sent to every shard')
  or diag($plan);
SKIP:
{
	skip 'async_capable needs PostgreSQL 14', 1 unless $async;
	is(scalar(() = $plan =~ /Async Foreign Scan on public\.docs_\d/g), $nshards,
		'UNION ALL: the shards run as Async Foreign Scans')
	  or diag($plan);
}
note "UNION ALL plan:\n$plan";

# A filter goes along with the ORDER BY.
$plan = $explain->('SELECT id FROM docs WHERE category = 2 ORDER BY embedding <=> $1 LIMIT 10');
@remote = $plan =~ /Remote SQL: (.*)/g;
is(scalar(grep { /WHERE \(\(category = 2\)\) $remote_order/ } @remote), $nshards,
	'filtered: WHERE category = 2 and ORDER BY <=> sent to every shard')
  or diag($plan);

# GUCs: SET hnsw.ef_search on the coordinator does not reach the shards'
# sessions; the server's libpq `options` does.  An hnsw scan returns at most
# ef_search rows and an ivfflat scan only the rows of its probed lists, so
# short answers show both the setting and the index at work on each shard.
my $short = sub {
	my ($table, $limit) = @_;
	return $co->safe_psql($db, qq{
		SET hnsw.ef_search = 1000; SET ivfflat.probes = 10;
		SELECT count(*) FROM (SELECT id FROM $table
		  ORDER BY embedding <=> (SELECT v FROM words WHERE id = 5000) LIMIT $limit) s});
};
$co->safe_psql($db,
	"ALTER SERVER shard$_ OPTIONS (ADD options '-c hnsw.ef_search=3 -c ivfflat.probes=1')")
  for 0 .. $nshards - 1;
is($short->('docs_0', 10), 3, 'hnsw.ef_search = 3 from the server options: shard0 returns 3 rows');
is($short->('docs_1', 10), 3, 'hnsw.ef_search = 3 from the server options: shard1 returns 3 rows');
my $one_list = $short->('docs_2', 500);
cmp_ok($one_list, '<', 500, "ivfflat.probes = 1 from the server options: shard2 returns one list ($one_list rows)");
is($short->('docs', 500), 6 + $one_list, 'partitioned: 3 + 3 rows from the hnsw shards, one list from shard2');

# Exact answers from now on, so that the coordinator's can be compared with
# one table's (the 2,400 rows have no duplicate vectors).  First with the
# shards scanning their tables, then searching their indexes exhaustively:
# ef_search above an hnsw shard's row count (about 800, 830 after the
# inserts below) and every ivfflat list probed.
is($co->safe_psql($db, 'SELECT count(*) FROM (SELECT DISTINCT embedding::text FROM big) s'), 2400,
	'no duplicate vectors among the rows');
my $set_options = sub {
	my ($options) = @_;
	$co->safe_psql($db, "ALTER SERVER shard$_ OPTIONS (SET options '$options')") for 0 .. $nshards - 1;
};
my $exhaustive = '-c hnsw.ef_search=1000 -c ivfflat.probes=10';
my $scan = '-c enable_indexscan=off -c enable_bitmapscan=off';

# Every query's ids and distances, best first, as text.
my $answers = sub {
	my ($node, $sql) = @_;
	return $node->safe_psql($db, qq{
		SELECT string_agg(q.id || ':' || n.ids, E'\n' ORDER BY q.id)
		FROM (SELECT id, v FROM words WHERE id > 5000 AND id % 200 = 0) q
		CROSS JOIN LATERAL (
		  SELECT string_agg(r.id || '\@' || round((r.embedding <=> q.v)::numeric, 6), ','
		                    ORDER BY r.embedding <=> q.v, r.id) AS ids
		  FROM ($sql) x JOIN big r USING (id)) n});
};
my $exact = sub {
	my ($where) = @_;
	return $answers->($co, qq{SELECT id FROM big t $where ORDER BY t.embedding <=> q.v, t.id LIMIT 10});
};

my $check = sub {
	my ($what) = @_;
	my $want = $exact->('');
	is(scalar(split /\n/, $want), 25, "$what: 25 queries");
	is($answers->($co, 'SELECT id FROM docs t ORDER BY t.embedding <=> q.v LIMIT 10'), $want,
		"$what: the partitioned table returns what one big table returns");
	is($answers->($co, $knn_union =~ s/\$1/q.v/gr), $want,
		"$what: the UNION ALL form returns what one big table returns");
	$want = $exact->('WHERE category = 2');
	is($answers->($co, 'SELECT id FROM docs t WHERE category = 2 ORDER BY t.embedding <=> q.v LIMIT 10'),
		$want, "$what: filtered, the partitioned table returns what one big table returns");
};
# An exhaustive search finds every element reachable from the entry point;
# embed_index_check counts the others (none expected at this size, but the
# graph is random: the comparison is skipped if there are any).
my $check_index = sub {
	my ($what) = @_;
	$set_options->($exhaustive);
	is($short->('docs_2', 500), 500, "$what: ivfflat.probes = 10: shard2 returns 500 rows");
	my $unreachable = 0;
	$unreachable += $shards[$_]->safe_psql($db, q{SELECT unreachable FROM embed_index_check('docs_embedding')})
	  for 0, 1;
	SKIP:
	{
		skip "$unreachable hnsw elements unreachable: an exhaustive search is not exact", 4 if $unreachable;
		$check->("$what, shards searching their indexes");
	}
};
$set_options->($scan);
$check->('shards scanning their tables');
$check_index->('after the build');

# Rows inserted (INSERT, COPY) through the coordinator: the right shard,
# indexed there, found through the coordinator.
my $copy_file = PostgreSQL::Test::Utils::tempdir() . '/more.tsv';
$co->safe_psql($db, qq{
	INSERT INTO docs SELECT id, id % 5, v FROM words WHERE id > 9000 AND id <= 9060;
	COPY (SELECT id, id % 5, v FROM words WHERE id > 9060 AND id <= 9080) TO '$copy_file';
	COPY docs FROM '$copy_file';
	INSERT INTO big SELECT id, id % 5, v FROM words WHERE id > 9000 AND id <= 9080;
});
for my $i (0 .. $nshards - 1)
{
	my ($held, $want) = $placed->($i, 'id > 9000');
	is($held, $want, "inserted through the coordinator: shard$i got its rows ($held)");
}
is($co->safe_psql($db, q{
	SELECT count(*) FROM words w
	WHERE w.id > 9000 AND w.id <= 9080
	  AND (SELECT d.id FROM docs d ORDER BY d.embedding <=> w.v LIMIT 1) = w.id}), 80,
	'inserted through the coordinator: each new row is its own nearest neighbour');
$check_index->('after inserts');

# The other way to make the partitions: IMPORT FOREIGN SCHEMA brings each
# shard's table over with its vector(100) column (embed's type must exist
# on the coordinator), and ATTACH PARTITION puts them under a parent.
$co->safe_psql($db, "CREATE TABLE docs2 ($cols) PARTITION BY HASH (id)");
for my $i (0 .. $nshards - 1)
{
	$co->safe_psql($db, qq{
		CREATE SCHEMA s$i;
		IMPORT FOREIGN SCHEMA public LIMIT TO (docs) FROM SERVER shard$i INTO s$i;
		ALTER TABLE docs2 ATTACH PARTITION s$i.docs FOR VALUES WITH (MODULUS $nshards, REMAINDER $i);
	});
}
is($co->safe_psql($db, q{SELECT format_type(atttypid, atttypmod) FROM pg_attribute
	WHERE attrelid = 's0.docs'::regclass AND attname = 'embedding'}), 'vector(100)',
	'IMPORT FOREIGN SCHEMA: the embedding column comes over as vector(100)');
is($answers->($co, 'SELECT id FROM docs2 t ORDER BY t.embedding <=> q.v LIMIT 10'), $exact->(''),
	'IMPORT FOREIGN SCHEMA + ATTACH PARTITION: the same answers');

# The shard side of the same: a database setting on the shard reaches the
# postgres_fdw sessions, unless the server's options override it.
$shards[0]->safe_psql($db, "ALTER DATABASE $db SET hnsw.ef_search = 4");
is($short->('docs_0', 10), 10, "the server's options win over the shard's ALTER DATABASE SET");
$co->safe_psql($db, 'ALTER SERVER shard0 OPTIONS (DROP options)');
is($short->('docs_0', 10), 4, 'hnsw.ef_search = 4 from ALTER DATABASE SET on the shard: shard0 returns 4 rows');

ok(!$_->log_contains(qr/PANIC|terminated by signal/), $_->name . ': no crash in the server log')
  for @shards, $co;
$_->stop for @shards, $co;
done_testing();
