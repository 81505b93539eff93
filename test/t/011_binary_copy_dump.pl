# Vectors survive the bulk paths bit for bit: COPY ... (FORMAT binary) out and
# back in, and pg_dump -Fc / pg_restore into a fresh database, including a
# btree index on a vector column. Uses the real embeddings shipped in
# test/data (falls back to generated vectors if they are missing).
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IO::Uncompress::Gunzip qw(gunzip $GunzipError);

my $root = $ENV{EMBED_ROOT} or die "EMBED_ROOT is not set";
my $data = "$root/test/data";
my $tmp = PostgreSQL::Test::Utils::tempdir;

my $node = PostgreSQL::Test::Cluster->new('dump');
$node->init;
$node->start;
$node->safe_psql('postgres', 'CREATE DATABASE src');
$node->safe_psql('src', 'CREATE EXTENSION embed');

##### Real data into staging tables

$node->safe_psql('src', q{
	CREATE TABLE sap (ord serial, id text, title text, body text, v vector(384));
	CREATE TABLE words (rank int, word text, v vector(100));
});

# gunzip to a plain file the server can COPY from (the server runs as us).
sub load_gz
{
	my ($file, $table, $cols) = @_;
	my $out = "$tmp/$table.tsv";
	gunzip("$data/$file" => $out) or die "gunzip $file: $GunzipError";
	$node->safe_psql('src', "COPY $table ($cols) FROM '$out'");
	return $out;
}

my ($sap_tsv, $real_data);
if (-f "$data/sap-fiori-chunks.tsv.gz" && -f "$data/words-10k.tsv.gz")
{
	$sap_tsv = load_gz('sap-fiori-chunks.tsv.gz', 'sap', 'id, title, body, v');
	load_gz('words-10k.tsv.gz', 'words', 'rank, word, v');
	$real_data = 1;
	note 'using real embeddings from test/data';
}
else
{
	# Deterministic stand-ins with the same shapes.
	$node->safe_psql('src', q{
		INSERT INTO sap (id, title, body, v)
		SELECT 'gen-' || i, 'title ' || i, 'body ' || i,
		       (SELECT array_agg(sin(i * 384 + j)::real / 20 ORDER BY j) FROM generate_series(1, 384) j)::vector(384)
		FROM generate_series(1, 678) i;
		INSERT INTO words
		SELECT i, 'w' || i,
		       (SELECT array_agg(cos(i * 100 + j)::real / 3 ORDER BY j) FROM generate_series(1, 100) j)::vector(100)
		FROM generate_series(1, 10000) i;
	});
	$real_data = 0;
	note 'test/data not found: using generated vectors';
}
my $nsap = $node->safe_psql('src', 'SELECT count(*) FROM sap');
ok($nsap >= 100, "staging has rows ($nsap)");

##### The table under test

# Columns of every shape: 1-dim, 3-dim, real 100- and 384-dim, the 16000-dim
# maximum, and an unconstrained column with mixed dims; NULLs in each.
$node->safe_psql('src', q{
	CREATE TABLE vecs (
		id     int PRIMARY KEY,
		label  text,
		one    vector(1),
		small  vector(3),
		word   vector(100),
		chunk  vector(384),
		wide   vector(16000),
		free   vector,
		arr    vector(3)[]
	);
	INSERT INTO vecs (id, label, one, small, word, chunk, free, arr)
	SELECT s.ord, w.word,
	       CASE WHEN s.ord % 11 <> 0 THEN ARRAY[(s.v::real[])[1]]::vector(1) END,
	       CASE WHEN s.ord % 13 <> 0 THEN (s.v::real[])[1:3]::vector(3) END,
	       CASE WHEN s.ord % 17 <> 0 THEN w.v END,
	       CASE WHEN s.ord % 19 <> 0 THEN s.v END,
	       CASE s.ord % 4
	         WHEN 0 THEN w.v
	         WHEN 1 THEN s.v
	         WHEN 2 THEN ((s.v::real[])[1:(s.ord % 50) + 1])::vector
	       END,
	       CASE WHEN s.ord % 5 <> 0
	            THEN ARRAY[(w.v::real[])[1:3]::vector(3), NULL, (s.v::real[])[4:6]::vector(3)] END
	FROM sap s JOIN words w ON w.rank = s.ord;

	-- The largest vectors, stored out of line.
	INSERT INTO vecs (id, label, wide, free)
	SELECT 100000 + k, 'wide ' || k,
	       (SELECT array_agg((sin(k * 16000 + j) * 10 ^ (j % 9 - 4))::real ORDER BY j)
	          FROM generate_series(1, 16000) j)::vector(16000),
	       CASE WHEN k = 2 THEN (SELECT array_agg(j::real ORDER BY j) FROM generate_series(1, 16000) j)::vector END
	FROM generate_series(1, 3) k;

	-- Bit patterns text cannot lose but careless code could: signed zeros, the
	-- smallest subnormal, the largest finite float4s, the smallest normal.
	INSERT INTO vecs (id, label, one, small, free) VALUES
	  (200001, 'edges', '[-0]', '[-0,0,1e-45]', '[3.4028235e38,-3.4028235e38,1.1754944e-38,-1e-45,0.1]'),
	  (200002, 'nulls', NULL, NULL, NULL);

	CREATE INDEX vecs_small_idx ON vecs (small);
	CREATE INDEX vecs_word_idx ON vecs USING btree (word);
	ANALYZE vecs;
});
my $nrows = $node->safe_psql('src', 'SELECT count(*) FROM vecs');
cmp_ok($nrows, '>=', 105, "vecs has $nrows rows");

