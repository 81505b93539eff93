# Helpers shared by the TAP tests: loading the real vectors shipped in
# test/data, measuring an index's answers against exact ones computed by a
# sequential scan, and running the Node.js client scripts of test/clients.
package EmbedTest;

use strict;
use warnings;

use Exporter 'import';
use IO::Uncompress::Gunzip qw(gunzip $GunzipError);
use IPC::Run;
use PostgreSQL::Test::Utils;
use Test::More;

our @EXPORT = qw(load_words load_sap knn_check self_found run_node);

my $tmp;

sub data_file
{
	my ($name) = @_;
	my $root = $ENV{EMBED_ROOT} or die "EMBED_ROOT is not set";
	my $path = "$root/test/data/$name";
	die "$path is missing (see test/data/README.md)" unless -f $path;
	return $path;
}

# gunzip to a private plain file the server can COPY from: the TAP cluster
# runs as the same OS user as the test.
sub plain_file
{
	my ($name) = @_;
	$tmp //= PostgreSQL::Test::Utils::tempdir;
	(my $out = "$tmp/$name") =~ s/\.gz$//;
	return $out if -f $out;
	gunzip(data_file($name) => $out) or die "gunzip $name: $GunzipError";
	return $out;
}

# Table $table (id int PRIMARY KEY, word text, v vector(100)) with all 10,000
# word vectors; id is the frequency rank.
sub load_words
{
	my ($node, $db, $table) = @_;
	$table //= 'words';
	my $file = plain_file('words-10k.tsv.gz');
	$node->safe_psql($db, qq{
		CREATE TABLE $table (id int PRIMARY KEY, word text NOT NULL, v vector(100) NOT NULL);
		COPY $table (id, word, v) FROM '$file';
		ANALYZE $table;
	});
}

# Tables $chunks and $queries (n serial, id text, title text, body text,
# v vector(384)): the 678 SAP Fiori documentation chunks and the 100 query
# chunks.  n numbers the rows 1.. in file order (handy integer keys).
sub load_sap
{
	my ($node, $db, $chunks, $queries) = @_;
	for ([ $chunks, 'sap-fiori-chunks.tsv.gz' ], [ $queries, 'sap-fiori-queries.tsv.gz' ])
	{
		my ($table, $name) = @$_;
		my $file = plain_file($name);
		$node->safe_psql($db, qq{
			CREATE TABLE $table (n serial PRIMARY KEY, id text, title text, body text, v vector(384));
			COPY $table (id, title, body, v) FROM '$file';
			ANALYZE $table;
		});
	}
}

