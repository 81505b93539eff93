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
use PostgreSQL::Test::Cluster;
use Test::More;

our @EXPORT = qw(start_node load_words load_sap knn_check knn_ok order_ok self_found index_am index_count run_node
  chromium chromium_run);

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
#   expr             instead of `col`: an expression over the table's alias
#                    t, to order by what an expression index holds, e.g.
#                    'binary_quantize(t.v)::bit(100)'
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
	my $te = $o{expr} // "t.$col";
	my $where = defined $o{where} ? "WHERE $o{where}" : '';
	my $set = $o{set} // '';
	my $knn = "SELECT t.id, $te $o{op} q.qv AS d FROM $o{table} t $where "
	  . "ORDER BY $te $o{op} q.qv LIMIT $k";

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

# knn_check plus the assertions every recall test makes, named "$what: ...":
# recall at least $floor, every query answered in full, no row the table does
# not hold, and rows in distance order.  Extra options besides knn_check's:
#   min_queries      also assert at least this many queries ran
#   unordered        the share of adjacent result pairs allowed out of order
#                    (index_am's `unordered`; default 0)
# Returns knn_check's hash.
sub knn_ok
{
	my ($node, $db, $what, $floor, %o) = @_;
	my $min_queries = delete $o{min_queries};
	my $share = delete $o{unordered} // 0;
	my %r = knn_check($node, $db, %o);
	my $k = $o{k} // 10;
	cmp_ok($r{queries}, '>=', $min_queries, "$what: at least $min_queries queries") if $min_queries;
	cmp_ok($r{recall}, '>=', $floor, "$what: recall\@$k $r{recall} >= $floor");
	is($r{short}, 0, "$what: every query got $k rows");
	is($r{missing}, 0, "$what: no row the table does not hold");
	order_ok($share, \%r, $what, $k);
	return %r;
}

# One assertion on knn_check's result %$r: adjacent rows out of distance
# order are at most the share $share of all adjacent pairs (none if $share
# is 0).  $k: the LIMIT (default 10).
sub order_ok
{
	my ($share, $r, $what, $k) = @_;
	$k //= 10;
	return is($r->{unordered}, 0, "$what: rows come in distance order") unless $share;
	my $max = int($share * $r->{queries} * ($k - 1));
	return cmp_ok($r->{unordered}, '<=', $max,
		"$what: at most $max adjacent rows out of distance order ($r->{unordered})");
}

# The ordering index access methods, and what a test needs to build and
# search an index of each alike: index_am($am, lists => N) returns a hash
#   am         the access method's name
#   ivf        true for ivfflat and ivfrabitq
#   with       the WITH clause of CREATE INDEX: hnsw m 16, ef_construction 64
#              (spelled out, so that a change of defaults does not move the
#              numbers); ivf `lists` (default 50)
#   search     SET commands for the usual scan: hnsw's defaults (ef_search
#              40), ivf probes = lists / 4 (rounded up)
#   wide       SET commands for a wider search: hnsw ef_search 100, ivf
#              probes = lists / 2
#   iterative  SET commands that turn on relaxed_order iterative scans
#   unordered  the share of adjacent results allowed out of distance order
#              (for order_ok): 0, except for ivfrabitq, whose rerank trusts
#              estimated lower bounds that hold with high probability only
#              (src/ivf/README.md); measured up to 0.6% (up to 1.7% with
#              the earlier bound constant 1.9)
#   lists, probes  (ivf) the list count and the probes of `search`
sub index_am
{
	my ($am, %o) = @_;
	if ($am eq 'hnsw')
	{
		return {
			am => $am, ivf => 0,
			with => 'WITH (m = 16, ef_construction = 64)',
			search => '',
			wide => 'SET hnsw.ef_search = 100;',
			iterative => 'SET hnsw.iterative_scan = relaxed_order;',
			unordered => 0 };
	}
	die "unknown access method $am" unless $am eq 'ivfflat' || $am eq 'ivfrabitq';
	my $lists = $o{lists} // 50;
	my $probes = int(($lists + 3) / 4);
	my $wide = int(($lists + 1) / 2);
	return {
		am => $am, ivf => 1, lists => $lists, probes => $probes,
		with => "WITH (lists = $lists)",
		search => "SET $am.probes = $probes;",
		wide => "SET $am.probes = $wide;",
		iterative => "SET $am.iterative_scan = relaxed_order;",
		unordered => $am eq 'ivfrabitq' ? 0.02 : 0 };
}