# A fingerprint of every value, by three independent routes: text output,
# binary send output, and the whole row as text.
my $cols = 'one, small, word, chunk, wide, free';
my $fingerprint_sql = qq{
	SELECT string_agg(
	         id || ' ' || md5(t::text) || ' '
	         || md5(concat_ws(',', vector_send(one), vector_send(small), vector_send(word),
	                          vector_send(chunk), vector_send(wide), vector_send(free))),
	         E'\\n' ORDER BY id)
	FROM vecs t};
my $fp_src = $node->safe_psql('src', $fingerprint_sql);

##### Binary send format checked byte by byte against the source text

if ($real_data)
{
	my $bin = "$tmp/chunks.bin";
	$node->safe_psql('src', "COPY (SELECT v FROM sap ORDER BY ord) TO '$bin' (FORMAT binary)");
	my @fields = read_copy_binary($bin);
	open my $fh, '<', $sap_tsv or die;
	my ($n, $bad) = (0, 0);
	while (my $line = <$fh>)
	{
		chomp $line;
		my $text = (split /\t/, $line)[3];
		$text =~ s/^\[|\]$//g;
		my @x = split /,/, $text;
		my $field = $fields[$n++][0];
		# uint16 dim, uint16 0, dim x float4, big-endian
		my $want = pack('nn', scalar @x, 0) . pack('f>*', @x);
		$bad++ if !defined $field || $field ne $want;
	}
	is($n, scalar @fields, 'one COPY tuple per source row');
	is($bad, 0, "binary output of $n real 384-dim vectors matches the source values bit for bit");
}

# Parse a COPY BINARY file into rows of fields (undef for NULL).
sub read_copy_binary
{
	my ($path) = @_;
	open my $fh, '<:raw', $path or die "$path: $!";
	local $/;
	my $buf = <$fh>;
	die "bad COPY signature" unless substr($buf, 0, 11) eq "PGCOPY\n\377\r\n\0";
	my $pos = 15;
	$pos += 4 + unpack('N', substr($buf, $pos, 4));
	my @rows;
	while (1)
	{
		my $n = unpack('s>', substr($buf, $pos, 2));
		$pos += 2;
		last if $n == -1;
		my @row;
		for (1 .. $n)
		{
			my $len = unpack('l>', substr($buf, $pos, 4));
			$pos += 4;
			if ($len < 0) { push @row, undef; next; }
			push @row, substr($buf, $pos, $len);
			$pos += $len;
		}
		push @rows, \@row;
	}
	die "bytes after COPY trailer" if $pos != length $buf;
	return @rows;
}

##### COPY BINARY out, back in, and out again

my $bin1 = "$tmp/vecs1.bin";
my $bin2 = "$tmp/vecs2.bin";
$node->safe_psql('src', qq{
	COPY vecs TO '$bin1' (FORMAT binary);
	CREATE TABLE vecs_copy (LIKE vecs INCLUDING ALL);
	COPY vecs_copy FROM '$bin1' (FORMAT binary);
	COPY vecs_copy TO '$bin2' (FORMAT binary);
});

is($node->safe_psql('src', 'SELECT count(*) FROM vecs_copy'), $nrows, 'COPY BINARY: same row count');
for my $c (split /, /, $cols)
{
	is( $node->safe_psql('src', qq{
			SELECT count(*) FROM vecs a FULL JOIN vecs_copy b USING (id)
			WHERE a.$c IS DISTINCT FROM b.$c
			   OR a.${c}::text IS DISTINCT FROM b.${c}::text
			   OR vector_send(a.$c) IS DISTINCT FROM vector_send(b.$c)}),
		'0', "COPY BINARY: column $c equal by =, by text and by bytes");
}
is( $node->safe_psql('src', q{
		SELECT count(*) FROM vecs a FULL JOIN vecs_copy b USING (id)
		WHERE a.arr IS DISTINCT FROM b.arr OR a.arr::text IS DISTINCT FROM b.arr::text}),
	'0', 'COPY BINARY: array-of-vector column equal by = and by text');
is( $node->safe_psql('src', $fingerprint_sql =~ s/FROM vecs t/FROM vecs_copy t/r),
	$fp_src, 'COPY BINARY: row fingerprints identical');