# Compare an index's k nearest neighbours with the exact ones.
#
#   table, op        the table (it needs an integer-ish `id` and the vector
#                    column `col`, default v) and the distance operator
#   queries          SQL giving (qid, qv): one row per query vector
#   where            optional filter, applied in both scans
#   k                default 10
#   set              extra SET commands for the index scans
#   index            if given, also check (one test) that the plan of the
#                    index pass uses this index, so that a planner falling
#                    back to a seq scan cannot make recall look perfect
#
# Returns a hash:
#   recall   index rows within the exact k-th distance / exact rows: a tie
#            with the k-th neighbour (duplicate vectors) counts as a hit
#   queries  number of queries
#   short    queries for which the index returned fewer rows than exact
#   unordered  adjacent index results whose true distance decreases
#   missing  rows the index returned that the table does not hold (0)
sub knn_check
{
	my ($node, $db, %o) = @_;
	my $k = $o{k} // 10;
	my $col = $o{col} // 'v';
	my $where = defined $o{where} ? "WHERE $o{where}" : '';
	my $set = $o{set} // '';
	my $knn = "SELECT t.id, t.$col $o{op} q.qv AS d FROM $o{table} t $where "
	  . "ORDER BY t.$col $o{op} q.qv LIMIT $k";

	if (defined $o{index})
	{
		my $plan = $node->safe_psql($db, qq{
			SET enable_seqscan = off; $set
			EXPLAIN (COSTS OFF) SELECT q.qid, n.id FROM ($o{queries}) q CROSS JOIN LATERAL ($knn) n;
		});
		like($plan, qr/Index Scan using $o{index} on/, "$o{index}: the index pass scans $o{index}")
		  or diag($plan);
	}

	my $out = $node->safe_psql($db, qq{
		CREATE TEMP TABLE q AS $o{queries};
		SET enable_indexscan = off; SET enable_bitmapscan = off;
		CREATE TEMP TABLE ex AS SELECT q.qid, n.id, n.d FROM q CROSS JOIN LATERAL ($knn) n;
		RESET enable_indexscan; RESET enable_bitmapscan; SET enable_seqscan = off; $set
		CREATE TEMP TABLE ix AS
		  SELECT q.qid, n.id, n.d, n.ord
		  FROM q CROSS JOIN LATERAL (SELECT x.*, row_number() OVER () AS ord FROM ($knn) x) n;
		RESET ALL;
		WITH kth AS (SELECT qid, max(d) AS d, count(*) AS n FROM ex GROUP BY qid),
		     got AS (SELECT qid, count(*) AS n FROM ix GROUP BY qid)
		SELECT
		  coalesce((SELECT count(*) FROM ix JOIN kth USING (qid) WHERE ix.d <= kth.d + 1e-9)::float8
		           / nullif((SELECT count(*) FROM ex), 0), 1),
		  (SELECT count(*) FROM q),
		  (SELECT count(*) FROM kth LEFT JOIN got USING (qid) WHERE coalesce(got.n, 0) < kth.n),
		  (SELECT count(*) FROM ix a JOIN ix b ON b.qid = a.qid AND b.ord = a.ord + 1 WHERE b.d < a.d - 1e-9),
		  (SELECT count(*) FROM ix WHERE NOT EXISTS (SELECT FROM $o{table} t WHERE t.id = ix.id))
	});
	my %r;
	@r{qw(recall queries short unordered missing)} = split /\|/, $out;
	$r{recall} = sprintf('%.4f', $r{recall});
	note "knn_check $o{table} $o{op}" . ($o{where} ? " where $o{where}" : '')
	  . ($set ? " [$set]" : '') . ": recall\@$k=$r{recall} over $r{queries} queries,"
	  . " short=$r{short} unordered=$r{unordered}";
	return %r;
}

# How many rows of $table (`id`, vector column `col`) an index scan finds as
# their own nearest neighbour: the top-1 for the row's own vector must be
# that row or one with an identical vector.  $where restricts the rows
# checked; $set adds SET commands (e.g. a larger hnsw.ef_search); index,
# if given, is checked (one test) to be the one scanned.
# Returns (found, checked).
sub self_found
{
	my ($node, $db, $table, $op, %o) = @_;
	my $col = $o{col} // 'v';
	my $where = defined $o{where} ? "WHERE $o{where}" : '';
	my $set = $o{set} // '';
	my $sql = qq{
		SELECT count(*) FILTER (WHERE n.v = s.$col), count(*)
		FROM (SELECT id, $col FROM $table $where) s
		LEFT JOIN LATERAL (SELECT t.$col AS v FROM $table t ORDER BY t.$col $op s.$col LIMIT 1) n ON true};
	if (defined $o{index})
	{
		my $plan = $node->safe_psql($db, "SET enable_seqscan = off; $set EXPLAIN (COSTS OFF) $sql");
		like($plan, qr/Index Scan using $o{index} on/, "$o{index}: self-queries scan $o{index}")
		  or diag($plan);
	}
	my $out = $node->safe_psql($db, "SET enable_seqscan = off; $set $sql");
	return split /\|/, $out;
}

# Run test/clients/SCRIPT with node against $db on $node as $user; returns
# (success, stdout, stderr).
sub run_node
{
	my ($node, $user, $db, $script) = @_;
	my $root = $ENV{EMBED_ROOT} or die "EMBED_ROOT is not set";
	my ($out, $err) = ('', '');
	local %ENV = (
		%ENV,
		PGHOST => $node->host,
		PGPORT => $node->port,
		PGUSER => $user,
		PGDATABASE => $db);
	my $ok = IPC::Run::run([ 'node', "$root/test/clients/$script" ],
		'>' => \$out, '2>' => \$err,
		IPC::Run::timeout($PostgreSQL::Test::Utils::timeout_default));
	return ($ok, $out, $err);
}

1;