# What index $idx on $table (integer `id`) holds, exactly: VACUUM counts the
# heap TIDs in the index when it has a dead row to remove, and stores the
# count as the index's reltuples (INDEX_CLEANUP ON: for a few dead rows
# PostgreSQL would skip the indexes).  Deletes row $victim to make one.
# Returns (index count, live rows).
sub index_count
{
	my ($node, $db, $table, $idx, $victim) = @_;
	$node->safe_psql($db, "DELETE FROM $table WHERE id = $victim; VACUUM (INDEX_CLEANUP ON) $table;");
	return (
		$node->safe_psql($db, "SELECT reltuples::bigint FROM pg_class WHERE oid = '$idx'::regclass"),
		$node->safe_psql($db, "SELECT count(*) FROM $table"));
}

# How many rows of $table (`id`, vector column `col`) an index scan finds as
# their own nearest neighbour: the top-1 for the row's own vector must be
# that row or one with an identical vector.  $where restricts the rows
# checked; $set adds SET commands (e.g. a larger hnsw.ef_search); index,
# if given, is checked (one test) to be the one scanned; expr, as for
# knn_check, orders by an expression over alias t instead of `col`.
# Returns (found, checked).
sub self_found
{
	my ($node, $db, $table, $op, %o) = @_;
	my $col = $o{col} // 'v';
	my $te = $o{expr} // "t.$col";
	my ($pick, $from) = defined $o{expr} ? ("$o{expr} AS $col", "$table t") : ($col, $table);
	my $where = defined $o{where} ? "WHERE $o{where}" : '';
	my $set = $o{set} // '';
	my $sql = qq{
		SELECT count(*) FILTER (WHERE n.v = s.$col), count(*)
		FROM (SELECT id, $pick FROM $from $where) s
		LEFT JOIN LATERAL (SELECT $te AS v FROM $table t ORDER BY $te $op s.$col LIMIT 1) n ON true};
	if (defined $o{index})
	{
		my $plan = $node->safe_psql($db, "SET enable_seqscan = off; $set EXPLAIN (COSTS OFF) $sql");
		like($plan, qr/Index Scan using $o{index} on/, "$o{index}: self-queries scan $o{index}")
		  or diag($plan);
	}
	my $out = $node->safe_psql($db, "SET enable_seqscan = off; $set $sql");
	return split /\|/, $out;
}

# A started cluster named $name with embed created in database postgres;
# $conf, if given, is appended to postgresql.conf first.  JIT is off: the
# tests' index passes run with enable_seqscan = off, whose 1e10 plan costs
# made PostgreSQL JIT-compile every such query (0.5-1 s of CPU each).
sub start_node
{
	my ($name, $conf) = @_;
	my $node = PostgreSQL::Test::Cluster->new($name);

	$node->init;
	$node->append_conf('postgresql.conf', 'jit = off');
	$node->append_conf('postgresql.conf', $conf) if defined $conf;
	$node->start;
	$node->safe_psql('postgres', 'CREATE EXTENSION embed');
	return $node;
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


# Headless Chromium (Debian's chromium; make test installs it when apt can),
# as test/t/018_bench_plots.pl drives it: the path of the binary on PATH, or
# undef when there is none (the caller skips).
sub chromium
{
	for my $name (qw(chromium chromium-browser))
	{
		for my $dir (split /:/, $ENV{PATH})
		{
			return "$dir/$name" if -x "$dir/$name";
		}
	}
	return undef;
}

# Run chromium headless on @args (e.g. '--screenshot=x.png', 'file:///y.svg')
# with a fresh profile $dir/profile-$tag, HOME=$dir (it wants a writable one),
# no network side traffic and a 1000x800 window.  Returns (success, stdout,
# stderr).
sub chromium_run
{
	my ($dir, $tag, @args) = @_;
	my $bin = chromium() or die 'no chromium';
	my ($out, $err) = ('', '');
	local $ENV{HOME} = $dir;
	my @cmd = ($bin,
		qw(--headless --no-sandbox --disable-gpu --disable-quic --no-first-run
		  --disable-background-networking --disable-component-update --disable-sync),
		'--window-size=1000,800', "--user-data-dir=$dir/profile-$tag", @args);
	my $ok = eval {
		IPC::Run::run(\@cmd, '<', \undef, '>', \$out, '2>', \$err, IPC::Run::timeout(180));
	};
	$err .= $@ if $@;
	return ($ok ? 1 : 0, $out, $err);
}

1;