is(slurp_file($bin2), slurp_file($bin1), 'second-generation COPY BINARY file is byte-identical');

# The signed zero is a real difference that = cannot see but text and bytes can.
is( $node->safe_psql('src', q{SELECT one::text || ' ' || small::text FROM vecs_copy WHERE id = 200001}),
	'[-0] [-0,0,1e-45]', 'signed zero and subnormal kept');
is( $node->safe_psql('src', q{SELECT free::text FROM vecs_copy WHERE id = 200001}),
	'[3.4028235e+38,-3.4028235e+38,1.1754944e-38,-1e-45,0.1]', 'extreme floats kept');

##### pg_dump -Fc / pg_restore into a fresh database

my $dump = "$tmp/src.dump";
$node->command_ok([ 'pg_dump', '-Fc', '-f', $dump, '-d', 'src' ], 'pg_dump -Fc');
$node->safe_psql('postgres', 'CREATE DATABASE dst');
$node->command_ok([ 'pg_restore', '--exit-on-error', '-d', 'dst', $dump ], 'pg_restore');

is($node->safe_psql('dst', q{SELECT extversion FROM pg_extension WHERE extname = 'embed'}),
	'0.2.0', 'extension recreated by the restore');
is($node->safe_psql('dst', 'SELECT count(*) FROM vecs'), $nrows, 'restore: same row count');
is($node->safe_psql('dst', $fingerprint_sql), $fp_src, 'restore: every row fingerprint identical');
is( $node->safe_psql('dst',
		q{SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'vecs'::regclass AND attnum > 0 ORDER BY attnum}),
	$node->safe_psql('src',
		q{SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'vecs'::regclass AND attnum > 0 ORDER BY attnum}),
	'restore: column types and typmods identical');

# The btree indexes came back, valid, usable, and structurally sound.
my $idx_sql = q{SELECT string_agg(indexdef, E'\n' ORDER BY indexname) FROM pg_indexes WHERE tablename = 'vecs'};
is($node->safe_psql('dst', $idx_sql), $node->safe_psql('src', $idx_sql), 'restore: index definitions identical');
is( $node->safe_psql('dst',
		q{SELECT count(*) FROM pg_index WHERE indrelid = 'vecs'::regclass AND indisvalid AND indisready}),
	'3', 'restore: all indexes valid');

my $probe = q{SELECT id FROM vecs WHERE word = (SELECT word FROM vecs WHERE id = 42) ORDER BY id};
my $plan = $node->safe_psql('dst', "SET enable_seqscan = off; SET enable_bitmapscan = off; EXPLAIN (COSTS OFF) $probe");
like($plan, qr/Index (Only )?Scan using vecs_word_idx/, 'restore: equality lookup uses the vector btree')
  or diag($plan);
my $seq_answer = $node->safe_psql('src', "SET enable_indexscan = off; SET enable_bitmapscan = off; $probe");
like($seq_answer, qr/^\d+/, 'probe finds a row');
is($node->safe_psql('dst', "SET enable_seqscan = off; SET enable_bitmapscan = off; $probe"),
	$seq_answer, 'restore: index lookup answers like a sequential scan');

my $plan2 = $node->safe_psql('dst',
	"SET enable_seqscan = off; SET enable_sort = off; EXPLAIN (COSTS OFF) SELECT id FROM vecs WHERE small IS NOT NULL ORDER BY small LIMIT 50");
like($plan2, qr/Index Scan using vecs_small_idx/, 'restore: ORDER BY vector uses the btree') or diag($plan2);
# Ties among equal vectors may come back in any order, so compare the vectors.
is( $node->safe_psql('dst',
		q{SET enable_seqscan = off; SET enable_sort = off;
		  SELECT string_agg(small::text, ' ') FROM (SELECT small FROM vecs WHERE small IS NOT NULL ORDER BY small LIMIT 50) s}),
	$node->safe_psql('src',
		q{SET enable_indexscan = off; SET enable_bitmapscan = off;
		  SELECT string_agg(small::text, ' ') FROM (SELECT small FROM vecs WHERE small IS NOT NULL ORDER BY small LIMIT 50) s}),
	'restore: index order equals sort order');

SKIP:
{
	skip 'amcheck not available', 2
	  unless $node->safe_psql('dst', q{SELECT count(*) FROM pg_available_extensions WHERE name = 'amcheck'});
	$node->safe_psql('dst', 'CREATE EXTENSION amcheck');
	# heapallindexed: every heap tuple is in the index, in vector_cmp order.
	for my $idx (qw(vecs_small_idx vecs_word_idx))
	{
		my ($ret, $out, $err) = $node->psql('dst', "SELECT bt_index_check('$idx', true)");
		is($ret . ($err // ''), '0', "restore: amcheck bt_index_check($idx) passes");
	}
}

ok(!$node->log_contains(qr/terminated by signal/), 'no backend crash in the server log');

$node->stop;
done_testing();
